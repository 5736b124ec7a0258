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

