"""Requests made from a pod shell in the web terminal reach the running Simulation: the map animates them and the
Service's counters count them, like the traffic generator's requests.

The shell sees the network through a NetworkView of the store (it runs in Channels' database thread, not in the
loop's); each flow it records is queued on the cluster's inbox and taken in by the runner at its next tick.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from cluster import runtime
from cluster.asgi import application
from cluster.models import Cluster
from cluster.runtime import SimulationRunner, ensure_demo_cluster, group_name
from cluster.store import DjangoStore
from engine.clock import VirtualClock
from engine.network import traffic
from engine.network.view import NetworkView
from engine.simulation import Simulation

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
SERVICE = "default/bootcamp-svc"


def demo_with_running_pods() -> tuple[Cluster, list[str]]:
    """The demo cluster after a minute of virtual time (simulated here, before the runner takes it), and the names
    of the bootcamp pods."""
    cluster = ensure_demo_cluster("demo")
    clock = VirtualClock(start=cluster.virtual_time)
    sim = Simulation(DjangoStore(cluster, now=clock.now), clock, seed=cluster.seed, profile="fast")
    sim.run(60, step=1.0)
    Cluster.objects.filter(pk=cluster.pk).update(virtual_time=clock.now())
    pods = sorted(p["metadata"]["name"] for p in sim.cache.list("Pod", "default")
                  if p["metadata"]["name"].startswith("bootcamp-"))
    return Cluster.objects.get(pk=cluster.pk), pods


async def terminal() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/clusters/demo/terminal/", headers=HEADERS)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "ready"
    return communicator


async def run(communicator, line: str, timeout: float = 10) -> tuple[str, str, int]:
    await communicator.send_json_to({"type": "run", "line": line})
    out, err = [], []
    while True:
        msg = await communicator.receive_json_from(timeout=timeout)
        if msg["type"] == "output":
            out.append(msg["stdout"])
            err.append(msg["stderr"])
        elif msg["type"] == "exit":
            return "".join(out), "".join(err), msg["code"]


async def next_delta(runner: SimulationRunner, layer, channel) -> dict:
    """The delta the runner publishes at its next tick (what earlier ticks published is dropped first)."""
    while True:
        try:
            await asyncio.wait_for(layer.receive(channel), timeout=0.05)
        except TimeoutError:
            break
    await runner.step()
    while True:
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        if message["type"] == "cluster.delta":
            return message


async def started_runner(cluster: Cluster, monkeypatch) -> SimulationRunner:
    """A runner that simulates the cluster in this process (as `manage.py serve` does), stepped by the test: its
    ticks never run while the terminal's thread uses the (in-memory SQLite) test database."""
    runner = SimulationRunner(tick_seconds=0.05, holder="test:terminal-traffic", cluster_names=[cluster.name])
    monkeypatch.setattr(runtime, "_current", runner)
    await runner.discover()
    await runner.step()  # builds the simulation
    assert runner.clusters[cluster.pk].sim is not None
    return runner


async def test_a_curl_in_the_terminal_is_a_flow_in_the_next_delta_and_counted_for_the_service(monkeypatch):
    cluster, pods = await sync_to_async(demo_with_running_pods)()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(cluster.pk), channel)
    runner = await started_runner(cluster, monkeypatch)
    communicator = await terminal()
    try:
        sim = runner.clusters[cluster.pk].sim
        before = await runner.call(traffic.service_stats, sim, "default", "bootcamp-svc")
        assert before["requests"] == 0

        out, err, code = await run(communicator, f"kubectl exec {pods[0]} -- curl -s bootcamp-svc")
        assert (out, err, code) == ("Hello Kubernetes!", "", 0)

        delta = await next_delta(runner, layer, channel)
        mine = [f for f in delta["flows"] if f["service"] == SERVICE]
        assert len(mine) == 1
        flow = mine[0]
        assert flow["client"] == "pod" and flow["outcome"] == "ok" and flow["status"] == 200
        assert flow["pod"] in {f"default/{name}" for name in pods}
        kinds = [hop["kind"] for hop in flow["hops"]]
        assert kinds[0] == "client" and flow["hops"][0]["name"] == pods[0]
        assert "dns" in kinds and "service" in kinds and kinds[-1] == "container"
        assert delta["services"][SERVICE]["requests"] == 1 and delta["services"][SERVICE]["errors"] == 0

        after = await runner.call(traffic.service_stats, sim, "default", "bootcamp-svc")
        assert after["requests"] == 1 and after["errors"] == 0 and after["p50_ms"] > 0
        # Numbered in the simulation's own sequence, kept with its recent flows.
        recent = await runner.call(traffic.recent_flows, sim)
        assert [f["id"] for f in recent if f["service"] == SERVICE] == [flow["id"]]
        # Taken in once: the inbox is empty, and the ticks after do not count it again.
        assert not runner.clusters[cluster.pk].inbox
        await runner.step()
        assert (await runner.call(traffic.service_stats, sim, "default", "bootcamp-svc"))["requests"] == 1

        # A failed request is a flow too: nothing listens on the other pod's port 81.
        pod_ip = await runner.call(lambda: sim.cache.get("Pod", "default", pods[1])["status"]["podIP"])
        out, err, code = await run(communicator, f"kubectl exec {pods[0]} -- curl -sS {pod_ip}:81")
        assert code == 7 and "Failed to connect" in err  # curl (7), passed on by kubectl exec
        delta = await next_delta(runner, layer, channel)
        refused = [f for f in delta["flows"] if f["pod"] == f"default/{pods[1]}"]
        assert len(refused) == 1 and refused[0]["outcome"] == "refused" and refused[0]["entry"] == "pod"
        assert delta["services"]["pod"]["errors"] == 1
    finally:
        await communicator.disconnect()
        await runner.stop()
        await layer.group_discard(group_name(cluster.pk), channel)


async def test_an_interactive_shells_wget_is_counted_too(monkeypatch):
    cluster, pods = await sync_to_async(demo_with_running_pods)()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(cluster.pk), channel)
    runner = await started_runner(cluster, monkeypatch)
    communicator = await terminal()
    try:
        await communicator.send_json_to({"type": "run", "line": f"kubectl exec -it {pods[1]} -- sh"})
        while (await communicator.receive_json_from(timeout=10))["type"] != "attached":
            pass
        for _ in range(2):
            await communicator.send_json_to({"type": "input", "data": "wget -q -O - bootcamp-svc"})
            text = ""
            while "Hello Kubernetes!" not in text:
                msg = await communicator.receive_json_from(timeout=10)
                text += msg.get("stdout", "") if msg["type"] == "output" else ""
        delta = await next_delta(runner, layer, channel)
        mine = [f for f in delta["flows"] if f["service"] == SERVICE]
        assert len(mine) == 2 and {f["outcome"] for f in mine} == {"ok"}
        assert len({f["id"] for f in mine}) == 2
        assert delta["services"][SERVICE]["requests"] == 2
    finally:
        await communicator.disconnect()
        await runner.stop()
        await layer.group_discard(group_name(cluster.pk), channel)


def test_a_flow_for_a_cluster_simulated_elsewhere_is_not_queued_here():
    cluster, _ = demo_with_running_pods()
    assert runtime.current_runner() is None
    assert runtime.submit_flow(cluster.pk, {"outcome": "ok", "latency_ms": 1.0}) is False
    # The view still records its own flows, and the request's answer does not depend on any sink.
    view = NetworkView(DjangoStore(cluster), cluster.virtual_now())
    pod = view.cache.list("Pod", "default")[0]
    response = traffic.request(view, pod, "bootcamp-svc")
    assert response.ok and response.body == "Hello Kubernetes!"


def test_take_in_numbers_flows_in_the_simulations_sequence_and_skips_malformed_ones():
    cluster, pods = demo_with_running_pods()
    clock = VirtualClock(start=cluster.virtual_time)
    sim = Simulation(DjangoStore(cluster, now=clock.now), clock, seed=cluster.seed, profile="fast")
    sim.start()
    own = traffic.request(sim, ("default", pods[0]), "bootcamp-svc")
    view = NetworkView(DjangoStore(cluster), clock.now())
    outside = traffic.request(view, ("default", pods[1]), "bootcamp-svc", record=False).flow
    assert outside["id"] == own.flow["id"]  # each side numbers its own flows from 1
    assert traffic.take_in(sim, [outside, {"outcome": "exploded", "latency_ms": 1}, "nonsense", {"outcome": "ok"}]) == 1
    drained = traffic.drain_flows(sim)
    assert [f["id"] for f in drained] == [own.flow["id"], own.flow["id"] + 1]
    assert drained[1]["client"]["name"] == pods[1] and outside["id"] == own.flow["id"]
    assert traffic.service_stats(sim, "default", "bootcamp-svc")["requests"] == 2
