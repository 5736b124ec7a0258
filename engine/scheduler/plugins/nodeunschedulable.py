"""NodeUnschedulable: cordoned nodes (spec.unschedulable) take no new pods unless the pod tolerates it."""

from __future__ import annotations

from engine.scheduler.framework import SUCCESS, NodeInfo, Plugin, PodInfo, Status, tolerated, unresolvable

NAME = "NodeUnschedulable"
ERR_REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def fits(tolerations: list[dict], node: NodeInfo) -> bool:
    return not node.unschedulable or tolerated(tolerations, UNSCHEDULABLE_TAINT)


class NodeUnschedulable(Plugin):
    name = NAME
    has_filter = True

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if fits(pod.tolerations, node) else unresolvable(NAME, ERR_REASON)

    def filter_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> dict[int, Status]:
        if tolerated(pod.tolerations, UNSCHEDULABLE_TAINT):
            return {}
        return {i: unresolvable(NAME, ERR_REASON) for i, node in enumerate(nodes) if node.unschedulable}


def new(handle=None) -> Plugin:
    return NodeUnschedulable(handle)
