"""The scheduler's batch paths give exactly what the node-by-node plugin calls give.

`Plugin.filter_nodes` / `score_nodes` (one call over a few hundred nodes), the per-node score memo, the
chunked filter window and ImageLocality's early SKIP are speed-ups only: these tests compare them with
the plain per-node `filter` / `score` on varied nodes and pods, and check the kubelet's pod IPs per node.
"""

import random
from types import SimpleNamespace

from engine.clock import VirtualClock
from engine.kubelet.nodes import make_node
from engine.scheduler import registry
from engine.scheduler.framework import SKIP, CycleState, NodeInfo, PodInfo, Requests, pod_requests
from engine.scheduler.plugins import imagelocality
from engine.scheduler.scheduler import Scheduler
from engine.simulation import Simulation
from engine.store import MemoryStore


def random_node(rnd: random.Random, i: int) -> NodeInfo:
    taints = rnd.choice([[], [], [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
                         [{"key": "soft", "effect": "PreferNoSchedule"}]])
    node = make_node(f"node-{i}", cpu=rnd.choice(["1", "2", "4"]), memory=rnd.choice(["1Gi", "4Gi"]),
                     pods=rnd.choice([2, 5, 110]), taints=taints, index=i)
    node["spec"]["unschedulable"] = rnd.random() < 0.1
    if rnd.random() < 0.5:
        node["status"]["images"].append({"names": ["docker.io/library/nginx:1.27"],
                                         "sizeBytes": rnd.choice([50_000_000, 400_000_000])})
    info = NodeInfo(node)
    for j in range(rnd.randrange(4)):
        info.add_pod(("default", f"{i}-{j}"), Requests(cpu=rnd.choice([0, 300, 900]),
                                                       memory=rnd.choice([0, 2**28, 2**30]),
                                                       nonzero_cpu=300, nonzero_memory=2**28))
    return info


def random_pod(rnd: random.Random, i: int) -> PodInfo:
    requests = {k: v for k, v in (("cpu", rnd.choice([None, "100m", "1500m"])),
                                  ("memory", rnd.choice([None, "64Mi", "3Gi"]))) if v}
    container = {"name": "app", "image": rnd.choice(["nginx:1.27", "registry.k8s.io/pause:3.10"])}
    if requests:
        container["resources"] = {"requests": requests}
    spec = {"containers": [container]}
    if rnd.random() < 0.3:
        spec["tolerations"] = [{"operator": "Exists"}]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default"}, "spec": spec}
    return PodInfo(pod, pod_requests(pod), list(spec.get("tolerations") or []))


class FakeHandle:
    """What ImageLocality reads from the Scheduler: its nodes and the image spread over them."""

    sim = SimpleNamespace(cache=None)  # no Services or workloads: PodTopologySpread has no default selector

    def __init__(self, nodes: list[NodeInfo]):
        self.nodes = {n.name: n for n in nodes}
        self.image_spread, self.image_max_size = {}, {}
        for n in nodes:
            for image, size in n.images.items():
                self.image_spread[image] = self.image_spread.get(image, 0) + 1
                self.image_max_size[image] = max(size, self.image_max_size.get(image, 0))


def test_batch_filters_and_scores_equal_the_per_node_calls():
    rnd = random.Random(7)
    nodes = [random_node(rnd, i) for i in range(60)]
    plugins = registry.build(handle=FakeHandle(nodes))
    for i in range(40):
        pod = random_pod(rnd, i)
        for plugin, _ in plugins:
            state = CycleState()
            if plugin.has_filter and plugin.pre_filter(state, pod).code is not SKIP.code:
                expected = {j: s for j, n in enumerate(nodes) if not (s := plugin.filter(state, pod, n)).ok}
                assert plugin.filter_nodes(state, pod, nodes) == expected, plugin.name
            if plugin.has_score and plugin.pre_score(state, pod, nodes).code is not SKIP.code:
                expected = [plugin.score(state, pod, n) for n in nodes]
                assert plugin.score_nodes(state, pod, nodes) == expected, plugin.name
                assert plugin.score_nodes(state, pod, nodes) == expected, plugin.name  # from the memo


def test_the_memo_forgets_a_node_whose_pods_change():
    rnd = random.Random(3)
    node = random_node(rnd, 1)
    pod = random_pod(rnd, 1)
    (fit,) = [p for p, _ in registry.build() if p.name == "NodeResourcesFit"]
    before = fit.score_nodes(CycleState(), pod, [node])
    node.add_pod(("default", "big"), Requests(cpu=500, memory=2**29, nonzero_cpu=500, nonzero_memory=2**29))
    after = fit.score_nodes(CycleState(), pod, [node])
    assert after == [fit.score(CycleState(), pod, node)] and after != before
    node.remove_pod(("default", "big"))
    assert fit.score_nodes(CycleState(), pod, [node]) == before


def test_the_fit_verdict_memo_follows_the_node_filling_up():
    node = NodeInfo(make_node("small", cpu="1", memory="4Gi", index=1))
    rnd = random.Random(1)
    pod = random_pod(rnd, 0)
    pod.requests = Requests(cpu=600, memory=2**20, nonzero_cpu=600, nonzero_memory=2**20)
    (fit,) = [p for p, _ in registry.build() if p.name == "NodeResourcesFit"]
    assert fit.filter_nodes(CycleState(), pod, [node]) == {}
    node.add_pod(("default", "first"), pod.requests)
    (status,) = fit.filter_nodes(CycleState(), pod, [node]).values()
    assert status.reasons == ("Insufficient cpu",)
    node.remove_pod(("default", "first"))
    assert fit.filter_nodes(CycleState(), pod, [node]) == {}


def test_image_locality_skips_only_when_every_node_would_score_zero():
    rnd = random.Random(11)
    for round_ in range(30):
        nodes = [random_node(rnd, i) for i in range(rnd.randrange(1, 12))]
        plugin = imagelocality.new(FakeHandle(nodes))
        pod = random_pod(rnd, round_)
        state = CycleState()
        verdict = plugin.pre_score(state, pod, nodes)
        scores = [plugin.score(state, pod, n) for n in nodes]
        if verdict.code is SKIP.code:
            assert scores == [0] * len(nodes)


def make_sim(nodes: int) -> Simulation:
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=5, controllers=[Scheduler], profile="fast")
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    for i in range(1, nodes + 1):
        node = make_node(f"node-{i:03d}", cpu="1", pods=3 if i % 7 == 0 else 110, index=i,
                         taints=[{"key": "x", "effect": "NoSchedule"}] if i % 11 == 0 else None)
        sim.api.create(node)
    sim.tick()
    return sim


def reference_window(sched, info, filters, order, start, wanted):
    """The node-by-node loop the chunked window replaces."""
    feasible, rejected, processed = [], {}, 0
    for i in range(len(order)):
        node = sched.nodes[order[(start + i) % len(order)]]
        processed += 1
        for plugin in filters:
            status = plugin.filter(CycleState(), info, node)
            if not status.ok:
                rejected[node.name] = status
                break
        else:
            feasible.append(node)
            if len(feasible) >= wanted:
                break
    return [n.name for n in feasible], rejected, processed


def test_the_chunked_filter_window_matches_the_node_by_node_loop():
    sim = make_sim(300)
    sched = sim.controller("default-scheduler")
    rnd = random.Random(2)
    for i in range(200):  # fill some nodes so that cpu and pod counts reject them
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"fill-{i}", "namespace": "default"},
               "spec": {"containers": [{"name": "a", "image": "nginx:1.27",
                                        "resources": {"requests": {"cpu": rnd.choice(["300m", "900m"])}}}]}}
        sim.api.create(pod)
    sim.tick()
    order = sched.node_order()
    for i in range(30):
        info = random_pod(rnd, i)
        filters = [p for p in sched.filters if p.pre_filter(CycleState(), info).code is not SKIP.code]
        start, wanted = rnd.randrange(len(order)), rnd.choice([1, 7, 100, 300])
        feasible, rejected = [], {}
        processed = sched._filter_window(CycleState(), info, filters, order, start, wanted, feasible, rejected)
        names, expected_rejected, expected_processed = reference_window(sched, info, filters, order, start, wanted)
        assert [n.name for n in feasible] == names
        assert list(rejected.items()) == list(expected_rejected.items())  # same verdicts, in node order
        assert processed == expected_processed


def test_pod_ips_come_from_each_node_own_cidr_without_reuse():
    from engine.controllers import default_controllers

    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=1, controllers=default_controllers(), profile="fast")
    for ns in ("default", "kube-system", "kube-node-lease"):
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in (1, 2):
        sim.api.create(make_node(f"node-{i}", index=i, now=clock.now()))
    for i in range(12):
        sim.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default"},
                        "spec": {"containers": [{"name": "a", "image": "registry.k8s.io/pause:3.10"}]}})
    sim.run(10, step=0.5)
    pods = sim.cache.list("Pod", "default")
    assert all(p["status"].get("phase") == "Running" for p in pods)
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == len(ips)
    for p in pods:
        index = int(p["spec"]["nodeName"].rsplit("-", 1)[1])
        assert p["status"]["podIP"].startswith(f"10.244.{index}.")
