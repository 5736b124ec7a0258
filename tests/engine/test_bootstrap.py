"""A fresh cluster, and the seeds' scenarios on it with every control loop (scheduler and kubelets included).

Seed 003: the bootcamp Deployment comes up 2/2; deleting a pod makes the
ReplicaSet start a replacement at once while the old one terminates. Seed 004:
a rolling update with maxSurge 50% / maxUnavailable 0% stays within its bounds.
Deleting a Deployment or a namespace cleans everything up, pods included.
"""

from __future__ import annotations

import pytest

from engine.apiserver import ApiServer
from engine.bootstrap import bootstrap_cluster, demo_workload
from engine.clock import VirtualClock
from engine.controllers import deployment_util as util
from engine.controllers.replicaset import controller_ref
from engine.simulation import Simulation
from engine.store import MemoryStore
from tests.engine.workloads import BoundsChecker, get, pods

BOOTCAMP = {"matchLabels": {"app": "bootcamp"}}


@pytest.fixture
def api():
    clock = VirtualClock()
    return ApiServer(MemoryStore(now=clock.now), clock.now)


def test_bootstrap_creates_what_a_fresh_cluster_has(api):
    bootstrap_cluster(api, nodes=3)
    namespaces = {ns["metadata"]["name"]: ns for ns in api.list("Namespace")["items"]}
    assert sorted(namespaces) == ["default", "kube-node-lease", "kube-public", "kube-system"]
    for name, ns in namespaces.items():
        assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
        assert api.get("ServiceAccount", name, "default")

    nodes = {n["metadata"]["name"]: n for n in api.list("Node")["items"]}
    assert sorted(nodes) == ["controlplane", "node-1", "node-2", "node-3"]
    control_plane = nodes["controlplane"]
    assert control_plane["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert control_plane["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    assert "taints" not in nodes["node-1"]["spec"]

    kubernetes = api.get("Service", "default", "kubernetes")["spec"]
    assert kubernetes["clusterIP"] == "10.96.0.1"
    assert [(p["port"], p["targetPort"], p["protocol"]) for p in kubernetes["ports"]] == [(443, 8443, "TCP")]
    dns = api.get("Service", "kube-system", "kube-dns")["spec"]
    assert dns["clusterIP"] == "10.96.0.10" and dns["selector"] == {"k8s-app": "kube-dns"}
    assert [(p["port"], p["protocol"]) for p in dns["ports"]] == [(53, "UDP"), (53, "TCP"), (9153, "TCP")]

    coredns = api.get("Deployment", "kube-system", "coredns")
    assert coredns["spec"]["replicas"] == 2
    pod_spec = coredns["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["image"] == "registry.k8s.io/coredns/coredns:v1.11.3"
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in pod_spec["tolerations"]

    standard = api.get("StorageClass", "", "standard")
    assert standard["provisioner"] == "k8s.io/minikube-hostpath"
    assert standard["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


def test_bootstrap_is_idempotent(api):
    first = bootstrap_cluster(api, nodes=2)
    assert len(first) > 10
    revision = api.store.revision()
    assert bootstrap_cluster(api, nodes=2) == []
    assert api.store.revision() == revision
    # A third worker is added; nothing else changes.
    assert [(o["kind"], o["metadata"]["name"]) for o in bootstrap_cluster(api, nodes=3)] == [("Node", "node-3")]


def test_demo_workload_is_seed_003(api):
    bootstrap_cluster(api, nodes=1)
    demo_workload(api)
    assert demo_workload(api) == []
    bootcamp = api.get("Deployment", "default", "bootcamp")
    container = bootcamp["spec"]["template"]["spec"]["containers"][0]
    assert (bootcamp["spec"]["replicas"], container["image"], container["ports"][0]["containerPort"]) == (
        2, "gcr.io/google-samples/node-hello:1.0", 8080)
    svc = api.get("Service", "default", "bootcamp-svc")["spec"]
    assert svc["type"] == "ClusterIP" and svc["selector"] == {"app": "bootcamp"}
    assert [(p["port"], p["targetPort"]) for p in svc["ports"]] == [(80, 8080)]


# --- the whole cluster ------------------------------------------------------------------------------

def cluster(*extra) -> Simulation:
    """A bootstrapped cluster with every default control loop (the `fast` kubelet profile) plus `extra`."""
    from engine.controllers import default_controllers

    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock=clock, profile="fast",
                     controllers=default_controllers() + list(extra))
    bootstrap_cluster(sim.api, nodes=3)
    demo_workload(sim.api)
    return sim


def bootcamp_ready(sim) -> bool:
    d = get(sim, "Deployment", "bootcamp")
    return d is not None and util.deployment_complete(d, d.get("status") or {})


def test_the_bootcamp_comes_up_and_heals_itself():
    sim = cluster()
    assert sim.run_until(bootcamp_ready, timeout=120)
    running = pods(sim, BOOTCAMP)
    assert [p["status"]["phase"] for p in running] == ["Running", "Running"]
    rs = get(sim, "ReplicaSet", controller_ref(running[0])["name"])
    assert all(p["metadata"]["name"].startswith(rs["metadata"]["name"] + "-") for p in running)
    # CoreDNS is scheduled too, the control plane's taint tolerated.
    coredns = pods(sim, {"matchLabels": {"k8s-app": "kube-dns"}}, "kube-system")
    assert len(coredns) == 2 and all(p["spec"].get("nodeName") for p in coredns)

    victim = running[0]["metadata"]["name"]
    sim.api.delete("Pod", "default", victim, propagation_policy="Background")
    sim.tick()
    live = pods(sim, BOOTCAMP)
    assert len(live) == 2 and victim not in {p["metadata"]["name"] for p in live}
    assert get(sim, "Pod", victim)["metadata"].get("deletionTimestamp")  # Terminating meanwhile
    assert sim.run_until(lambda s: get(s, "Pod", victim) is None and bootcamp_ready(s)
                         and all(p["status"]["phase"] == "Running" for p in pods(s, BOOTCAMP)), timeout=120)


def test_a_rolling_update_on_the_full_cluster_stays_within_bounds():
    sim = cluster(BoundsChecker)
    checker = sim.controller("bounds-checker")
    checker.deployment = "bootcamp"
    assert sim.run_until(bootcamp_ready, timeout=120)
    checker.armed = True
    d = sim.api.get("Deployment", "default", "bootcamp")
    d["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "0%"}}
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    sim.api.update(d)
    assert sim.run_until(lambda s: bootcamp_ready(s) and len(pods(s, BOOTCAMP, live=False)) == 2, timeout=180)
    assert checker.rounds > 5 and checker.violations == []
    assert {p["spec"]["containers"][0]["image"] for p in pods(sim, BOOTCAMP)} == {"nginx:1.27"}


def test_deleting_the_deployment_and_a_namespace_cleans_up_on_the_full_cluster():
    sim = cluster()
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    demo_workload(sim.api, namespace="team")
    assert sim.run_until(lambda s: bootcamp_ready(s) and len(pods(s, BOOTCAMP, "team")) == 2, timeout=120)

    sim.api.delete("Deployment", "default", "bootcamp", propagation_policy="Background")
    sim.api.delete("Namespace", "", "team")
    assert sim.run_until(lambda s: not pods(s, BOOTCAMP, live=False) and get(s, "Namespace", "team", "") is None,
                         timeout=120)
    assert sim.cache.list("ReplicaSet", "default") == []
    assert get(sim, "Deployment", "coredns", "kube-system") is not None
