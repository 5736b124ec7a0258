"""What keeps a big cluster cheap, checked for behaviour: resyncs worked through in batches, one shared copy of
each object between a MemoryStore and the informer, owner-index lookups, the garbage collector's incremental
resync, and controllers' typed writes skipping the decode checks that a kubectl write gets."""

from __future__ import annotations

import pytest

from engine import errors
from engine.controllers.base import Controller, WorkQueue
from engine.controllers.garbagecollector import GarbageCollector
from engine.simulation import RESYNC_KEYS_PER_TICK, RESYNC_SECONDS
from tests.engine.cluster import make_cluster


def configmap(name: str, owner: dict | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "default"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"]}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {}}


# --- the work queue's resync backlog -----------------------------------------------------------------

def test_keys_a_resync_adds_wait_in_the_backlog_and_come_out_in_batches():
    queue = WorkQueue()
    with queue.deferring():
        for i in range(5):
            queue.add(("ConfigMap", "default", f"c{i}"))
    assert queue.pop() is None
    queue.release_deferred(2)
    assert [queue.pop(), queue.pop(), queue.pop()] == [("ConfigMap", "default", "c0"),
                                                      ("ConfigMap", "default", "c1"), None]
    queue.release_deferred(10)
    assert len(queue) == 3


def test_a_change_takes_a_key_out_of_the_backlog_at_once():
    queue = WorkQueue()
    with queue.deferring():
        queue.add(("ConfigMap", "default", "a"))
        queue.add(("ConfigMap", "default", "b"))
    queue.add(("ConfigMap", "default", "b"))
    assert queue.pop() == ("ConfigMap", "default", "b")
    assert queue.pop() is None
    queue.release_deferred(10)
    assert queue.pop() == ("ConfigMap", "default", "a")
    assert queue.pop() is None


class Counting(Controller):
    name = "counting"
    primary_kind = "ConfigMap"

    def __init__(self, sim):
        super().__init__(sim)
        self.synced: list[float] = []

    def sync(self, key) -> None:
        self.synced.append(self.sim.clock.now())


def test_a_big_periodic_resync_is_spread_over_ticks_and_a_small_one_fits_in_one():
    sim = make_cluster(workers=0, control_plane=False, controllers=[Counting])
    counting = sim.controller("counting")
    total = RESYNC_KEYS_PER_TICK * 2 + 5
    for i in range(total):
        sim.api.create(configmap(f"c{i:04d}"))
    sim.tick()
    counting.synced.clear()
    sim.tick(RESYNC_SECONDS)
    assert len(counting.synced) == RESYNC_KEYS_PER_TICK
    sim.tick(0.25)
    sim.tick(0.25)
    assert len(counting.synced) == total  # every key synced once, over three ticks


# --- one copy of each object ---------------------------------------------------------------------------

def test_the_cache_holds_the_stores_own_objects_and_callers_still_get_copies():
    sim = make_cluster(workers=0, control_plane=False, controllers=[])
    sim.api.create(configmap("shared"))
    sim.tick()
    cached = sim.cache.get("ConfigMap", "default", "shared")
    assert cached is sim.store._read(("ConfigMap", "default", "shared"))
    got = sim.store.get("ConfigMap", "default", "shared")
    got["data"]["k"] = "v"
    (change,) = [c for c in sim.store.changes_since(0) if c.kind == "ConfigMap"]
    change.object["data"]["k"] = "v"
    assert cached["data"] == {}
    assert sim.store.get("ConfigMap", "default", "shared")["data"] == {}


def test_a_controllers_write_comes_back_as_the_stores_own_object_and_a_kubectl_write_as_a_copy():
    sim = make_cluster(workers=0, control_plane=False, controllers=[])
    stored = sim.client("tester").create(configmap("mine"))
    assert stored is sim.store._read(("ConfigMap", "default", "mine"))
    assert sim.cache.get("ConfigMap", "default", "mine") is stored
    sim.tick()
    assert sim.cache.get("ConfigMap", "default", "mine") is stored
    created = sim.api.create(configmap("theirs"))
    assert created is not sim.store._read(("ConfigMap", "default", "theirs"))


def test_controlled_by_reads_the_owner_index():
    sim = make_cluster(workers=0, control_plane=False, controllers=[])
    owner = sim.api.create(configmap("owner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"],
           "controller": True}
    for name in ("b", "a", "c"):
        sim.api.create({**configmap(name), "metadata": {"name": name, "namespace": "default",
                                                         "ownerReferences": [ref]}})
    sim.api.create(configmap("free"))
    sim.tick()
    # An update keeps an object's place.
    b = sim.api.get("ConfigMap", "default", "b")
    b["data"] = {"x": "1"}
    sim.api.update(b)
    sim.tick()
    names = [o["metadata"]["name"] for o in sim.cache.controlled_by("ConfigMap", "default", owner["metadata"]["uid"])]
    assert names == ["b", "a", "c"]
    assert sim.cache.controlled_by("ConfigMap", "other", owner["metadata"]["uid"]) == []
    assert sim.cache.controlled_by("Secret", "default", owner["metadata"]["uid"]) == []


# --- the garbage collector's resync ---------------------------------------------------------------------

def test_a_periodic_gc_resync_does_not_look_at_every_dependent_again():
    sim = make_cluster(workers=0, control_plane=False, controllers=[GarbageCollector])
    gc = sim.controller("garbage-collector")
    owner = sim.api.create(configmap("owner"))
    for i in range(3):
        sim.api.create(configmap(f"dep{i}", owner))
    sim.tick()
    gc.resync()
    assert len(gc.queue) == 0
    assert sorted(o["metadata"]["name"] for o in gc.dependents_of(owner["metadata"]["uid"])) == ["dep0", "dep1", "dep2"]


def test_dependents_of_an_owner_never_seen_are_collected():
    sim = make_cluster(workers=0, control_plane=False, controllers=[GarbageCollector])
    ghost = {"metadata": {"name": "ghost", "uid": "0000-never-created"}}
    sim.api.create(configmap("orphaned", ghost))
    sim.run(2)
    assert sim.cache.get("ConfigMap", "default", "orphaned") is None


# --- typed clients ---------------------------------------------------------------------------------------

def test_kubectl_writes_are_strict_and_controller_writes_skip_the_decode_checks():
    sim = make_cluster(workers=0, control_plane=False, controllers=[])
    body = {**configmap("typo"), "dataa": {}}
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(body)
    assert 'unknown field "dataa"' in caught.value.message
    # A controller's typed client sends Go structs: nothing unknown can reach the server from it.
    assert sim.client("tester").create(configmap("fine"))["metadata"]["name"] == "fine"
    assert sim.client("tester").ctx.typed


def test_a_new_dependent_of_a_live_owner_is_only_recorded_and_one_of_a_deleting_owner_is_looked_at():
    sim = make_cluster(workers=0, control_plane=False, controllers=[GarbageCollector])
    gc = sim.controller("garbage-collector")
    owner = sim.api.create(configmap("owner"))
    sim.tick()
    sim.api.create(configmap("dep", owner))
    for change in sim.cache.poll():
        gc.handle(change)
    assert len(gc.queue) == 0
    assert [o["metadata"]["name"] for o in gc.dependents_of(owner["metadata"]["uid"])] == ["dep"]
    sim.api.delete("ConfigMap", "default", "owner")
    sim.run(2)
    assert sim.cache.get("ConfigMap", "default", "dep") is None


# --- the change log polled once per quiet tick ------------------------------------------------------------

def test_a_tick_polls_again_only_after_writing():
    sim = make_cluster()
    sim.run(30)
    polls = []
    poll = sim.store.changes_for_cache
    sim.store.changes_for_cache = lambda revision: polls.append(revision) or poll(revision)
    sim.tick(0.001)  # nothing due: one poll, no writes
    assert len(polls) == 1
    polls.clear()
    sim.api.create(configmap("news"))
    result = sim.tick(0.001)
    assert [c.object["metadata"]["name"] for c in result.changes if c.object["kind"] == "ConfigMap"] == ["news"]
    polls.clear()
    sim.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    result = sim.tick(0.001)
    # The scheduler bound the pod in this tick: the last poll brings that write into the tick's changes.
    assert len(polls) >= 2
    bound = [c.object for c in result.changes if c.object["kind"] == "Pod" and c.object["spec"].get("nodeName")]
    assert bound and sim.cache.revision == sim.store.revision()


def test_controllers_are_found_by_name_and_the_index_follows_a_replaced_list():
    sim = make_cluster()
    assert sim.find_controller("kubelet") is sim.controller("kubelet")
    assert sim.find_controller("no-such") is None
    with pytest.raises(LookupError):
        sim.controller("no-such")
    sim.controllers = [c for c in sim.controllers if c.name != "kube-proxy"]
    assert sim.find_controller("kube-proxy") is None
