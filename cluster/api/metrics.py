"""`metrics.k8s.io/v1beta1`, what metrics-server serves and `kubectl top` reads: NodeMetrics and PodMetrics
from the simulated usage model (engine.kubelet.usage), the same numbers the web terminal's `top` shows.

Read-only (get, list with a label selector); listed in discovery after the built-in groups, where an
aggregated API such as metrics-server appears.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cluster.api.errors import json_response, not_found_resource
from engine import errors

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
WINDOW = "20.05s"  # metrics-server's scrape window
RESOURCES = (("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True))


def aggregated_group() -> dict:
    return {"metadata": {"name": GROUP, "creationTimestamp": None}, "versions": [
        {"version": VERSION, "freshness": "Current", "resources": [
            {"resource": plural, "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
             "scope": "Namespaced" if namespaced else "Cluster", "singularResource": "", "verbs": ["get", "list"]}
            for plural, kind, namespaced in RESOURCES]}]}


def resource_list() -> dict:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": [
        {"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]}
        for plural, kind, namespaced in RESOURCES]}


def _stamp(when: float) -> str:
    return datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: dict) -> dict:
    meta = obj["metadata"]
    out = {"name": meta["name"], "creationTimestamp": meta.get("creationTimestamp")}
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    return out


def _quantities(cpu_millis: float, memory_bytes: int) -> dict:
    return {"cpu": f"{int(cpu_millis * 1_000_000)}n", "memory": f"{int(memory_bytes) // 1024}Ki"}


def node_metrics(api, node: dict, now: float) -> dict:
    from engine.kubelet import usage

    cpu, memory = usage.node_usage(api, node, now)
    return {"kind": "NodeMetrics", "apiVersion": GROUP_VERSION, "metadata": _meta(node), "timestamp": _stamp(now),
            "window": WINDOW, "usage": _quantities(cpu, memory)}


def pod_metrics(api, pod: dict, now: float, share: float) -> dict:
    from engine.kubelet import usage

    cpu = usage.container_cpu_usage_millis(pod, share)
    memory = usage.container_memory_usage(pod, now)
    containers = [{"name": c["name"], "usage": _quantities(cpu.get(c["name"], 0), memory.get(c["name"], 0))}
                  for c in (pod.get("spec") or {}).get("containers") or []]
    return {"kind": "PodMetrics", "apiVersion": GROUP_VERSION, "metadata": _meta(pod), "timestamp": _stamp(now),
            "window": WINDOW, "containers": containers}


def _measured(pod: dict) -> bool:
    from engine.kubelet import usage

    return (pod.get("status") or {}).get("phase") == "Running" and usage.has_metrics(pod)


def _named(api, kind: str, namespace: str, name: str, plural: str, shown: str) -> dict:
    """The object a metrics GET names; missing, it is the metrics object metrics-server says it lacks."""
    try:
        return api.get(kind, namespace, name)
    except errors.ApiError as exc:
        if exc.code == 404:
            raise errors.not_found(plural, shown, GROUP) from None
        raise


def handle(request, target, parts: list[str]):
    """GET /apis/metrics.k8s.io[/v1beta1[/namespaces/<ns>]/(nodes|pods)[/<name>]]."""
    from engine.kubelet import usage

    if request.method not in ("GET", "HEAD"):
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    if not parts:
        return json_response({"kind": "APIGroup", "apiVersion": "v1", "name": GROUP,
                              "versions": [{"groupVersion": GROUP_VERSION, "version": VERSION}],
                              "preferredVersion": {"groupVersion": GROUP_VERSION, "version": VERSION}})
    if parts[0] != VERSION:
        raise not_found_resource()
    rest = parts[1:]
    if not rest:
        return json_response(resource_list())
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    plural, name = rest[0], (rest[1] if len(rest) > 1 else "")
    if plural not in ("nodes", "pods") or len(rest) > 2 or (plural == "nodes" and namespace):
        raise not_found_resource()
    api, now = target.api(), target.now()
    selector = request.GET.get("labelSelector") or None  # parsed (and refused when malformed) by the list
    kind = "NodeMetrics" if plural == "nodes" else "PodMetrics"
    if plural == "nodes":
        nodes = ([_named(api, "Node", "", name, "nodemetrics", name)] if name
                 else api.list("Node", None, label_selector=selector)["items"])
        items = [node_metrics(api, n, now) for n in nodes]
    else:
        pods = ([_named(api, "Pod", namespace or "", name, "podmetrics", f"{namespace}/{name}")] if name
                else api.list("Pod", namespace, label_selector=selector)["items"])
        services = api.list("Service", namespace)["items"]
        shares = usage.service_load_shares(api.list("Pod", namespace)["items"], services)
        items = [pod_metrics(api, p, now, shares.get((p["metadata"]["namespace"], p["metadata"]["name"]), 0.0))
                 for p in pods if _measured(p)]
        if name and not items:
            raise errors.not_found("podmetrics", f"{namespace}/{name}", GROUP)
    if name:
        return json_response(items[0])
    return json_response({"kind": f"{kind}List", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items})
