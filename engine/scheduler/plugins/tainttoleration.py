"""TaintToleration: NoSchedule/NoExecute taints keep out pods that do not tolerate them;
PreferNoSchedule taints only lower a node's score."""

from __future__ import annotations

from engine.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    default_normalize,
    taint_text,
    tolerated,
    unresolvable,
)

NAME = "TaintToleration"
ERR_REASON = "node(s) had untolerated taint {key: value}"  # the shape; the real text names the taint
_FILTER_EFFECTS = ("NoSchedule", "NoExecute")


def untolerated_taint(tolerations: list[dict], taints: list[dict]) -> dict | None:
    """The first NoSchedule/NoExecute taint the pod does not tolerate, or None."""
    for taint in taints:
        if taint.get("effect") in _FILTER_EFFECTS and not tolerated(tolerations, taint):
            return taint
    return None


class TaintToleration(Plugin):
    name = NAME
    has_filter = True
    has_score = True

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.taints:
            return SUCCESS
        taint = untolerated_taint(pod.tolerations, node.taints)
        if taint is None:
            return SUCCESS
        return unresolvable(NAME, f"node(s) had untolerated taint {taint_text(taint)}")

    def filter_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> dict[int, Status]:
        # Most nodes have no taints: only those with some are looked at closely.
        return {i: status for i, node in enumerate(nodes)
                if node.taints and (status := self.filter(state, pod, node)) is not SUCCESS}

    skip_score = MAX_NODE_SCORE

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        prefer = any(t.get("effect") == "PreferNoSchedule" for n in nodes for t in n.taints)
        return SUCCESS if prefer else SKIP

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        prefer = [t for t in pod.tolerations if not t.get("effect") or t.get("effect") == "PreferNoSchedule"]
        return sum(1 for taint in node.taints
                   if taint.get("effect") == "PreferNoSchedule" and not tolerated(prefer, taint))

    def normalize(self, state, pod: PodInfo, scores: dict[str, int]) -> None:
        default_normalize(scores, reverse=True)


def new(handle=None) -> Plugin:
    return TaintToleration(handle)
