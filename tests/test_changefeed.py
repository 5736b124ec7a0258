"""Commit notifications (cluster.changefeed), the watch streams' shared change-log tail (cluster.api.watchcache),
and what they make prompt: the simulation ticking for a request's write, a watch waking for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.test import AsyncClient

from cluster import changefeed
from cluster.api import watch, watchcache
from cluster.changefeed import FEED, ChangeFeed
from cluster.models import Cluster
from cluster.runtime import SimulationRunner, api_for, group_name
from engine.store import ADDED, Change

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"},
             "data": {"colour": "blue"}}


# --- the feed ------------------------------------------------------------------------------------

async def test_a_commit_announced_from_another_thread_wakes_a_waiter():
    feed = ChangeFeed()
    feed.bind()
    waiter = asyncio.ensure_future(feed.wait(7, after=10, timeout=5))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    threading.Thread(target=feed.committed, args=(7, 11)).start()
    assert await asyncio.wait_for(waiter, timeout=2) == 11
    # Known already: returns at once; an older or equal revision does not count as news.
    assert await feed.wait(7, after=10, timeout=5) == 11
    assert await feed.wait(7, after=11, timeout=0.05) == 11


async def test_listeners_hear_each_newer_revision_once():
    feed = ChangeFeed()
    feed.bind()
    heard = []
    feed.listen(3, lambda pk, rev: heard.append((pk, rev)))
    feed.committed(3, 5)
    feed.committed(3, 5)  # a duplicate (say, relayed back): nothing new
    feed.committed(3, 4)  # an older one arriving late
    feed.committed(4, 9)  # another cluster
    feed.committed(3, 6)
    await asyncio.sleep(0)
    assert heard == [(3, 5), (3, 6)]


def test_without_an_event_loop_announcing_is_a_no_op():
    feed = ChangeFeed()
    feed.committed(1, 2)  # a management command's write: fallback polls find it
    assert feed.revisions == {}


@pytest.mark.django_db(transaction=True)
async def test_a_write_through_api_for_is_announced_after_commit_and_not_on_rollback():
    def make():
        cluster = Cluster.objects.create(name="announced")
        api_for(cluster).create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        return cluster

    cluster = await sync_to_async(make)()
    FEED.bind()
    await asyncio.sleep(0.05)  # the namespace's own announcement, if it was bound already
    heard = []

    def listener(pk, rev):
        heard.append(rev)

    FEED.listen(cluster.pk, listener)
    try:
        def write_then_roll_back():
            with transaction.atomic():
                api_for(cluster).create(CONFIGMAP)
                assert heard == []  # not before the commit
                transaction.set_rollback(True)

        await sync_to_async(write_then_roll_back)()
        await asyncio.sleep(0.05)
        assert heard == []
        created = await sync_to_async(lambda: api_for(cluster).create(CONFIGMAP))()
        await asyncio.sleep(0.05)
        assert heard == [int(created["metadata"]["resourceVersion"])]
    finally:
        FEED.unlisten(cluster.pk, listener)


# --- the runner ticks for a request's write ----------------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_a_write_from_outside_the_loop_reaches_the_pages_before_the_next_tick():
    from engine.bootstrap import bootstrap_cluster

    def make():
        cluster = Cluster.objects.create(name="prompt")
        bootstrap_cluster(api_for(cluster), nodes=1)
        return cluster

    cluster = await sync_to_async(make)()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(cluster.pk), channel)
    # One regular pass at start, the next in a minute: only the commit can make the loop tick meanwhile.
    runner = SimulationRunner(tick_seconds=60, holder="test:prompt", cluster_names=["prompt"])
    runner.start()
    try:
        async def owned():
            return cluster.pk in runner.clusters and runner.clusters[cluster.pk].ticks >= 1

        for _ in range(200):
            if await owned():
                break
            await asyncio.sleep(0.05)
        assert await owned()
        ticks = runner.clusters[cluster.pk].ticks
        # The write runs in the loop's database thread (one thread at a time on the test database).
        created = await runner.call(lambda: api_for(cluster).create(CONFIGMAP))
        rv = int(created["metadata"]["resourceVersion"])

        async def delta_with_the_configmap():
            while True:
                message = await layer.receive(channel)
                if message["type"] == "cluster.delta" and any(
                        o["kind"] == "ConfigMap" and o["name"] == "settings" for o in message["objects"]):
                    return message

        message = await asyncio.wait_for(delta_with_the_configmap(), timeout=10)
        assert message["revision"] >= rv
        assert runner.clusters[cluster.pk].ticks == ticks + 1, "one early tick, not a regular pass"
    finally:
        await runner.stop()
        await layer.group_discard(group_name(cluster.pk), channel)


# --- watch streams wake on commit ----------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_a_watch_wakes_for_a_commit_without_waiting_for_its_fallback_poll(monkeypatch):
    from tests.api.conftest import make_cluster

    monkeypatch.setattr(watch, "POLL_SECONDS", 60.0)
    cluster = await sync_to_async(make_cluster)("wakes")
    prefix = f"/k8s/{cluster.access_key}"
    client = AsyncClient()
    path = prefix + "/api/v1/namespaces/default/configmaps"
    response = await client.get(path + "?watch=true&resourceVersion=0&timeoutSeconds=30")
    chunks = response.streaming_content.__aiter__()
    assert await chunks.__anext__() == b""  # the stream has started (and read nothing: no ConfigMaps yet)
    next_chunk = asyncio.ensure_future(chunks.__anext__())
    await asyncio.sleep(0.2)
    assert not next_chunk.done()
    created = await client.post(path, data=json.dumps(CONFIGMAP), content_type="application/json")
    assert created.status_code == 201
    event = json.loads(await asyncio.wait_for(next_chunk, timeout=5))
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "settings")
    assert event["object"]["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]
    await chunks.aclose()


# --- the shared tail of the change log ------------------------------------------------------------

class CountingStore:
    """A change log in memory that counts how often it is read."""

    def __init__(self):
        self.log: list[Change] = []
        self.reads = 0

    def add(self, revision: int) -> None:
        self.log.append(Change(revision, ADDED, {"kind": "ConfigMap", "metadata": {"name": f"c{revision}"}}))

    def changes_since(self, revision: int, limit: int | None = None) -> list[Change]:
        self.reads += 1
        return [c for c in self.log if c.revision > revision]


class NarrowingStore(CountingStore):
    """Also narrows a watch's reads by key, as DjangoStore does in SQL (counted apart)."""

    narrow_reads = 0

    def changes_for_watch(self, revision, kind=None, namespace=None, name=None):
        self.narrow_reads += 1
        last = self.log[-1].revision if self.log else revision
        return [c for c in self.log if c.revision > revision and (name is None or c.name == name)], last


def test_a_watch_resuming_from_long_ago_reads_only_its_object_then_follows_the_tail():
    store = NarrowingStore()
    for rev in range(1, 6):
        store.add(rev)
    stream = watchcache.TailStore(store, watchcache.ChangeTail())
    changes, last = stream.changes_for_watch(0, "ConfigMap", None, "c2")
    assert (revisions(changes), last, store.narrow_reads, store.reads) == ([2], 5, 1, 0)
    store.add(6)
    stream.wanted = 6
    changes, last = stream.changes_for_watch(5, "ConfigMap", None, "c6")  # inside the tail now: read from it
    assert (revisions(changes), last, store.narrow_reads, store.reads) == ([6], 6, 1, 1)
    assert stream.changes_for_watch(6, "ConfigMap", None, "c2") == ([], 6)


def revisions(changes: list[Change]) -> list[int]:
    return [c.revision for c in changes]


def test_streams_woken_for_the_same_commit_read_the_log_once():
    store, tail = CountingStore(), watchcache.ChangeTail()
    for rev in (1, 2, 3):
        store.add(rev)
    assert revisions(tail.changes_since(store, 1)) == [2, 3]  # starts the tail
    store.add(4)
    store.add(5)
    # Ten streams at revision 3, each woken for revision 5: one read between them.
    reads = store.reads
    answers = [tail.changes_since(store, 3, wanted=5) for _ in range(10)]
    assert all(revisions(a) == [4, 5] for a in answers)
    assert store.reads == reads + 1
    # A stream further back inside the tail gets exactly what follows its position.
    assert revisions(tail.changes_since(store, 2, wanted=5)) == [3, 4, 5]
    # A fallback poll (nothing announced) reads the database.
    tail.changes_since(store, 5)
    assert store.reads == reads + 2


def test_a_stream_behind_the_tail_reads_on_its_own_and_the_tail_stays_bounded():
    store, tail = CountingStore(), watchcache.ChangeTail(limit=3)
    for rev in range(1, 8):
        store.add(rev)
    assert revisions(tail.changes_since(store, 0)) == [1, 2, 3, 4, 5, 6, 7]
    assert revisions(tail.changes) == [5, 6, 7] and tail.start == 4
    assert revisions(tail.changes_since(store, 1, wanted=7)) == [2, 3, 4, 5, 6, 7]  # behind: its own read
    assert revisions(tail.changes_since(store, 4, wanted=7)) == [5, 6, 7]


def test_the_tail_is_dropped_with_its_last_stream():
    first = watchcache.acquire("default", 99)
    assert watchcache.acquire("default", 99) is first
    watchcache.release("default", 99)
    watchcache.release("default", 99)
    assert watchcache.acquire("default", 99) is not first
    watchcache.release("default", 99)


def test_the_relay_group_is_per_cluster():
    assert changefeed.group_name(12) == "changes_12"


# --- across processes (two feeds on one Redis, as two processes would be) ------------------------

@contextlib.asynccontextmanager
async def web_and_worker():
    """Two feeds, each bound and on a Redis layer of its own (as a web process and a worker are): the worker
    follows cluster 5; the web follows cluster 6 only, so its relay exists and publishes for any cluster."""
    import secrets

    redis = pytest.importorskip("redis")
    from channels_redis.core import RedisChannelLayer

    url = "redis://127.0.0.1:6379/13"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.close()
    except redis.RedisError:
        pytest.skip("no Redis server at 127.0.0.1:6379")
    prefix = f"kubedojo-test-{secrets.token_hex(4)}"
    web_layer, worker_layer = (RedisChannelLayer(hosts=[url], prefix=prefix) for _ in range(2))
    web, worker = ChangeFeed(), ChangeFeed()
    web.bind()
    worker.bind()
    await worker.follow(5, worker_layer)
    await web.follow(6, web_layer)
    try:
        yield web, worker
    finally:
        await worker.unfollow(5)
        await web.unfollow(6)
        await web_layer.flush()
        for layer in (web_layer, worker_layer):
            await layer.close_pools()


async def test_a_commit_in_one_process_wakes_a_follower_in_another_through_redis():
    async with web_and_worker() as (web, worker):
        heard = []
        worker.listen(5, lambda pk, rev: heard.append(rev))
        web.committed(5, 42)
        assert await worker.wait(5, after=0, timeout=5) == 42
        assert heard == [42]


async def test_a_flow_recorded_in_one_process_reaches_the_runner_of_its_cluster_in_another():
    """A web terminal's curl served by a daphne process: its flow goes to the process simulating the cluster."""
    async with web_and_worker() as (web, worker):
        heard = asyncio.Queue()
        worker.listen_flows(5, lambda pk, flow: heard.put_nowait((pk, flow)))
        flow = {"outcome": "ok", "latency_ms": 1.5, "request": {"url": "http://web"}}
        # From the thread the terminal's command ran in, as a real one is recorded.
        assert await asyncio.get_running_loop().run_in_executor(None, web.flow, 5, flow)
        assert await asyncio.wait_for(heard.get(), timeout=5) == (5, flow)
        web.flow(7, flow)  # a cluster nobody simulates: nobody hears it
        worker.unlisten_flows(5, worker._flow_listeners[5])
        web.flow(5, flow)
        await asyncio.sleep(0.3)
        assert heard.empty()


async def test_with_one_process_a_flow_has_nowhere_else_to_go():
    feed = ChangeFeed()
    assert not feed.flow(5, {"outcome": "ok"})  # no event loop bound
    feed.bind()
    await feed.follow(5, InMemoryChannelLayer())
    try:
        assert feed._single_process and not feed.flow(5, {"outcome": "ok"})
    finally:
        await feed.unfollow(5)
