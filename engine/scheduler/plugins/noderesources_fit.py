"""NodeResourcesFit: the pod's requests must fit what the node has left; scores the LeastAllocated way."""

from __future__ import annotations

from engine.scheduler.framework import (
    MAX_NODE_SCORE,
    SUCCESS,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    memoized_scores,
    unschedulable,
)

NAME = "NodeResourcesFit"
TOO_MANY_PODS = "Too many pods"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"


def insufficient(pod: PodInfo, node: NodeInfo) -> list[str]:
    """The reasons the pod does not fit, in Kubernetes' order (pods, cpu, memory)."""
    reasons = []
    if len(node.pods) + 1 > node.allowed_pods:
        reasons.append(TOO_MANY_PODS)
    req = pod.requests
    if req.cpu > 0 and req.cpu > node.allocatable_cpu - node.requested_cpu:
        reasons.append(INSUFFICIENT_CPU)
    if req.memory > 0 and req.memory > node.allocatable_memory - node.requested_memory:
        reasons.append(INSUFFICIENT_MEMORY)
    return reasons


def least_allocated(requested: int, capacity: int) -> int:
    if capacity <= 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


class NodeResourcesFit(Plugin):
    name = NAME
    has_filter = True
    has_score = True

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        reasons = insufficient(pod, node)
        return unschedulable(NAME, *reasons) if reasons else SUCCESS

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        """LeastAllocated over cpu and memory (weight 1 each), counting unset requests as 100m / 200Mi."""
        cpu = least_allocated(node.nonzero_cpu + pod.requests.nonzero_cpu, node.allocatable_cpu)
        memory = least_allocated(node.nonzero_memory + pod.requests.nonzero_memory, node.allocatable_memory)
        return (cpu + memory) // 2

    def filter_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> dict[int, Status]:
        # `insufficient`'s three tests inlined, their verdict kept in each node's memo; `filter` words the reasons
        # of the few nodes that fail.
        cpu, memory = pod.requests.cpu, pod.requests.memory
        key = (NAME + "/filter", cpu, memory)
        rejected = {}
        for i, node in enumerate(nodes):
            fails = node.memo.get(key)
            if fails is None:
                fails = node.memo[key] = (
                    len(node.pods) >= node.allowed_pods
                    or (cpu > 0 and cpu > node.allocatable_cpu - node.requested_cpu)
                    or (memory > 0 and memory > node.allocatable_memory - node.requested_memory))
            if fails:
                rejected[i] = self.filter(state, pod, node)
        return rejected

    def score_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        return memoized_scores(nodes, (NAME, pod.requests.nonzero_cpu, pod.requests.nonzero_memory),
                               lambda node: self.score(state, pod, node))


def new(handle=None) -> Plugin:
    return NodeResourcesFit(handle)
