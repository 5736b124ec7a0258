"""Simulated resource usage of pods: what metrics-server would report (and `kubectl top` will show).

A running container uses what its image uses at rest (the catalog's
`cpu_millis` and `memory_bytes`); a container that is not running uses
nothing and a pod with no running container has no metrics at all. On top of
that comes load:

- `kubedojo.io/cpu-load` on a Pod: extra CPU that pod burns (a quantity: `250m`, `0.5`);
- `kubedojo.io/cpu-load` on a Service: CPU demand shared evenly by the Service's
  ready pods, the way traffic spreads over endpoints, so adding replicas lowers
  each pod's share (what makes an autoscaler settle).

A container never uses more CPU than its limit (the CFS quota throttles it),
and an image that leaks (the catalog's "oom" behaviour) grows by its leak rate
from the moment it started, up to its memory limit, where it is OOMKilled.
A node uses what its pods use plus what the system itself (kernel, kubelet,
container runtime) keeps, as metrics-server reports for the node.

These are pure functions of the objects and the time. The traffic simulation
can feed load later by writing the Service annotation or by passing its own
per-pod load to `pod_cpu_usage_millis`.
"""

from __future__ import annotations

from engine.clock import parse_rfc3339
from engine.kubelet import images as catalog
from engine.resources.quantity import cpu_millis, memory_bytes

# What a node's own processes (kernel, kubelet, containerd) use, on top of its pods: a minikube node at rest.
SYSTEM_CPU_MILLIS = 60
SYSTEM_MEMORY_BYTES = 300 * 1024 * 1024
PAGE_BYTES = 4096

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


def _limit(container: dict, resource: str, parse) -> int | None:
    value = ((container.get("resources") or {}).get("limits") or {}).get(resource)
    if value is None:
        return None
    try:
        return parse(value)
    except (TypeError, ValueError):
        return None


def container_cpu_usage_millis(pod: dict, extra_millis: float = 0.0) -> dict[str, float]:
    """Container name -> CPU use of each running container: resting use, the pod's load (and `extra_millis`) on
    its first running container, each throttled to its CPU limit."""
    specs = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    out: dict[str, float] = {}
    load = _load(pod) + extra_millis
    for name, resting in container_cpu_millis(pod).items():
        wanted = resting + load
        load = 0.0
        limit = _limit(specs.get(name) or {}, "cpu", cpu_millis)
        out[name] = wanted if limit is None else min(wanted, limit)
    return out


def pod_cpu_usage_millis(pod: dict, now: float = 0.0, extra_millis: float = 0.0) -> int | None:
    """A pod's CPU use in millicores (None when it has no metrics): resting use + its own load + `extra_millis`,
    throttled to the containers' limits."""
    if not has_metrics(pod):
        return None
    return int(round(sum(container_cpu_usage_millis(pod, extra_millis).values())))


def container_memory_bytes(container: dict, cs: dict, now: float) -> int:
    """A running container's working set: what its image holds at rest, plus what it leaked since it started."""
    if not _running(cs):
        return 0
    entry = catalog.lookup(container.get("image", ""))
    if entry is None:
        return 0
    used = entry.memory_bytes
    behaviour = catalog.behaviour_of(container, entry)
    if behaviour.kind == "oom":
        started = parse_rfc3339(cs["state"]["running"].get("startedAt"))
        if started is not None:
            used += int(behaviour.leak_bytes_per_second * max(0.0, now - started))
        limit = _limit(container, "memory", memory_bytes)
        if limit is not None:
            used = min(used, limit)
    return used - used % PAGE_BYTES  # memory is held in whole pages


def container_memory_usage(pod: dict, now: float = 0.0) -> dict[str, int]:
    """Container name -> working set bytes of each running container."""
    specs = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    return {cs.get("name", ""): container_memory_bytes(specs.get(cs.get("name")) or {}, cs, now)
            for cs in (pod.get("status") or {}).get("containerStatuses") or [] if _running(cs)}


def pod_memory_usage_bytes(pod: dict, now: float = 0.0) -> int | None:
    if not has_metrics(pod):
        return None
    return sum(container_memory_usage(pod, now).values())


def memory_grows(pod: dict) -> bool:
    """Whether the pod's working set changes with time alone: one of its running containers leaks (the image's
    "oom" behaviour). Otherwise `pod_memory_usage_bytes` is the same at any time, until the pod changes."""
    if not has_metrics(pod):
        return False
    specs = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if not _running(cs):
            continue
        container = specs.get(cs.get("name")) or {}
        entry = catalog.lookup(container.get("image", ""))
        if entry is not None and catalog.behaviour_of(container, entry).kind == "oom":
            return True
    return False


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


def pod_usage(api, pod: dict, now: float) -> tuple[int, int]:
    """(CPU millicores, memory bytes) of one pod, as `kubectl top pod` shows it (0, 0 without metrics)."""
    namespace = pod["metadata"].get("namespace", "")
    pods = api.list("Pod", namespace)["items"]
    services = api.list("Service", namespace)["items"]
    share = service_load_shares(pods, services).get((namespace, pod["metadata"]["name"]), 0.0)
    return pod_cpu_usage_millis(pod, now, share) or 0, pod_memory_usage_bytes(pod, now) or 0


def node_usage(api, node: dict, now: float) -> tuple[int, int]:
    """(CPU millicores, memory bytes) of a node, as `kubectl top node` shows it: its pods plus the system."""
    name = node["metadata"]["name"]
    pods = [p for p in api.list("Pod", None)["items"] if (p.get("spec") or {}).get("nodeName") == name]
    cpu = cpu_usage_by_pod(pods, api.list("Service", None)["items"], now)
    memory = sum(pod_memory_usage_bytes(p, now) or 0 for p in pods)
    return SYSTEM_CPU_MILLIS + sum(cpu.values()), SYSTEM_MEMORY_BYTES + memory


__all__ = ["LOAD_ANNOTATION", "SYSTEM_CPU_MILLIS", "SYSTEM_MEMORY_BYTES", "container_cpu_millis",
           "container_cpu_usage_millis", "container_memory_bytes", "container_memory_usage", "cpu_usage_by_pod",
           "has_metrics", "memory_grows", "node_usage", "pod_cpu_usage_millis", "pod_memory_usage_bytes", "pod_usage",
           "service_load_shares"]
