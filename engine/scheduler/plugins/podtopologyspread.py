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
import operator
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


_MAP_KINDS = ("Service", "ReplicationController")  # spec.selector is a map of labels
_LABEL_SELECTOR_KINDS = ("ReplicaSet", "StatefulSet")  # spec.selector is a LabelSelector
_DEFAULTS_MAX = 4096  # label sets whose default selector is kept, per namespace


class DefaultSelectors:
    """`default_selector` for one informer cache, kept per (namespace, pod labels) (pods of one workload share
    them) until a Service, ReplicationController, ReplicaSet or StatefulSet selector in that namespace changes.

    The cache is read, not the scheduler's events, as `default_selector` reads it: each call lists the four kinds
    (a C-level copy) and compares them by identity with the last look (the cache replaces an object on every
    change, never mutates it). Only when one differs are the selectors gathered again by namespace (LabelSelectors
    parsed only when their object's selector changed), and only namespaces whose selectors differ forget theirs."""

    def __init__(self, cache) -> None:
        self.cache = cache
        self._seen: dict[str, list[dict]] = {}  # kind -> the cache's objects at the last look
        # kind -> namespace -> [(name, raw selector, parsed selector or None)] in the cache's order
        self._selectors: dict[str, dict[str, list[tuple]]] = {kind: {} for kind in _MAP_KINDS + _LABEL_SELECTOR_KINDS}
        self._memo: dict[str, dict[tuple, labels.Selector | None]] = {}  # namespace -> labels -> selector

    def _refresh(self) -> None:
        for kind, by_namespace in self._selectors.items():
            objs = self.cache.list(kind)
            seen = self._seen.get(kind)
            if seen is not None and len(seen) == len(objs) and all(map(operator.is_, seen, objs)):
                continue
            self._seen[kind] = objs
            parse = kind in _LABEL_SELECTOR_KINDS
            before = {(ns, row[0]): row for ns, rows in by_namespace.items() for row in rows}
            fresh: dict[str, list[tuple]] = {}
            for obj in objs:
                meta = obj["metadata"]
                namespace, name = meta.get("namespace", ""), meta.get("name")
                raw = (obj.get("spec") or {}).get("selector")
                if not raw:
                    continue
                old = before.get((namespace, name))
                if old is not None and old[1] == raw:
                    row = old
                else:
                    row = (name, raw, labels.from_label_selector(raw) if parse else None)
                fresh.setdefault(namespace, []).append(row)
            for namespace in set(fresh) | set(by_namespace):
                if [r[1] for r in fresh.get(namespace, ())] != [r[1] for r in by_namespace.get(namespace, ())]:
                    self._memo.pop(namespace, None)
            self._selectors[kind] = fresh

    def get(self, pod: dict) -> labels.Selector | None:
        meta = pod["metadata"]
        namespace, own = meta.get("namespace", ""), meta.get("labels") or {}
        if not own:
            return None
        self._refresh()
        key = tuple(sorted(own.items()))
        try:
            hash(key)
        except TypeError:  # an unhashable label value (not a valid pod): computed, not kept
            return self._compute(namespace, own)
        memo = self._memo.setdefault(namespace, {})
        if key in memo:
            return memo[key]
        if len(memo) >= _DEFAULTS_MAX:
            memo.clear()
        selector = memo[key] = self._compute(namespace, own)
        return selector

    def _compute(self, namespace: str, own: dict) -> labels.Selector | None:
        """What `default_selector` gathers, from the selectors by namespace, in the same order."""
        requirements: list[labels.Requirement] = []
        for kind in _MAP_KINDS:
            for _, selector, _ in self._selectors[kind].get(namespace, ()):
                if all(own.get(k) == v for k, v in selector.items()):
                    requirements += [labels.Requirement(k, "=", (str(v),)) for k, v in sorted(selector.items())]
        for kind in _LABEL_SELECTOR_KINDS:
            for _, _, selector in self._selectors[kind].get(namespace, ()):
                if selector.requirements and selector.matches(own):
                    requirements += selector.requirements
        return labels.Selector(requirements) if requirements else None


def _domain_score(rows: list[tuple], domains: tuple) -> int:
    """`score` of a node without matching pods of its own: `domains` holds, per row, whether the node has the
    hostname label (per-node rows) or its value of the row's key; the same sums in the same order."""
    total = 0.0
    for (_, per_node, _, values, weight, base), value in zip(rows, domains, strict=True):
        if per_node:
            if not value:
                continue
            total += 0.0 + base
        else:
            if value is None:
                continue
            total += values.get(value, 0) * weight + base
    return int(math.floor(total + 0.5))


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
    selector's matching label sets come from the index (kept there between cycles), summed once per cycle into
    pods per node; a node's count is then a lookup, and only the nodes holding such pods need visiting."""

    def __init__(self, index, namespace: str):
        self.index = index
        self.namespace = namespace
        self._per_node: dict[int, tuple[labels.Selector, dict[str, int]]] = {}

    def per_node(self, selector: labels.Selector) -> dict[str, int]:
        """Node name -> matching pods there, for the nodes with any (needs the index)."""
        found = self._per_node.get(id(selector))
        if found is None:
            sets = self.index.matching(self.namespace, selector)
            if len(sets) == 1:
                totals = dict(sets[0])
            else:
                totals = {}
                for nodes in sets:
                    for name, n in nodes.items():
                        totals[name] = totals.get(name, 0) + n
            found = self._per_node[id(selector)] = (selector, totals)
        return found[1]

    def count(self, node: NodeInfo, selector: labels.Selector) -> int:
        if not node.label_sets:
            return 0
        if self.index is None or node.index is not self.index:
            return node.count_matching(self.namespace, selector)
        return self.per_node(selector).get(node.name, 0)


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

    def _default_selector(self, pod: dict) -> labels.Selector | None:
        cache = self._cache()
        if cache is None:
            return default_selector(pod, cache)
        defaults = getattr(self, "_defaults", None)
        if defaults is None or defaults.cache is not cache:
            defaults = self._defaults = DefaultSelectors(cache)
        return defaults.get(pod)

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
            selector = self._default_selector(pod.pod)
            constraints = [Constraint(c["maxSkew"], c["topologyKey"], selector)
                           for c in SYSTEM_DEFAULT_CONSTRAINTS] if selector is not None else []
        if not constraints:
            return SKIP
        keys = [c.topology_key for c in constraints]
        ignored: set[str] = set()
        counted = nodes
        if require_all:
            ignored = {node.name for node in nodes if any(key not in node.labels for key in keys)}
            if ignored:
                counted = [node for node in nodes if node.name not in ignored]
        # Per constraint: its domains among the nodes scored (none for hostname: a node is its own domain).
        values: list[dict[str, int]] = [
            {} if key == HOSTNAME else dict.fromkeys({node.labels[key] for node in counted if key in node.labels}, 0)
            for key in keys]
        weights = []
        for i, c in enumerate(constraints):
            size = len(nodes) - len(ignored) if c.topology_key == HOSTNAME else len(values[i])
            weights.append(math.log(size + 2))
        index = self._index()
        counter = _Counter(index, pod.pod["metadata"].get("namespace", ""))
        if any(values):
            required = nodeaffinity.Required(pod.pod)
            if index is None:
                candidates = self._nodes()
            else:  # a node adds to its domain's count only with matching pods: visit just those
                everything = self.handle.nodes
                names: dict[str, None] = {}
                for i, c in enumerate(constraints):
                    if values[i]:
                        names.update(dict.fromkeys(counter.per_node(c.selector)))
                candidates = [everything[name] for name in names if name in everything]
            for node in candidates:
                if require_all and any(key not in node.labels for key in keys):
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

    def score_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """`score` of each node. A node without matching pods of its own scores what its domains give, computed
        once per combination of (hostname label present, value of each other key); only the nodes with matching
        pods (and ignored ones) are scored one by one."""
        rows, ignored, counter = state[NAME + "/score"]
        index = counter.index
        if index is None:
            return super().score_nodes(state, pod, nodes)
        hot: set[str] = set(ignored)
        for _, per_node, selector, _, _, _ in rows:
            if per_node:
                hot.update(counter.per_node(selector))
        columns = [[node.labels.get(key) is not None for node in nodes] if per_node else
                   [node.labels.get(key) for node in nodes] for key, per_node, _, _, _, _ in rows]
        combinations = list(zip(*columns, strict=True))
        by_domains = {domains: _domain_score(rows, domains) for domains in set(combinations)}
        out = [by_domains[domains] for domains in combinations]
        score = self.score
        for i in [i for i, node in enumerate(nodes) if node.name in hot or node.index is not index]:
            out[i] = score(state, pod, nodes[i])
        return out

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
