"""InterPodAffinity: pod affinity and anti-affinity, required (filter) and preferred (score).

A term says "run (or do not run) in a topology domain — a node, a zone: the nodes sharing the value of
`topologyKey` — that already runs pods matching `labelSelector` in `namespaces` / `namespaceSelector`".
The filter refuses a node when
- the pod's required affinity finds no matching pod in the node's domain (UnschedulableAndUnresolvable:
  "node(s) didn't match pod affinity rules"), unless no pod anywhere matches and the pod matches its own
  terms (the first replica of a group that wants to be together);
- the pod's required anti-affinity finds a matching pod there (Unschedulable: "node(s) didn't match pod
  anti-affinity rules");
- a pod already there has a required anti-affinity term matching this pod ("node(s) didn't satisfy
  existing pods anti-affinity rules").
Scores add the weights of preferred terms (and of existing pods' terms towards this pod, required
affinity counting 1) per domain, then rescale between the lowest and the highest node.

Only pods that use inter-pod affinity cost anything: the scheduler keeps an index of placed pods that
have terms (`affinity_pods`), and a pod without terms skips the filter unless one of those pods'
anti-affinity matches it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    unresolvable,
    unschedulable,
)

NAME = "InterPodAffinity"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1  # what an existing pod's required affinity towards this pod adds to the score

NsLabels = Callable[[str], dict]


@dataclass(frozen=True)
class Term:
    topology_key: str
    selector: labels.Selector
    namespaces: frozenset[str]
    namespace_selector: labels.Selector | None  # None: no selector (only `namespaces`)
    weight: int = 0

    def matches(self, pod: dict, ns_labels: NsLabels) -> bool:
        """Whether `pod` is one this term is about (its namespace, then its labels)."""
        meta = pod["metadata"]
        namespace = meta.get("namespace", "")
        if namespace not in self.namespaces and (
                self.namespace_selector is None or not self.namespace_selector.matches(ns_labels(namespace))):
            return False
        return self.selector.matches(meta.get("labels"))


def _term(pod: dict, term: dict, weight: int = 0) -> Term:
    meta = pod["metadata"]
    own = meta.get("labels") or {}
    selector = labels.from_label_selector(term.get("labelSelector"))
    extra = []
    for key in term.get("matchLabelKeys") or []:  # the pod's own value of these keys joins the selector
        if key in own:
            extra.append(labels.Requirement(key, "in", (own[key],)))
    for key in term.get("mismatchLabelKeys") or []:
        if key in own:
            extra.append(labels.Requirement(key, "notin", (own[key],)))
    if extra and not selector.match_nothing:
        selector = labels.Selector(list(selector.requirements) + extra)
    namespaces = frozenset(term.get("namespaces") or [])
    ns_selector = term.get("namespaceSelector")
    if not namespaces and ns_selector is None:
        namespaces = frozenset([meta.get("namespace", "")])
    return Term(term.get("topologyKey") or "", selector, namespaces,
                labels.from_label_selector(ns_selector) if ns_selector is not None else None, weight)


@dataclass(frozen=True)
class PodTerms:
    required_affinity: tuple[Term, ...] = ()
    required_anti: tuple[Term, ...] = ()
    preferred_affinity: tuple[Term, ...] = ()
    preferred_anti: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.required_affinity or self.required_anti or self.preferred_affinity or self.preferred_anti)


_CACHE: dict[tuple[str, str], tuple[str, PodTerms]] = {}


def terms_of(pod: dict) -> PodTerms:
    """The pod's affinity terms, compiled (and cached by uid and resourceVersion)."""
    meta = pod["metadata"]
    key = (meta.get("uid", ""), meta.get("namespace", "") + "/" + meta.get("name", ""))
    version = meta.get("resourceVersion", "")
    cached = _CACHE.get(key) if key[0] and version else None
    if cached is not None and cached[0] == version:
        return cached[1]
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    aff = affinity.get("podAffinity") or {}
    anti = affinity.get("podAntiAffinity") or {}
    req = "requiredDuringSchedulingIgnoredDuringExecution"
    pref = "preferredDuringSchedulingIgnoredDuringExecution"
    compiled = PodTerms(
        tuple(_term(pod, t) for t in aff.get(req) or []),
        tuple(_term(pod, t) for t in anti.get(req) or []),
        tuple(_term(pod, w.get("podAffinityTerm") or {}, int(w.get("weight") or 0)) for w in aff.get(pref) or []),
        tuple(_term(pod, w.get("podAffinityTerm") or {}, int(w.get("weight") or 0)) for w in anti.get(pref) or []),
    )
    if key[0] and version:
        if len(_CACHE) > 20000:
            _CACHE.clear()
        _CACHE[key] = (version, compiled)
    return compiled


def has_pod_affinity(pod: dict) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    return bool(affinity.get("podAffinity") or affinity.get("podAntiAffinity"))


def _counter_add(counts: dict, key: tuple[str, str], delta: int) -> None:
    value = counts.get(key, 0) + delta
    if value:
        counts[key] = value
    else:
        counts.pop(key, None)


@dataclass
class State:
    """What the filter needs, counted once per cycle: (topologyKey, value) -> matching pods."""

    terms: PodTerms
    ns_labels: NsLabels
    existing_anti: dict[tuple[str, str], int] = field(default_factory=dict)
    affinity: dict[tuple[str, str], int] = field(default_factory=dict)
    anti: dict[tuple[str, str], int] = field(default_factory=dict)

    def clone(self) -> State:
        return State(self.terms, self.ns_labels, dict(self.existing_anti), dict(self.affinity), dict(self.anti))

    def update_with_pod(self, incoming: dict, existing: dict, node: NodeInfo, delta: int) -> None:
        """Count `existing` on `node` in (delta 1) or out (delta -1): preemption removes victims this way."""
        node_labels = node.labels
        for term in terms_of(existing).required_anti:
            if term.topology_key in node_labels and term.matches(incoming, self.ns_labels):
                _counter_add(self.existing_anti, (term.topology_key, node_labels[term.topology_key]), delta)
        for term in self.terms.required_affinity:
            if term.topology_key in node_labels and term.matches(existing, self.ns_labels):
                _counter_add(self.affinity, (term.topology_key, node_labels[term.topology_key]), delta)
        for term in self.terms.required_anti:
            if term.topology_key in node_labels and term.matches(existing, self.ns_labels):
                _counter_add(self.anti, (term.topology_key, node_labels[term.topology_key]), delta)


def _matches_all(terms: tuple[Term, ...], pod: dict, ns_labels: NsLabels) -> bool:
    return all(term.matches(pod, ns_labels) for term in terms)


class InterPodAffinity(Plugin):
    name = NAME
    has_filter = True
    has_score = True

    # --- cluster facts, through the scheduler ----------------------------------------------------------
    def _ns_labels(self) -> NsLabels:
        memo: dict[str, dict] = {}
        cache = self.handle.sim.cache if self.handle is not None else None

        def get(namespace: str) -> dict:
            if namespace not in memo:
                ns = cache.get("Namespace", "", namespace) if cache is not None else None
                memo[namespace] = ((ns or {}).get("metadata") or {}).get("labels") or {}
            return memo[namespace]
        return get

    def _pods(self, keys_by_node: Iterator[tuple[tuple[str, str], str]]) -> Iterator[tuple[dict, NodeInfo]]:
        cache = self.handle.sim.cache
        nodes = self.handle.nodes
        for key, node_name in keys_by_node:
            node = nodes.get(node_name)
            pod = cache.get("Pod", *key)
            if node is not None and pod is not None:
                yield pod, node

    def _all_pods(self) -> Iterator[tuple[dict, NodeInfo]]:
        return self._pods((key, name) for name, node in list(self.handle.nodes.items()) for key in list(node.pods))

    def _affinity_pods(self) -> Iterator[tuple[dict, NodeInfo]]:
        return self._pods(iter(list(getattr(self.handle, "affinity_pods", {}).items())))

    # --- filter -----------------------------------------------------------------------------------------
    def pre_filter(self, state, pod: PodInfo) -> Status:
        if self.handle is None:
            return SKIP
        terms = terms_of(pod.pod)
        ns_labels = self._ns_labels()
        st = State(terms, ns_labels)
        for existing, node in self._affinity_pods():
            for term in terms_of(existing).required_anti:
                if term.topology_key in node.labels and term.matches(pod.pod, ns_labels):
                    _counter_add(st.existing_anti, (term.topology_key, node.labels[term.topology_key]), 1)
        if not st.existing_anti and not terms.required_affinity and not terms.required_anti:
            return SKIP
        if terms.required_affinity or terms.required_anti:
            own_key = (pod.pod["metadata"].get("namespace", ""), pod.pod["metadata"]["name"])
            for existing, node in self._all_pods():
                if (existing["metadata"].get("namespace", ""), existing["metadata"]["name"]) == own_key:
                    continue
                for term in terms.required_affinity:
                    if term.topology_key in node.labels and term.matches(existing, ns_labels):
                        _counter_add(st.affinity, (term.topology_key, node.labels[term.topology_key]), 1)
                for term in terms.required_anti:
                    if term.topology_key in node.labels and term.matches(existing, ns_labels):
                        _counter_add(st.anti, (term.topology_key, node.labels[term.topology_key]), 1)
        state[NAME] = st
        return SUCCESS

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        st: State | None = state.get(NAME)
        if st is None:
            return SUCCESS
        if not self._satisfies_affinity(st, pod, node):
            return unresolvable(NAME, ERR_AFFINITY)
        for term in st.terms.required_anti:
            value = node.labels.get(term.topology_key)
            if value is not None and st.anti.get((term.topology_key, value), 0) > 0:
                return unschedulable(NAME, ERR_ANTI_AFFINITY)
        if st.existing_anti:
            for key, value in node.labels.items():
                if st.existing_anti.get((key, value), 0) > 0:
                    return unschedulable(NAME, ERR_EXISTING_ANTI_AFFINITY)
        return SUCCESS

    @staticmethod
    def _satisfies_affinity(st: State, pod: PodInfo, node: NodeInfo) -> bool:
        found = True
        for term in st.terms.required_affinity:
            value = node.labels.get(term.topology_key)
            if value is None:
                return False  # every topology key must be on the node
            if st.affinity.get((term.topology_key, value), 0) <= 0:
                found = False
        if found:
            return True
        # The first pod of a group with affinity to itself: nothing matches anywhere yet.
        return not st.affinity and _matches_all(st.terms.required_affinity, pod.pod, st.ns_labels)

    def remove_pod(self, state, pod: PodInfo, victim: dict, node: NodeInfo) -> None:
        """PreFilterExtensions.RemovePod: preemption takes a victim off a node."""
        st: State | None = state.get(NAME)
        if st is not None:
            st.update_with_pod(pod.pod, victim, node, -1)

    def add_pod(self, state, pod: PodInfo, other: dict, node: NodeInfo) -> None:
        st: State | None = state.get(NAME)
        if st is not None:
            st.update_with_pod(pod.pod, other, node, 1)

    # --- score --------------------------------------------------------------------------------------------
    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        if self.handle is None:
            return SKIP
        terms = terms_of(pod.pod)
        preferred = bool(terms.preferred_affinity or terms.preferred_anti)
        if not preferred and not getattr(self.handle, "affinity_pods", None):
            return SKIP
        ns_labels = self._ns_labels()
        scores: dict[str, dict[str, int]] = {}

        def add(key: str, node: NodeInfo, weight: int) -> None:
            value = node.labels.get(key)
            if value is not None and weight:
                by_value = scores.setdefault(key, {})
                by_value[value] = by_value.get(value, 0) + weight

        for existing, node in (self._all_pods() if preferred else self._affinity_pods()):
            for term in terms.preferred_affinity:
                if term.matches(existing, ns_labels):
                    add(term.topology_key, node, term.weight)
            for term in terms.preferred_anti:
                if term.matches(existing, ns_labels):
                    add(term.topology_key, node, -term.weight)
            theirs = terms_of(existing)
            for term in theirs.required_affinity:
                if term.matches(pod.pod, ns_labels):
                    add(term.topology_key, node, HARD_POD_AFFINITY_WEIGHT)
            for term in theirs.preferred_affinity:
                if term.matches(pod.pod, ns_labels):
                    add(term.topology_key, node, term.weight)
            for term in theirs.preferred_anti:
                if term.matches(pod.pod, ns_labels):
                    add(term.topology_key, node, -term.weight)
        if not any(scores.values()):
            return SKIP
        state[NAME + "/score"] = scores
        return SUCCESS

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        scores = state.get(NAME + "/score") or {}
        return sum(by_value.get(node.labels[key], 0) for key, by_value in scores.items() if key in node.labels)

    def normalize(self, state, pod: PodInfo, scores: dict[str, int]) -> None:
        if not scores:
            return
        low, high = min(scores.values()), max(scores.values())
        spread = high - low
        for name, value in scores.items():
            scores[name] = int(MAX_NODE_SCORE * (value - low) / spread) if spread > 0 else 0


def new(handle=None) -> Plugin:
    return InterPodAffinity(handle)
