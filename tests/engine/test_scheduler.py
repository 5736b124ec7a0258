"""kube-scheduler: where pods go, why they cannot go anywhere, and what the UI can show about each decision.

Scenario: a control-plane node (tainted) and workers of 2 CPU / 4Gi; only the
scheduler runs (no kubelets), so pods stay where they are bound.
"""


from engine.clock import VirtualClock
from engine.kubelet.nodes import make_node
from engine.scheduler.framework import Code, Status, fit_error_message, unresolvable, unschedulable
from engine.scheduler.scheduler import Scheduler, num_feasible_nodes_to_find
from engine.simulation import Simulation
from engine.store import MemoryStore

TAINT_MSG = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def make_sim(workers=3, **node_args):
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=3, controllers=[Scheduler], profile="fast")
    for ns in ("default", "kube-system", "kube-node-lease"):
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    sim.api.create(make_node("control-plane", index=0, control_plane=True))
    for i in range(1, workers + 1):
        sim.api.create(make_node(f"node-{i}", **node_args))
    sim.tick()
    return sim


def pod(name, cpu=None, memory=None, **spec):
    container = {"name": "app", "image": "nginx"}
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    if requests:
        container["resources"] = {"requests": requests}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def node_of(sim, name):
    return sim.store.get("Pod", "default", name)["spec"].get("nodeName")


def scheduled_condition(sim, name):
    return next(c for c in sim.store.get("Pod", "default", name)["status"]["conditions"] if c["type"] == "PodScheduled")


def events(sim, name, reason):
    return [e for e in sim.cache.list("Event") if e["involvedObject"]["name"] == name and e["reason"] == reason]


def test_a_pod_is_bound_to_a_worker_with_a_scheduled_event():
    sim = make_sim()
    sim.api.create(pod("web"))
    sim.tick()
    node = node_of(sim, "web")
    assert node.startswith("node-")
    assert scheduled_condition(sim, "web")["status"] == "True"
    (event,) = events(sim, "web", "Scheduled")
    assert event["message"] == f"Successfully assigned default/web to {node}"
    assert event["source"] == {"component": "default-scheduler"} and event["type"] == "Normal"
    explanation = sim.controller("default-scheduler").explain("default", "web")
    assert explanation["result"] == "Scheduled" and explanation["node"] == node
    assert explanation["nodes"]["control-plane"]["filter"] == {
        "plugin": "TaintToleration", "code": "UnschedulableAndUnresolvable", "reasons": [TAINT_MSG]}
    scores = explanation["nodes"][node]["scores"]
    assert set(scores) == {"TaintToleration", "NodeAffinity", "NodeResourcesFit", "NodeResourcesBalancedAllocation",
                           "ImageLocality", "PodTopologySpread", "InterPodAffinity"}
    assert explanation["nodes"][node]["total"] == sum(scores.values())
    assert explanation["weights"]["TaintToleration"] == 3


def test_failed_scheduling_message_is_kubernetes_own():
    sim = make_sim()
    sim.api.create(pod("big", cpu="3"))
    sim.tick()
    message = ("0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
               "3 Insufficient cpu. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, "
               "3 No preemption victims found for incoming pod.")
    (event,) = events(sim, "big", "FailedScheduling")
    assert event["type"] == "Warning" and event["message"] == message
    cond = scheduled_condition(sim, "big")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
    assert node_of(sim, "big") is None
    explanation = sim.controller("default-scheduler").explain("default", "big")
    assert explanation["result"] == "Unschedulable" and explanation["message"] == message
    assert explanation["nodes"]["node-1"]["filter"]["reasons"] == ["Insufficient cpu"]


def test_memory_and_pod_count_reasons():
    sim = make_sim(workers=2, pods=1)
    sim.api.create(pod("fat", memory="8Gi"))
    sim.tick()
    assert events(sim, "fat", "FailedScheduling")[0]["message"].startswith(
        f"0/3 nodes are available: 1 {TAINT_MSG}, 2 Insufficient memory.")
    sim.api.create(pod("a"))
    sim.api.create(pod("b"))
    sim.api.create(pod("c"))
    sim.tick()
    placed = [node_of(sim, n) for n in "abc"]
    assert sorted(p for p in placed if p) == ["node-1", "node-2"]
    waiting = [n for n, p in zip("abc", placed, strict=True) if p is None][0]
    assert events(sim, waiting, "FailedScheduling")[0]["message"].startswith(
        f"0/3 nodes are available: 1 {TAINT_MSG}, 2 Too many pods.")


def test_a_pending_pod_is_retried_when_a_node_is_added():
    sim = make_sim()
    sim.api.create(pod("big", cpu="3"))
    sim.tick()
    assert node_of(sim, "big") is None
    sim.run(5)
    assert node_of(sim, "big") is None
    sim.api.create(make_node("node-big", cpu="8", memory="16Gi", index=9))
    sim.run(2)
    assert node_of(sim, "big") == "node-big"


def test_a_pending_pod_is_retried_when_a_pod_is_deleted():
    sim = make_sim(workers=1)
    sim.api.create(pod("first", cpu="1500m"))
    sim.tick()
    sim.api.create(pod("second", cpu="1"))
    sim.tick()
    assert node_of(sim, "first") == "node-1" and node_of(sim, "second") is None
    sim.api.delete("Pod", "default", "first")  # bound but no kubelet: no grace period needed here
    sim.store.delete("Pod", "default", "first")
    sim.run(2)
    assert node_of(sim, "second") == "node-1"


def test_unschedulable_pods_back_off_and_do_not_loop_on_their_own_status_writes():
    sim = make_sim()
    sim.api.create(pod("big", cpu="3"))
    sim.run(60, step=1)
    (event,) = events(sim, "big", "FailedScheduling")
    assert event["count"] == 1  # nothing changed in the cluster: no retry before the 5-minute flush
    sim.run(250, step=5)
    assert events(sim, "big", "FailedScheduling")[0]["count"] == 2


def test_node_selector_and_taints():
    sim = make_sim(workers=2)
    sim.api.create(pod("ssd", nodeSelector={"disktype": "ssd"}))
    sim.tick()
    assert events(sim, "ssd", "FailedScheduling")[0]["message"] == (
        f"0/3 nodes are available: 1 {TAINT_MSG}, 2 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    node = sim.api.get("Node", "", "node-2")
    node["metadata"]["labels"]["disktype"] = "ssd"
    sim.api.update(node)
    sim.run(2)
    assert node_of(sim, "ssd") == "node-2"


def test_tolerating_the_control_plane_taint_and_cordoned_nodes():
    sim = make_sim(workers=1)
    node = sim.api.get("Node", "", "node-1")
    node["spec"]["unschedulable"] = True
    sim.api.update(node)
    sim.tick()
    sim.api.create(pod("plain"))
    sim.api.create(pod("tolerant", tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                                                 "effect": "NoSchedule"}]))
    sim.tick()
    assert node_of(sim, "tolerant") == "control-plane"
    assert events(sim, "plain", "FailedScheduling")[0]["message"].startswith(
        f"0/2 nodes are available: 1 {TAINT_MSG}, 1 node(s) were unschedulable.")


def test_required_and_preferred_node_affinity():
    sim = make_sim(workers=3)
    for name, zone in (("node-1", "a"), ("node-2", "b"), ("node-3", "b")):
        node = sim.api.get("Node", "", name)
        node["metadata"]["labels"]["zone"] = zone
        node["metadata"]["labels"]["rank"] = name[-1]
        sim.api.update(node)
    sim.tick()
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]},
                              {"key": "rank", "operator": "Gt", "values": ["2"]}]}]}}}
    preferred = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}}
    sim.api.create(pod("req", affinity=required))
    sim.api.create(pod("pref", affinity=preferred))
    sim.tick()
    assert node_of(sim, "req") == "node-3"
    assert node_of(sim, "pref") == "node-1"


def test_pods_spread_over_equal_nodes_by_least_allocated_scoring():
    sim = make_sim(workers=2)
    for i in range(6):
        sim.api.create(pod(f"p{i}", cpu="250m", memory="256Mi"))
    sim.tick()
    placed = [node_of(sim, f"p{i}") for i in range(6)]
    assert placed.count("node-1") == 3 and placed.count("node-2") == 3


def test_ties_are_broken_by_the_seeded_random_generator():
    first = [node_of(s, "p") for s in [make_sim(workers=4)] if s.api.create(pod("p")) and not s.tick()]
    second = [node_of(s, "p") for s in [make_sim(workers=4)] if s.api.create(pod("p")) and not s.tick()]
    assert first == second


def test_fit_error_message_sorts_reasons_like_kubernetes():
    statuses = {"a": unschedulable("NodeResourcesFit", "Insufficient cpu", "Insufficient memory"),
                "b": unschedulable("NodeResourcesFit", "Insufficient memory"),
                "c": unresolvable("TaintToleration", "node(s) had untolerated taint {x: y}")}
    assert fit_error_message(3, statuses, {"spec": {}}) == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {x: y}, 2 Insufficient memory. "
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.")
    assert fit_error_message(0, {}, {}) == "no nodes available to schedule pods"
    assert fit_error_message(1, {"a": Status(Code.UNSCHEDULABLE, ("Insufficient cpu",))},
                             {"spec": {"preemptionPolicy": "Never"}}).endswith(
        "preemption: not eligible due to preemptionPolicy=Never.")


def test_large_clusters_score_only_a_sample_of_nodes():
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(1000) == 420
    assert num_feasible_nodes_to_find(5000) == 500


def test_many_pods_on_many_nodes_are_scheduled_in_one_tick_evaluating_a_sample_of_nodes():
    sim = make_sim(workers=0)
    for i in range(1, 1001):
        sim.store.create(make_node(f"node-{i}", cpu="64", memory="256Gi"))
    sim.tick()
    for i in range(300):
        sim.api.create(pod(f"p{i}", cpu="100m"))
    sim.tick()
    # All in one tick; the speed itself is measured by bench/scheduling.py, not asserted here.
    assert all(node_of(sim, f"p{i}") for i in range(300))
    decision = sim.controller("default-scheduler").explanations[("default", "p0")]
    assert decision["nodesEvaluated"] < 1001 and decision["feasible"] == num_feasible_nodes_to_find(1001)


def test_prefer_no_schedule_only_lowers_a_nodes_score_and_no_execute_keeps_pods_out():
    sim = make_sim(workers=2)
    node = sim.api.get("Node", "", "node-1")
    node["spec"]["taints"] = [{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]
    sim.api.update(node)
    sim.tick()
    for i in range(3):
        sim.api.create(pod(f"p{i}", cpu="100m"))
        sim.tick()
    assert {node_of(sim, f"p{i}") for i in range(3)} == {"node-2"}  # never the tainted node while another fits
    explanation = sim.controller("default-scheduler").explain("default", "p0")
    weight = explanation["weights"]["TaintToleration"]
    assert explanation["nodes"]["node-1"]["scores"]["TaintToleration"] == 0
    assert explanation["nodes"]["node-2"]["scores"]["TaintToleration"] == 100 * weight

    sim.api.create(pod("full", cpu="1900m"))  # node-2 has no room left: the preference gives way
    sim.tick()
    assert node_of(sim, "full") == "node-1"

    node = sim.api.get("Node", "", "node-1")
    node["spec"]["taints"] = [{"key": "maintenance", "effect": "NoExecute"}]
    sim.api.update(node)
    sim.tick()
    sim.api.create(pod("late", cpu="1900m"))
    sim.tick()
    assert events(sim, "late", "FailedScheduling")[0]["message"].startswith(
        f"0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {{maintenance: }}, 1 {TAINT_MSG}.")
