"""NodeName: a pod that names its node may only go there."""

from __future__ import annotations

from engine.scheduler.framework import SKIP, SUCCESS, NodeInfo, Plugin, PodInfo, Status, unresolvable

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def fits(pod: dict, node_name: str) -> bool:
    wanted = (pod.get("spec") or {}).get("nodeName")
    return not wanted or wanted == node_name


class NodeName(Plugin):
    name = NAME
    has_filter = True

    def pre_filter(self, state, pod: PodInfo) -> Status:
        return SUCCESS if (pod.pod.get("spec") or {}).get("nodeName") else SKIP

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if fits(pod.pod, node.name) else unresolvable(NAME, ERR_REASON)


def new(handle=None) -> Plugin:
    return NodeName(handle)
