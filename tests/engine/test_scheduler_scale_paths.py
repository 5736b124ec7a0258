"""PodTopologySpread's speed-ups at scale give exactly what the plain computation gives.

- the default selector (Services, ReplicationControllers, ReplicaSets and StatefulSets selecting the pod) is kept
  per (namespace, pod labels) until one of those selectors changes in the cache: checked against
  `default_selector`, the plain scan, through creations, selector changes, status-only writes and deletions;
- the cluster-wide label-set index keeps what a selector matched until a label set appears or disappears;
- PreScore counts domains from the nodes holding matching pods only, and `score_nodes` scores nodes without
  matching pods per domain combination: both checked against a count over every node, cycle by cycle, in a
  mixed scenario (Deployments, a rollout, Services changing, a ReplicationController, a StatefulSet, bare pods,
  explicit constraints, two namespaces, zones).
"""

from __future__ import annotations

import math

import pytest

from engine.clock import VirtualClock
from engine.kubelet.nodes import make_node
from engine.scheduler.framework import LabelSetIndex, NodeInfo
from engine.scheduler.plugins import nodeaffinity
from engine.scheduler.plugins import podtopologyspread as pts
from engine.simulation import Simulation
from engine.store import MemoryStore

MERGE = "application/merge-patch+json"
ZONE = "topology.kubernetes.io/zone"


def bare_sim(controllers=None, nodes: int = 0, seed: int = 5) -> Simulation:
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, controllers=controllers, profile="fast")
    for ns in ("default", "kube-system", "kube-node-lease", "other"):
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in range(1, nodes + 1):
        sim.api.create(make_node(f"node-{i}", cpu="4", index=i, now=clock.now(), labels={ZONE: f"z{i % 3}"}))
    return sim


def service(name: str, selector: dict, namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector, "ports": [{"port": 80}]}}


def replicaset(name: str, selector: dict, namespace: str = "default", labels: dict | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 0, "selector": selector,
                     "template": {"metadata": {"labels": labels or dict(selector.get("matchLabels") or {})},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def pod_with(labels: dict, namespace: str = "default") -> dict:
    return {"metadata": {"name": "p", "namespace": namespace, "labels": labels}}


def same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a.requirements == b.requirements and a.match_nothing == b.match_nothing


# --- the default selector memo ------------------------------------------------------------------------------

def test_the_default_selector_memo_follows_every_selector_change_in_the_cache():
    sim = bare_sim(controllers=[])
    cache = sim.cache
    defaults = pts.DefaultSelectors(cache)
    pods = [pod_with({"app": "web", "tier": "front"}), pod_with({"app": "web", "tier": "front"}, "other"),
            pod_with({"app": "db"}), pod_with({"app": "web"}), pod_with({})]

    def check():
        sim.cache.poll()
        for p in pods:
            assert same(defaults.get(p), pts.default_selector(p, cache)), p

    check()
    sim.api.create(service("web", {"app": "web"}))
    check()
    first = defaults.get(pods[0])
    assert defaults.get(pod_with({"tier": "front", "app": "web"})) is first  # kept per label set
    sim.api.create(replicaset("web-1", {"matchLabels": {"app": "web", "tier": "front"}}))
    sim.api.create(replicaset("db-1", {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]},
                               labels={"app": "db"}))
    sim.api.create(replicaset("web-x", {"matchLabels": {"tier": "front"}}, namespace="other"))
    check()
    assert defaults.get(pods[0]) is not first
    kept = defaults.get(pods[0])
    # A status-only write replaces the object but not its selector: the memo stays.
    rs = cache.get("ReplicaSet", "default", "web-1")
    sim.api.update({**rs, "status": {"replicas": 0, "observedGeneration": 1}}, subresource="status")
    check()
    assert defaults.get(pods[0]) is kept
    # A change in another namespace leaves this one's memo alone.
    sim.api.create(service("any", {"tier": "front"}, namespace="other"))
    check()
    assert defaults.get(pods[0]) is kept
    sim.api.patch("Service", "default", "web", {"spec": {"selector": {"tier": "front"}}}, MERGE)
    sim.api.create({"apiVersion": "v1", "kind": "ReplicationController",
                    "metadata": {"name": "rc", "namespace": "default"},
                    "spec": {"replicas": 0, "selector": {"app": "db"},
                             "template": {"metadata": {"labels": {"app": "db"}},
                                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    sim.api.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ss", "namespace": "default"},
                    "spec": {"replicas": 0, "serviceName": "ss", "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    check()
    sim.api.delete("Service", "default", "web")
    sim.api.delete("ReplicaSet", "default", "web-1", grace_period_seconds=0)
    check()
    assert defaults.get(pods[2]) is not None and defaults.get(pods[4]) is None


# --- the label-set index ---------------------------------------------------------------------------------------

def test_the_label_set_index_keeps_matches_until_a_label_set_comes_or_goes():
    from engine.labels import Requirement, Selector

    index = LabelSetIndex()
    web = ("default", (("app", "web"),))
    index.change("n1", web, 2)
    selector = Selector([Requirement("app", "=", ("web",))])
    found = index.matching("default", selector)
    assert found == [{"n1": 2}]
    index.change("n2", web, 1)  # a count inside a known label set: the same dicts, updated
    assert index.matching("default", Selector([Requirement("app", "=", ("web",))])) is found == [{"n1": 2, "n2": 1}]
    index.change("n3", ("default", (("app", "web"), ("v", "2"))), 1)  # a new label set
    assert sorted(map(sorted, (d.items() for d in index.matching("default", selector)))) == [
        [("n1", 2), ("n2", 1)], [("n3", 1)]]
    index.change("n1", web, -2)
    index.change("n2", web, -1)  # gone
    assert index.matching("default", selector) == [{"n3": 1}]
    assert index.matching("other", selector) == []
    index.clear()
    assert index.matching("default", selector) == []


# --- PreScore and the batch score against a count over every node --------------------------------------------

def reference_rows(plugin: pts.PodTopologySpread, pod, nodes: list[NodeInfo]) -> tuple[list, set]:
    """PodTopologySpread's PreScore as a plain loop over every node, counting each node's own pods."""
    spec = pod.pod.get("spec") or {}
    require_all = bool(spec.get("topologySpreadConstraints"))
    if require_all:
        constraints = pts._constraints(pod.pod, pts.SCHEDULE_ANYWAY)
    else:
        selector = pts.default_selector(pod.pod, plugin.handle.sim.cache)
        constraints = [pts.Constraint(c["maxSkew"], c["topologyKey"], selector)
                       for c in pts.SYSTEM_DEFAULT_CONSTRAINTS] if selector is not None else []
    ignored: set[str] = set()
    values: list[dict] = [{} for _ in constraints]
    for node in nodes:
        if require_all and any(c.topology_key not in node.labels for c in constraints):
            ignored.add(node.name)
            continue
        for i, c in enumerate(constraints):
            if c.topology_key != pts.HOSTNAME and c.topology_key in node.labels:
                values[i].setdefault(node.labels[c.topology_key], 0)
    namespace = pod.pod["metadata"].get("namespace", "")
    required = nodeaffinity.Required(pod.pod)
    for node in plugin.handle.nodes.values():
        if require_all and any(c.topology_key not in node.labels for c in constraints):
            continue
        for i, c in enumerate(constraints):
            value = node.labels.get(c.topology_key)
            if value in values[i] and pts._node_included(c, node, required, pod.tolerations):
                values[i][value] += node.count_matching(namespace, c.selector)
    weights = [math.log((len(nodes) - len(ignored) if c.topology_key == pts.HOSTNAME else len(values[i])) + 2)
               for i, c in enumerate(constraints)]
    return [(c.topology_key, values[i], weights[i], c.max_skew - 1) for i, c in enumerate(constraints)], ignored


def reference_score(rows: list, ignored: set, pod, node: NodeInfo) -> int:
    if node.name in ignored:
        return 0
    namespace = pod.pod["metadata"].get("namespace", "")
    total = 0.0
    for (key, values, weight, base), selector in rows:
        value = node.labels.get(key)
        if value is None:
            continue
        if key == pts.HOSTNAME:
            total += (node.count_matching(namespace, selector) * weight if node.pods else 0.0) + base
        else:
            total += values.get(value, 0) * weight + base
    return int(math.floor(total + 0.5))


def mixed_scenario(sim: Simulation) -> None:
    def deployment(name, replicas, labels, namespace="default"):
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": labels["app"]}},
                         "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [
                             {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m"}}}]}}}}

    sim.tick()
    sim.api.create(service("front", {"tier": "front"}))
    sim.api.create(deployment("web", 9, {"app": "web", "tier": "front"}))
    sim.api.create(deployment("api", 6, {"app": "api", "tier": "front"}))
    sim.api.create(deployment("db", 5, {"app": "db"}, namespace="other"))
    sim.api.create({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc", "namespace": "default"},
                    "spec": {"replicas": 3, "selector": {"app": "rc"},
                             "template": {"metadata": {"labels": {"app": "rc"}},
                                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    sim.api.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ss", "namespace": "default"},
                    "spec": {"replicas": 3, "serviceName": "ss", "selector": {"matchLabels": {"app": "ss"}},
                             "template": {"metadata": {"labels": {"app": "ss", "tier": "front"}},
                                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    for i in range(3):
        sim.api.create({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"bare-{i}", "namespace": "default", "labels": {"tier": "front"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    sim.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tsc", "namespace": "default",
                                                                     "labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}], "topologySpreadConstraints": [
                        {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway",
                         "labelSelector": {"matchLabels": {"app": "web"}}},
                        {"maxSkew": 2, "topologyKey": pts.HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway",
                         "labelSelector": {"matchLabels": {"tier": "front"}}}]}})
    sim.run(15, step=1)
    sim.api.patch("Deployment", "default", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "nginx:1.28", "resources": {"requests": {"cpu": "100m"}}}]}}}}, MERGE)
    sim.api.patch("Service", "default", "front", {"spec": {"selector": {"app": "web"}}}, MERGE)
    sim.api.patch("Deployment", "default", "api", {"spec": {"replicas": 10}}, MERGE)
    sim.run(10, step=0.5)
    sim.api.create(service("all", {"tier": "front"}))
    sim.api.patch("Deployment", "other", "db", {"spec": {"replicas": 8}}, MERGE)
    sim.run(20, step=1)


def test_prescore_and_batch_scores_equal_a_count_over_every_node(monkeypatch):
    checked = {"pre_score": 0, "score_nodes": 0}
    pre_score, score_nodes = pts.PodTopologySpread.pre_score, pts.PodTopologySpread.score_nodes

    def checked_pre_score(self, state, pod, nodes):
        status = pre_score(self, state, pod, nodes)
        expected, ignored = reference_rows(self, pod, nodes)
        if status.code is pts.SKIP.code:
            assert not expected
            return status
        rows, got_ignored, _ = state[pts.NAME + "/score"]
        assert [(key, values, weight, base) for key, _, _, values, weight, base in rows] == expected
        assert got_ignored == ignored
        state["reference"] = ([(row, r[2]) for row, r in zip(expected, rows, strict=True)], ignored)
        checked["pre_score"] += 1
        return status

    def checked_score_nodes(self, state, pod, nodes):
        scores = score_nodes(self, state, pod, nodes)
        rows, ignored = state["reference"]
        assert scores == [reference_score(rows, ignored, pod, n) for n in nodes]
        assert scores == [self.score(state, pod, n) for n in nodes]
        checked["score_nodes"] += 1
        return scores

    monkeypatch.setattr(pts.PodTopologySpread, "pre_score", checked_pre_score)
    monkeypatch.setattr(pts.PodTopologySpread, "score_nodes", checked_score_nodes)
    sim = bare_sim(nodes=10)
    mixed_scenario(sim)
    placed = [p for p in sim.cache.list("Pod") if p["spec"].get("nodeName")]
    assert len(placed) >= 40
    assert checked["pre_score"] >= 40 and checked["score_nodes"] == checked["pre_score"]


@pytest.mark.parametrize("seed", [5, 11])
def test_placements_and_explanations_equal_the_plain_computation(monkeypatch, seed):
    def outcome():
        sim = bare_sim(nodes=10, seed=seed)
        mixed_scenario(sim)
        sched = sim.controller("default-scheduler")
        placements = sorted((p["metadata"]["namespace"], p["metadata"]["name"], p["spec"].get("nodeName"))
                            for p in sim.cache.list("Pod"))
        decisions = {k: {f: v for f, v in d.items() if f not in ("uid", "time")} for k, d in sched.explanations.items()}
        return placements, decisions

    fast = outcome()
    # The plain computation: the default selector scanned for every pod, every node scored one by one, the
    # index's matches not kept.
    monkeypatch.setattr(pts.PodTopologySpread, "_default_selector",
                        lambda self, pod: pts.default_selector(pod, self._cache()))
    monkeypatch.setattr(pts.PodTopologySpread, "score_nodes", pts.Plugin.score_nodes)
    monkeypatch.setattr(LabelSetIndex, "matching", lambda self, namespace, selector: [
        nodes for (ns, labels), nodes in self.items() if ns == namespace and selector.matches(dict(labels))])
    assert outcome() == fast
