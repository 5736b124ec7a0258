"""The map pages' shared membership of their cluster's group (frontend.fanout) and the order a page sends in."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from cluster.asgi import application
from cluster.runtime import ensure_demo_cluster, group_name
from frontend.consumers import ClusterMapConsumer
from frontend.fanout import Hub, encode_delta, hub_for

HEADERS = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


def delta(revision: int) -> dict:
    return {"type": "cluster.delta", "cluster": "demo", "time": 1.0, "speed": 1.0, "paused": False,
            "revision": revision, "pods": [], "nodes": [], "deleted": [], "activities": [],
            "objects": [{"kind": "ConfigMap", "namespace": "default", "name": "c", "rv": revision}]}


@pytest.mark.django_db(transaction=True)
async def test_pages_of_a_process_share_one_member_of_the_group_and_all_get_each_delta():
    cluster = await sync_to_async(ensure_demo_cluster)("demo")
    layer = get_channel_layer()
    pages = []
    for _ in range(3):
        communicator = WebsocketCommunicator(application, "/ws/clusters/demo/", headers=HEADERS)
        assert (await communicator.connect())[0]
        assert (await communicator.receive_json_from(timeout=5))["type"] == "snapshot"
        pages.append(communicator)
    try:
        assert len(layer.groups[group_name(cluster.pk)]) == 1, "one member for the three pages"
        await layer.group_send(group_name(cluster.pk), delta(500))
        for page in pages:
            received = await page.receive_json_from(timeout=5)
            assert received["type"] == "delta" and received["revision"] == 500
    finally:
        for page in pages:
            await page.disconnect()
    assert not layer.groups.get(group_name(cluster.pk)), "the last page gone, the process leaves the group"


def test_a_delta_is_encoded_as_the_page_expects_it():
    assert json.loads(encode_delta(delta(7))) == {**delta(7), "type": "delta"}


class SlowSnapshotPage(ClusterMapConsumer):
    """A page whose snapshot read waits for the test, and whose socket is a list."""

    def __init__(self):
        super().__init__()
        self.sent: list[str] = []
        self.reading = asyncio.Event()
        self.release = asyncio.Event()
        self._pending, self._stale, self._snapshot_lock = [], False, asyncio.Lock()

    async def snapshot(self):
        self.reading.set()
        await self.release.wait()
        self.release.clear()
        return {"type": "snapshot", "revision": 10}

    async def base_send(self, message):
        sent = json.loads(message["text"])
        self.sent.append(f"{sent['type']}:{sent['revision']}")


async def test_deltas_that_arrive_while_the_snapshot_is_read_follow_it_in_order():
    page = SlowSnapshotPage()
    reading = asyncio.ensure_future(page.send_snapshot())
    await page.reading.wait()
    await page.deliver(encode_delta(delta(11)))
    await page.deliver(encode_delta(delta(12)))
    assert page.sent == []
    page.release.set()
    await reading
    await page.deliver(encode_delta(delta(13)))
    assert page.sent == ["snapshot:10", "delta:11", "delta:12", "delta:13"]


async def test_a_hub_hands_each_delta_to_every_page_even_if_one_fails():
    class Page:
        def __init__(self, fail=False):
            self.fail, self.got = fail, []

        async def deliver(self, text):
            if self.fail:
                raise ConnectionError("gone")
            self.got.append(json.loads(text)["revision"])

        async def send_snapshot(self):
            pass

    layer = get_channel_layer()
    hub = hub_for(layer, "cluster_fanout_test")
    assert isinstance(hub, Hub) and hub_for(layer, "cluster_fanout_test") is hub
    good, bad = Page(), Page(fail=True)
    await hub.add(bad)
    await hub.add(good)
    try:
        await layer.group_send("cluster_fanout_test", delta(3))
        for _ in range(100):
            if good.got:
                break
            await asyncio.sleep(0.01)
        assert good.got == [3]
    finally:
        await hub.remove(bad)
        await hub.remove(good)
    assert hub.channel is None
