"""Kinds served in more than one version: the extra versions and their conversions.

The registry declares each kind once, in the version it is stored in (and that discovery prefers).
A kind Kubernetes also serves in an older version gets an extra KindInfo here; the apiserver stores
the object once, in the registry's version, and converts on the way in and out, as kube-apiserver
converts through its internal version.

HorizontalPodAutoscaler: autoscaling/v2 (stored, preferred) and autoscaling/v1, which
`kubectl autoscale` creates. As pkg/apis/autoscaling/v1's conversion does, the v1 object carries the
CPU utilisation target and current value in its own fields and everything v1 has no field for (other
metrics, conditions, current metrics of other kinds, behavior) in `autoscaling.alpha.kubernetes.io/*`
annotations holding JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

from engine import errors
from engine.resources import registry
from engine.resources.registry import KindInfo

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
_HPA_ANNOTATIONS = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)

HPA_V1 = replace(registry.by_kind("HorizontalPodAutoscaler"), version="v1",
                 model="autoscaling.v1.horizontal_pod_autoscaler.HorizontalPodAutoscaler")


# --- autoscaling/v1 <-> v2 metric shapes (v1's annotations hold the v2beta1-style MetricSpec) ---------

def _copy(src: dict, dst: dict, pairs) -> dict:
    for a, b in pairs:
        if src.get(a) is not None:
            dst[b] = src[a]
    return dst


def _spec_v2_to_v1(metric: dict) -> dict:
    kind = metric.get("type")
    out: dict = {"type": kind}
    if kind == "Resource" or kind == "ContainerResource":
        src = metric.get("resource" if kind == "Resource" else "containerResource") or {}
        target = src.get("target") or {}
        body = _copy(src, {}, (("name", "name"), ("container", "container")))
        _copy(target, body, (("averageUtilization", "targetAverageUtilization"), ("averageValue", "targetAverageValue")))
        out["resource" if kind == "Resource" else "containerResource"] = body
    elif kind == "Pods":
        src = metric.get("pods") or {}
        m, target = src.get("metric") or {}, src.get("target") or {}
        body = _copy(m, {}, (("name", "metricName"),))
        _copy(target, body, (("averageValue", "targetAverageValue"),))
        _copy(m, body, (("selector", "selector"),))
        out["pods"] = body
    elif kind == "Object":
        src = metric.get("object") or {}
        m, target = src.get("metric") or {}, src.get("target") or {}
        body = _copy(src, {}, (("describedObject", "target"),))
        _copy(m, body, (("name", "metricName"),))
        _copy(target, body, (("value", "targetValue"),))
        _copy(m, body, (("selector", "selector"),))
        _copy(target, body, (("averageValue", "averageValue"),))
        out["object"] = body
    elif kind == "External":
        src = metric.get("external") or {}
        m, target = src.get("metric") or {}, src.get("target") or {}
        body = _copy(m, {}, (("name", "metricName"), ("selector", "metricSelector")))
        _copy(target, body, (("value", "targetValue"), ("averageValue", "targetAverageValue")))
        out["external"] = body
    return out


def _spec_v1_to_v2(metric: dict) -> dict:
    kind = metric.get("type")
    out: dict = {"type": kind}
    if kind == "Resource" or kind == "ContainerResource":
        key = "resource" if kind == "Resource" else "containerResource"
        src = metric.get(key) or {}
        body = _copy(src, {}, (("name", "name"), ("container", "container")))
        target: dict = {}
        if src.get("targetAverageUtilization") is not None:
            target = {"type": "Utilization", "averageUtilization": src["targetAverageUtilization"]}
        elif src.get("targetAverageValue") is not None:
            target = {"type": "AverageValue", "averageValue": src["targetAverageValue"]}
        body["target"] = target
        out[key] = body
    elif kind == "Pods":
        src = metric.get("pods") or {}
        out["pods"] = {"metric": _copy(src, {}, (("metricName", "name"), ("selector", "selector"))),
                       "target": _copy(src, {"type": "AverageValue"}, (("targetAverageValue", "averageValue"),))}
    elif kind == "Object":
        src = metric.get("object") or {}
        target = {"type": "AverageValue" if src.get("averageValue") is not None else "Value"}
        out["object"] = {"describedObject": src.get("target") or {},
                         "metric": _copy(src, {}, (("metricName", "name"), ("selector", "selector"))),
                         "target": _copy(src, target, (("targetValue", "value"), ("averageValue", "averageValue")))}
    elif kind == "External":
        src = metric.get("external") or {}
        target = {"type": "AverageValue" if src.get("targetAverageValue") is not None else "Value"}
        out["external"] = {"metric": _copy(src, {}, (("metricName", "name"), ("metricSelector", "selector"))),
                           "target": _copy(src, target, (("targetValue", "value"),
                                                         ("targetAverageValue", "averageValue")))}
    return out


def _status_v2_to_v1(metric: dict) -> dict:
    kind = metric.get("type")
    out: dict = {"type": kind}
    key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods", "Object": "object",
           "External": "external"}.get(kind)
    if key is None:
        return out
    src = metric.get(key) or {}
    current, m = src.get("current") or {}, src.get("metric") or {}
    if key in ("resource", "containerResource"):
        body = _copy(src, {}, (("name", "name"), ("container", "container")))
        _copy(current, body, (("averageUtilization", "currentAverageUtilization"),
                              ("averageValue", "currentAverageValue")))
    elif key == "pods":
        body = _copy(m, {}, (("name", "metricName"),))
        _copy(current, body, (("averageValue", "currentAverageValue"),))
        _copy(m, body, (("selector", "selector"),))
    elif key == "object":
        body = _copy(src, {}, (("describedObject", "target"),))
        _copy(m, body, (("name", "metricName"),))
        _copy(current, body, (("value", "currentValue"),))
        _copy(m, body, (("selector", "selector"),))
        _copy(current, body, (("averageValue", "averageValue"),))
    else:
        body = _copy(m, {}, (("name", "metricName"), ("selector", "metricSelector")))
        _copy(current, body, (("value", "currentValue"), ("averageValue", "currentAverageValue")))
    out[key] = body
    return out


def _status_v1_to_v2(metric: dict) -> dict:
    kind = metric.get("type")
    out: dict = {"type": kind}
    key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods", "Object": "object",
           "External": "external"}.get(kind)
    if key is None:
        return out
    src = metric.get(key) or {}
    if key in ("resource", "containerResource"):
        body = _copy(src, {}, (("name", "name"), ("container", "container")))
        body["current"] = _copy(src, {}, (("currentAverageUtilization", "averageUtilization"),
                                          ("currentAverageValue", "averageValue")))
    elif key == "pods":
        body = {"metric": _copy(src, {}, (("metricName", "name"), ("selector", "selector"))),
                "current": _copy(src, {}, (("currentAverageValue", "averageValue"),))}
    elif key == "object":
        body = {"describedObject": src.get("target") or {},
                "metric": _copy(src, {}, (("metricName", "name"), ("selector", "selector"))),
                "current": _copy(src, {}, (("currentValue", "value"), ("averageValue", "averageValue")))}
    else:
        body = {"metric": _copy(src, {}, (("metricName", "name"), ("metricSelector", "selector"))),
                "current": _copy(src, {}, (("currentValue", "value"), ("currentAverageValue", "averageValue")))}
    out[key] = body
    return out


def _is_cpu_utilization(metric: dict) -> bool:
    resource = metric.get("resource") if isinstance(metric, dict) else None
    return (metric.get("type") == "Resource" and isinstance(resource, dict) and resource.get("name") == "cpu"
            and isinstance(resource.get("target"), dict) and resource["target"].get("type") == "Utilization"
            and resource["target"].get("averageUtilization") is not None)


def _dicts(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dump(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def hpa_v2_to_v1(obj: dict) -> dict:
    """A stored autoscaling/v2 HorizontalPodAutoscaler as autoscaling/v1 shows it."""
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    for key in _HPA_ANNOTATIONS:
        annotations.pop(key, None)
    spec = obj.get("spec") or {}
    status = obj.get("status")
    out_spec: dict = {}
    _copy(spec, out_spec, (("scaleTargetRef", "scaleTargetRef"), ("minReplicas", "minReplicas"),
                           ("maxReplicas", "maxReplicas")))
    others = []
    for metric in _dicts(spec.get("metrics")):
        if _is_cpu_utilization(metric) and "targetCPUUtilizationPercentage" not in out_spec:
            out_spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"]["averageUtilization"]
        else:
            others.append(_spec_v2_to_v1(metric))
    if others:
        annotations[METRICS_ANNOTATION] = _dump(others)
    if isinstance(spec.get("behavior"), dict):
        annotations[BEHAVIOR_ANNOTATION] = _dump(spec["behavior"])
    out = {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1", "metadata": meta, "spec": out_spec}
    if True:  # v1's status is no pointer: always there, its replica counts too
        status = status if isinstance(status, dict) else {}
        out_status: dict = {}
        _copy(status, out_status, (("observedGeneration", "observedGeneration"),
                                   ("lastScaleTime", "lastScaleTime"), ("currentReplicas", "currentReplicas"),
                                   ("desiredReplicas", "desiredReplicas")))
        out_status.setdefault("currentReplicas", 0)
        out_status.setdefault("desiredReplicas", 0)
        current_others = []
        for metric in _dicts(status.get("currentMetrics")):
            resource = metric.get("resource") or {}
            current = resource.get("current") or {}
            if (metric.get("type") == "Resource" and resource.get("name") == "cpu"
                    and current.get("averageUtilization") is not None
                    and "currentCPUUtilizationPercentage" not in out_status):
                out_status["currentCPUUtilizationPercentage"] = current["averageUtilization"]
            else:
                current_others.append(_status_v2_to_v1(metric))
        if current_others:
            annotations[CURRENT_METRICS_ANNOTATION] = _dump(current_others)
        if _dicts(status.get("conditions")):
            annotations[CONDITIONS_ANNOTATION] = _dump(_dicts(status["conditions"]))
        out["status"] = out_status
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def _annotation_list(annotations: dict, key: str, field: str) -> list[dict]:
    raw = annotations.pop(key, None)
    if raw is None:
        return []
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise errors.bad_request(f"HorizontalPodAutoscaler in version \"v1\" cannot be handled as a "
                                 f"HorizontalPodAutoscaler: {field}: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise errors.bad_request("HorizontalPodAutoscaler in version \"v1\" cannot be handled as a "
                                 f"HorizontalPodAutoscaler: {field}: json: cannot unmarshal into Go value of type "
                                 "[]autoscaling.MetricSpec")
    return value


def hpa_v1_to_v2(obj: dict) -> dict:
    """An autoscaling/v1 HorizontalPodAutoscaler as it is stored (autoscaling/v2)."""
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {}) if isinstance(meta.get("annotations"), dict) else None
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    out_spec: dict = {}
    _copy(spec, out_spec, (("scaleTargetRef", "scaleTargetRef"), ("minReplicas", "minReplicas"),
                           ("maxReplicas", "maxReplicas")))
    metrics = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": spec["targetCPUUtilizationPercentage"]}}})
    status_in = obj.get("status") if isinstance(obj.get("status"), dict) else None
    conditions: list[dict] = []
    current_metrics: list[dict] = []
    if annotations is not None:
        metrics += [_spec_v1_to_v2(m) for m in _annotation_list(annotations, METRICS_ANNOTATION, "metrics")]
        current_metrics = [_status_v1_to_v2(m) for m in
                           _annotation_list(annotations, CURRENT_METRICS_ANNOTATION, "currentMetrics")]
        conditions = _annotation_list(annotations, CONDITIONS_ANNOTATION, "conditions")
        behavior = annotations.pop(BEHAVIOR_ANNOTATION, None)
        if behavior is not None:
            try:
                out_spec["behavior"] = json.loads(behavior)
            except ValueError as exc:
                raise errors.bad_request("HorizontalPodAutoscaler in version \"v1\" cannot be handled as a "
                                         f"HorizontalPodAutoscaler: behavior: {exc}") from None
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
    if metrics:
        out_spec["metrics"] = metrics
    out = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta, "spec": out_spec}
    if status_in is not None:
        status: dict = {}
        _copy(status_in, status, (("observedGeneration", "observedGeneration"), ("lastScaleTime", "lastScaleTime"),
                                  ("currentReplicas", "currentReplicas"), ("desiredReplicas", "desiredReplicas")))
        if status_in.get("currentCPUUtilizationPercentage") is not None:
            current_metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": status_in["currentCPUUtilizationPercentage"]}}})
        if current_metrics:
            status["currentMetrics"] = current_metrics
        if conditions:
            status["conditions"] = conditions
        out["status"] = status
    return out


# (group, plural, version) -> (the served KindInfo, to storage, from storage)
_SERVED: dict[tuple[str, str, str], tuple[KindInfo, Callable[[dict], dict], Callable[[dict], dict]]] = {
    ("autoscaling", "horizontalpodautoscalers", "v1"): (HPA_V1, hpa_v1_to_v2, hpa_v2_to_v1),
}


def served(group: str, plural: str, version: str) -> KindInfo | None:
    """The KindInfo serving `plural` in `group/version`: the registry's, or an extra version's."""
    info = registry.by_resource(group, plural)
    if info is not None and info.version == version:
        return info
    entry = _SERVED.get((group, plural, version))
    return entry[0] if entry else None


def by_api_version(api_version: str, kind: str) -> KindInfo | None:
    """The kind for an object's apiVersion and kind in any served version (registry.by_api_version: the stored)."""
    info = registry.by_api_version(api_version, kind)
    if info is not None:
        return info
    group, _, version = api_version.rpartition("/")
    return next((i for i, _in, _out in _SERVED.values() if (i.group, i.version, i.kind) == (group, version, kind)),
                None)


def extra_kinds(group: str, version: str) -> list[KindInfo]:
    """The kinds served in `group/version` besides the registry's own."""
    return [info for (g, _p, v), (info, _in, _out) in _SERVED.items() if (g, v) == (group, version)]


def extra_versions(group: str) -> list[str]:
    """A group's served versions beyond the registry's, oldest last (discovery lists the preferred one first)."""
    out: list[str] = []
    for g, _p, v in _SERVED:
        if g == group and v not in out:
            out.append(v)
    return out


def storage_info(info: KindInfo) -> KindInfo:
    """The registry's KindInfo (the stored version) of a kind served in `info`'s version."""
    return registry.by_kind(info.kind)


def is_converted(info: KindInfo) -> bool:
    return (info.group, info.plural, info.version) in _SERVED


def to_storage(info: KindInfo, obj: dict) -> dict:
    """An object of `info`'s version as stored; unchanged for a kind served in its stored version."""
    entry = _SERVED.get((info.group, info.plural, info.version))
    return entry[1](obj) if entry else obj


def from_storage(info: KindInfo, obj: dict) -> dict:
    """A stored object as `info`'s version shows it; unchanged for a kind served in its stored version."""
    entry = _SERVED.get((info.group, info.plural, info.version))
    if entry is None or not isinstance(obj, dict) or obj.get("kind") != info.kind:
        return obj
    return entry[2](obj)
