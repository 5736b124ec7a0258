"""Read-only views of a cluster for the page's side panels, all read through the apiserver:

- `resource_tree(api)`: Deployment -> ReplicaSets -> Pods, StatefulSet -> Pods + PVCs,
  CronJob -> Jobs -> Pods, DaemonSet -> Pods, Service -> Endpoints -> Pods, Ingress -> Services,
  and standalone Pods and PVCs, each node with a one-line status as `kubectl get` prints it.
- `events(api, now)`: the Events timeline, oldest first, as `kubectl get events` lists them.
- `object_view(api, now, kind, namespace, name)`: an object's YAML (`kubectl get -o yaml`, without
  managedFields) and its `kubectl describe` text (from engine.kubectl when it offers describe).
"""

from __future__ import annotations

import logging
import re

import yaml

from engine import errors
from engine.apiserver import ApiServer
from engine.clock import parse_rfc3339
from engine.resources import registry
from engine.resources.tables import job_status, pod_ready, pod_status, service_external_ip, service_ports

log = logging.getLogger("frontend")

# Kinds shown as roots of the tree, in this order.
ROOT_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "ReplicaSet", "ReplicationController",
              "Pod", "Service", "Ingress", "PersistentVolumeClaim", "ConfigMap", "Secret")
MAX_EVENTS = 300


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _ref(obj: dict) -> dict:
    meta = _meta(obj)
    return {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", "")}


def _controller_uid(obj: dict) -> str:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid", "")
    return ""


def summary(obj: dict) -> str:
    """The one-line status the tree shows next to a name (what `kubectl get` would print)."""
    kind = obj.get("kind")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    try:
        if kind == "Pod":
            ready, total = pod_ready(obj)
            return f"{pod_status(obj)} {ready}/{total}"
        if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
            return f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
        if kind == "DaemonSet":
            return f"{status.get('numberReady', 0)}/{status.get('desiredNumberScheduled', 0)}"
        if kind == "Job":
            return job_status(obj)
        if kind == "CronJob":
            return spec.get("schedule", "") + (" (suspended)" if spec.get("suspend") else "")
        if kind == "Service":
            parts = [spec.get("type", "ClusterIP"), spec.get("clusterIP") or "", service_ports(obj)]
            external = service_external_ip(obj)
            if external and external != "<none>":
                parts.append(external)
            return " ".join(p for p in parts if p)
        if kind == "PersistentVolumeClaim":
            return status.get("phase", "Pending")
        if kind == "Ingress":
            hosts = [r.get("host") or "*" for r in spec.get("rules") or []]
            return ",".join(hosts)
    except Exception:  # a summary must never break the tree
        log.debug("no summary for %s", kind, exc_info=True)
    return ""


def _node(obj: dict, children: list | None = None, **extra) -> dict:
    return {**_ref(obj), "status": summary(obj), "deleting": bool(_meta(obj).get("deletionTimestamp")),
            "children": children or [], **extra}


def resource_tree(api: ApiServer) -> dict:
    """The tree of workloads and Services, by namespace; see the module docstring."""
    by_kind: dict[str, list[dict]] = {}
    for kind in ROOT_KINDS + ("Endpoints",):
        try:
            by_kind[kind] = api.list(kind)["items"]
        except errors.ApiError:
            by_kind[kind] = []
    children: dict[str, list[dict]] = {}
    for items in by_kind.values():
        for obj in items:
            owner = _controller_uid(obj)
            if owner:
                children.setdefault(owner, []).append(obj)
    pods = {(_meta(p).get("namespace"), _meta(p).get("name")): p for p in by_kind["Pod"]}
    pvcs = by_kind["PersistentVolumeClaim"]
    claimed: set[str] = set()

    def owned(obj: dict) -> list[dict]:
        kids = sorted(children.get(_meta(obj).get("uid", ""), []),
                      key=lambda o: (o.get("kind") != "ReplicaSet", _meta(o).get("creationTimestamp") or "",
                                     _meta(o).get("name", "")))
        out = []
        for kid in kids:
            if kid.get("kind") in ("Pod", "ReplicaSet", "Job", "ReplicationController"):
                out.append(_node(kid, owned(kid), revision=_revision(kid)))
        return out

    def statefulset_claims(sts: dict) -> list[dict]:
        meta, spec = _meta(sts), sts.get("spec") or {}
        names = [(_meta(t).get("name") or "") for t in spec.get("volumeClaimTemplates") or []]
        out = []
        for pvc in pvcs:
            pmeta = _meta(pvc)
            if pmeta.get("namespace") != meta.get("namespace"):
                continue
            for template in names:
                if re.fullmatch(re.escape(f"{template}-{meta.get('name')}-") + r"\d+", pmeta.get("name", "")):
                    claimed.add(pmeta.get("uid", ""))
                    out.append(_node(pvc))
        return out

    def endpoints_of(svc: dict) -> list[dict]:
        meta = _meta(svc)
        for ep in by_kind["Endpoints"]:
            emeta = _meta(ep)
            if emeta.get("namespace") == meta.get("namespace") and emeta.get("name") == meta.get("name"):
                kids = []
                for subset in ep.get("subsets") or []:
                    for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
                        for address in subset.get(key) or []:
                            target = address.get("targetRef") or {}
                            pod = pods.get((target.get("namespace") or meta.get("namespace"), target.get("name")))
                            if pod is not None:
                                kids.append(_node(pod, ready=ready, ip=address.get("ip", "")))
                            else:
                                kids.append({"kind": "Address", "namespace": "", "name": address.get("ip", ""),
                                             "uid": "", "status": "ready" if ready else "not ready", "children": [],
                                             "ready": ready})
                count = len(kids)
                return [{**_ref(ep), "status": f"{count} address{'es' if count != 1 else ''}", "children": kids,
                         "deleting": False}]
        return []

    def ingress_backends(ing: dict) -> list[dict]:
        meta, spec = _meta(ing), ing.get("spec") or {}
        names = []
        default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
        if default:
            names.append(default)
        for rule in spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                name = ((path.get("backend") or {}).get("service") or {}).get("name")
                if name and name not in names:
                    names.append(name)
        out = []
        for svc in by_kind["Service"]:
            if _meta(svc).get("namespace") == meta.get("namespace") and _meta(svc).get("name") in names:
                out.append(_node(svc))
        return out

    roots: list[dict] = []
    for kind in ROOT_KINDS:
        for obj in sorted(by_kind[kind], key=lambda o: (_meta(o).get("namespace", ""), _meta(o).get("name", ""))):
            if _controller_uid(obj) and _has_owner(obj, by_kind):
                continue
            if kind == "PersistentVolumeClaim":
                continue  # after the StatefulSets have claimed theirs
            if kind in ("ConfigMap", "Secret") and _meta(obj).get("name") in ("kube-root-ca.crt",):
                continue
            if kind == "StatefulSet":
                roots.append(_node(obj, owned(obj) + statefulset_claims(obj)))
            elif kind == "Service":
                roots.append(_node(obj, endpoints_of(obj)))
            elif kind == "Ingress":
                roots.append(_node(obj, ingress_backends(obj)))
            else:
                roots.append(_node(obj, owned(obj)))
    for pvc in pvcs:
        if _meta(pvc).get("uid") not in claimed:
            roots.append(_node(pvc))
    namespaces = sorted({r["namespace"] for r in roots if r["namespace"]})
    return {"namespaces": namespaces, "roots": roots}


def _has_owner(obj: dict, by_kind: dict[str, list[dict]]) -> bool:
    uid = _controller_uid(obj)
    return any(_meta(o).get("uid") == uid for items in by_kind.values() for o in items)


def _revision(obj: dict) -> str:
    return (_meta(obj).get("annotations") or {}).get("deployment.kubernetes.io/revision", "")


# --- events --------------------------------------------------------------------------------------------------
def _event_time(event: dict) -> float:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = event.get(key)
        if isinstance(value, str) and value:
            parsed = parse_rfc3339(value)
            if parsed is not None:
                return parsed
    return 0.0


def event_summary(event: dict) -> dict:
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    return {
        "name": _meta(event).get("name", ""),
        "namespace": _meta(event).get("namespace", ""),
        "time": _event_time(event),
        "type": event.get("type") or "Normal",
        "reason": event.get("reason") or "",
        "message": event.get("message") or "",
        "count": int(event.get("count") or 1),
        "object": {"kind": involved.get("kind", ""), "namespace": involved.get("namespace", ""),
                   "name": involved.get("name", "")},
        "source": source.get("component") or event.get("reportingComponent") or "",
        "host": source.get("host") or "",
        "rv": int(_meta(event).get("resourceVersion") or 0),
    }


def events(api: ApiServer, namespace: str | None = None, involved: dict | None = None,
           limit: int = MAX_EVENTS) -> list[dict]:
    """Events oldest first (the last `limit`), optionally only those about one object."""
    items = api.list("Event", namespace or None)["items"]
    out = [event_summary(e) for e in items]
    if involved is not None:
        out = [e for e in out if e["object"]["kind"] == involved["kind"] and e["object"]["name"] == involved["name"]
               and (e["object"]["namespace"] or "") == (involved.get("namespace") or "")]
    out.sort(key=lambda e: (e["time"], e["rv"]))
    return out[-limit:]


# --- one object ----------------------------------------------------------------------------------------------
def resolve_kind(kind: str) -> registry.KindInfo:
    info = registry.resolve(kind) if kind else None
    if info is None:
        raise errors.ApiError(404, "NotFound", f'the server doesn\'t have a resource type "{kind}"')
    return info


def object_yaml(obj: dict) -> str:
    shown = dict(obj)
    meta = dict(_meta(obj))
    meta.pop("managedFields", None)
    shown["metadata"] = meta
    return yaml.safe_dump(shown, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000)


def describe(api: ApiServer, now: float, info: registry.KindInfo, namespace: str, name: str) -> str | None:
    """`kubectl describe` of one object, from engine.kubectl (None while it offers no describe)."""
    try:
        from engine.kubectl.base import Context
        from engine.kubectl.cli import run
    except ImportError:
        return None
    argv = ["describe", info.plural, name]
    if info.namespaced:
        argv += ["-n", namespace]
    try:
        result = run(argv, api, now, Context(namespace=namespace or "default"))
    except Exception:
        log.exception("kubectl describe %s/%s failed", info.kind, name)
        return None
    if result.exit_code != 0:
        if "unknown command" in result.stderr:
            return None
        return result.stderr or None
    return result.stdout


def object_view(api: ApiServer, now: float, kind: str, namespace: str, name: str) -> dict:
    info = resolve_kind(kind)
    ns = (namespace or "default") if info.namespaced else ""
    obj = api.get(info.kind, ns, name)
    return {
        "kind": info.kind,
        "namespace": ns,
        "name": name,
        "status": summary(obj),
        "yaml": object_yaml(obj),
        "describe": describe(api, now, info, ns, name),
        "events": events(api, ns or None, {"kind": info.kind, "namespace": ns, "name": name}, limit=50),
    }


def scheduling_reason(api: ApiServer, pod: dict) -> dict | None:
    """Why a pod waits, from the database: its PodScheduled condition and last FailedScheduling event."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return {"reason": cond.get("reason") or "Unschedulable", "message": cond.get("message") or ""}
    return None
