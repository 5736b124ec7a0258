"""The garbage collector's cascades and the namespace controller's cleanup.

`kubectl delete deployment` (Background): the Deployment goes at once, then its
ReplicaSet, then the pods. Orphan keeps the ReplicaSet and pods, without the
reference. Foreground keeps the owner (with the foregroundDeletion finalizer)
until its blocking dependents are gone. A namespace being deleted is emptied,
pods with their graceful termination, then removed.
"""

from __future__ import annotations

import pytest

from engine import errors
from engine.controllers.garbagecollector import GarbageCollector
from engine.store import copy_json
from tests.engine.workloads import deployment, get, make_sim, pods, replica_set, stub_kubelet

SELECTOR = {"matchLabels": {"app": "web"}}


def settled(sim, replicas=2):
    return len([p for p in pods(sim, SELECTOR) if p["status"].get("phase") == "Running"]) == replicas


def web(sim, replicas=2):
    sim.api.create(deployment(replicas=replicas))
    assert sim.run_until(lambda s: settled(s, replicas), timeout=30)
    return sim.cache.list("ReplicaSet", "default")[0]


def test_background_deletion_cascades_deployment_replica_set_pods():
    sim = make_sim(stub_kubelet(start=1, stop=2))
    rs = web(sim)
    sim.api.delete("Deployment", "default", "web", propagation_policy="Background")
    sim.tick()
    assert get(sim, "Deployment", "web") is None
    assert get(sim, "ReplicaSet", rs["metadata"]["name"]) is None
    # The pods terminate gracefully: still there, but being deleted.
    assert pods(sim, SELECTOR) == [] and len(pods(sim, SELECTOR, live=False)) == 2
    sim.run(3)
    assert pods(sim, SELECTOR, live=False) == []


def test_orphan_deletion_keeps_the_dependents_without_the_reference():
    sim = make_sim(stub_kubelet(start=1, stop=2))
    rs = web(sim)
    pod_names = {p["metadata"]["name"] for p in pods(sim, SELECTOR)}
    sim.api.delete("Deployment", "default", "web", propagation_policy="Orphan")
    # Until the collector has done its part, the Deployment is held by the `orphan` finalizer.
    held = sim.api.get("Deployment", "default", "web")
    assert held["metadata"]["finalizers"] == ["orphan"] and held["metadata"]["deletionTimestamp"]
    sim.run(3)
    assert get(sim, "Deployment", "web") is None
    kept = get(sim, "ReplicaSet", rs["metadata"]["name"])
    assert kept is not None and "ownerReferences" not in kept["metadata"]
    assert {p["metadata"]["name"] for p in pods(sim, SELECTOR)} == pod_names
    for pod in pods(sim, SELECTOR):
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]


def test_foreground_deletion_removes_dependents_first():
    sim = make_sim(stub_kubelet(start=1, stop=3))
    sim.api.create(replica_set("web", replicas=2))
    assert sim.run_until(settled, timeout=30)
    sim.api.delete("ReplicaSet", "default", "web", propagation_policy="Foreground")
    sim.tick()
    held = get(sim, "ReplicaSet", "web")
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert pods(sim, SELECTOR) == [] and len(pods(sim, SELECTOR, live=False)) == 2
    sim.run(1)
    assert get(sim, "ReplicaSet", "web") is not None  # pods still terminating: they block it
    sim.run(3)
    assert pods(sim, SELECTOR, live=False) == []
    assert get(sim, "ReplicaSet", "web") is None


def test_foreground_deletion_of_a_deployment_cascades_in_the_foreground():
    sim = make_sim(stub_kubelet(start=1, stop=2))
    rs = web(sim)
    sim.api.delete("Deployment", "default", "web", propagation_policy="Foreground")
    sim.tick()
    assert get(sim, "Deployment", "web")["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert get(sim, "ReplicaSet", rs["metadata"]["name"])["metadata"]["finalizers"] == ["foregroundDeletion"]
    sim.run(4)
    assert get(sim, "Deployment", "web") is None and get(sim, "ReplicaSet", rs["metadata"]["name"]) is None
    assert pods(sim, SELECTOR, live=False) == []


def configmap(name, owners=()):
    meta = {"name": name, "namespace": "default"}
    if owners:
        meta["ownerReferences"] = [{"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
                                    "uid": o["metadata"]["uid"]} for o in owners]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def test_a_dependent_with_a_remaining_owner_only_loses_the_dangling_reference():
    sim = make_sim(controllers=[GarbageCollector])
    a = sim.api.create(configmap("owner-a"))
    b = sim.api.create(configmap("owner-b"))
    sim.api.create(configmap("shared", owners=(a, b)))
    sim.api.create(configmap("only-a", owners=(a,)))
    sim.tick()
    sim.api.delete("ConfigMap", "default", "owner-a")
    sim.tick()
    assert get(sim, "ConfigMap", "only-a") is None
    shared = get(sim, "ConfigMap", "shared")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["owner-b"]


def test_an_owner_recreated_under_the_same_name_is_not_the_owner():
    sim = make_sim(controllers=[GarbageCollector])
    owner = sim.api.create(configmap("owner"))
    sim.api.delete("ConfigMap", "default", "owner")
    sim.api.create(configmap("owner"))  # same name, new uid
    sim.api.create(configmap("dependent", owners=(owner,)))
    sim.tick()
    assert get(sim, "ConfigMap", "dependent") is None


def test_the_collector_indexes_dependents_and_ignores_unrelated_changes():
    sim = make_sim(stub_kubelet(start=1), controllers=[GarbageCollector])
    gc = sim.controller("garbage-collector")
    owner = sim.api.create(configmap("owner"))
    sim.api.create(configmap("dep", owners=(owner,)))
    sim.tick()
    assert [d["metadata"]["name"] for d in gc.dependents_of(owner["metadata"]["uid"])] == ["dep"]
    calls = []
    real = gc.sync
    gc.sync = lambda key: (calls.append(key), real(key))
    plain = copy_json(get(sim, "ConfigMap", "owner"))
    plain["data"] = {"k": "changed"}
    sim.api.update(plain)
    sim.tick()
    assert calls == []  # an owner's update does not wake the collector


# --- namespaces -------------------------------------------------------------------------------------

def test_namespace_deletion_empties_it_then_removes_it():
    sim = make_sim(stub_kubelet(start=1, stop=4), namespaces=("default", "kube-system", "team"))
    body = deployment()
    body["metadata"]["namespace"] = "team"
    sim.api.create(body)
    cm = configmap("settings")
    cm["metadata"]["namespace"] = "team"
    sim.api.create(cm)
    sim.api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "team"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    assert sim.run_until(lambda s: len([p for p in pods(s, SELECTOR, "team")
                                        if p["status"].get("phase") == "Running"]) == 2, timeout=30)

    sim.api.delete("Namespace", "", "team")
    ns = sim.api.get("Namespace", "", "team")
    assert ns["status"]["phase"] == "Terminating"
    sim.tick()
    for kind in ("Deployment", "ReplicaSet", "ConfigMap", "Service"):
        assert sim.cache.list(kind, "team") == [], kind
    assert len(pods(sim, SELECTOR, "team", live=False)) == 2  # terminating gracefully
    ns = get(sim, "Namespace", "team", "")
    conditions = {c["type"]: c for c in ns["status"]["conditions"]}
    remaining = conditions["NamespaceContentRemaining"]
    assert (remaining["status"], remaining["reason"]) == ("True", "SomeResourcesRemain")
    assert "pods has 2 resource instances" in remaining["message"]
    with pytest.raises(errors.ApiError) as exc:
        sim.api.create(configmap("late") | {"metadata": {"name": "late", "namespace": "team"}})
    assert exc.value.code == 403

    sim.run(6)
    assert get(sim, "Namespace", "team", "") is None
    with pytest.raises(errors.ApiError):
        sim.api.get("Namespace", "", "team")
    assert sim.cache.list("Pod", "team") == []
    assert get(sim, "Namespace", "default", "") is not None
