"""NodeAffinity: spec.nodeSelector and required node affinity filter; preferred node affinity scores."""

from __future__ import annotations

from engine import labels
from engine.scheduler.framework import (
    SKIP,
    SUCCESS,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    default_normalize,
    unresolvable,
)

NAME = "NodeAffinity"
ERR_REASON = "node(s) didn't match Pod's node affinity/selector"


class Term:
    """One NodeSelectorTerm: all its expressions and fields must hold; an empty term matches nothing."""

    def __init__(self, term: dict):
        expressions = term.get("matchExpressions") or []
        self.fields = term.get("matchFields") or []
        self.empty = not expressions and not self.fields
        self.selector = labels.from_label_selector({"matchExpressions": expressions})

    def matches(self, node: NodeInfo) -> bool:
        if self.empty or not self.selector.matches(node.labels):
            return False
        for expr in self.fields:  # only metadata.name is supported, as in Kubernetes
            if expr.get("key") != "metadata.name":
                return False
            values = expr.get("values") or []
            op = expr.get("operator")
            if (op == "In" and node.name not in values) or (op == "NotIn" and node.name in values):
                return False
        return True


class Required:
    """nodeSelector AND (any of the required terms)."""

    def __init__(self, pod: dict):
        spec = pod.get("spec") or {}
        self.selector = spec.get("nodeSelector") or {}
        affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {})
        required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.terms = [Term(t) for t in (required or {}).get("nodeSelectorTerms") or []] if required else None
        self.preferred = [(int(p.get("weight") or 0), Term(p.get("preference") or {}))
                          for p in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []]

    @property
    def empty(self) -> bool:
        return not self.selector and self.terms is None

    def matches(self, node: NodeInfo) -> bool:
        node_labels = node.labels
        for key, value in self.selector.items():
            if node_labels.get(key) != value:
                return False
        return self.terms is None or any(term.matches(node) for term in self.terms)


class NodeAffinity(Plugin):
    name = NAME
    has_filter = True
    has_score = True

    def pre_filter(self, state, pod: PodInfo) -> Status:
        required = Required(pod.pod)
        state[NAME] = required
        return SKIP if required.empty else SUCCESS

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        required = state.get(NAME) or Required(pod.pod)
        return SUCCESS if required.matches(node) else unresolvable(NAME, ERR_REASON)

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        required = state.get(NAME) or Required(pod.pod)
        state[NAME] = required
        return SUCCESS if required.preferred else SKIP

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        required = state.get(NAME) or Required(pod.pod)
        return sum(weight for weight, term in required.preferred if term.matches(node))

    def normalize(self, state, pod: PodInfo, scores: dict[str, int]) -> None:
        default_normalize(scores)


def new(handle=None) -> Plugin:
    return NodeAffinity(handle)
