"""Node-pressure eviction, CPU throttling and `kubectl top`, from the seed's notes on Pod eviction:

ノードのメモリが不足すると、Podがevictされることがある / メモリ使用量の大きなPodからeviction対象になる /
memoryのrequests/limitsを適切に設定しておくこと.

Scenario: one 1Gi worker (the system keeps 300Mi of it), an nginx pod that requests 64Mi, and
`kubedojo/leaker` without limits (BestEffort), which grows by 4Mi every second. When less than
100Mi is left the kubelet reports MemoryPressure, the node gets the memory-pressure taint, and the
leaker (using far beyond its request of 0) is evicted; nginx, within its request, stays.
"""

from __future__ import annotations

import re

from engine.clock import format_rfc3339
from engine.controllers.nodelifecycle import NodeLifecycleController
from engine.kubectl import Context, run
from engine.kubelet import eviction, usage
from engine.kubelet.kubelet import KubeletManager
from engine.kubelet.nodes import make_node
from engine.scheduler.scheduler import Scheduler
from tests.engine.test_kubelet import events_for, get, make_sim, pod

CONTROLLERS = (Scheduler, KubeletManager, NodeLifecycleController)
MI = 1024 * 1024


def small_node_sim():
    sim = make_sim(workers=0, controllers=CONTROLLERS)
    sim.api.create(make_node("node-1", memory="1Gi", now=sim.clock.now()))
    sim.run(2)
    return sim


def node_condition(sim, ctype):
    node = sim.store.get("Node", "", "node-1")
    return next(c for c in node["status"]["conditions"] if c["type"] == ctype)


def node_events(sim, reason):
    return [e["message"] for e in sim.cache.list("Event")
            if e["involvedObject"]["kind"] == "Node" and e["reason"] == reason]


def test_a_leaking_best_effort_pod_is_evicted_first_and_the_pressure_lifts_five_minutes_later():
    sim = small_node_sim()
    sim.api.create(pod("web", resources={"requests": {"memory": "64Mi"}}))
    sim.api.create(pod("leak", image="kubedojo/leaker"))
    sim.run(30)
    assert node_condition(sim, "MemoryPressure")["status"] == "False"
    assert get(sim, "leak")["status"]["phase"] == "Running"

    for _ in range(300):
        sim.run(1)
        if get(sim, "leak")["status"].get("reason") == "Evicted":
            break
    status = get(sim, "leak")["status"]
    assert status["phase"] == "Failed"
    match = re.fullmatch(r"The node was low on resource: memory\. Threshold quantity: 100Mi, available: (\d+)Ki\. "
                         r"Container leaker was using (\d+)Ki, request is 0, has larger consumption of memory\. ",
                         status["message"])
    assert match, status["message"]
    available, using = int(match[1]) * 1024, int(match[2]) * 1024
    assert available < 100 * MI and using > 500 * MI
    assert available == 1024 * MI - usage.SYSTEM_MEMORY_BYTES - using - 3 * 1000 * 1000 // 4096 * 4096  # and nginx
    cs = status["containerStatuses"][0]
    assert (cs["state"]["terminated"]["exitCode"], cs["state"]["terminated"]["reason"], cs["ready"]) == (
        137, "Error", False)
    disruption = next(c for c in status["conditions"] if c["type"] == "DisruptionTarget")
    assert (disruption["status"], disruption["reason"], disruption["message"]) == (
        "True", "TerminationByKubelet", status["message"])
    evicted = [e for e in events_for(sim, "leak") if e["reason"] == "Evicted"]
    assert [(e["type"], e["message"]) for e in evicted] == [("Warning", status["message"])]
    assert ("Normal", "Killing", "Stopping container leaker") in [
        (e["type"], e["reason"], e["message"]) for e in events_for(sim, "leak")]

    # nginx used less than it asked for: it keeps running.
    assert get(sim, "web")["status"]["phase"] == "Running"
    # kubectl 1.32 shows the killed container's reason; describe shows the pod's reason, Evicted.
    listing = run("get pods", sim.api, sim.clock.now(), Context()).stdout.splitlines()
    assert [line.split()[:3] for line in listing if line.startswith("leak")] == [["leak", "0/1", "Error"]]

    pressure = node_condition(sim, "MemoryPressure")
    assert (pressure["status"], pressure["reason"], pressure["message"]) == (
        "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
    assert node_events(sim, "EvictionThresholdMet") == ["Attempting to reclaim memory"]
    assert node_events(sim, "NodeHasInsufficientMemory") == ["Node node-1 status is now: NodeHasInsufficientMemory"]
    sim.run(1)
    taints = sim.store.get("Node", "", "node-1")["spec"].get("taints") or []
    assert [(t["key"], t["effect"]) for t in taints] == [("node.kubernetes.io/memory-pressure", "NoSchedule")]

    # New pods stay off the node while it is under pressure...
    sim.api.create(pod("late"))
    sim.run(2)
    failed = [e["message"] for e in events_for(sim, "late") if e["reason"] == "FailedScheduling"]
    assert failed and "1 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }" in failed[0]
    assert not get(sim, "late")["spec"].get("nodeName")

    # The kubelet itself turns away BestEffort pods that name the node; pods that ask for memory get in.
    sim.api.create(pod("pinned", nodeName="node-1"))
    sim.api.create(pod("modest", nodeName="node-1", resources={"requests": {"memory": "32Mi"}}))
    sim.run(3)
    refused = get(sim, "pinned")["status"]
    assert (refused["phase"], refused["reason"], refused["message"]) == (
        "Failed", "Evicted", "Pod was rejected: The node had condition: [MemoryPressure]. ")
    assert [e["message"] for e in events_for(sim, "pinned") if e["reason"] == "Evicted"] == [
        "The node had condition: [MemoryPressure]. "]
    assert get(sim, "modest")["status"]["phase"] == "Running"

    # ... until the pressure has been gone for the 5 minute transition period.
    sim.run(280)
    assert node_condition(sim, "MemoryPressure")["status"] == "True"
    sim.run(30)
    relieved = node_condition(sim, "MemoryPressure")
    assert (relieved["status"], relieved["reason"]) == ("False", "KubeletHasSufficientMemory")
    assert node_events(sim, "NodeHasSufficientMemory") == ["Node node-1 status is now: NodeHasSufficientMemory"]
    sim.run(15)
    assert not sim.store.get("Node", "", "node-1")["spec"].get("taints")
    assert get(sim, "late")["spec"].get("nodeName") == "node-1"
    assert get(sim, "leak")["status"]["phase"] == "Failed"  # evicted pods are not restarted


def bare(name, memory_used_mi, request_mi=None, priority=0):
    """A running pod whose single container uses `memory_used_mi` (nginx at rest plus a leak of 4Mi/s)."""
    container = {"name": "c", "image": "kubedojo/leaker"}
    if request_mi is not None:
        container["resources"] = {"requests": {"memory": f"{request_mi}Mi"}}
    started = 1000.0 - (memory_used_mi * MI - 20 * 1000 * 1000) / (4 * MI)
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [container], "priority": priority},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "c", "state": {"running": {"startedAt": format_rfc3339(started)}}}]}}


def test_pods_beyond_their_requests_go_first_then_lower_priority_then_the_largest_excess():
    pods = [bare("within", 300, request_mi=500), bare("small-excess", 200, request_mi=100),
            bare("big-excess", 400, request_mi=100), bare("important", 900, priority=1000)]
    assert [p["metadata"]["name"] for p in eviction.rank(pods, 1000.0)] == [
        "big-excess", "small-excess", "important", "within"]


def test_cpu_is_throttled_at_the_limit_and_kubectl_top_shows_usage():
    sim = make_sim(controllers=CONTROLLERS)
    busy = pod("busy", resources={"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}})
    busy["metadata"]["annotations"] = {usage.LOAD_ANNOTATION: "800m"}
    sim.api.create(busy)
    free = pod("free")
    free["metadata"]["annotations"] = {usage.LOAD_ANNOTATION: "800m"}
    sim.api.create(free)
    sim.run(5)
    assert usage.pod_cpu_usage_millis(get(sim, "busy"), sim.clock.now()) == 500  # wants 801m, gets its limit
    assert usage.pod_cpu_usage_millis(get(sim, "free"), sim.clock.now()) == 801

    top = run("top pod", sim.api, sim.clock.now(), Context()).stdout.splitlines()
    assert [line.split() for line in top] == [["NAME", "CPU(cores)", "MEMORY(bytes)"],
                                              ["busy", "500m", "2Mi"], ["free", "801m", "2Mi"]]
    nodes = run("top node", sim.api, sim.clock.now(), Context()).stdout.splitlines()
    assert nodes[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    worker = next(line.split() for line in nodes if line.startswith("node-1"))
    assert worker == ["node-1", "1361m", "68%", "305Mi", "7%"]  # 60m and 300Mi of system, plus the two pods
