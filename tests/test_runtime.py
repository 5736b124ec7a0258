"""The runtime: virtual time outside the loop, the simulation runner on SQLite, leases, the demo cluster.

The runner's database work happens in its one thread; these tests read through `runner.call` too, so
only one thread touches the (shared in-memory) test database at a time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from cluster.models import Cluster, SimulationLease
from cluster.runtime import (
    POLL_MAX_SECONDS,
    PROMPT_GAP_SECONDS,
    SimulationRunner,
    api_for,
    ensure_demo_cluster,
    group_name,
    set_clock,
    virtual_now,
)
from cluster.store import DjangoStore
from engine.resources.tables import pod_status

BOOTCAMP = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "bootcamp", "namespace": "default", "labels": {"app": "bootcamp"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "bootcamp"}},
        "template": {
            "metadata": {"labels": {"app": "bootcamp"}},
            "spec": {"containers": [{"name": "bootcamp", "image": "gcr.io/google-samples/node-hello:1.0",
                                     "ports": [{"containerPort": 8080}]}]},
        },
    },
}


def make_cluster(name: str, speed: float = 20.0, workload: bool = True) -> Cluster:
    from engine.bootstrap import bootstrap_cluster

    cluster = Cluster.objects.create(name=name, speed=speed)
    api = api_for(cluster)
    bootstrap_cluster(api, nodes=3)
    if workload:
        api.create(BOOTCAMP)
    return Cluster.objects.get(pk=cluster.pk)


def pod_statuses(cluster_pk: int) -> dict[str, str]:
    store = DjangoStore(Cluster.objects.get(pk=cluster_pk))
    pods, _ = store.list("Pod", "default")
    return {p["metadata"]["name"]: pod_status(p) for p in pods}


async def eventually(check, timeout: float = 30.0, interval: float = 0.1):
    """Await `check()` until it returns something truthy; fail after `timeout` wall seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not reached in {timeout}s; last value: {value!r}")
        await asyncio.sleep(interval)


# --- virtual time outside the loop --------------------------------------------------------------

def test_virtual_now_moves_with_wall_time_times_speed():
    saved = timezone.now()
    cluster = Cluster(name="t", virtual_time=1000.0, speed=2.0, paused=False, updated=saved)
    assert virtual_now(cluster, wall_now=saved.timestamp()) == pytest.approx(1000.0)
    assert virtual_now(cluster, wall_now=saved.timestamp() + 10) == pytest.approx(1020.0)


def test_virtual_now_stands_still_while_paused():
    saved = timezone.now()
    cluster = Cluster(name="t", virtual_time=1000.0, speed=5.0, paused=True, updated=saved)
    assert virtual_now(cluster, wall_now=saved.timestamp() + 60) == 1000.0


@pytest.mark.django_db
def test_a_new_clusters_clock_starts_at_the_real_time():
    # The real kubectl ages Events in `describe` from its own clock: at 1x they must read as seconds, not days.
    before = time.time()
    cluster = Cluster.objects.create(name="fresh")
    assert before - 1 <= cluster.virtual_time <= time.time()


@pytest.mark.django_db
def test_set_clock_keeps_virtual_time_continuous():
    cluster = Cluster.objects.create(name="clock", virtual_time=5000.0, speed=1.0)
    Cluster.objects.filter(pk=cluster.pk).update(updated=timezone.now() - timedelta(seconds=30))
    before = virtual_now(Cluster.objects.get(pk=cluster.pk))
    paused = set_clock(cluster, paused=True)
    assert paused.paused
    assert paused.virtual_time == pytest.approx(before, abs=1.0)
    assert virtual_now(paused, wall_now=time.time() + 100) == paused.virtual_time
    fast = set_clock(paused, paused=False, speed=20)
    assert (fast.speed, fast.paused) == (20.0, False)
    assert fast.virtual_time == pytest.approx(paused.virtual_time)


@pytest.mark.django_db
def test_api_for_stamps_virtual_time():
    cluster = make_cluster("stamps", workload=False)
    Cluster.objects.filter(pk=cluster.pk).update(virtual_time=1767225600.0 + 3600, paused=True)
    api = api_for(Cluster.objects.get(pk=cluster.pk))
    cm = api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}})
    assert cm["metadata"]["creationTimestamp"] == "2026-01-01T01:00:00Z"


# --- the demo cluster --------------------------------------------------------------------------

@pytest.mark.django_db
def test_ensure_demo_cluster_bootstraps_once():
    first = ensure_demo_cluster("demo")
    again = ensure_demo_cluster("demo")
    assert first.pk == again.pk
    assert Cluster.objects.filter(name="demo").count() == 1
    store = DjangoStore(again)
    nodes, _ = store.list("Node")
    assert len(nodes) == 4
    control_planes = [n for n in nodes if "node-role.kubernetes.io/control-plane" in (n["metadata"].get("labels") or {})]
    assert len(control_planes) == 1
    namespaces = {n["metadata"]["name"] for n in store.list("Namespace")[0]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= namespaces
    deployments, _ = store.list("Deployment", "default")
    assert [d["metadata"]["name"] for d in deployments] == ["bootcamp"]
    assert deployments[0]["spec"]["replicas"] == 2
    image = deployments[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "gcr.io/google-samples/node-hello:1.0"


@pytest.mark.django_db
def test_ensure_demo_cluster_leaves_a_learners_changes_alone():
    cluster = ensure_demo_cluster("demo")
    api_for(cluster).delete("Deployment", "default", "bootcamp")
    ensure_demo_cluster("demo")
    assert DjangoStore(cluster).get("Deployment", "default", "bootcamp") is None


# --- the runner --------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_runner_brings_a_deployment_to_running_and_publishes_deltas(settings):
    settings.KUBEDOJO_PROFILE = "fast"
    cluster = await sync_to_async(make_cluster)("ticks", speed=20.0)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(cluster.pk), channel)
    runner = SimulationRunner(tick_seconds=0.05, holder="test:runner", cluster_names=["ticks"])
    runner.start()
    try:
        async def both_running():
            statuses = await runner.call(pod_statuses, cluster.pk)
            return len(statuses) == 2 and set(statuses.values()) == {"Running"} and statuses

        running = await eventually(both_running)
        # The loop stored its virtual time, and the pages heard about the pods.
        stored = await runner.call(lambda: Cluster.objects.get(pk=cluster.pk).virtual_time)
        assert stored > cluster.virtual_time
        # First a resync nudge (the loop took the cluster over), then one delta per tick that changed something.
        assert (await asyncio.wait_for(layer.receive(channel), timeout=5))["type"] == "cluster.resync"
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 10
        while set(seen.get(name) for name in running) != {"Running"} and time.monotonic() < deadline:
            message = await asyncio.wait_for(layer.receive(channel), timeout=5)
            assert message["type"] == "cluster.delta"
            assert message["cluster"] == "ticks"
            seen.update({p["name"]: p["status"] for p in message["pods"]})
        assert {seen[name] for name in running} == {"Running"}
    finally:
        await runner.stop()
        await layer.group_discard(group_name(cluster.pk), channel)
    lease_left = await sync_to_async(SimulationLease.objects.filter(cluster_id=cluster.pk).exists)()
    assert not lease_left, "stop() releases the lease"


@pytest.mark.django_db(transaction=True)
async def test_the_loop_stores_its_clock_only_when_requests_extrapolation_would_stray():
    cluster = await sync_to_async(make_cluster)("stamps", speed=1.0, workload=False)
    runner = SimulationRunner(holder="test:stamps", cluster_names=["stamps"])

    async def stored():
        return await runner.call(lambda: Cluster.objects.values_list("virtual_time_saved_at", flat=True)
                                 .get(pk=cluster.pk))

    try:
        await runner.discover()
        await runner.step()  # the first tick stores the clock
        first = await stored()
        for _ in range(4):
            await asyncio.sleep(0.05)
            await runner.step()
        assert await stored() == first  # keeping pace: what requests extrapolate is the clock
        row = await runner.call(Cluster.objects.get, pk=cluster.pk)
        sim_clock = runner.clusters[cluster.pk].sim.clock
        assert sim_clock.now() <= virtual_now(row) < sim_clock.now() + 1.0  # ahead only by the wall time since
        sim_clock.advance(5.0)  # the loop's clock moved on its own (as after a stall): stored at the next tick
        await runner.step()
        assert await stored() > first
        row = await runner.call(Cluster.objects.get, pk=cluster.pk)
        assert sim_clock.now() <= virtual_now(row) < sim_clock.now() + 1.0
    finally:
        await runner.stop()


@pytest.mark.django_db(transaction=True)
async def test_a_second_runner_does_not_tick_a_cluster_the_first_holds():
    cluster = await sync_to_async(make_cluster)("leased", workload=False)
    first = SimulationRunner(holder="host:1:a", cluster_names=["leased"])
    second = SimulationRunner(holder="host:2:b", cluster_names=["leased"])
    try:
        await first.discover()
        await second.discover()
        assert list(first.clusters) == [cluster.pk]
        assert second.clusters == {}
        await first.step()
        await second.step()
        assert first.clusters[cluster.pk].ticks == 1
        assert second.clusters == {}

        # The first worker dies (its lease runs out): the second takes over, the first learns it lost it.
        await first.call(lambda: SimulationLease.objects.filter(cluster_id=cluster.pk).update(
            renew_deadline=timezone.now() - timedelta(seconds=1)))
        await second.discover()
        assert list(second.clusters) == [cluster.pk]
        await first.renew()
        assert first.clusters == {}
        await second.step()
        assert second.clusters[cluster.pk].ticks == 1
    finally:
        await first.stop()
        await second.stop()


@pytest.mark.django_db(transaction=True)
async def test_a_crashing_cluster_is_retried_and_does_not_stop_the_others(caplog):
    await sync_to_async(make_cluster)("healthy", workload=False)
    broken = await sync_to_async(make_cluster)("broken", workload=False)
    runner = SimulationRunner(holder="host:1:c", cluster_names=["healthy", "broken"])

    class Exploding:
        def tick(self, _seconds, **_options):
            raise RuntimeError("boom")

    try:
        await runner.discover()
        await runner.step()  # builds both simulations
        runner.clusters[broken.pk].sim.tick = Exploding().tick
        await runner.step()
        by_name = {s.name: s for s in runner.clusters.values()}
        assert by_name["healthy"].ticks == 2
        assert by_name["broken"].failures == 1
        assert by_name["broken"].sim is None, "rebuilt from the stored state on the retry"
        assert "boom" in caplog.text
        by_name["broken"].retry_at = 0.0
        await runner.step()
        assert by_name["broken"].failures == 0
        assert by_name["broken"].ticks == 2
    finally:
        await runner.stop()


@pytest.mark.django_db(transaction=True)
async def test_a_cluster_deleted_during_its_tick_is_dropped_quietly(caplog):
    doomed = await sync_to_async(make_cluster)("doomed", workload=False)
    runner = SimulationRunner(holder="host:1:d", cluster_names=["doomed"])
    try:
        await runner.discover()
        await runner.step()
        sim, call = runner.clusters[doomed.pk].sim, runner.call

        def store_finds_the_cluster_gone(_seconds, **_options):
            raise Cluster.DoesNotExist('cluster "doomed" does not exist')  # as DjangoStore's reads say it

        async def deleted_meanwhile(fn, *args, **kwargs):
            try:
                return await call(fn, *args, **kwargs)
            except Cluster.DoesNotExist:
                # An instructor reclaimed the seat: another connection committed the deletion during the tick.
                await sync_to_async(Cluster.objects.filter(pk=doomed.pk).delete)()
                raise

        sim.tick, runner.call = store_finds_the_cluster_gone, deleted_meanwhile
        await runner.step()
        assert doomed.pk not in runner.clusters
        assert "tick failed" not in caplog.text and "Traceback" not in caplog.text
    finally:
        await runner.stop()


@pytest.mark.django_db(transaction=True)
async def test_runner_follows_pause_stored_on_the_cluster():
    cluster = await sync_to_async(make_cluster)("pausing", workload=False, speed=10.0)
    runner = SimulationRunner(holder="host:1:d", cluster_names=["pausing"])
    try:
        await runner.discover()
        await runner.step()
        await runner.call(set_clock, cluster, paused=True)
        await runner.step()
        state = runner.clusters[cluster.pk]
        frozen = state.sim.clock.now()
        assert state.sim.clock.paused
        await asyncio.sleep(0.2)
        await runner.step()
        assert state.sim.clock.now() == frozen
        await runner.call(set_clock, cluster, paused=False)
        await asyncio.sleep(0.2)
        await runner.step()
        assert state.sim.clock.now() > frozen
    finally:
        await runner.stop()


@pytest.mark.django_db(transaction=True)
async def test_the_scaled_out_worker_runs_the_loop_and_takes_nudges():
    from cluster.asgi import application
    from cluster.management.commands.runworker import SimulationWorker
    from cluster.runtime import SIMULATION_CHANNEL

    await sync_to_async(make_cluster)("worked", workload=False)
    layer = get_channel_layer()
    worker = SimulationWorker(application=application, channels=[SIMULATION_CHANNEL], channel_layer=layer)
    task = asyncio.ensure_future(worker.handle())
    try:
        async def owns_worked():
            return worker.runner is not None and any(s.name == "worked" for s in worker.runner.clusters.values())

        await eventually(owns_worked, timeout=10)
        # A cluster created later is found at once when someone nudges the worker channel.
        worker.runner.discover_seconds = 3600.0  # no periodic look: only the nudge can find it
        worker.runner._next_discover = time.monotonic() + 3600.0
        await worker.runner.call(make_cluster, "later", workload=False)  # the loop's thread: one writer at a time
        await layer.send(SIMULATION_CHANNEL, {"type": "cluster.nudge", "cluster": None})

        async def owns_later():
            return any(s.name == "later" for s in worker.runner.clusters.values())

        await eventually(owns_later, timeout=10)
    finally:
        if worker.stopping is not None:
            worker.stopping.set()
        await asyncio.wait_for(task, timeout=30)
    assert not await sync_to_async(SimulationLease.objects.exists)(), "leases released on stop"


@pytest.mark.django_db(transaction=True)
async def test_a_tick_reads_others_commits_when_announced_and_at_least_every_poll_max():
    cluster = await sync_to_async(make_cluster)("news", speed=1.0, workload=False)
    runner = SimulationRunner(holder="test:news", cluster_names=["news"])

    def configmap(name: str) -> dict:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}

    try:
        await runner.discover()
        await runner.step()
        state = runner.clusters[cluster.pk]
        sim = state.sim
        polls = []
        poll = sim.store.changes_for_cache
        sim.store.changes_for_cache = lambda revision: polls.append(revision) or poll(revision)
        await asyncio.sleep(0.02)
        writes = sim.store.writes
        await runner.step()
        if sim.store.writes == writes:
            assert polls == []  # nothing announced, nothing of its own to read back: no query
        # Announced (a request's write): ticked early, and read at once.
        await runner.call(api_for(cluster).create, configmap("announced"))
        await eventually(lambda: runner.call(lambda: bool(state.behind())), timeout=5)
        await runner.prompt()
        await asyncio.sleep(PROMPT_GAP_SECONDS)
        await runner.prompt()
        assert sim.cache.get("ConfigMap", "default", "announced") is not None
        # Not announced (a plain store, as a management command writes): read within POLL_MAX_SECONDS.
        await runner.call(DjangoStore(cluster).create, configmap("quiet"))
        started = time.monotonic()
        while sim.cache.get("ConfigMap", "default", "quiet") is None:
            assert time.monotonic() - started < POLL_MAX_SECONDS + 0.5
            await asyncio.sleep(0.05)
            await runner.step()
    finally:
        await runner.stop()


@pytest.mark.django_db
def test_a_pass_reads_the_settings_of_its_clusters_together(monkeypatch):
    from cluster import runtime

    monkeypatch.setattr(runtime, "SETTINGS_BATCH", 2)
    clusters = [Cluster.objects.create(name=f"s{i}", speed=1.0 + i, paused=i == 1) for i in range(3)]
    pks = [c.pk for c in clusters]
    found = runtime._tick_settings_of([*pks, max(pks) + 100])  # the last is gone: left out
    assert sorted(found) == pks
    assert all(found[pk] == runtime._tick_settings(pk) for pk in pks)
    assert (found[pks[2]]["speed"], found[pks[1]]["paused"], found[pks[0]]["name"]) == (3.0, True, "s0")
