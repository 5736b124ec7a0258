"""The kubelet's own admission check: a pod bound to a node it does not fit is rejected, not run.

The scheduler normally sends only pods that fit, but a pod can name its node (`spec.nodeName`) and skip
the scheduler. The kubelet then checks it against the pods it already admitted, as Kubernetes' kubelet
does. The eviction manager comes first: under MemoryPressure a BestEffort pod that does not tolerate the
memory-pressure taint is refused (reason `Evicted`, "The node had condition: [MemoryPressure]. "). Then
the predicates (pkg/kubelet/lifecycle): resources (pods, cpu, memory: reason `OutOfpods`,
`OutOfcpu`, `OutOfmemory`), then the node selector and affinity (`NodeAffinity`), then untolerated
NoExecute taints (`TaintToleration`). A rejected pod goes straight to phase Failed with that reason and
the message "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 850,
capacity: 2000", a Warning Event with the same reason, and no containers; its controller replaces it.
"""

from __future__ import annotations

from engine.kubelet import eviction
from engine.kubelet import podstatus as ps
from engine.resources.qos import qos_class
from engine.scheduler.framework import NodeInfo, pod_requests, tolerated
from engine.scheduler.plugins import nodeaffinity

TAINT_NOT_MATCH = "node(s) had taints that the pod didn't tolerate"


def _admitted(pod: dict, uid: str) -> bool:
    """Pods this kubelet already runs (accepted, not finished) hold their share of the node."""
    meta = pod["metadata"]
    status = pod.get("status") or {}
    return meta.get("uid") != uid and bool(status.get("startTime")) and status.get("phase") not in ps.TERMINAL


def cpu_memory(pod: dict) -> tuple[int, int]:
    """A pod's effective cpu (millicores) and memory (bytes) requests."""
    req = pod_requests(pod)
    return req.cpu, req.memory


def check(pod: dict, node: dict, running: list[dict], requests_of=cpu_memory) -> tuple[str, str] | None:
    """(reason, message) if the kubelet must reject `pod` on `node` beside the `running` pods, else None.
    `requests_of(pod)` gives a pod's (cpu, memory) requests (the kubelet passes a cached one)."""
    pressure = _memory_pressure_refusal(pod, node)
    if pressure is not None:
        return pressure
    info = NodeInfo(node)
    wanted = pod_requests(pod)
    used_cpu = used_memory = 0
    for other in running:
        cpu, memory = requests_of(other)
        used_cpu += cpu
        used_memory += memory
    if len(running) + 1 > info.allowed_pods:
        return "OutOfpods", _insufficient("pods", 1, len(running), info.allowed_pods)
    if wanted.cpu and wanted.cpu > info.allocatable_cpu - used_cpu:
        return "OutOfcpu", _insufficient("cpu", wanted.cpu, used_cpu, info.allocatable_cpu)
    if wanted.memory and wanted.memory > info.allocatable_memory - used_memory:
        return "OutOfmemory", _insufficient("memory", wanted.memory, used_memory, info.allocatable_memory)
    if not nodeaffinity.Required(pod).matches(info):
        return nodeaffinity.NAME, f"Predicate {nodeaffinity.NAME} failed: {nodeaffinity.ERR_REASON}"
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in info.taints:
        if taint.get("effect") == "NoExecute" and not tolerated(tolerations, taint):
            return "TaintToleration", f"Predicate TaintToleration failed: {TAINT_NOT_MATCH}"
    return None


MEMORY_PRESSURE_TAINT = {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}


def _memory_pressure_refusal(pod: dict, node: dict) -> tuple[str, str] | None:
    """The eviction manager's Admit: under MemoryPressure only pods that ask for memory (or tolerate it) come in."""
    pressured = any(c.get("type") == "MemoryPressure" and c.get("status") == "True"
                    for c in (node.get("status") or {}).get("conditions") or [])
    spec = pod.get("spec") or {}
    if not pressured or int(spec.get("priority") or 0) >= eviction.CRITICAL_PRIORITY:
        return None
    if qos_class(pod) != "BestEffort" or tolerated(spec.get("tolerations") or [], MEMORY_PRESSURE_TAINT):
        return None
    return eviction.EVICTED_REASON, "The node had condition: [MemoryPressure]. "


def _insufficient(resource: str, requested: int, used: int, capacity: int) -> str:
    return f"Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"


def reject(ctx) -> bool:
    """Run the check for a pod the kubelet is about to accept; on failure write the Failed status and Event."""
    running = [p for p in ctx.kubelet.sim.cache.pods_on_node(ctx.node_name) if _admitted(p, ctx.uid)]
    verdict = check(ctx.pod, ctx.node, running, ctx.kubelet.pod_cpu_memory)
    if verdict is None:
        return False
    reason, message = verdict
    status = ctx.status
    status["phase"] = "Failed"
    status["reason"] = reason
    status["message"] = f"Pod was rejected: {message}"
    ctx.event("Warning", reason, message)
    return True
