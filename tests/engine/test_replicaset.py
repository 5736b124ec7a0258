"""The ReplicaSet controller: given objects, one sync, the expected actions; and scenarios on the virtual clock.

Scenarios: a deleted pod is replaced (seed 003's delete-and-heal), scaling 2 -> 5 -> 1
deletes the least useful pods first, orphans are adopted and strays released, pods
being deleted do not count, minReadySeconds delays availability, the burst limit
caps one sync, and ReplicationControllers work the same way.
"""

from __future__ import annotations

import pytest

from engine.clock import format_rfc3339
from engine.controllers import replicaset
from engine.controllers.replicaset import ReplicaSetController, compare_for_deletion, pods_to_delete
from engine.store import copy_json
from tests.engine.workloads import events, get, make_sim, owned_by, pods, replica_set, stub_kubelet

START = 1767225600.0


def rs_only(*objects):
    return make_sim(controllers=[ReplicaSetController], objects=objects)


def actions(sim, kind=None):
    """What the controllers did since the last call: (action, kind) pairs (the tick's activity record)."""
    done, sim._activities = sim._activities, []
    return [(a.action, a.kind) for a in done if kind is None or a.kind == kind]


def sync(sim, kind, name, namespace="default"):
    sim.controller("replicaset-controller").sync((kind, namespace, name))


def test_sync_creates_missing_pods_from_the_template():
    sim = rs_only(replica_set("web", replicas=3))
    rs = get(sim, "ReplicaSet", "web")

    sync(sim, "ReplicaSet", "web")

    assert actions(sim, "Pod") == [("create", "Pod")] * 3
    created = owned_by(sim, rs)
    assert len(created) == 3
    for pod in created:
        meta = pod["metadata"]
        assert meta["name"].startswith("web-") and len(meta["name"]) == len("web-") + 5
        assert meta["labels"] == {"app": "web"}
        assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                            "uid": rs["metadata"]["uid"], "controller": True,
                                            "blockOwnerDeletion": True}]
    assert sorted(events(sim, "SuccessfulCreate")) == sorted(f"Created pod: {p['metadata']['name']}" for p in created)
    status = get(sim, "ReplicaSet", "web")["status"]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "observedGeneration": 1}


def test_expectations_stop_a_second_create_until_the_pods_are_seen():
    sim = rs_only(replica_set("web", replicas=2))
    controller = sim.controller("replicaset-controller")
    key = ("ReplicaSet", "default", "web")
    sync(sim, "ReplicaSet", "web")
    assert not controller.expectations.satisfied(key)
    # Pretend the cache had not caught up: the pods vanish from it, yet nothing is created twice.
    created = pods(sim)
    for pod in created:
        sim.cache._drop("Pod", ("default", pod["metadata"]["name"]))
    actions(sim)
    sync(sim, "ReplicaSet", "web")
    assert actions(sim, "Pod") == []
    for pod in created:
        sim.cache.observe(pod)
    sim.tick()  # the ADDED changes reach handle(): expectations met
    assert controller.expectations.satisfied(key)
    assert len(pods(sim)) == 2


def test_status_is_written_only_when_it_changes():
    sim = rs_only(replica_set("web", replicas=1))
    sync(sim, "ReplicaSet", "web")
    assert actions(sim, "ReplicaSet") == [("status", "ReplicaSet")]
    sync(sim, "ReplicaSet", "web")
    assert actions(sim) == []


def test_deleted_pod_is_replaced_seed_003():
    sim = make_sim(stub_kubelet(start=7, stop=1))
    sim.api.create(replica_set("bootcamp", replicas=2))
    sim.run(10)
    before = pods(sim)
    assert [p["status"]["phase"] for p in before] == ["Running", "Running"]

    victim = before[0]["metadata"]["name"]
    sim.api.delete("Pod", "default", victim)
    sim.tick()
    live = pods(sim)
    # The replacement is created the moment the deletion starts, while the old pod is still Terminating.
    assert len(live) == 2 and victim not in {p["metadata"]["name"] for p in live}
    assert get(sim, "Pod", victim)["metadata"]["deletionTimestamp"]
    sim.run(8)
    assert get(sim, "Pod", victim) is None
    assert [p["status"]["phase"] for p in pods(sim)] == ["Running", "Running"]
    status = get(sim, "ReplicaSet", "bootcamp")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (2, 2, 2)


def scale(sim, name, replicas, kind="ReplicaSet"):
    sim.api.patch(kind, "default", name, {"spec": {"replicas": replicas}}, "application/merge-patch+json")


def test_scale_up_to_5_and_down_to_1_deletes_the_least_useful_pods_first():
    sim = make_sim(stub_kubelet(start=2, stop=1))
    rs = sim.api.create(replica_set("web", replicas=2))
    sim.run(5)
    originals = {p["metadata"]["name"] for p in pods(sim)}

    scale(sim, "web", 5)
    sim.tick()
    assert len(owned_by(sim, rs)) == 5
    sim.run(0.5)
    newcomers = {p["metadata"]["name"] for p in pods(sim)} - originals
    assert len(newcomers) == 3 and not any(
        replicaset.is_pod_ready(p) for p in pods(sim) if p["metadata"]["name"] in newcomers)

    # Scaling down before the newcomers are ready removes them, not the running originals.
    scale(sim, "web", 1)
    sim.tick()
    live = {p["metadata"]["name"] for p in pods(sim)}
    assert len(live) == 1 and live <= originals
    assert len(events(sim, "SuccessfulDelete")) == 4
    sim.run(3)
    assert get(sim, "ReplicaSet", "web")["status"]["replicas"] == 1


def pod_fixture(name, node="", phase="Pending", ready=False, ready_at=None, created=0.0, restarts=0):
    conditions = []
    if ready_at is not None or ready:
        conditions.append({"type": "Ready", "status": "True" if ready else "False",
                           "lastTransitionTime": format_rfc3339(START + (ready_at or 0))})
    return {"kind": "Pod", "metadata": {"name": name, "creationTimestamp": format_rfc3339(START + created)},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def test_deletion_ranking_follows_active_pods_with_ranks():
    running_old = pod_fixture("running-old", "n1", "Running", ready=True, ready_at=10, created=0)
    running_new = pod_fixture("running-new", "n1", "Running", ready=True, ready_at=50, created=40)
    not_ready = pod_fixture("not-ready", "n1", "Running", ready=False, created=0)
    pending = pod_fixture("pending", "n1", "Pending")
    unscheduled = pod_fixture("unscheduled")
    restarted = pod_fixture("restarted", "n1", "Running", ready=True, ready_at=10, created=0, restarts=4)
    everything = [running_old, running_new, not_ready, pending, unscheduled, restarted]
    order = [p["metadata"]["name"] for p in pods_to_delete(everything, [], len(everything) - 1)]
    assert order == ["unscheduled", "pending", "not-ready", "running-new", "restarted"]
    # Doubled-up pods go before lone ones.
    lone = pod_fixture("lone", "n2", "Running", ready=True, ready_at=10)
    crowded = pod_fixture("crowded", "n1", "Running", ready=True, ready_at=10)
    assert compare_for_deletion((crowded, 3), (lone, 1)) < 0
    # A lower pod-deletion-cost goes first whatever its age.
    cheap = copy_json(running_old)
    cheap["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": "-10"}
    assert pods_to_delete([running_new, cheap], [], 1)[0] is cheap


def orphan_pod(name, labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}


def test_orphans_are_adopted_and_pods_that_stop_matching_are_released():
    sim = rs_only()
    sim.api.create(orphan_pod("stray", {"app": "web"}))
    sim.api.create(orphan_pod("other", {"app": "db"}))
    rs = sim.api.create(replica_set("web", replicas=2))
    sim.tick()
    owned = {p["metadata"]["name"] for p in owned_by(sim, rs)}
    assert "stray" in owned and "other" not in owned and len(owned) == 2

    # Relabel an owned pod: it is released (its ownerReference removed) and replaced.
    released = next(n for n in owned if n != "stray")
    sim.api.patch("Pod", "default", released, {"metadata": {"labels": {"app": "debug"}}},
                  "application/merge-patch+json")
    sim.tick()
    assert "ownerReferences" not in get(sim, "Pod", released)["metadata"]
    now_owned = {p["metadata"]["name"] for p in owned_by(sim, rs)}
    assert released not in now_owned and len(now_owned) == 2


def test_pods_being_deleted_do_not_count():
    sim = make_sim(stub_kubelet(start=1, stop=20))
    sim.api.create(replica_set("web", replicas=2))
    sim.run(3)
    victim = pods(sim)[0]["metadata"]["name"]
    sim.api.delete("Pod", "default", victim)
    sim.tick()
    status = get(sim, "ReplicaSet", "web")["status"]
    assert status["replicas"] == 2  # the terminating pod is not counted, its replacement is
    assert len(pods(sim, live=False)) == 3


def test_min_ready_seconds_delays_availability():
    sim = make_sim(stub_kubelet(start=1))
    sim.api.create(replica_set("web", replicas=2, minReadySeconds=10))
    sim.run(2)
    status = get(sim, "ReplicaSet", "web")["status"]
    assert status["readyReplicas"] == 2 and "availableReplicas" not in status
    sim.run(9.5)
    assert get(sim, "ReplicaSet", "web")["status"]["availableReplicas"] == 2


def test_burst_limit_caps_one_sync(monkeypatch):
    monkeypatch.setattr(replicaset, "BURST_REPLICAS", 3)
    sim = rs_only(replica_set("web", replicas=5))
    sync(sim, "ReplicaSet", "web")
    assert len(pods(sim)) == 3
    sync(sim, "ReplicaSet", "web")  # the creates are not observed yet: nothing more
    assert len(pods(sim)) == 3
    sim.tick()
    assert len(pods(sim)) == 5


def test_failed_creates_are_reported_and_retried(monkeypatch):
    sim = rs_only()
    controller = sim.controller("replicaset-controller")
    real_create = controller.client.create
    from engine import errors

    def refuse(obj):
        raise errors.forbidden("pods", "", "", 'exceeded quota: compute, requested: pods=1, used: pods=0, limited: pods=0')

    monkeypatch.setattr(controller.client, "create", refuse)
    sim.api.create(replica_set("web", replicas=2))
    sim.tick()
    status = get(sim, "ReplicaSet", "web")["status"]
    failure = status["conditions"][0]
    assert (failure["type"], failure["reason"]) == ("ReplicaFailure", "FailedCreate")
    assert events(sim, "FailedCreate")[0].startswith('Error creating: pods is forbidden: exceeded quota')
    monkeypatch.setattr(controller.client, "create", real_create)
    sim.run(2)
    assert len(pods(sim)) == 2
    assert "conditions" not in get(sim, "ReplicaSet", "web")["status"]


def test_replication_controller_uses_its_plain_selector():
    sim = rs_only()
    rc = sim.api.create({
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
                 "template": {"metadata": {"labels": {"app": "legacy"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    sim.tick()
    owned = owned_by(sim, rc)
    assert len(owned) == 2
    assert owned[0]["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    assert get(sim, "ReplicationController", "legacy")["status"]["replicas"] == 2
    source = {e["source"]["component"] for e in sim.cache.list("Event", "default")}
    assert source == {"replication-controller"}


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_finished_pods_are_replaced(phase):
    sim = rs_only()
    sim.api.create(replica_set("web", replicas=1))
    sim.tick()
    pod = copy_json(pods(sim)[0])
    pod["status"]["phase"] = phase
    sim.api.update(pod, subresource="status")
    sim.tick()
    assert len([p for p in pods(sim) if p["status"]["phase"] == "Pending"]) == 1
