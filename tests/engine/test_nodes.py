"""Nodes: what a registered node looks like, heartbeats, and what happens when one stops answering.

Scenario: a control plane and two workers; a pod runs on node-1; node-1's
kubelet is stopped (the machine died) and later started again.
"""

from engine.clock import VirtualClock
from engine.controllers.nodelifecycle import NodeLifecycleController
from engine.drain import cordon, uncordon
from engine.kubelet.kubelet import KubeletManager
from engine.kubelet.nodes import make_node
from engine.scheduler.scheduler import Scheduler
from engine.simulation import Simulation
from engine.store import MemoryStore

CONTROLLERS = [NodeLifecycleController, Scheduler, KubeletManager]


def make_sim(store=None, clock=None):
    clock = clock or VirtualClock()
    fresh = store is None
    store = store or MemoryStore(now=clock.now)
    sim = Simulation(store, clock, seed=5, controllers=CONTROLLERS, profile="fast")
    if fresh:
        for ns in ("default", "kube-system", "kube-node-lease"):
            sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        sim.api.create(make_node("control-plane", index=0, control_plane=True, now=clock.now()))
        for i in (1, 2):
            sim.api.create(make_node(f"node-{i}", now=clock.now()))
    sim.tick()
    return sim


def pod_on(name, node, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}],
                     "nodeSelector": {"kubernetes.io/hostname": node}, **spec}}


def node(sim, name):
    return sim.store.get("Node", "", name)


def ready(obj):
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def get(sim, name):
    return sim.store.get("Pod", "default", name)


def events(sim, name, reason):
    return [e for e in sim.cache.list("Event") if e["involvedObject"]["name"] == name and e["reason"] == reason]


def fail_node_1(sim):
    sim.api.create(pod_on("web", "node-1"))
    sim.run(3)
    assert get(sim, "web")["status"]["phase"] == "Running"
    sim.controller("kubelet").fail_node("node-1")
    sim.run(50, step=1)


def test_make_node_looks_like_a_kubelet_registered_it():
    obj = make_node("node-3", cpu="4", memory="8Gi", labels={"disktype": "ssd"})
    assert obj["metadata"]["labels"]["kubernetes.io/hostname"] == "node-3"
    assert obj["metadata"]["labels"]["disktype"] == "ssd"
    status = obj["status"]
    assert status["capacity"]["cpu"] == "4" and status["capacity"]["memory"] == "8388608Ki"
    assert status["allocatable"]["pods"] == "110"
    assert status["addresses"][0] == {"address": "192.168.49.5", "type": "InternalIP"}
    assert status["nodeInfo"]["kubeletVersion"] == "v1.32.4"
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.7.")
    assert obj["spec"]["podCIDR"] == "10.244.3.0/24"
    assert [c["type"] for c in status["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert ready(obj)["reason"] == "KubeletReady"
    control = make_node("control-plane", index=0, control_plane=True)
    assert control["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    assert "node-role.kubernetes.io/control-plane" in control["metadata"]["labels"]


def test_a_silent_node_becomes_not_ready_and_tainted_and_its_pods_not_ready():
    sim = make_sim()
    sim.api.create(pod_on("web", "node-1"))
    sim.run(3)
    sim.controller("kubelet").fail_node("node-1")
    sim.run(30, step=1)
    assert ready(node(sim, "node-1"))["status"] == "True"  # 40 s grace period not over yet
    sim.run(20, step=1)
    cond = ready(node(sim, "node-1"))
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert all(c["status"] == "Unknown" for c in node(sim, "node-1")["status"]["conditions"])
    taints = node(sim, "node-1")["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in taints] == [
        ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")]
    assert "timeAdded" in taints[1]
    assert ready(get(sim, "web"))["status"] == "False"
    (event,) = events(sim, "web", "NodeNotReady")
    assert (event["type"], event["message"], event["source"]) == ("Warning", "Node is not ready",
                                                                  {"component": "node-controller"})
    assert events(sim, "node-1", "NodeNotReady")[0]["message"] == "Node node-1 status is now: NodeNotReady"
    # Healthy node-2 keeps renewing its lease and stays Ready.
    assert ready(node(sim, "node-2"))["status"] == "True"
    # New pods avoid the unreachable node.
    sim.api.create(pod_on("elsewhere", "node-1"))
    sim.run(1)
    message = events(sim, "elsewhere", "FailedScheduling")[0]["message"]
    assert "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }" in message


def test_pods_are_evicted_after_their_toleration_seconds():
    sim = make_sim()
    sim.api.create(pod_on("web", "node-1"))
    sim.api.create(pod_on("quick", "node-1", tolerations=[
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5}]))
    sim.api.create(pod_on("stays", "node-1", tolerations=[
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]))
    sim.run(3)
    sim.controller("kubelet").fail_node("node-1")
    sim.run(50, step=1)
    tainted_at = [t for t in node(sim, "node-1")["spec"]["taints"] if t["effect"] == "NoExecute"][0]["timeAdded"]
    assert tainted_at
    sim.run(10, step=1)
    assert get(sim, "quick")["metadata"].get("deletionTimestamp")
    assert not get(sim, "web")["metadata"].get("deletionTimestamp")
    sim.run(280, step=2)
    assert not get(sim, "web")["metadata"].get("deletionTimestamp")  # 300 s not over yet
    sim.run(15, step=1)
    evicted = get(sim, "web")
    assert evicted["metadata"].get("deletionTimestamp")  # Terminating: no kubelet there to confirm
    (event,) = events(sim, "web", "TaintManagerEviction")
    assert event["message"] == "Marking for deletion Pod default/web"
    assert event["source"] == {"component": "taint-eviction-controller"}
    target = next(c for c in evicted["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "DeletionByTaintManager")
    assert not get(sim, "stays")["metadata"].get("deletionTimestamp")


def test_a_recovered_node_is_ready_again_and_finishes_deleting_evicted_pods():
    sim = make_sim()
    fail_node_1(sim)
    sim.run(320, step=2)
    assert get(sim, "web")["metadata"].get("deletionTimestamp")
    sim.controller("kubelet").recover_node("node-1")
    sim.run(5, step=0.5)
    assert ready(node(sim, "node-1"))["status"] == "True"
    assert "taints" not in node(sim, "node-1")["spec"]
    assert get(sim, "web") is None  # the kubelet confirmed the deletion
    assert events(sim, "node-1", "NodeReady")
    sim.api.create(pod_on("back", "node-1"))
    sim.run(3)
    assert get(sim, "back")["status"]["phase"] == "Running"


def test_a_pod_on_a_briefly_silent_node_gets_ready_back():
    sim = make_sim()
    fail_node_1(sim)
    assert ready(get(sim, "web"))["status"] == "False"
    sim.controller("kubelet").recover_node("node-1")
    sim.run(3)
    assert ready(get(sim, "web"))["status"] == "True"
    assert not get(sim, "web")["metadata"].get("deletionTimestamp")


def test_a_failed_node_stays_failed_in_a_fresh_simulation():
    clock = VirtualClock()
    sim = make_sim(clock=clock)
    fail_node_1(sim)
    fresh = make_sim(store=sim.store, clock=clock)
    assert fresh.controller("kubelet").is_failed("node-1")
    fresh.run(20, step=1)
    assert ready(node(fresh, "node-1"))["status"] == "Unknown"
    fresh.controller("kubelet").recover_node("node-1")
    fresh.run(3)
    assert ready(node(fresh, "node-1"))["status"] == "True"


def test_a_node_created_by_hand_is_filled_in_by_its_kubelet_and_takes_pods():
    sim = make_sim()
    sim.api.create({"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": "node-9", "labels": {"kubernetes.io/hostname": "node-9"}}})
    sim.run(2)
    registered = node(sim, "node-9")
    assert ready(registered)["status"] == "True"
    assert registered["status"]["allocatable"]["cpu"] == "2"
    assert registered["spec"]["podCIDR"] == "10.244.3.0/24"
    assert sim.store.get("Lease", "kube-node-lease", "node-9")["spec"]["holderIdentity"] == "node-9"
    sim.api.create(pod_on("here", "node-9"))
    sim.run(3)
    assert get(sim, "here")["status"]["podIP"].startswith("10.244.3.")


def test_a_cordoned_node_gets_the_unschedulable_taint_until_it_is_uncordoned():
    sim = make_sim()
    assert cordon(sim.api, "node-1").text == "node/node-1 cordoned"
    sim.run(1)
    taints = node(sim, "node-1")["spec"].get("taints") or []
    assert [(t["key"], t["effect"]) for t in taints] == [("node.kubernetes.io/unschedulable", "NoSchedule")]
    sim.api.create(pod_on("pinned", "node-1"))
    sim.run(1)
    (failed,) = events(sim, "pinned", "FailedScheduling")
    assert failed["message"].startswith("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                                        "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
                                        "1 node(s) were unschedulable.")
    assert uncordon(sim.api, "node-1").text == "node/node-1 uncordoned"
    sim.run(2)
    assert not node(sim, "node-1")["spec"].get("taints")
    assert get(sim, "pinned")["spec"]["nodeName"] == "node-1"
