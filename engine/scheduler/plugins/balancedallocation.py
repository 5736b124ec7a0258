"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal proportion."""

from __future__ import annotations

from engine.scheduler.framework import MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, memoized_scores

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
        return memoized_scores(nodes, (NAME, pod.requests.cpu, pod.requests.memory),
                               lambda node: self.score(state, pod, node))


def new(handle=None) -> Plugin:
    return BalancedAllocation(handle)
