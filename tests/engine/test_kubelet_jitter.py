"""The kubelets' node loops at scale: jittered like a real kubelet's and not in lockstep.

A real kubelet renews its node Lease every 10 s and syncs its node status in
loops run by wait.JitterUntil with a jitter factor of 0.04 (each period is the
period plus up to 4 % of it), and the kubelets of a cluster were not all
started in the same instant. The simulated kubelets do the same: each loop's
first period after the kubelet starts is cut at a random point, and every
later period is jittered, the randomness drawn from the simulation's seed (the
same seed, the same timings). Nodes are still Ready at once, and a stopped
node still goes Unknown after the 40 s grace period.

Also here: the eviction manager's per-pod cache gives the figures the uncached
computation gives, and so does the image reference cache.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from engine.clock import VirtualClock, parse_rfc3339
from engine.controllers.nodelifecycle import NodeLifecycleController
from engine.kubectl import Context, run
from engine.kubelet import eviction, images
from engine.kubelet.kubelet import KubeletManager
from engine.kubelet.nodes import make_node, parse_micro_time
from engine.scheduler.scheduler import Scheduler
from engine.simulation import Simulation
from engine.store import MemoryStore
from tests.engine.test_kubelet import make_sim, pod

NODES = 40
STEP = 0.25
CONTROLLERS = (NodeLifecycleController, KubeletManager)


def cluster(seed: int = 11, nodes: int = NODES) -> Simulation:
    """`nodes` workers registered in the same instant, as a bootstrap (or a benchmark) brings them up."""
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, controllers=list(CONTROLLERS), profile="fast")
    for ns in ("default", "kube-system", "kube-node-lease"):
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in range(1, nodes + 1):
        sim.api.create(make_node(f"node-{i}", now=clock.now()))
    sim.tick()
    return sim


def heartbeats(sim: Simulation, seconds: float) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Over `seconds` of ticks of STEP: node -> times of its Lease renewals (renewTime), and node -> times of its
    status reports (the tick in which a new Ready heartbeat appeared)."""
    leases: dict[str, list[float]] = {}
    reports: dict[str, list[float]] = {}
    last_heartbeat = {n["metadata"]["name"]: ready(n)["lastHeartbeatTime"] for n in sim.cache.list("Node")}
    for _ in range(round(seconds / STEP)):
        result = sim.tick(STEP)
        for change in result.changes:
            name = change.object["metadata"]["name"]
            if change.kind == "Lease":
                renewed = parse_micro_time(change.object["spec"]["renewTime"])
                if renewed not in leases.get(name, []):
                    leases.setdefault(name, []).append(renewed)
            elif change.kind == "Node":
                heartbeat = ready(change.object)["lastHeartbeatTime"]
                if heartbeat != last_heartbeat.get(name):
                    last_heartbeat[name] = heartbeat
                    reports.setdefault(name, []).append(sim.clock.now())
    return leases, reports


def ready(node: dict) -> dict:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def all_ready(sim: Simulation) -> bool:
    return all(ready(n)["status"] == "True" for n in sim.cache.list("Node"))


def assert_jittered(times_by_node: dict[str, list[float]], start: float, period: float, min_gaps: int) -> None:
    """Every node's loop ran: first within a period (where its loop started), then every period plus up to 4 %
    (on the tick that reaches it), and the nodes' runs spread over the ticks instead of landing in one."""
    assert sorted(times_by_node) == sorted(f"node-{i}" for i in range(1, NODES + 1))
    for name, times in times_by_node.items():
        assert start < times[0] <= start + period + STEP, (name, times[0] - start)
        gaps = [b - a for a, b in pairwise(times)]
        assert len(gaps) >= min_gaps and all(period - 1e-6 <= gap <= period * 1.04 + STEP for gap in gaps), (name, gaps)
    per_tick = Counter(round((t - start) / STEP) for times in times_by_node.values() for t in times)
    assert max(per_tick.values()) <= NODES // 5, per_tick.most_common(3)  # not in lockstep (40 in one before)


def test_nodes_brought_up_together_renew_their_leases_apart_every_ten_seconds_plus_jitter():
    sim = cluster()
    start = sim.clock.now()
    leases, _ = heartbeats(sim, 70)
    assert_jittered(leases, start, 10.0, min_gaps=5)
    firsts = {round((times[0] - start) / STEP) for times in leases.values()}
    assert len(firsts) >= NODES // 2
    # The ticks round the periods to 10.25 or 10.5 s; the periods the kubelets drew differ node by node.
    kubelet = sim.controller("kubelet")
    periods = [kubelet.node_states[name].lease_due - times[-1] for name, times in leases.items()]
    assert all(10.0 <= period < 10.4 for period in periods)
    assert len({round(period, 6) for period in periods}) == NODES
    assert all_ready(sim)


def test_nodes_brought_up_together_report_their_status_apart():
    sim = cluster()
    start = sim.clock.now()
    _, reports = heartbeats(sim, 130)
    # The registration's report is followed by one within a minute, then one a minute (plus up to 4 %) later.
    assert_jittered(reports, start, 60.0, min_gaps=1)
    assert all_ready(sim)


def test_the_same_seed_gives_the_same_timings_and_another_seed_others():
    first = heartbeats(cluster(seed=3, nodes=10), 40)
    assert heartbeats(cluster(seed=3, nodes=10), 40) == first
    assert heartbeats(cluster(seed=4, nodes=10), 40)[0] != first[0]


def test_nodes_are_ready_as_soon_as_the_cluster_starts_and_stay_ready():
    sim = cluster(nodes=5)
    listing = run("get nodes", sim.api, sim.clock.now(), Context()).stdout.splitlines()
    assert [line.split()[:2] for line in listing[1:]] == [[f"node-{i}", "Ready"] for i in range(1, 6)]
    # A Node created by hand is filled in, Ready and has its Lease after the next tick, as before.
    sim.api.create({"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": "node-9", "labels": {"kubernetes.io/hostname": "node-9"}}})
    sim.tick(STEP)
    registered = sim.store.get("Node", "", "node-9")
    assert ready(registered)["status"] == "True"
    assert parse_rfc3339(ready(registered)["lastHeartbeatTime"]) == int(sim.clock.now())
    assert sim.store.get("Lease", "kube-node-lease", "node-9")["spec"]["holderIdentity"] == "node-9"
    for _ in range(10):
        sim.run(60, step=2)
        assert all_ready(sim)  # no node ever misses the 40 s grace period


def test_a_stopped_node_goes_unknown_after_the_grace_period_and_the_others_stay_ready():
    sim = cluster(nodes=12)
    sim.run(23, step=STEP)  # somewhere in the nodes' periods
    sim.controller("kubelet").fail_node("node-7")
    sim.run(29, step=STEP)
    assert all_ready(sim)  # the last renewal was at most 10.4 s before the stop: 40 s are not over
    sim.run(17, step=STEP)
    nodes = {n["metadata"]["name"]: ready(n) for n in sim.cache.list("Node")}
    assert (nodes["node-7"]["status"], nodes["node-7"]["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert all(cond["status"] == "True" for name, cond in nodes.items() if name != "node-7")
    sim.controller("kubelet").recover_node("node-7")
    sim.tick(STEP)
    assert ready(sim.store.get("Node", "", "node-7"))["status"] == "True"  # at once, as after a reboot


def test_the_eviction_pass_cache_gives_the_uncached_figures():
    sim = make_sim(workers=0, controllers=(Scheduler, KubeletManager, NodeLifecycleController))
    sim.api.create(make_node("node-1", memory="1Gi", now=sim.clock.now()))
    sim.run(2)
    sim.api.create(pod("web", resources={"requests": {"memory": "64Mi"}}))
    sim.api.create(pod("leak", image="kubedojo/leaker"))  # grows with time: never served from the cache
    sim.api.create(pod("box", image="busybox", command=["sleep", "3600"]))
    sim.api.create(pod("critical", priorityClassName="system-node-critical"))
    kubelet = sim.controller("kubelet")
    seen = set()
    for _ in range(260):
        sim.run(1)
        node = sim.cache.get("Node", "", "node-1")
        now = sim.clock.now()
        on_node = sim.cache.pods_on_node("node-1")
        expected = eviction.candidates(on_node)
        available, pods = kubelet.memory_available(node, now)
        assert pods == expected
        assert available == eviction.memory_available(node, expected, now)
        seen.add((len(pods), available < eviction.THRESHOLD_BYTES))
    # It covered the leak growing, the eviction (the evicted pod is no candidate) and the pressure.
    assert sim.store.get("Pod", "default", "leak")["status"].get("reason") == "Evicted"
    assert {under for _, under in seen} == {False, True}


def test_image_references_parse_the_same_from_the_cache():
    references = ["nginx", "nginx:1.27", "docker.io/library/nginx:latest", "bitnami/redis:7", "localhost:5000/app",
                  "registry.k8s.io/pause:3.10", "Nginx", " nginx", "", "nginx@sha256:" + "a" * 64, "a/b/c:d"]
    for reference in references * 2:
        assert images.parse_reference(reference) == images._parse_reference(reference)
    assert images.parse_reference(None) is None
    assert images.lookup("nginx:alpine") is images.lookup("nginx")
