"""Losing a node with a Deployment on it: the ReplicaSet heals onto the nodes that are left (seed 001's
セルフヒーリング: ノードやPodに障害が発生した場合でも…別のノード上でPodを起動してくれます).

A node whose kubelet stops is tainted unreachable after 40 s; its pods tolerate that for the default
300 s, are then marked for deletion (they stay Terminating: no kubelet confirms), and the ReplicaSet
creates replacements elsewhere at once. A node that is deleted outright loses its pods to the pod
garbage collector after a 40 s quarantine.
"""

from __future__ import annotations

from tests.engine.cluster import container, make_cluster, pods, statuses


def web(replicas=4):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}}}}


def placement(sim):
    """Node -> sorted STATUS of the web pods there."""
    out: dict[str, list[str]] = {}
    status = statuses(sim, prefix="web-")
    for pod in pods(sim, prefix="web-"):
        out.setdefault(pod["spec"].get("nodeName") or "", []).append(status[pod["metadata"]["name"]])
    return {node: sorted(s) for node, s in out.items()}


def settled(sim):
    sim.run(10)
    assert sorted(s for ss in placement(sim).values() for s in ss) == ["Running"] * 4


def test_a_dead_nodes_pods_are_replaced_after_300_seconds_and_finish_deleting_when_it_returns():
    sim = make_cluster(workers=2)
    sim.api.create(web())
    settled(sim)
    on_node_1 = [p["metadata"]["name"] for p in pods(sim, prefix="web-") if p["spec"]["nodeName"] == "node-1"]
    assert on_node_1

    sim.controller("kubelet").fail_node("node-1")
    sim.run(300, step=1)
    assert all(s == "Running" for s in statuses(sim, prefix="web-").values())  # tolerated for 300 s
    sim.run(60, step=1)
    after = placement(sim)
    assert after["node-1"] == ["Terminating"] * len(on_node_1)
    assert after["node-2"] == ["Running"] * 4  # the ReplicaSet did not wait for the old pods to go

    sim.controller("kubelet").recover_node("node-1")
    sim.run(20, step=1)
    assert placement(sim) == {"node-2": ["Running"] * 4}
    assert not ({p["metadata"]["name"] for p in pods(sim, prefix="web-")} & set(on_node_1))


def test_a_deleted_nodes_pods_are_collected_after_the_quarantine_and_replaced():
    sim = make_cluster(workers=2)
    sim.api.create(web())
    settled(sim)
    gone = {p["metadata"]["name"] for p in pods(sim, prefix="web-") if p["spec"]["nodeName"] == "node-1"}
    assert gone
    changes = []
    sim.api.delete("Node", "", "node-1")
    for _ in range(39):
        changes += [c for c in sim.tick(1).changes if c.kind == "Pod" and c.name in gone]
    assert changes == []  # quarantined: the node may come back
    for _ in range(10):
        changes += [c for c in sim.tick(1).changes if c.kind == "Pod" and c.name in gone]
    for name in gone:
        mine = [c for c in changes if c.name == name]
        failed, grace_zero, deleted = mine[0].object, mine[1].object, mine[-1]
        target = next(c for c in failed["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (failed["status"]["phase"], target["reason"], target["message"]) == (
            "Failed", "DeletionByPodGC", "PodGC: node no longer exists")
        assert grace_zero["metadata"]["deletionGracePeriodSeconds"] == 0
        assert deleted.type == "DELETED"
    sim.run(10)
    assert placement(sim) == {"node-2": ["Running"] * 4}
