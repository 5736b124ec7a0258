"""The scheduler's cluster-wide index of pods by label set (what PodTopologySpread counts from) stays equal
to a count over the pods themselves through binds, relabels, terminations, deletions and node removals."""

from collections import Counter

from engine.clock import VirtualClock
from engine.kubelet.nodes import make_node
from engine.scheduler.scheduler import Scheduler
from engine.simulation import Simulation
from engine.store import MemoryStore


def make_sim():
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=3, controllers=[Scheduler], profile="fast")
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    for i in range(1, 4):
        sim.api.create(make_node(f"node-{i}", now=clock.now()))
    sim.tick()
    return sim


def pod(name, app):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def expected(sim) -> dict:
    counts = Counter()
    for p in sim.cache.list("Pod"):
        node = p["spec"].get("nodeName")
        if node and not p["metadata"].get("deletionTimestamp") and node in sim.controller("default-scheduler").nodes:
            labels = tuple(sorted((p["metadata"].get("labels") or {}).items()))
            counts[((p["metadata"]["namespace"], labels), node)] += 1
    return dict(counts)


def indexed(sim) -> dict:
    index = sim.controller("default-scheduler").label_index
    return {(label_set, node): n for label_set, nodes in index.items() for node, n in nodes.items()}


def test_the_index_follows_every_change_of_the_pods_and_nodes():
    sim = make_sim()
    for i in range(9):
        sim.api.create(pod(f"p{i}", "web" if i % 2 else "db"))
    sim.tick()
    assert indexed(sim) == expected(sim) and len(indexed(sim)) >= 2

    sim.api.patch("Pod", "default", "p1", {"metadata": {"labels": {"app": "api"}}}, "application/merge-patch+json")
    sim.api.patch("Pod", "default", "p2", {"metadata": {"finalizers": ["example.com/hold"]}},
                  "application/merge-patch+json")
    sim.api.delete("Pod", "default", "p2")  # held by its finalizer: terminating, no longer counted
    sim.api.delete("Pod", "default", "p3", grace_period_seconds=0)
    sim.tick()
    assert indexed(sim) == expected(sim)

    sim.api.delete("Node", "", "node-1")
    sim.tick()
    assert indexed(sim) == expected(sim)
    assert all(node != "node-1" for _, node in indexed(sim))
