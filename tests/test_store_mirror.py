"""The loop's store answers reads under the write lock from its RowMirror (cluster.mirror), on SQLite and on
PostgreSQL, with real commits: what it answers, when it catches up, what it refuses to learn, and what
happens when it is wrong."""

from __future__ import annotations

import json

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from cluster.models import Cluster, StoredObject
from cluster.store import DjangoStore, HeldWritesLost
from engine import errors
from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.simulation import Simulation
from engine.store import ADDED, MODIFIED
from tests.engine import workloads
from tests.store_contract import DEFAULT_NAMESPACE, node, pod, rv


@pytest.fixture(params=[pytest.param("sqlite", marks=pytest.mark.django_db(transaction=True)),
                        pytest.param("postgres", marks=pytest.mark.postgres)])
def using(request, django_db_blocker):
    """A database alias whose writes commit; the test's clusters are deleted afterwards."""
    alias = "default" if request.param == "sqlite" else request.getfixturevalue("postgres_database")
    with django_db_blocker.unblock():
        try:
            yield alias
        finally:
            Cluster.objects.using(alias).all().delete()


@pytest.fixture
def cluster(using):
    return Cluster.objects.using(using).create(name="mirrored")


@pytest.fixture
def request_store(cluster):
    """Another writer of the cluster, as an API request is: no mirror, and single writes."""
    store = DjangoStore(cluster)
    store.create(DEFAULT_NAMESPACE)
    return store


@pytest.fixture
def loop_store(cluster, request_store):
    store = DjangoStore(cluster, mirror=True)
    store.snapshot()
    return store


def stored_rows(store: DjangoStore) -> dict:
    """{key: (resourceVersion, object)} of every row of the cluster, read from the database."""
    rows = StoredObject.objects.using(store.using).filter(cluster_id=store.cluster_id)
    texts, _ = store._list_text(None, None)
    versions = {(r.kind, r.namespace, r.name): r.resource_version for r in rows}
    return {(kind, ns, name): (versions[(kind, ns, name)], json.loads(text)) for ns, name, kind, text in texts}


def mirrored_rows(store: DjangoStore) -> dict:
    """The same, as the mirror has it (its text may be the writer's own encoding, not PostgreSQL's)."""
    return {key: (version, json.loads(text)) for key, (version, text) in store.mirror._rows.items()}


def queries(store: DjangoStore) -> CaptureQueriesContext:
    return CaptureQueriesContext(connections[store.using])


def test_the_mirror_starts_from_the_snapshot(loop_store, request_store):
    assert loop_store.mirror.revision == request_store.revision() == 1
    assert mirrored_rows(loop_store) == stored_rows(loop_store)


def test_reads_under_the_lock_are_answered_from_the_mirror(loop_store, request_store):
    x = request_store.create(pod("x"))
    request_store.create(pod("y"))
    loop_store.changes_for_cache(1)  # the informer's poll, outside any transaction: learnt at once
    assert loop_store.mirror.revision == 3
    with loop_store.atomic():
        loop_store.create(node("n1"))  # its reads come before the lock: from the database
        with queries(loop_store) as under_lock:
            running = loop_store.update(x | {"status": {"phase": "Running"}})
            assert loop_store.get("Pod", "default", "y")["metadata"]["name"] == "y"
            assert loop_store.get("Pod", "default", "absent") is None
            loop_store.create(pod("z"))  # its name and namespace checked in the mirror
            loop_store.delete("Pod", "default", "y")
        assert len(under_lock) == 0, [q["sql"] for q in under_lock.captured_queries]
    assert rv(running) == 5
    assert request_store.get("Pod", "default", "x")["status"] == {"phase": "Running"}
    assert request_store.get("Pod", "default", "y") is None
    assert rv(request_store.get("Pod", "default", "z")) == 6
    assert [c.revision for c in request_store.changes_since(3)] == [4, 5, 6, 7]
    loop_store.changes_for_cache(3)
    assert loop_store.mirror.revision == 7
    assert mirrored_rows(loop_store) == stored_rows(loop_store)


def test_a_write_sent_at_once_is_what_later_reads_under_the_lock_see(loop_store, request_store):
    """A transaction's first write, of an object read before the lock, goes to the database at once: the
    mirror (as of the lock) does not have it, later reads of the object must."""
    x = request_store.create(pod("x"))
    loop_store.changes_for_cache(1)
    with loop_store.atomic():
        x = loop_store.update(x | {"status": {"phase": "Pending"}})
        assert loop_store.get("Pod", "default", "x") == x
        x = loop_store.update(x | {"status": {"phase": "Running"}})
        loop_store.delete("Pod", "default", "x")
        loop_store.create(pod("x", image="httpd"))
    assert rv(x) == 4
    again = request_store.get("Pod", "default", "x")
    assert again["spec"]["containers"][0]["image"] == "httpd" and rv(again) == 6


def test_a_first_write_whose_object_is_unchanged_at_the_lock_is_held_too(loop_store, request_store):
    """A tick's first write reads its object before it takes the lock; if the mirror, exact as of the lock,
    still has that version, the write goes with the held ones instead of two statements of its own."""
    x = request_store.create(pod("x"))
    z = request_store.create(pod("z"))
    loop_store.changes_for_cache(1)
    with queries(loop_store) as tick, loop_store.atomic():
        loop_store.update(x | {"status": {"phase": "Running"}})
        loop_store.create(pod("y"))
        loop_store.update(z | {"status": {"phase": "Pending"}})
    # x's read, the bump, then the batches (inserts, updates, changes) and the revision.
    statements = [q["sql"] for q in tick.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    assert len(statements) == 6, statements
    assert [(c.revision, c.type, c.object["metadata"]["name"]) for c in request_store.changes_since(3)] == [
        (4, MODIFIED, "x"), (5, ADDED, "y"), (6, MODIFIED, "z")]
    assert request_store.get("Pod", "default", "x")["status"] == {"phase": "Running"}
    loop_store.changes_for_cache(3)
    assert mirrored_rows(loop_store) == stored_rows(loop_store)


@pytest.mark.postgres
def test_a_first_write_whose_object_changed_before_the_lock_is_a_conflict(postgres_database, django_db_blocker,
                                                                          monkeypatch):
    """Read before the lock, changed by a request before the bump (PostgreSQL reads take no lock): the mirror,
    caught up at the lock, shows it, and the write is the conditional statement that answers Conflict."""
    import threading

    from django.db import connections as all_connections

    with django_db_blocker.unblock():
        cluster = Cluster.objects.using(postgres_database).create(name="racing")
        try:
            request_store = DjangoStore(cluster)
            request_store.create(DEFAULT_NAMESPACE)
            x = request_store.create(pod("x"))
            loop_store = DjangoStore(cluster, mirror=True)
            loop_store.snapshot()
            bump = DjangoStore._next_revision

            def request_in_between():
                try:
                    other = DjangoStore(cluster)
                    other.update(other.get("Pod", "default", "x") | {"status": {"phase": "Failed"}})
                finally:
                    all_connections.close_all()

            def racing(self):
                if self is loop_store and self._pending() is None:
                    thread = threading.Thread(target=request_in_between)
                    thread.start()
                    thread.join(timeout=30)
                return bump(self)

            monkeypatch.setattr(DjangoStore, "_next_revision", racing)
            with pytest.raises(errors.ApiError) as caught, loop_store.atomic():
                loop_store.update(x | {"status": {"phase": "Running"}})
            assert caught.value.reason == "Conflict"
            assert request_store.get("Pod", "default", "x")["status"] == {"phase": "Failed"}
            assert loop_store.mirror.revision == 3
        finally:
            Cluster.objects.using(postgres_database).filter(pk=cluster.pk).delete()


def test_the_mirror_catches_up_when_the_lock_is_taken(loop_store, request_store):
    """Others committed after the informer's last poll: the transaction reads their changes once, then every
    read under the lock is exact."""
    x = request_store.create(pod("x"))
    request_store.create(pod("y"))
    assert loop_store.mirror.revision == 1  # not polled since
    x = request_store.update(x | {"status": {"phase": "Pending"}})
    request_store.delete("Pod", "default", "y")
    with loop_store.atomic():
        loop_store.create(node("n1"))
        assert loop_store.mirror.revision == 5
        with queries(loop_store) as under_lock:
            with pytest.raises(errors.ApiError) as stale:
                loop_store.update(x | {"metadata": {**x["metadata"], "resourceVersion": "2"}})
            assert stale.value.reason == "Conflict"
            loop_store.update(x | {"status": {"phase": "Running"}})  # as of revision 4: no conflict
            loop_store.create(pod("y"))  # deleted at revision 5: free again
        assert len(under_lock) == 0
    assert request_store.get("Pod", "default", "x")["status"] == {"phase": "Running"}
    assert rv(request_store.get("Pod", "default", "y")) == 8


def test_what_a_transaction_reads_of_its_own_writes_is_learnt_at_its_commit(loop_store, request_store):
    with loop_store.atomic():
        loop_store.create(pod("a"))
        loop_store.changes_for_cache(1)  # sees the uncommitted write
        assert loop_store.mirror.revision == 1
    assert loop_store.mirror.revision == 2
    with pytest.raises(RuntimeError), loop_store.atomic():
        loop_store.create(pod("b"))
        loop_store.changes_for_cache(2)
        raise RuntimeError("tick failed")
    assert loop_store.mirror.revision == 2 and ("Pod", "default", "b") not in mirrored_rows(loop_store)
    assert mirrored_rows(loop_store) == stored_rows(loop_store)


def test_a_wrong_mirror_fails_the_transaction_and_is_forgotten(loop_store, request_store):
    """A row changed behind the stores' backs (no revision, no change): the held write checks the version the
    mirror gave and rolls everything back instead of overwriting the row."""
    x = request_store.create(pod("x"))
    loop_store.changes_for_cache(1)
    rows = StoredObject.objects.using(loop_store.using).filter(cluster_id=loop_store.cluster_id, name="x")
    rows.update(resource_version=99)
    with pytest.raises(HeldWritesLost), loop_store.atomic():
        loop_store.create(pod("first"))
        loop_store.update(x | {"status": {"phase": "Running"}})
    assert loop_store.mirror.revision is None
    assert request_store.get("Pod", "default", "first") is None
    assert rows.get().resource_version == 99 and request_store.revision() == 2
    with loop_store.atomic():  # the mirror unknown: reads from the database again
        loop_store.create(pod("first"))
        with queries(loop_store) as under_lock:
            assert loop_store.get("Pod", "default", "x") is not None
        assert len(under_lock) == 1
    rows.update(resource_version=rv(x))
    loop_store.snapshot()
    assert loop_store.mirror.revision == 3 and mirrored_rows(loop_store) == stored_rows(loop_store)


def test_an_insert_the_mirror_thought_free_fails_the_transaction(loop_store, request_store):
    loop_store.changes_for_cache(1)
    request_store.create(pod("taken"))
    loop_store.mirror._rows.pop(("Pod", "default", "taken"), None)  # as a mirror that missed it would be
    loop_store.mirror.revision = 2
    with pytest.raises(HeldWritesLost), loop_store.atomic():
        loop_store.create(pod("first"))
        loop_store.create(pod("taken", image="httpd"))
    assert request_store.get("Pod", "default", "taken")["spec"]["containers"][0]["image"] != "httpd"
    assert request_store.get("Pod", "default", "first") is None


def test_a_compaction_past_the_mirror_forgets_it(loop_store, request_store):
    for i in range(4):
        request_store.create(pod(f"p{i}"))
    request_store.compact(keep=2)
    with loop_store.atomic():
        loop_store.create(pod("first"))
        assert loop_store.mirror.revision is None
        with queries(loop_store) as under_lock:
            assert loop_store.get("Pod", "default", "p0") is not None
        assert len(under_lock) == 1


def test_a_reset_cluster_is_relisted(loop_store, request_store, cluster):
    request_store.create(pod("x"))
    loop_store.changes_for_cache(1)
    cluster.reset()
    with loop_store.atomic():
        loop_store.create(DEFAULT_NAMESPACE)
        assert loop_store.mirror.revision is None
    with pytest.raises(errors.ApiError) as caught:
        loop_store.changes_for_cache(2)
    assert caught.value.code == 410
    objects, revision = loop_store.snapshot()
    assert [o["kind"] for o in objects] == ["Namespace"] and loop_store.mirror.revision == revision == 4


def test_inside_someone_elses_transaction_the_mirror_is_not_used(loop_store, request_store):
    request_store.create(pod("x"))
    loop_store.changes_for_cache(1)
    with transaction.atomic(using=loop_store.using), loop_store.atomic():
        loop_store.create(pod("first"))
        with queries(loop_store) as under_lock:
            loop_store.get("Pod", "default", "x")
        assert len(under_lock) == 1


def test_a_simulation_keeps_its_mirror_equal_to_the_rows(cluster, request_store):
    """A Deployment scaled and rolled out while requests write between ticks: after every tick the mirror,
    where it claims to be current, is the database's rows exactly, and the rollout ends as it should."""
    clock = VirtualClock(start=1_800_000_000.0)
    store = DjangoStore(cluster, now=clock.now, mirror=True)
    sim = Simulation(store, clock, seed=7)
    bootstrap_cluster(sim.api, nodes=3)
    request_store.create(workloads.deployment("web", replicas=3))
    checked = 0
    for step in range(120):
        sim.tick(0.5)
        if step == 10:
            web = request_store.get("Deployment", "default", "web")
            web["spec"]["replicas"] = 5
            request_store.update(web)
        if step == 30:
            web = request_store.get("Deployment", "default", "web")
            web["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
            request_store.update(web)
        if step % 7 == 0:
            request_store.create({"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": f"c{step}", "namespace": "default"}})
        if store.mirror.revision == request_store.revision():
            assert mirrored_rows(store) == stored_rows(store)
            checked += 1
    assert checked > 50
    pods = [p for p in request_store.list("Pod", "default")[0] if p["metadata"]["name"].startswith("web-")]
    assert len(pods) == 5
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.27"}
    assert {p["status"]["phase"] for p in pods} == {"Running"}


@pytest.mark.postgres
def test_a_mirrored_loop_beside_concurrent_writers(postgres_database, django_db_blocker, monkeypatch):
    """The loop ticks in its thread while two request threads write the same cluster at once (config maps
    created, changed and deleted; the Deployment scaled): no tick fails, and the mirror ends as the rows."""
    import threading

    from django.db import connections as all_connections

    with django_db_blocker.unblock():
        cluster = Cluster.objects.using(postgres_database).create(name="busy-mirror")
        try:
            clock = VirtualClock(start=1_800_000_000.0)
            store = DjangoStore(cluster, now=clock.now, mirror=True)
            sim = Simulation(store, clock, seed=3)
            bootstrap_cluster(sim.api, nodes=3)
            sim.api.create(workloads.deployment("web", replicas=2))
            failures: list[BaseException] = []
            writing = threading.Event()
            ticks_while_writing = [0]
            exact = []  # whether each of the loop's transactions read from the mirror
            mirror_exact = DjangoStore._mirror_exact

            def recording(self, revision):
                answer = mirror_exact(self, revision)
                if self is store:
                    exact.append(answer)
                return answer

            monkeypatch.setattr(DjangoStore, "_mirror_exact", recording)

            def in_thread(work):
                def run(*args):
                    try:
                        work(*args)
                    except BaseException as exc:  # reported below
                        failures.append(exc)
                    finally:
                        all_connections.close_all()
                return run

            @in_thread
            def loop():
                while writing.is_set():
                    sim.tick(0.25)
                    ticks_while_writing[0] += 1
                for _ in range(40):
                    sim.tick(0.5)

            @in_thread
            def requests(n: int):
                mine = DjangoStore(cluster, using=postgres_database)
                for i in range(30):
                    made = mine.create({"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": f"c{n}-{i}", "namespace": "default"}})
                    mine.update(made | {"data": {"i": str(i)}})
                    if i % 2:
                        mine.delete("ConfigMap", "default", f"c{n}-{i}")
                    for _ in range(5):
                        web = mine.get("Deployment", "default", "web")
                        web["spec"]["replicas"] = 2 + (i + n) % 3
                        try:
                            mine.update(web)
                            break
                        except errors.ApiError as exc:
                            assert exc.reason == "Conflict"

            writing.set()
            threads = [threading.Thread(target=loop), *(threading.Thread(target=requests, args=(n,)) for n in (0, 1))]
            for thread in threads:
                thread.start()
            for thread in threads[1:]:
                thread.join(timeout=120)
            writing.clear()
            threads[0].join(timeout=120)
            assert not failures, failures
            assert ticks_while_writing[0] >= 10 and exact.count(True) >= 10, (ticks_while_writing, exact)
            store.changes_for_cache(store.mirror.revision)
            assert store.mirror.revision == store.revision()
            assert mirrored_rows(store) == stored_rows(store)
            wanted = store.get("Deployment", "default", "web")["spec"]["replicas"]
            pods = [p for p in store.list("Pod", "default")[0] if p["metadata"]["name"].startswith("web-")
                    and not p["metadata"].get("deletionTimestamp")]
            assert len(pods) == wanted and {p["status"]["phase"] for p in pods} == {"Running"}
        finally:
            Cluster.objects.using(postgres_database).filter(pk=cluster.pk).delete()
