"""`kubectl describe hpa`: kubectl 1.32's describer for autoscaling/v2 HorizontalPodAutoscalers (the version it
reads first): the reference, each metric as `current / target`, the replica bounds, the behavior when set, the
target's pods, the conditions and the Events."""

from __future__ import annotations

from engine.kubectl.describe import Writer, _annotations, _dict, _labels, _list, events_section, timestamp
from engine.resources.quantity import canonical

UNKNOWN = "<unknown>"


def _q(value) -> str:
    """A quantity as resource.Quantity's String() prints it."""
    if value is None:
        return "0"
    try:
        return canonical(value)
    except (ValueError, TypeError):
        return str(value)


def _current(status: dict, i: int, source: str) -> dict | None:
    """status.currentMetrics[i].<source>.current, when the controller has filled it in."""
    metrics = _list(status.get("currentMetrics"))
    if i >= len(metrics):
        return None
    entry = _dict(metrics[i]).get(source)
    return _dict(_dict(entry).get("current")) if isinstance(entry, dict) else None


def _resource_line(w: Writer, status: dict, i: int, source: str, what: str, metric: dict) -> None:
    target = _dict(metric.get("target"))
    current = _current(status, i, source)
    if target.get("averageValue") is not None:
        now = _q(current["averageValue"]) if current and current.get("averageValue") is not None else UNKNOWN
        w.line(1, f"{what}:\t{now} / {_q(target['averageValue'])}")
        return
    now = UNKNOWN
    if current and current.get("averageUtilization") is not None:
        now = f"{current['averageUtilization']}% ({_q(current.get('averageValue'))})"
    goal = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
    w.line(1, f"{what}  (as a percentage of request):\t{now} / {goal}")


def _metric(w: Writer, status: dict, i: int, metric: dict) -> None:
    kind = metric.get("type")
    if kind == "Resource":
        source = _dict(metric.get("resource"))
        _resource_line(w, status, i, "resource", f"resource {source.get('name', '')} on pods", source)
    elif kind == "ContainerResource":
        source = _dict(metric.get("containerResource"))
        _resource_line(w, status, i, "containerResource", f"resource {source.get('name', '')} of container "
                                                          f"\"{source.get('container', '')}\" on pods", source)
    elif kind == "Pods":
        source = _dict(metric.get("pods"))
        current = _current(status, i, "pods")
        now = _q(current["averageValue"]) if current and current.get("averageValue") is not None else UNKNOWN
        name = _dict(source.get("metric")).get("name", "")
        w.line(1, f"\"{name}\" on pods:\t{now} / {_q(_dict(source.get('target')).get('averageValue'))}")
    elif kind == "Object":
        source = _dict(metric.get("object"))
        target, described = _dict(source.get("target")), _dict(source.get("describedObject"))
        field = "averageValue" if target.get("type") == "AverageValue" else "value"
        current = _current(status, i, "object")
        now = _q(current[field]) if current and current.get(field) is not None else UNKNOWN
        label = "target average value" if field == "averageValue" else "target value"
        w.line(1, f"\"{_dict(source.get('metric')).get('name', '')}\" on {described.get('kind', '')}/"
                  f"{described.get('name', '')} ({label}):\t{now} / {_q(target.get(field))}")
    elif kind == "External":
        source = _dict(metric.get("external"))
        target = _dict(source.get("target"))
        field = "averageValue" if target.get("averageValue") is not None else "value"
        current = _current(status, i, "external")
        now = _q(current[field]) if current and current.get(field) is not None else UNKNOWN
        label = "target average value" if field == "averageValue" else "target value"
        w.line(1, f"\"{_dict(source.get('metric')).get('name', '')}\" ({label}):\t{now} / {_q(target.get(field))}")
    else:
        w.line(1, f"<unknown metric type \"{kind}\">")


def _direction(w: Writer, title: str, rules) -> None:
    if not isinstance(rules, dict):
        return
    w.line(1, f"{title}:")
    if rules.get("stabilizationWindowSeconds") is not None:
        w.line(2, f"Stabilization Window: {rules['stabilizationWindowSeconds']} seconds")
    policies = _list(rules.get("policies"))
    if policies:
        w.line(2, f"Select Policy: {rules.get('selectPolicy') or 'Max'}")
        w.line(2, "Policies:")
        for p in policies:
            p = _dict(p)
            w.line(3, f"- Type: {p.get('type', '')}\tValue: {p.get('value', 0)}\tPeriod: {p.get('periodSeconds', 0)} "
                      "seconds")


def describe_hpa(api, hpa: dict, now: float) -> str:
    w = Writer()
    meta, spec, status = hpa["metadata"], _dict(hpa.get("spec")), _dict(hpa.get("status"))
    ref = _dict(spec.get("scaleTargetRef"))
    w.line(0, f"Name:\t{meta['name']}")
    w.line(0, f"Namespace:\t{meta.get('namespace', '')}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, f"CreationTimestamp:\t{timestamp(meta.get('creationTimestamp'))}")
    w.line(0, f"Reference:\t{ref.get('kind', '')}/{ref.get('name', '')}")
    w.line(0, "Metrics:\t( current / target )")
    for i, metric in enumerate(_list(spec.get("metrics"))):
        _metric(w, status, i, _dict(metric))
    min_replicas = spec.get("minReplicas")
    w.line(0, f"Min replicas:\t{min_replicas if min_replicas is not None else '<unset>'}")
    w.line(0, f"Max replicas:\t{spec.get('maxReplicas', 0)}")
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        w.line(0, "Behavior:")
        _direction(w, "Scale Up", behavior.get("scaleUp"))
        _direction(w, "Scale Down", behavior.get("scaleDown"))
    w.line(0, f"{ref.get('kind', '')} pods:\t{status.get('currentReplicas', 0)} current / "
              f"{status.get('desiredReplicas', 0)} desired")
    conditions = _list(status.get("conditions"))
    if conditions:
        w.line(0, "Conditions:")
        w.line(1, "Type\tStatus\tReason\tMessage")
        w.line(1, "----\t------\t------\t-------")
        for c in conditions:
            c = _dict(c)
            w.line(1, f"{c.get('type', '')}\t{c.get('status', '')}\t{c.get('reason', '')}\t{c.get('message', '')}")
    events_section(w, api, hpa, now)
    return w.render()
