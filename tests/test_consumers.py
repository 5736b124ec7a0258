"""The map's WebSocket consumer, through the real ASGI application and a real test database."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from cluster.asgi import application
from cluster.models import Cluster
from cluster.runtime import ensure_demo_cluster, group_name
from cluster.store import DjangoStore
from engine.clock import VirtualClock
from engine.simulation import Simulation

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


def demo_with_running_pods() -> Cluster:
    """The demo cluster after a minute of virtual time (run here, without a runner)."""
    cluster = ensure_demo_cluster("demo")
    clock = VirtualClock(start=cluster.virtual_time)
    sim = Simulation(DjangoStore(cluster, now=clock.now), clock, seed=cluster.seed, profile="fast")
    sim.run(60, step=1.0)
    Cluster.objects.filter(pk=cluster.pk).update(virtual_time=clock.now())
    return Cluster.objects.get(pk=cluster.pk)


async def connect(path: str = "/ws/clusters/demo/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=HEADERS)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_connect_receives_a_snapshot_with_nodes_and_pods():
    cluster = await sync_to_async(demo_with_running_pods)()
    communicator = await connect()
    try:
        snapshot = await communicator.receive_json_from(timeout=5)
    finally:
        await communicator.disconnect()
    assert snapshot["type"] == "snapshot"
    assert snapshot["cluster"] == "demo"
    assert snapshot["time"] >= cluster.virtual_time
    assert snapshot["revision"] > 0
    nodes = {n["name"]: n for n in snapshot["nodes"]}
    assert len(nodes) == 4
    assert sum(1 for n in nodes.values() if n["control_plane"]) == 1
    assert all(n["status"] == "Ready" for n in nodes.values())
    assert all(n["cpu"]["allocatable"] > 0 and n["memory"]["allocatable"] > 0 for n in nodes.values())
    bootcamp = [p for p in snapshot["pods"] if p["namespace"] == "default" and p["name"].startswith("bootcamp-")]
    assert len(bootcamp) == 2
    for pod in bootcamp:
        assert pod["status"] == "Running"
        assert pod["ready"] == "1/1"
        assert pod["node"] in nodes and not nodes[pod["node"]]["control_plane"]
        assert pod["owner"].startswith("ReplicaSet/bootcamp-")
        assert pod["key"] == f"default/{pod['name']}"
        assert pod["ip"]
    kinds = {o["kind"] for o in snapshot["objects"]}
    assert {"Deployment", "ReplicaSet", "Namespace"} <= kinds
    assert "Event" not in kinds


async def test_a_delta_published_to_the_group_reaches_the_page():
    cluster = await sync_to_async(ensure_demo_cluster)("demo")
    communicator = await connect()
    try:
        assert (await communicator.receive_json_from(timeout=5))["type"] == "snapshot"
        delta = {"type": "cluster.delta", "cluster": "demo", "time": 1767225700.0, "speed": 5.0, "paused": False,
                 "revision": 99, "pods": [{"key": "default/p", "name": "p", "status": "Terminating", "rv": 99}],
                 "nodes": [], "objects": [], "deleted": [], "activities": []}
        await get_channel_layer().group_send(group_name(cluster.pk), delta)
        received = await communicator.receive_json_from(timeout=5)
    finally:
        await communicator.disconnect()
    assert received["type"] == "delta"
    assert received["pods"] == delta["pods"]
    assert (received["time"], received["speed"], received["revision"]) == (1767225700.0, 5.0, 99)


async def test_a_resync_nudge_from_the_loop_sends_a_fresh_snapshot():
    cluster = await sync_to_async(ensure_demo_cluster)("demo")
    communicator = await connect()
    try:
        assert (await communicator.receive_json_from(timeout=5))["type"] == "snapshot"
        await get_channel_layer().group_send(group_name(cluster.pk), {"type": "cluster.resync"})
        again = await communicator.receive_json_from(timeout=5)
    finally:
        await communicator.disconnect()
    assert again["type"] == "snapshot"
    assert len(again["nodes"]) == 4


async def test_resync_sends_a_fresh_snapshot():
    await sync_to_async(ensure_demo_cluster)("demo")
    communicator = await connect()
    try:
        first = await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"type": "resync"})
        second = await communicator.receive_json_from(timeout=5)
    finally:
        await communicator.disconnect()
    assert second["type"] == "snapshot"
    assert second["revision"] == first["revision"]


async def test_an_unknown_cluster_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/clusters/nope/", headers=HEADERS)
    connected, _ = await communicator.connect()
    assert not connected


async def test_another_learners_cluster_is_refused():
    await sync_to_async(Cluster.objects.create)(name="seat-7")
    communicator = WebsocketCommunicator(application, "/ws/clusters/seat-7/", headers=HEADERS)
    connected, _ = await communicator.connect()
    assert not connected



# --- the web terminal ------------------------------------------------------------------------------
async def terminal():
    communicator = await connect("/ws/clusters/demo/terminal/")
    ready = await communicator.receive_json_from(timeout=5)
    assert ready["type"] == "ready" and ready["namespace"] == "default" and ready["kubectl"] is True
    return communicator


async def run(communicator, line: str, timeout: float = 10) -> tuple[str, str, int]:
    """Send a line and collect stdout, stderr and the exit code, as the page's terminal shows them."""
    await communicator.send_json_to({"type": "run", "line": line})
    out, err = [], []
    while True:
        msg = await communicator.receive_json_from(timeout=timeout)
        if msg["type"] == "output":
            out.append(msg["stdout"])
            err.append(msg["stderr"])
        elif msg["type"] == "exit":
            return "".join(out), "".join(err), msg["code"]


async def test_the_terminal_runs_kubectl_against_the_cluster():
    await sync_to_async(demo_with_running_pods)()
    communicator = await terminal()
    try:
        out, err, code = await run(communicator, "kubectl get nodes")
        assert code == 0 and err == ""
        lines = out.splitlines()
        assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        assert sorted(line.split()[0] for line in lines[1:]) == ["controlplane", "node-1", "node-2", "node-3"]

        out, err, code = await run(communicator, "k get deploy bootcamp")
        assert code == 0 and out.splitlines()[1].split()[:2] == ["bootcamp", "2/2"]

        out, err, code = await run(communicator, "kubectl get pods nope")
        assert (out, err, code) == ("", 'Error from server (NotFound): pods "nope" not found\n', 1)

        out, err, code = await run(communicator, "frobnicate")
        assert (err, code) == ("bash: frobnicate: command not found\n", 127)
    finally:
        await communicator.disconnect()


async def test_the_editors_files_can_be_applied_from_the_terminal():
    await sync_to_async(demo_with_running_pods)()
    communicator = await terminal()
    try:
        await communicator.send_json_to({"type": "files", "files": {"app.yml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: dojo\n")}})
        out, _, _ = await run(communicator, "ls")
        assert out == "app.yml\n"
        out, err, code = await run(communicator, "kubectl apply -f app.yml")
        assert (out, err, code) == ("configmap/settings created\n", "", 0)
        out, _, code = await run(communicator, "kubectl get configmap settings -o jsonpath={.data.mode}")
        assert (out, code) == ("dojo", 0)
    finally:
        await communicator.disconnect()


async def test_tab_completion_offers_kinds_and_names():
    await sync_to_async(demo_with_running_pods)()
    communicator = await terminal()
    try:
        await communicator.send_json_to({"type": "complete", "line": "kubectl get deployments boot", "cursor": 28})
        msg = await communicator.receive_json_from(timeout=5)
        assert msg["type"] == "completions" and msg["items"] == ["bootcamp"]
        assert msg["replace"] == [24, 28]
        await communicator.send_json_to({"type": "complete", "line": "kubectl get deploym", "cursor": 19})
        msg = await communicator.receive_json_from(timeout=5)
        assert "deployments" in msg["items"]
    finally:
        await communicator.disconnect()


async def test_ctrl_c_stops_a_watch():
    await sync_to_async(demo_with_running_pods)()
    communicator = await terminal()
    try:
        await communicator.send_json_to({"type": "run", "line": "kubectl get pods -w"})
        first = await communicator.receive_json_from(timeout=5)
        assert first["type"] == "output" and first["stdout"].startswith("NAME")
        await communicator.send_json_to({"type": "interrupt"})
        while True:
            msg = await communicator.receive_json_from(timeout=5)
            if msg["type"] == "exit":
                break
        assert msg["code"] == 130
        out, _, code = await run(communicator, "kubectl get ns default -o name")
        assert (out, code) == ("namespace/default\n", 0)
    finally:
        await communicator.disconnect()


async def test_an_unknown_clusters_terminal_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/clusters/nope/terminal/", headers=HEADERS)
    connected, code = await communicator.connect()
    assert not connected and code == 4404
