"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal proportion."""

from __future__ import annotations

from engine.scheduler.framework import MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo

NAME = "NodeResourcesBalancedAllocation"


def balance(cpu_fraction: float, memory_fraction: float) -> int:
    """(1 - standard deviation of the two fractions) * 100; with two values the deviation is half their gap."""
    cpu_fraction, memory_fraction = min(cpu_fraction, 1.0), min(memory_fraction, 1.0)
    deviation = abs(cpu_fraction - memory_fraction) / 2
    return int((1 - deviation) * MAX_NODE_SCORE)


class BalancedAllocation(Plugin):
    name = NAME
    has_score = True

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        if node.allocatable_cpu <= 0 or node.allocatable_memory <= 0:
            return 0
        cpu = (node.requested_cpu + pod.requests.cpu) / node.allocatable_cpu
        memory = (node.requested_memory + pod.requests.memory) / node.allocatable_memory
        return balance(cpu, memory)

    def score_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        # `score` and `balance` inlined (the same float operations in the same order, so the same integers), kept
        # in each node's memo.
        pod_cpu, pod_memory = pod.requests.cpu, pod.requests.memory
        key = (NAME, pod_cpu, pod_memory)
        scores = []
        for node in nodes:
            score = node.memo.get(key)
            if score is None:
                capacity_cpu, capacity_memory = node.allocatable_cpu, node.allocatable_memory
                if capacity_cpu <= 0 or capacity_memory <= 0:
                    score = 0
                else:
                    cpu = (node.requested_cpu + pod_cpu) / capacity_cpu
                    memory = (node.requested_memory + pod_memory) / capacity_memory
                    cpu, memory = min(cpu, 1.0), min(memory, 1.0)
                    score = int((1 - abs(cpu - memory) / 2) * MAX_NODE_SCORE)
                node.memo[key] = score
            scores.append(score)
        return scores


def new(handle=None) -> Plugin:
    return BalancedAllocation(handle)
