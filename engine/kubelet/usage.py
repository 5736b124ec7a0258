"""Simulated resource usage of pods: what metrics-server would report (and `kubectl top` will show).

A running container uses what its image uses at rest (the catalog's
`cpu_millis` and `memory_bytes`); a container that is not running uses
nothing and a pod with no running container has no metrics at all. On top of
that comes load:

- `kubedojo.io/cpu-load` on a Pod: extra CPU that pod burns (a quantity: `250m`, `0.5`);
- `kubedojo.io/cpu-load` on a Service: CPU demand shared evenly by the Service's
  ready pods, the way traffic spreads over endpoints, so adding replicas lowers
  each pod's share (what makes an autoscaler settle).

These are pure functions of the objects and the time. The traffic simulation
can feed load later by writing the Service annotation or by passing its own
per-pod load to `pod_cpu_usage_millis`.
"""

from __future__ import annotations

from engine.kubelet import images as catalog
from engine.resources.quantity import cpu_millis

LOAD_ANNOTATION = "kubedojo.io/cpu-load"


def _running(cs: dict) -> bool:
    return "running" in (cs.get("state") or {})


def _load(obj: dict) -> int:
    text = (obj["metadata"].get("annotations") or {}).get(LOAD_ANNOTATION)
    if not text:
        return 0
    try:
        return max(0, cpu_millis(text))
    except (TypeError, ValueError):
        return 0


def has_metrics(pod: dict) -> bool:
    """Metrics exist for a pod once one of its containers runs (and until it finishes)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(_running(cs) for cs in status.get("containerStatuses") or [])


def container_cpu_millis(pod: dict) -> dict[str, int]:
    """Container name -> resting CPU use of each running container."""
    images = {c.get("name"): c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or []}
    out = {}
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if not _running(cs):
            continue
        entry = catalog.lookup(images.get(cs.get("name"), ""))
        out[cs.get("name", "")] = entry.cpu_millis if entry is not None else 0
    return out


def pod_cpu_usage_millis(pod: dict, now: float = 0.0, extra_millis: float = 0.0) -> int | None:
    """A pod's CPU use in millicores (None when it has no metrics): resting use + its own load + `extra_millis`."""
    if not has_metrics(pod):
        return None
    return int(round(sum(container_cpu_millis(pod).values()) + _load(pod) + extra_millis))


def pod_memory_usage_bytes(pod: dict, now: float = 0.0) -> int | None:
    if not has_metrics(pod):
        return None
    images = {c.get("name"): c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or []}
    total = 0
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if _running(cs):
            entry = catalog.lookup(images.get(cs.get("name"), ""))
            total += entry.memory_bytes if entry is not None else 0
    return total


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def service_load_shares(pods: list[dict], services: list[dict]) -> dict[tuple[str, str], float]:
    """(namespace, pod name) -> CPU millicores of Service load this pod carries (evenly over ready endpoints)."""
    shares: dict[tuple[str, str], float] = {}
    for svc in services:
        load = _load(svc)
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not load or not selector:
            continue
        namespace = svc["metadata"].get("namespace", "")
        backends = [p for p in pods if p["metadata"].get("namespace", "") == namespace and _ready(p)
                    and not p["metadata"].get("deletionTimestamp") and has_metrics(p)
                    and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        for pod in backends:
            key = (namespace, pod["metadata"]["name"])
            shares[key] = shares.get(key, 0.0) + load / len(backends)
    return shares


def cpu_usage_by_pod(pods: list[dict], services: list[dict], now: float = 0.0) -> dict[tuple[str, str], int]:
    """(namespace, pod name) -> CPU millicores, for every pod that has metrics."""
    shares = service_load_shares(pods, services)
    out = {}
    for pod in pods:
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        usage = pod_cpu_usage_millis(pod, now, shares.get(key, 0.0))
        if usage is not None:
            out[key] = usage
    return out


__all__ = ["LOAD_ANNOTATION", "container_cpu_millis", "cpu_usage_by_pod", "has_metrics", "pod_cpu_usage_millis",
           "pod_memory_usage_bytes", "service_load_shares"]
