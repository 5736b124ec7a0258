"""DjangoStore on one database: the store contract plus what only the Django side has (rows, lost races,
transactions, compaction, query counts, the Cluster and SimulationLease models).

Mixed into tests/test_store_django.py (SQLite) and tests/test_store_postgres.py (PostgreSQL); a test class
sets `using` to the database alias, inside a per-test transaction that is rolled back.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.db import connections
from django.test.utils import CaptureQueriesContext

from cluster import store as django_store
from cluster.models import Change, Cluster, SimulationLease, StoredObject
from cluster.store import DjangoStore
from engine import errors
from engine.clock import format_rfc3339
from engine.store import ADDED, DEFAULT_CHANGE_WINDOW, DELETED, MODIFIED
from tests.store_contract import DEFAULT_NAMESPACE, StoreContract, deployment, node, pod, rv

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class DjangoStoreCases(StoreContract):
    using = "default"

    def make_cluster(self, name: str, **fields) -> Cluster:
        return Cluster.objects.using(self.using).create(name=name, **fields)

    def make_store(self, cluster="one", now=None, change_window=None):
        return DjangoStore(self.make_cluster(cluster), now, change_window=change_window or DEFAULT_CHANGE_WINDOW)

    def compact(self, store):
        store.compact()

    def rows(self, store: DjangoStore):
        return StoredObject.objects.using(self.using).filter(cluster_id=store.cluster_id)

    def queries(self):
        return CaptureQueriesContext(connections[self.using])

    # --- rows ------------------------------------------------------------------------------------
    def test_rows_carry_the_denormalised_columns(self, store):
        owned = pod("web-1", labels={"app": "web"}, ownerReferences=[
            {"apiVersion": "v1", "kind": "Service", "name": "other", "uid": "u0"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u1", "controller": True}])
        created = store.create(owned)
        store.update(created | {"spec": {**created["spec"], "nodeName": "n1"}, "status": {"phase": "Running"}})
        row = self.rows(store).get(kind="Pod")
        assert (row.namespace, row.name, row.api_version, row.uid) == ("default", "web-1", "v1",
                                                                       created["metadata"]["uid"])
        assert (row.phase, row.node_name, row.owner_kind, row.owner_name) == ("Running", "n1", "ReplicaSet", "web-abc")
        assert row.labels == {"app": "web"}
        assert row.resource_version == rv(created) + 1 == rv(row.data)
        ready = node("n1") | {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        store.create(ready)
        assert self.rows(store).get(kind="Node").phase == "Ready"
        assert self.rows(store).get(kind="Namespace").namespace == ""

    def test_change_rows_log_every_write(self, store):
        created = store.create(pod("x"))
        store.update(created | {"status": {"phase": "Running"}})
        store.delete("Pod", "default", "x")
        rows = Change.objects.using(self.using).filter(cluster__name="one").order_by("revision")
        assert [(c.revision, c.type, c.kind, c.namespace, c.name) for c in rows] == [
            (1, ADDED, "Namespace", "", "default"), (2, ADDED, "Pod", "default", "x"),
            (3, MODIFIED, "Pod", "default", "x"), (4, DELETED, "Pod", "default", "x")]
        assert str(rows[3]) == "4 DELETED pods/default/x"

    def test_str_and_yaml(self, store):
        store.create(deployment("web"))
        store.create(node("n1"))
        config = store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace":
                               "default"}, "data": {"nginx.conf": "server {\n  listen 80;\n}\n"}})
        store.update(config | {"status": {"note": "last"}})
        assert [str(r) for r in self.rows(store).order_by("kind")] == [
            "configmaps/default/conf", "deployments.apps/default/web", "namespaces/default", "nodes/n1"]
        row = self.rows(store).get(kind="ConfigMap")
        text = row.yaml
        assert text.startswith("apiVersion: v1\nkind: ConfigMap\nmetadata:\n")
        assert text.index("data:") < text.index("status:")
        assert "nginx.conf: |\n    server {\n      listen 80;\n    }\n" in text
        assert yaml.safe_load(text) == row.data

    # --- construction and clock ------------------------------------------------------------------
    def test_store_by_cluster_name(self, store):
        store.create(pod("x"))
        again = DjangoStore("one", using=self.using)
        assert again.get("Pod", "default", "x") == store.get("Pod", "default", "x")
        with pytest.raises(Cluster.DoesNotExist):
            DjangoStore("nope", using=self.using)

    def test_default_clock_is_the_clusters_virtual_time(self):
        cluster = self.make_cluster("paused", virtual_time=1_800_000_000.0, paused=True)
        store = DjangoStore(cluster)
        created = store.create(DEFAULT_NAMESPACE)
        assert created["metadata"]["creationTimestamp"] == format_rfc3339(1_800_000_000.0)

    # --- transactions and races ------------------------------------------------------------------
    def test_a_failed_batch_rolls_back_whole(self, store):
        with pytest.raises(RuntimeError), store.atomic():
            store.create(pod("a"))
            store.create(pod("b"))
            raise RuntimeError("tick failed")
        assert store.list("Pod") == ([], 1)
        assert store.revision() == 1
        assert [c.revision for c in store.changes_since(0)] == [1]
        assert rv(store.create(pod("c"))) == 2

    def test_an_api_error_inside_a_batch_leaves_it_usable(self, store):
        with store.atomic():
            store.create(pod("a"))
            with pytest.raises(errors.ApiError):
                store.create(pod("a"))
            with pytest.raises(errors.ApiError):
                store.update(pod("a", resourceVersion="1"))
            store.create(pod("b"))
        assert [p["metadata"]["name"] for p in store.list("Pod")[0]] == ["a", "b"]
        assert store.revision() == 3

    def _meanwhile(self, store, monkeypatch, action):
        """Run `action` on a second store of the same cluster between the first store's read and its write,
        as a writer in another process would commit it."""
        other = DjangoStore(store.cluster_row, store._now)
        bump = store._next_revision

        def racing_bump():
            monkeypatch.setattr(store, "_next_revision", bump)
            action(other)
            return bump()

        monkeypatch.setattr(store, "_next_revision", racing_bump)

    def test_an_update_racing_another_is_a_conflict(self, store, monkeypatch):
        created = store.create(pod("x"))
        self._meanwhile(store, monkeypatch, lambda other: other.update(created | {"status": {"phase": "Running"}}))
        with pytest.raises(errors.ApiError) as caught:
            store.update(created | {"status": {"phase": "Failed"}})
        assert caught.value.reason == "Conflict"
        assert store.get("Pod", "default", "x") == created  # the failed write's savepoint took both back

    def test_a_create_racing_another_is_already_exists(self, store, monkeypatch):
        self._meanwhile(store, monkeypatch, lambda other: other.create(pod("x", image="other")))
        with pytest.raises(errors.ApiError) as caught:
            store.create(pod("x"))
        assert caught.value.message == 'pods "x" already exists'

    def test_a_delete_racing_another_is_not_found(self, store, monkeypatch):
        store.create(pod("x"))
        self._meanwhile(store, monkeypatch, lambda other: other.delete("Pod", "default", "x"))
        with pytest.raises(errors.ApiError) as caught:
            store.delete("Pod", "default", "x")
        assert caught.value.message == 'pods "x" not found'

    def test_queries_per_operation(self, store):
        """Guards the per-tick cost. Inside a transaction each write adds SAVEPOINT and RELEASE."""
        with self.queries() as create:
            created = store.create(pod("x"))  # namespace, existing row, revision, insert, change
        with self.queries() as update:
            store.update(created | {"status": {"phase": "Running"}})  # row, revision, update, change
        with self.queries() as read:
            store.get("Pod", "default", "x")
            store.list("Pod")
            store.list()
            store.changes_since(0)
            store.revision()
        with self.queries() as delete:
            store.delete("Pod", "default", "x")  # row, revision, delete, change
        assert (len(create), len(update), len(read), len(delete)) == (7, 6, 5, 6)

    # --- writes held under the lock (cluster.pending) ----------------------------------------------
    def test_writes_under_the_lock_are_held_and_sent_together(self, store):
        """After a transaction's first write it holds the cluster's lock: later writes are kept, read back from
        memory, and sent in a few statements, with the same rows, changes and revisions as one at a time."""
        with store.atomic():
            first = store.create(pod("a"))  # read before the lock: written at once
            with self.queries() as held:
                b = store.create(pod("b"))
                for phase in ("Pending", "Running", "Succeeded"):
                    b = store.update(b | {"status": {"phase": phase}})
                assert store.get("Pod", "default", "b") == b
                store.delete("Pod", "default", "a")
                assert store.get("Pod", "default", "a") is None
                again = store.create(pod("a", image="httpd"))  # the same name, now a new object
                c = store.create(pod("c"))
                store.delete("Pod", "default", "c")
            # Reads of b and c (and the namespace) once each (a was just written); no statement per write.
            assert len(held) == 3, [q["sql"] for q in held.captured_queries]
            mid_list = store.list("Pod")  # sends what is held first
            assert [p["metadata"]["name"] for p in mid_list[0]] == ["a", "b"]
            assert mid_list[1] == store.revision() == 10
            b = store.update(b | {"metadata": {**b["metadata"], "labels": {"after": "list"}}})
        assert rv(first) == 2 and rv(again) == 8 and rv(c) == 9 and rv(b) == 11
        fresh = DjangoStore(store.cluster_row, store._now)
        assert fresh.list("Pod") == ([again, b], 11)
        assert fresh.get("Pod", "default", "a")["spec"]["containers"][0]["image"] == "httpd"
        changes = fresh.changes_since(1)
        assert [(c.revision, c.type, c.object["metadata"]["name"]) for c in changes] == [
            (2, ADDED, "a"), (3, ADDED, "b"), (4, MODIFIED, "b"), (5, MODIFIED, "b"), (6, MODIFIED, "b"),
            (7, DELETED, "a"), (8, ADDED, "a"), (9, ADDED, "c"), (10, DELETED, "c"), (11, MODIFIED, "b")]
        assert all(rv(c.object) == c.revision for c in changes)
        row = self.rows(store).get(kind="Pod", name="b")
        assert (row.resource_version, row.phase, row.labels) == (11, "Succeeded", {"after": "list"})
        assert rv(store.create(pod("d"))) == 12

    def test_the_log_read_back_under_the_lock_comes_from_memory(self, store):
        """Once a transaction holds the lock, every change after its first is its own: the loop's informer reads
        them back every round of a tick, without a query and without sending what is held."""
        store.create(pod("before"))
        start = store.revision()
        with store.atomic():
            a = store.create(pod("a"))
            a = store.update(a | {"status": {"phase": "Running"}})
            with self.queries() as reads:
                mine = store.changes_for_cache(start)
                assert store.changes_for_cache(rv(a)) == []
            assert len(reads) == 0
            store.delete("Pod", "default", "a")
            last = store.changes_for_cache(rv(a))
        logged = DjangoStore(store.cluster_row, store._now).changes_since(start)
        assert [(c.revision, c.type, c.object) for c in [*mine, *last]] == [
            (c.revision, c.type, c.object) for c in logged]
        assert [(c.revision, c.type) for c in logged] == [(start + 1, ADDED), (start + 2, MODIFIED),
                                                          (start + 3, DELETED)]

    def test_held_writes_go_with_a_failed_batch(self, store):
        with pytest.raises(RuntimeError), store.atomic():
            store.create(pod("a"))
            store.create(pod("b"))
            store.update(store.get("Pod", "default", "b") | {"status": {"phase": "Running"}})
            raise RuntimeError("tick failed")
        assert store.list("Pod") == ([], 1)
        assert rv(store.create(pod("c"))) == 2

    def test_an_object_read_under_the_lock_is_read_once(self, store):
        store.create(pod("x"))
        with store.atomic():
            store.create(pod("first"))
            with self.queries() as reads:
                for _ in range(3):
                    got = store.get("Pod", "default", "x")
                    got["status"] = {"phase": "changed by the caller"}  # the caller's own copy
            assert len(reads) == 1
            assert store.get("Pod", "default", "x").get("status") is None

    def test_a_conflict_under_the_lock_is_still_a_conflict(self, store):
        created = store.create(pod("x"))
        with store.atomic():
            store.create(pod("first"))
            store.update(created | {"status": {"phase": "Running"}})
            with pytest.raises(errors.ApiError) as caught:
                store.update(created | {"status": {"phase": "Failed"}})  # read as the old version
            assert caught.value.reason == "Conflict"
            with pytest.raises(errors.ApiError) as caught:
                store.create(pod("first"))
            assert caught.value.reason == "AlreadyExists"
        assert store.get("Pod", "default", "x")["status"] == {"phase": "Running"}
        assert store.revision() == 4

    def test_a_row_count_sees_held_writes(self, store):
        from types import SimpleNamespace

        from engine.apiserver.quota import ClusterQuota, QuotaLimits

        quota = ClusterQuota(QuotaLimits(pods=2), counter=lambda kind: self.rows(store).filter(kind=kind).count())
        api = SimpleNamespace(store=store)
        with store.atomic():
            store.create(pod("a"))
            store.create(pod("b"))  # held
            assert quota._count(api, "Pod") == 2

    def test_compact(self, store):
        assert store.compact(keep=5) == 0
        for i in range(6):
            store.create(pod(f"p{i}"))
        assert store.compact(keep=5) == 2
        assert store.compact(keep=6) == 2  # never goes back
        assert Change.objects.using(self.using).filter(cluster_id=store.cluster_id).count() == 5
        with pytest.raises(errors.ApiError):
            store.changes_since(1)
        assert [c.revision for c in store.changes_since(2)] == [3, 4, 5, 6, 7]

    def test_the_log_compacts_itself(self, clock, monkeypatch):
        monkeypatch.setattr(django_store, "COMPACT_EVERY", 5)
        store = self.make_store("busy", clock.now, change_window=2)
        store.create(DEFAULT_NAMESPACE)
        for i in range(9):
            store.create(pod(f"p{i}"))
        assert store.revision() == 10
        with pytest.raises(errors.ApiError) as caught:
            store.changes_since(7)
        assert caught.value.message == "too old resource version: 7 (9)"
        assert [c.revision for c in store.changes_since(8)] == [9, 10]

    def test_list_all_kinds(self, store):
        store.create(pod("b"))
        store.create(pod("a"))
        store.create(node("n1"))
        by_kind, revision = store.list_all_kinds()
        assert sorted(by_kind) == ["Namespace", "Node", "Pod"]
        assert [p["metadata"]["name"] for p in by_kind["Pod"]] == ["a", "b"]
        assert revision == 4

    # --- Cluster -----------------------------------------------------------------------------------
    def test_reset_forgets_objects_but_not_the_revision(self, store):
        store.create(pod("x"))
        cluster = store.cluster_row
        cluster.reset()
        assert (cluster.revision, cluster.compacted_revision) == (3, 3)
        assert store.list() == ([], 3)
        assert store.changes_since(3) == []
        for caught_up in (2, 1):  # even a reader that had read every change relists
            with pytest.raises(errors.ApiError) as caught:
                store.changes_since(caught_up)
            assert caught.value.code == 410
        assert rv(store.create(DEFAULT_NAMESPACE)) == 4

    def test_tokens_are_stored_hashed(self):
        cluster = self.make_cluster("secure")
        assert not cluster.check_token("anything")
        token = cluster.issue_token()
        cluster = Cluster.objects.using(self.using).get(pk=cluster.pk)
        assert cluster.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
        assert cluster.check_token(token)
        assert not cluster.check_token(token + "x") and not cluster.check_token("") and not cluster.check_token(None)
        assert not cluster.check_token(cluster.token_hash)
        newer = cluster.issue_token()
        assert cluster.check_token(newer) and not cluster.check_token(token)

    def test_access_keys_are_unguessable(self):
        first, second = self.make_cluster("a"), self.make_cluster("b")
        assert first.access_key != second.access_key
        assert len(first.access_key) >= 32
        assert all(c.isalnum() or c in "-_" for c in first.access_key)
        assert str(first) == "a"

    def test_deleting_a_cluster_deletes_its_rows(self, store):
        store.create(pod("x"))
        SimulationLease.acquire(store.cluster_row, "w1")
        store.cluster_row.delete()
        assert not StoredObject.objects.using(self.using).exists()
        assert not Change.objects.using(self.using).exists()
        assert not SimulationLease.objects.using(self.using).exists()

    # --- SimulationLease ---------------------------------------------------------------------------
    def test_lease_has_one_holder_at_a_time(self):
        cluster = self.make_cluster("leased")
        assert SimulationLease.acquire(cluster, "w1", 15, now=T0)
        assert not SimulationLease.acquire(cluster, "w2", 15, now=T0 + timedelta(seconds=10))
        assert SimulationLease.acquire(cluster, "w1", 15, now=T0 + timedelta(seconds=10))  # ours: extended
        assert SimulationLease.renew(cluster, "w1", 15, now=T0 + timedelta(seconds=20))
        assert not SimulationLease.acquire(cluster, "w2", 15, now=T0 + timedelta(seconds=34))
        assert SimulationLease.acquire(cluster, "w2", 15, now=T0 + timedelta(seconds=36))  # expired: taken over
        assert not SimulationLease.renew(cluster, "w1", 15, now=T0 + timedelta(seconds=37))
        assert not SimulationLease.release(cluster, "w1")
        lease = SimulationLease.objects.using(self.using).get(cluster=cluster)
        assert (lease.holder, lease.renew_deadline) == ("w2", T0 + timedelta(seconds=51))
        assert SimulationLease.release(cluster, "w2")
        assert SimulationLease.acquire(cluster, "w1", 15, now=T0 + timedelta(seconds=38))
