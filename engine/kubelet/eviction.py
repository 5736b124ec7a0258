"""The kubelet's eviction manager, for memory: node-pressure eviction as a v1.32 kubelet does it.

Every monitoring pass (each node sync, at most 10 s apart) the kubelet observes
`memory.available` = node capacity - working set (its pods' plus the system's).
Below the hard threshold (`--eviction-hard memory.available<100Mi`, the default)
the node reports MemoryPressure, and the kubelet evicts one pod per pass, chosen
as rankMemoryPressure ranks them: pods using more memory than they request first,
then lower priority first, then the largest use beyond the request first. So a
BestEffort pod that leaks goes before a Guaranteed one that stays within its request.

An evicted pod is not deleted: its containers are killed at once (grace period 0
for a hard threshold), its phase becomes Failed with reason Evicted, and its
controller replaces it. MemoryPressure stays True until the pressure has been gone
for the transition period (`--eviction-pressure-transition-period`, 5 min).
"""

from __future__ import annotations

from functools import lru_cache

from engine.clock import format_rfc3339
from engine.kubelet import podstatus, usage
from engine.resources.quantity import format_memory, memory_bytes

THRESHOLD_BYTES = 100 * 1024 * 1024
THRESHOLD_TEXT = "100Mi"
PRESSURE_TRANSITION_SECONDS = 300.0
CRITICAL_PRIORITY = 2_000_000_000  # system-cluster-critical and above: never evicted by the kubelet
EVICTED_REASON = "Evicted"

NODE_LOW = "The node was low on resource: {resource}. "
THRESHOLD_MET = "Threshold quantity: {quantity}, available: {available}. "
CONTAINER_USING = "Container {name} was using {usage}, request is {request}, has larger consumption of {resource}. "

PRESSURE = ("MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")


def capacity(node: dict) -> int:
    """The node's memory capacity in bytes."""
    text = ((node.get("status") or {}).get("capacity") or {}).get("memory", "0")
    return _memory_bytes(text) if isinstance(text, str) else memory_bytes(text)


@lru_cache(maxsize=256)
def _memory_bytes(text: str) -> int:
    # Cached: every node of a cluster states its capacity with one of a few strings, read at each eviction pass.
    return memory_bytes(text)


def is_candidate(pod: dict) -> bool:
    """Whether the eviction manager may pick this pod (see `candidates`)."""
    return ((pod.get("status") or {}).get("phase") not in podstatus.TERMINAL
            and not pod["metadata"].get("deletionTimestamp")
            and int((pod.get("spec") or {}).get("priority") or 0) < CRITICAL_PRIORITY)


def candidates(pods: list[dict]) -> list[dict]:
    """Active pods the eviction manager may pick: running, not being deleted, not critical."""
    return [p for p in pods if is_candidate(p)]


def memory_available(node: dict, pods: list[dict], now: float, working_set=None) -> int:
    """memory.available: capacity minus the working set of the system and of every pod on the node.
    `working_set(pod)`: the pod's, when the caller knows it already (the kubelet caches it per pod version)."""
    if working_set is None:
        def working_set(pod: dict) -> int:
            return usage.pod_memory_usage_bytes(pod, now) or 0
    return capacity(node) - usage.SYSTEM_MEMORY_BYTES - sum(working_set(p) for p in pods)


def _request(pod: dict) -> int:
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        value = ((container.get("resources") or {}).get("requests") or {}).get("memory")
        total += memory_bytes(value) if value is not None else 0
    return total


def rank(pods: list[dict], now: float) -> list[dict]:
    """rankMemoryPressure: exceeds its requests first, then lower priority, then larger use beyond the request."""
    def key(pod: dict):
        used = usage.pod_memory_usage_bytes(pod, now) or 0
        beyond = used - _request(pod)
        return (beyond <= 0, int((pod.get("spec") or {}).get("priority") or 0), -beyond)
    return sorted(pods, key=key)


def message(pod: dict, available: int, now: float) -> str:
    """evictionMessage: the threshold, what was left, and each container using more than it requested."""
    text = NODE_LOW.format(resource="memory") + THRESHOLD_MET.format(quantity=THRESHOLD_TEXT,
                                                                    available=format_memory(max(0, available)))
    used = usage.container_memory_usage(pod, now)
    for container in (pod.get("spec") or {}).get("containers") or []:
        name = container.get("name", "")
        if name not in used:
            continue
        request = ((container.get("resources") or {}).get("requests") or {}).get("memory")
        request_bytes = memory_bytes(request) if request is not None else 0
        if used[name] > request_bytes:
            text += CONTAINER_USING.format(name=name, usage=format_memory(used[name]),
                                           request=format_memory(request_bytes) if request is not None else "0",
                                           resource="memory")
    return text


def evicted_status(pod: dict, reason_message: str, now: float) -> dict:
    """The status the kubelet writes: containers killed (exit 137), phase Failed, reason Evicted, and the
    DisruptionTarget condition saying the kubelet terminated it."""
    status = {k: v for k, v in (pod.get("status") or {}).items()}
    when = format_rfc3339(now)
    statuses = []
    for cs in status.get("containerStatuses") or []:
        cs = dict(cs)
        running = (cs.get("state") or {}).get("running")
        if running is not None:
            cs["state"] = {"terminated": {"containerID": cs.get("containerID", ""), "exitCode": 137,
                                          "finishedAt": when, "reason": "Error",
                                          "startedAt": running.get("startedAt", when)}}
        cs["ready"] = False
        cs["started"] = False
        statuses.append(cs)
    status["containerStatuses"] = statuses
    podstatus.finish_status(pod.get("spec") or {}, status, now, stopping=True)
    status["phase"] = "Failed"
    status["reason"] = EVICTED_REASON
    status["message"] = reason_message
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    conditions.insert(0, {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": when, "reason": "TerminationByKubelet", "message": reason_message})
    status["conditions"] = conditions
    return status
