"""Inter-pod affinity and topology spread: where replicas go, and the message when they cannot go anywhere.

Scenario: a tainted control-plane node and three 2 CPU / 4Gi workers. The Deployment lessons run every
controller with the fast kubelet profile; the finer cases run the scheduler alone (pods stay where bound).
"""

from engine.clock import VirtualClock
from engine.controllers import default_controllers
from engine.kubelet.nodes import make_node
from engine.scheduler.scheduler import Scheduler
from engine.simulation import Simulation
from engine.store import MemoryStore

TAINT = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def make_sim(workers=3, controllers=None, zones=None):
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=5,
                     controllers=controllers if controllers is not None else [Scheduler], profile="fast")
    for ns in ("default", "kube-system", "kube-node-lease"):
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    sim.api.create(make_node("control-plane", index=0, control_plane=True, now=clock.now()))
    for i in range(1, workers + 1):
        extra = {"topology.kubernetes.io/zone": zones[i - 1]} if zones else None
        sim.api.create(make_node(f"node-{i}", labels=extra, now=clock.now()))
    sim.tick()
    return sim


def pod(name, app="web", namespace="default", **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec}}


def anti_affinity(app, key="kubernetes.io/hostname", **term):
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key, **term}]}}


def affinity(app, key="kubernetes.io/hostname"):
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}


def node_of(sim, name, namespace="default"):
    return sim.store.get("Pod", namespace, name)["spec"].get("nodeName")


def failed_scheduling(sim, name):
    found = [e for e in sim.cache.list("Event") if e["involvedObject"]["name"] == name
             and e["reason"] == "FailedScheduling"]
    return found[-1]["message"] if found else None


# --- required anti-affinity: one replica per node ------------------------------------------------------
def test_anti_affinity_spreads_three_replicas_over_three_nodes_and_the_fourth_waits():
    sim = make_sim(controllers=default_controllers())
    sim.api.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "replicas": 4, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "affinity": anti_affinity("web"),
            "containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})
    sim.run(10, step=0.5)
    pods = sim.cache.list("Pod", "default")
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    assert sorted(p["spec"]["nodeName"] for p in running) == ["node-1", "node-2", "node-3"]
    (pending,) = [p for p in pods if not p["spec"].get("nodeName")]
    message = (f"0/4 nodes are available: 1 {TAINT}, 3 node(s) didn't match pod anti-affinity rules. "
               "preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, "
               "3 No preemption victims found for incoming pod.")
    assert failed_scheduling(sim, pending["metadata"]["name"]) == message
    cond = next(c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
    explanation = sim.controller("default-scheduler").explain("default", pending["metadata"]["name"])
    assert explanation["nodes"]["node-2"]["filter"] == {
        "plugin": "InterPodAffinity", "code": "Unschedulable", "reasons": ["node(s) didn't match pod anti-affinity rules"]}
    # A fourth worker joins: the waiting replica goes there.
    sim.api.create(make_node("node-4", now=sim.clock.now()))
    sim.run(5, step=0.5)
    assert node_of(sim, pending["metadata"]["name"]) == "node-4"


def test_an_existing_pods_anti_affinity_keeps_matching_pods_off_its_node():
    sim = make_sim(workers=2)
    sim.api.create(pod("loner", app="loner", affinity=anti_affinity("noisy"), nodeName="node-1"))
    sim.tick()
    for i in range(3):
        sim.api.create(pod(f"noisy-{i}", app="noisy"))
    sim.tick()
    assert {node_of(sim, f"noisy-{i}") for i in range(3)} == {"node-2"}
    sim.api.create(pod("pinned", app="noisy", nodeSelector={"kubernetes.io/hostname": "node-1"}))
    sim.tick()
    assert failed_scheduling(sim, "pinned") == (
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        f"1 node(s) didn't satisfy existing pods anti-affinity rules, 1 {TAINT}. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")


def test_anti_affinity_by_zone_and_across_namespaces_with_a_namespace_selector():
    sim = make_sim(zones=["a", "a", "b"])
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"team": "a"}}})
    sim.api.create(pod("db", app="db", namespace="team-a", nodeName="node-1"))
    sim.tick()
    term = {"namespaceSelector": {"matchLabels": {"team": "a"}}}
    sim.api.create(pod("app", affinity=anti_affinity("db", "topology.kubernetes.io/zone", **term)))
    sim.api.create(pod("same-ns-only", affinity=anti_affinity("db", "topology.kubernetes.io/zone"),
                       nodeSelector={"topology.kubernetes.io/zone": "a"}))
    sim.tick()
    assert node_of(sim, "app") == "node-3"  # zone a holds team-a's db
    assert node_of(sim, "same-ns-only") in ("node-1", "node-2")  # its term looks only in its own namespace


# --- required affinity: go where the others are -----------------------------------------------------------
def test_pod_affinity_follows_the_pods_it_wants_and_the_first_of_a_group_may_start_anywhere():
    sim = make_sim(zones=["a", "b", "b"])
    sim.api.create(pod("cache", app="cache", nodeName="node-2"))
    sim.tick()
    for i in range(3):
        sim.api.create(pod(f"web-{i}", affinity=affinity("cache", "topology.kubernetes.io/zone")))
    sim.tick()
    assert {node_of(sim, f"web-{i}") for i in range(3)} <= {"node-2", "node-3"}
    sim.api.create(pod("lonely", affinity=affinity("nobody")))
    sim.tick()
    assert failed_scheduling(sim, "lonely") == (
        f"0/4 nodes are available: 1 {TAINT}, 3 node(s) didn't match pod affinity rules. "
        "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.")
    # Affinity to its own kind with none running yet: the first one is allowed, the rest follow it.
    for i in range(3):
        sim.api.create(pod(f"team-{i}", app="team", affinity=affinity("team")))
    sim.tick()
    assert len({node_of(sim, f"team-{i}") for i in range(3)}) == 1


def test_preferred_anti_affinity_only_weighs_in():
    sim = make_sim(workers=2)
    preferred = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                            "topologyKey": "kubernetes.io/hostname"}}]}}
    for i in range(4):
        sim.api.create(pod(f"web-{i}", affinity=preferred))
        sim.tick()
    placed = [node_of(sim, f"web-{i}") for i in range(4)]
    assert placed.count("node-1") == 2 and placed.count("node-2") == 2
    assert all(placed)  # preferred terms never keep a pod pending
    scores = sim.controller("default-scheduler").explain("default", "web-3")["nodes"]
    assert {name: node["scores"]["InterPodAffinity"] for name, node in scores.items() if node["filter"] is None} \
        in ({"node-1": 0, "node-2": 200}, {"node-1": 200, "node-2": 0})


# --- topology spread ---------------------------------------------------------------------------------------
def spread(key="topology.kubernetes.io/zone", skew=1, when="DoNotSchedule", **extra):
    return [{"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": {"app": "web"}}, **extra}]


def test_topology_spread_keeps_zones_within_max_skew():
    sim = make_sim(zones=["a", "a", "b"])
    for i in range(4):
        sim.api.create(pod(f"web-{i}", topologySpreadConstraints=spread()))
        sim.tick()
    zones = {"node-1": "a", "node-2": "a", "node-3": "b"}
    placed = [zones[node_of(sim, f"web-{i}")] for i in range(4)]
    assert placed.count("a") == 2 and placed.count("b") == 2
    node = sim.api.get("Node", "", "node-3")
    node["spec"]["unschedulable"] = True  # cordon zone b
    sim.api.update(node)
    sim.tick()
    sim.api.create(pod("web-4", topologySpreadConstraints=spread()))
    sim.tick()
    assert zones[node_of(sim, "web-4")] == "a"  # a: 3, b: 2 is a skew of 1
    sim.api.create(pod("web-5", topologySpreadConstraints=spread()))
    sim.tick()
    assert node_of(sim, "web-5") is None
    assert failed_scheduling(sim, "web-5") == (
        f"0/4 nodes are available: 1 {TAINT}, 1 node(s) were unschedulable, "
        "2 node(s) didn't match pod topology spread constraints. preemption: 0/4 nodes are available: "
        "2 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")


def test_topology_spread_missing_label_and_min_domains():
    sim = make_sim(zones=["a", "b", "b"])
    node = sim.api.get("Node", "", "control-plane")
    node["spec"]["taints"] = []  # the control plane takes pods too, but has no zone
    sim.api.update(node)
    sim.tick()
    sim.api.create(pod("web-0", topologySpreadConstraints=spread(minDomains=3), nodeName="node-1"))
    sim.api.create(pod("web-1", topologySpreadConstraints=spread(minDomains=3), nodeName="node-2"))
    sim.tick()
    sim.api.create(pod("web-2", topologySpreadConstraints=spread(minDomains=3)))
    sim.tick()
    assert failed_scheduling(sim, "web-2") == (
        "0/4 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), "
        "3 node(s) didn't match pod topology spread constraints. preemption: 0/4 nodes are available: "
        "1 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.")


def test_tainted_nodes_count_as_domains_unless_node_taints_policy_is_honor():
    sim = make_sim()
    for i in range(4):
        sim.api.create(pod(f"web-{i}", topologySpreadConstraints=spread("kubernetes.io/hostname")))
        sim.tick()
    assert sorted(filter(None, (node_of(sim, f"web-{i}") for i in range(4)))) == ["node-1", "node-2", "node-3"]
    waiting = next(f"web-{i}" for i in range(4) if node_of(sim, f"web-{i}") is None)
    assert "3 node(s) didn't match pod topology spread constraints" in failed_scheduling(sim, waiting)
    sim.api.create(pod("web-honor", topologySpreadConstraints=spread("kubernetes.io/hostname",
                                                                     nodeTaintsPolicy="Honor")))
    sim.tick()
    assert node_of(sim, "web-honor") is not None  # the control plane's empty domain no longer holds the minimum at 0


def test_schedule_anyway_and_the_default_constraints_only_score():
    sim = make_sim(workers=2)
    sim.api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    for i in range(3):
        sim.api.create(pod(f"web-{i}", nodeName="node-1"))
    sim.api.create(pod("lone", app="other"))
    sim.api.create(pod("web-next"))
    sim.tick()
    explain = sim.controller("default-scheduler").explain
    web = explain("default", "web-next")["nodes"]
    # Default spreading (hostname maxSkew 3, ScheduleAnyway) for a pod a Service selects: node-2 is emptier.
    assert web["node-2"]["scores"]["PodTopologySpread"] > web["node-1"]["scores"]["PodTopologySpread"]
    lone = explain("default", "lone")["nodes"]
    assert lone["node-1"]["scores"]["PodTopologySpread"] == lone["node-2"]["scores"]["PodTopologySpread"] == 0
    sim.api.create(pod("soft", topologySpreadConstraints=spread("kubernetes.io/hostname", when="ScheduleAnyway"),
                       nodeSelector={"kubernetes.io/hostname": "node-1"}))
    sim.tick()
    assert node_of(sim, "soft") == "node-1"  # ScheduleAnyway never filters


def test_pods_without_affinity_do_not_pay_for_it():
    sim = make_sim(workers=2)
    sim.api.create(pod("plain"))
    sim.tick()
    sched = sim.controller("default-scheduler")
    assert sched.affinity_pods == {}
    scores = sched.explain("default", "plain")["nodes"]["node-1"]["scores"]
    assert scores["InterPodAffinity"] == 0
    sim.api.create(pod("anti", affinity=anti_affinity("web")))
    sim.tick()
    assert list(sched.affinity_pods) == [("default", "anti")]
