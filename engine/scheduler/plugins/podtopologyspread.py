"""PodTopologySpread: spread matching pods evenly over topology domains (nodes, zones ...).

A constraint counts, per value of `topologyKey`, the pods in the pod's namespace that match its
`labelSelector` (plus the values of `matchLabelKeys` taken from the pod itself). Nodes count when they
match the pod's node selector/affinity (nodeAffinityPolicy Honor, the default) and carry every
constraint's key; taints are ignored unless nodeTaintsPolicy is Honor (so a tainted control-plane node
with the key is still a domain, as in Kubernetes).

- DoNotSchedule constraints filter: placing the pod in a domain may not make
  `matching pods there + 1 - fewest in any domain` exceed `maxSkew` ("node(s) didn't match pod topology
  spread constraints"; a node without the key: "... (missing required label)"). With fewer eligible
  domains than `minDomains`, the fewest counts as 0.
- ScheduleAnyway constraints score: fewer matching pods in the node's domain score higher, weighted by
  log(number of domains + 2).
- A pod without constraints gets the cluster's default ones, for scoring only: hostname maxSkew 3 and
  zone maxSkew 5, both ScheduleAnyway, over the pods selected by the same Services, ReplicationControllers,
  ReplicaSets and StatefulSets as this pod.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine import labels
from engine.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    NodeInfo,
    Plugin,
    PodInfo,
    Status,
    tolerated,
    unresolvable,
    unschedulable,
)
from engine.scheduler.plugins import nodeaffinity

NAME = "PodTopologySpread"
ERR_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_NODE_LABEL_NOT_MATCH = ERR_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"
SYSTEM_DEFAULT_CONSTRAINTS = ({"maxSkew": 3, "topologyKey": HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY},
                              {"maxSkew": 5, "topologyKey": ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY})


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: labels.Selector
    min_domains: int = 1
    honor_affinity: bool = True
    honor_taints: bool = False


def _constraints(pod: dict, when: str) -> list[Constraint]:
    own = pod["metadata"].get("labels") or {}
    out = []
    for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        if (c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) != when:
            continue
        selector = labels.from_label_selector(c.get("labelSelector"))
        extra = [labels.Requirement(k, "in", (own[k],)) for k in c.get("matchLabelKeys") or [] if k in own]
        if extra and not selector.match_nothing:
            selector = labels.Selector(list(selector.requirements) + extra)
        out.append(Constraint(max(1, int(c.get("maxSkew") or 1)), c.get("topologyKey") or "", selector,
                              max(1, int(c.get("minDomains") or 1)),
                              (c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                              (c.get("nodeTaintsPolicy") or "Ignore") == "Honor"))
    return out


def default_selector(pod: dict, cache) -> labels.Selector | None:
    """helper.DefaultSelector: what the pod's Services, RCs, ReplicaSets and StatefulSets select, together."""
    meta = pod["metadata"]
    namespace, own = meta.get("namespace", ""), meta.get("labels") or {}
    if not own or cache is None:
        return None
    requirements: list[labels.Requirement] = []
    for kind in ("Service", "ReplicationController"):
        for obj in cache.list(kind, namespace):
            selector = (obj.get("spec") or {}).get("selector") or {}
            if selector and all(own.get(k) == v for k, v in selector.items()):
                requirements += [labels.Requirement(k, "=", (str(v),)) for k, v in sorted(selector.items())]
    for kind in ("ReplicaSet", "StatefulSet"):
        for obj in cache.list(kind, namespace):
            raw = (obj.get("spec") or {}).get("selector")
            if not raw:
                continue
            selector = labels.from_label_selector(raw)
            if selector.requirements and selector.matches(own):
                requirements += selector.requirements
    return labels.Selector(requirements) if requirements else None


def _node_included(c: Constraint, node: NodeInfo, required: nodeaffinity.Required, tolerations: list[dict]) -> bool:
    if c.honor_affinity and not required.matches(node):
        return False
    if c.honor_taints:
        for taint in node.taints:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, taint):
                return False
    return True


class _Counter:
    """Matching pods on a node (same namespace, not terminating). With the scheduler's cluster-wide index each
    selector is matched against each distinct label set once per cycle, then a node's count is a lookup."""

    def __init__(self, index, namespace: str):
        self.index = index
        self.namespace = namespace
        self._matching: dict[int, tuple[labels.Selector, list[dict[str, int]]]] = {}

    def count(self, node: NodeInfo, selector: labels.Selector) -> int:
        if not node.label_sets:
            return 0
        if self.index is None or node.index is not self.index:
            return node.count_matching(self.namespace, selector)
        found = self._matching.get(id(selector))
        if found is None:
            found = self._matching[id(selector)] = (selector, self.index.matching(self.namespace, selector))
        name = node.name
        return sum(nodes.get(name, 0) for nodes in found[1])


@dataclass
class FilterState:
    constraints: list[Constraint]
    counts: list[dict[str, int]]  # per constraint: topology value -> matching pods (eligible domains only)
    self_match: list[int] = field(default_factory=list)

    def clone(self) -> FilterState:
        return FilterState(self.constraints, [dict(c) for c in self.counts], list(self.self_match))

    def min_match(self, i: int) -> int:
        counts = self.counts[i]
        if not counts or len(counts) < self.constraints[i].min_domains:
            return 0
        return min(counts.values())


class PodTopologySpread(Plugin):
    name = NAME
    has_filter = True
    has_score = True

    def _nodes(self) -> list[NodeInfo]:
        return list(self.handle.nodes.values()) if self.handle is not None else []

    def _cache(self):
        return self.handle.sim.cache if self.handle is not None else None

    def _index(self):
        return getattr(self.handle, "label_index", None)

    # --- filter -------------------------------------------------------------------------------------
    def pre_filter(self, state, pod: PodInfo) -> Status:
        constraints = _constraints(pod.pod, DO_NOT_SCHEDULE)
        if not constraints or self.handle is None:
            return SKIP
        required = nodeaffinity.Required(pod.pod)
        counter = _Counter(self._index(), pod.pod["metadata"].get("namespace", ""))
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for node in self._nodes():
            if any(c.topology_key not in node.labels for c in constraints):
                continue
            for i, c in enumerate(constraints):
                if not _node_included(c, node, required, pod.tolerations):
                    continue
                value = node.labels[c.topology_key]
                counts[i][value] = counts[i].get(value, 0) + counter.count(node, c.selector)
        own = pod.pod["metadata"].get("labels")
        state[NAME] = FilterState(constraints, counts, [1 if c.selector.matches(own) else 0 for c in constraints])
        return SUCCESS

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        st: FilterState | None = state.get(NAME)
        if st is None:
            return SUCCESS
        for i, c in enumerate(st.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return unresolvable(NAME, ERR_NODE_LABEL_NOT_MATCH)
            skew = st.counts[i].get(value, 0) + st.self_match[i] - st.min_match(i)
            if skew > c.max_skew:
                return unschedulable(NAME, ERR_CONSTRAINTS_NOT_MATCH)
        return SUCCESS

    def _update(self, state, pod: PodInfo, other: dict, node: NodeInfo, delta: int) -> None:
        st: FilterState | None = state.get(NAME)
        if st is None or other["metadata"].get("namespace", "") != pod.pod["metadata"].get("namespace", ""):
            return
        for i, c in enumerate(st.constraints):
            value = node.labels.get(c.topology_key)
            if value in st.counts[i] and c.selector.matches(other["metadata"].get("labels")):
                st.counts[i][value] += delta

    def remove_pod(self, state, pod: PodInfo, victim: dict, node: NodeInfo) -> None:
        """PreFilterExtensions.RemovePod: preemption takes a victim off a node."""
        self._update(state, pod, victim, node, -1)

    def add_pod(self, state, pod: PodInfo, other: dict, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    # --- score ----------------------------------------------------------------------------------------
    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        if self.handle is None:
            return SKIP
        spec = pod.pod.get("spec") or {}
        require_all = bool(spec.get("topologySpreadConstraints"))
        if require_all:
            constraints = _constraints(pod.pod, SCHEDULE_ANYWAY)
        else:
            selector = default_selector(pod.pod, self._cache())
            constraints = [Constraint(c["maxSkew"], c["topologyKey"], selector)
                           for c in SYSTEM_DEFAULT_CONSTRAINTS] if selector is not None else []
        if not constraints:
            return SKIP
        ignored: set[str] = set()
        values: list[dict[str, int]] = [{} for _ in constraints]
        for node in nodes:
            if require_all and any(c.topology_key not in node.labels for c in constraints):
                ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME and c.topology_key in node.labels:
                    values[i].setdefault(node.labels[c.topology_key], 0)
        weights = []
        for i, c in enumerate(constraints):
            size = len(nodes) - len(ignored) if c.topology_key == HOSTNAME else len(values[i])
            weights.append(math.log(size + 2))
        counter = _Counter(self._index(), pod.pod["metadata"].get("namespace", ""))
        if any(values):
            required = nodeaffinity.Required(pod.pod)
            for node in self._nodes():
                if require_all and any(c.topology_key not in node.labels for c in constraints):
                    continue
                for i, c in enumerate(constraints):
                    value = node.labels.get(c.topology_key)
                    if value is None or value not in values[i] or not _node_included(c, node, required,
                                                                                       pod.tolerations):
                        continue
                    values[i][value] += counter.count(node, c.selector)
        rows = [(c.topology_key, c.topology_key == HOSTNAME, c.selector, values[i], weights[i], c.max_skew - 1)
                for i, c in enumerate(constraints)]
        state[NAME + "/score"] = (rows, ignored, counter)
        return SUCCESS

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        rows, ignored, counter = state[NAME + "/score"]
        if ignored and node.name in ignored:
            return 0
        node_labels = node.labels
        total = 0.0
        for key, per_node, selector, values, weight, base in rows:
            value = node_labels.get(key)
            if value is None:
                continue
            if per_node:
                total += (counter.count(node, selector) * weight if node.pods else 0.0) + base
            else:
                total += values.get(value, 0) * weight + base
        return int(math.floor(total + 0.5))

    def normalize(self, state, pod: PodInfo, scores: dict[str, int]) -> None:
        _, ignored, _ = state[NAME + "/score"]
        counted = [v for name, v in scores.items() if name not in ignored]
        if not counted:
            return
        low, high = min(counted), max(counted)
        for name, value in scores.items():
            if name in ignored:
                scores[name] = 0
            elif high == 0:
                scores[name] = MAX_NODE_SCORE
            else:
                scores[name] = MAX_NODE_SCORE * (high + low - value) // high


def new(handle=None) -> Plugin:
    return PodTopologySpread(handle)
