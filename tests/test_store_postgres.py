"""DjangoStore on PostgreSQL: the store contract and the Django-side cases on a fresh database
(tests/conftest.py `postgres_database`), then what only a real server with several connections shows:
writers of one cluster serialised, lost updates refused, one lease holder.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from cluster.models import Cluster, SimulationLease
from cluster.store import DjangoStore
from engine import errors
from tests.django_store_cases import DjangoStoreCases
from tests.store_contract import DEFAULT_NAMESPACE, pod, rv

pytestmark = pytest.mark.postgres

WRITERS = 4
WRITES_EACH = 10


class TestDjangoStoreOnPostgres(DjangoStoreCases):
    @pytest.fixture(autouse=True)
    def _on_postgres(self, postgres_db):
        self.using = postgres_db


# --- several connections, real commits ---------------------------------------------------------------


@pytest.fixture
def committed_store(postgres_database, django_db_blocker):
    """A store whose writes commit (no surrounding transaction), on a cluster deleted afterwards."""
    with django_db_blocker.unblock():
        cluster = Cluster.objects.using(postgres_database).create(name="shared")
        store = DjangoStore(cluster)
        store.create(DEFAULT_NAMESPACE)
        try:
            yield store
        finally:
            cluster.delete()


def in_thread(function):
    """Run `function` with its own database connection, closed afterwards (as another process would)."""

    def run(*args):
        try:
            return function(*args)
        finally:
            connections.close_all()

    return run


def test_the_test_database_is_postgresql(committed_store):
    connection = connections[committed_store.using]
    assert connection.vendor == "postgresql"
    assert connection.settings_dict["NAME"].startswith("kubedojo_test_")


def test_concurrent_writers_get_contiguous_revisions_in_commit_order(committed_store):
    @in_thread
    def writer(n: int) -> list[int]:
        store = DjangoStore(committed_store.cluster, using=committed_store.using)
        return [rv(store.create(pod(f"w{n}-{i}"))) for i in range(WRITES_EACH)]

    with ThreadPoolExecutor(WRITERS) as pool:
        versions = sorted(v for result in pool.map(writer, range(WRITERS)) for v in result)
    assert versions == list(range(2, 2 + WRITERS * WRITES_EACH))
    changes = committed_store.changes_since(1)
    assert [c.revision for c in changes] == versions
    assert all(rv(c.object) == c.revision for c in changes)


def test_batches_of_held_writes_commit_whole_and_in_revision_order(committed_store):
    """Transactions of several writes (the loop's ticks: all but the first held until the commit) beside
    single writes (requests): revisions contiguous, each object as its last write left it."""

    @in_thread
    def batch_writer(n: int) -> list[int]:
        store = DjangoStore(committed_store.cluster, using=committed_store.using)
        versions = []
        for i in range(WRITES_EACH // 2):
            with store.atomic():
                made = store.create(pod(f"b{n}-{i}"))
                made = store.update(made | {"status": {"phase": "Running"}})
                versions += [rv(made) - 1, rv(made)]
        return versions

    @in_thread
    def single_writer(n: int) -> list[int]:
        store = DjangoStore(committed_store.cluster, using=committed_store.using)
        return [rv(store.create(pod(f"s{n}-{i}"))) for i in range(WRITES_EACH)]

    with ThreadPoolExecutor(WRITERS) as pool:
        runs = [pool.submit(batch_writer if n % 2 else single_writer, n) for n in range(WRITERS)]
        versions = sorted(v for run in runs for v in run.result())
    assert versions == list(range(2, 2 + WRITERS * WRITES_EACH))
    changes = committed_store.changes_since(1)
    assert [c.revision for c in changes] == versions
    assert all(rv(c.object) == c.revision for c in changes)
    pods, revision = committed_store.list("Pod")
    assert revision == versions[-1]
    assert {p["metadata"]["name"][0]: p.get("status", {}).get("phase") for p in pods} == {"b": "Running", "s": None}


def _wait_for_lock_wait(using: str, timeout: float = 10.0) -> None:
    """Until some backend of this database waits on a lock (the second writer, queued behind the first)."""
    deadline = time.monotonic() + timeout
    with connections[using].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never queued behind the first")


def test_a_writer_that_read_before_another_committed_gets_a_conflict(committed_store):
    created = committed_store.create(pod("x"))
    first_wrote, commit_first = threading.Event(), threading.Event()

    @in_thread
    def first():
        store = DjangoStore(committed_store.cluster, using=committed_store.using)
        with store.atomic():
            store.update(created | {"status": {"phase": "Running"}})
            first_wrote.set()
            assert commit_first.wait(10)

    @in_thread
    def second():
        assert first_wrote.wait(10)
        store = DjangoStore(committed_store.cluster, using=committed_store.using)
        # It reads the old resourceVersion (the first has not committed), then queues on the cluster row.
        return store.update(created | {"status": {"phase": "Failed"}})

    with ThreadPoolExecutor(2) as pool:
        first_done, second_done = pool.submit(first), pool.submit(second)
        assert first_wrote.wait(10)
        _wait_for_lock_wait(committed_store.using)
        commit_first.set()
        first_done.result()
        with pytest.raises(errors.ApiError) as caught:
            second_done.result()
    assert caught.value.reason == "Conflict"
    assert committed_store.get("Pod", "default", "x")["status"] == {"phase": "Running"}


def test_concurrent_creates_of_one_name_make_one_object(committed_store):
    start = threading.Barrier(WRITERS)

    @in_thread
    def creator(n: int) -> str:
        store = DjangoStore(committed_store.cluster, using=committed_store.using)
        start.wait()
        try:
            store.create(pod("only", image=f"image-{n}"))
        except errors.ApiError as exc:
            return exc.reason
        return "Created"

    with ThreadPoolExecutor(WRITERS) as pool:
        outcomes = Counter(pool.map(creator, range(WRITERS)))
    assert outcomes == {"Created": 1, "AlreadyExists": WRITERS - 1}
    assert len(committed_store.list("Pod")[0]) == 1


def test_one_worker_wins_an_expired_lease(committed_store):
    cluster = committed_store.cluster_row
    assert SimulationLease.acquire(cluster, "old", 15, now=timezone.now() - timedelta(seconds=60))
    start = threading.Barrier(WRITERS)

    @in_thread
    def contender(n: int) -> bool:
        start.wait()
        return SimulationLease.acquire(cluster, f"worker-{n}")

    with ThreadPoolExecutor(WRITERS) as pool:
        won = list(pool.map(contender, range(WRITERS)))
    assert won.count(True) == 1
    holder = SimulationLease.objects.using(committed_store.using).get(cluster=cluster).holder
    assert holder == f"worker-{won.index(True)}"
