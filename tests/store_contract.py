"""The store contract: one suite every Store implementation passes.

A test class mixes `StoreContract` in and provides `make_store(cluster, now, change_window)` and
`compact(store)`. It runs against MemoryStore (tests/engine/test_store_memory.py), DjangoStore on SQLite
(tests/test_store_django.py) and DjangoStore on PostgreSQL (tests/test_store_postgres.py).

Scenario: a `default` namespace is created first in each store (revision 1), then pods, deployments and
nodes are created, updated, deleted and watched, with the virtual clock stepped by hand.
No Django import here: tests/engine runs with `-p no:django`.
"""

from __future__ import annotations

import re

import pytest

from engine import errors
from engine.clock import DEFAULT_START, format_rfc3339
from engine.store import ADDED, DELETED, MODIFIED, Store

DEFAULT_NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONFLICT_DETAIL = "the object has been modified; please apply your changes to the latest version and try again"


class Clock:
    """A virtual clock the test moves by hand."""

    def __init__(self, start: float = DEFAULT_START):
        self.time = start

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


def pod(name: str, namespace: str = "default", image: str = "nginx", **meta) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }


def deployment(name: str, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
    }


def node(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


def rv(obj: dict) -> int:
    return int(obj["metadata"]["resourceVersion"])


class StoreContract:
    """Mixed into a test class; the class provides the two hooks below."""

    def make_store(self, cluster: str = "one", now=None, change_window: int | None = None) -> Store:
        raise NotImplementedError

    def compact(self, store: Store) -> None:
        """Apply the store's change window (a store that compacts as it writes does nothing)."""
        raise NotImplementedError

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def store(self, clock) -> Store:
        store = self.make_store("one", clock.now)
        store.create(DEFAULT_NAMESPACE)
        return store

    # --- create -------------------------------------------------------------------------------
    def test_empty_store_is_at_revision_zero(self, clock):
        store = self.make_store("empty", clock.now)
        assert store.revision() == 0
        assert store.list() == ([], 0)
        assert store.changes_since(0) == []

    def test_create_assigns_server_fields(self, store, clock):
        clock.advance(90)
        created = store.create(pod("web", generation=7, deletionTimestamp="2026-01-01T00:00:00Z"))
        meta = created["metadata"]
        assert UID.match(meta["uid"])
        assert meta["resourceVersion"] == "2"
        assert meta["creationTimestamp"] == format_rfc3339(DEFAULT_START + 90) == "2026-01-01T00:01:30Z"
        assert meta["generation"] == 1
        assert "deletionTimestamp" not in meta
        assert store.get("Pod", "default", "web") == created
        assert store.revision() == 2

    def test_create_generates_a_uid_and_sets_api_version(self, store):
        created = store.create({"kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}})
        assert UID.match(created["metadata"]["uid"])
        assert created["apiVersion"] == "apps/v1"
        other = store.create(pod("p"))
        assert other["metadata"]["uid"] != created["metadata"]["uid"]

    def test_duplicate_name_is_already_exists_and_changes_nothing(self, store):
        first = store.create(pod("x"))
        with pytest.raises(errors.ApiError) as caught:
            store.create(pod("x", image="busybox"))
        assert (caught.value.code, caught.value.reason) == (409, "AlreadyExists")
        assert caught.value.message == 'pods "x" already exists'
        assert store.get("Pod", "default", "x") == first
        assert store.revision() == rv(first)
        assert [c.type for c in store.changes_since(rv(first) - 1)] == [ADDED]

    def test_duplicate_in_a_named_group_is_qualified(self, store):
        store.create(deployment("web"))
        with pytest.raises(errors.ApiError) as caught:
            store.create(deployment("web"))
        assert caught.value.message == 'deployments.apps "web" already exists'

    def test_same_name_in_other_kind_or_namespace_is_fine(self, store):
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
        store.create(pod("web"))
        store.create(pod("web", namespace="prod"))
        store.create(deployment("web"))
        assert len(store.list()[0]) == 5

    def test_missing_namespace_is_not_found(self, store):
        with pytest.raises(errors.ApiError) as caught:
            store.create(pod("x", namespace="nope"))
        assert (caught.value.code, caught.value.reason) == (404, "NotFound")
        assert caught.value.message == 'namespaces "nope" not found'
        assert store.get("Pod", "nope", "x") is None
        assert store.revision() == 1

    def test_unknown_kind_is_bad_request(self, store):
        with pytest.raises(errors.ApiError) as caught:
            store.create({"apiVersion": "v1", "kind": "Gizmo", "metadata": {"name": "g"}})
        assert caught.value.code == 400

    def test_cluster_scoped_kinds_have_no_namespace(self, store):
        created = store.create({**node("n1"), "metadata": {"name": "n1", "namespace": "default"}})
        assert "namespace" not in created["metadata"]
        assert store.get("Node", "", "n1") == created
        assert store.get("Node", "default", "n1") is None
        assert [o["metadata"]["name"] for o in store.list("Node")[0]] == ["n1"]
        assert store.list("Node", "")[0] == [created]
        namespaces, _ = store.list("Namespace")
        assert [n["metadata"].get("namespace") for n in namespaces] == [None]
        change = store.changes_since(rv(created) - 1)[0]
        assert (change.kind, change.namespace, change.name) == ("Node", "", "n1")

    # --- update -------------------------------------------------------------------------------
    def test_update_with_stale_resource_version_conflicts(self, store):
        created = store.create(pod("x"))
        current = store.update({**created, "metadata": {**created["metadata"], "labels": {"a": "1"}}})
        stale = {**created, "metadata": {**created["metadata"], "labels": {"a": "2"}}}
        with pytest.raises(errors.ApiError) as caught:
            store.update(stale)
        assert (caught.value.code, caught.value.reason) == (409, "Conflict")
        assert caught.value.message == f'Operation cannot be fulfilled on pods "x": {CONFLICT_DETAIL}'
        assert store.get("Pod", "default", "x") == current
        assert store.revision() == rv(current)

    def test_conflict_message_names_the_group(self, store):
        created = store.create(deployment("web"))
        store.update(created | {"spec": {**created["spec"], "replicas": 2}})
        with pytest.raises(errors.ApiError) as caught:
            store.update(created | {"spec": {**created["spec"], "replicas": 3}})
        assert caught.value.message == f'Operation cannot be fulfilled on deployments.apps "web": {CONFLICT_DETAIL}'

    def test_update_without_resource_version_succeeds(self, store):
        created = store.create(pod("x"))
        store.update({**created, "metadata": {**created["metadata"], "labels": {"a": "1"}}})
        blind = pod("x", labels={"a": "2"})
        updated = store.update(blind)
        assert updated["metadata"]["labels"] == {"a": "2"}
        assert rv(updated) == rv(created) + 2
        assert updated["metadata"]["uid"] == created["metadata"]["uid"]

    def test_update_keeps_server_owned_metadata(self, store):
        created = store.create(pod("x"))
        forged = pod("x", uid="forged", creationTimestamp="1999-01-01T00:00:00Z", generation=42, labels={"a": "b"})
        updated = store.update(forged)
        for owned in ("uid", "creationTimestamp", "generation"):
            assert updated["metadata"][owned] == created["metadata"][owned]

    def test_update_of_missing_object_is_not_found(self, store):
        with pytest.raises(errors.ApiError) as caught:
            store.update(pod("ghost"))
        assert caught.value.code == 404
        assert caught.value.message == 'pods "ghost" not found'

    def test_generation_bumps_on_spec_change_only(self, store):
        created = store.create(deployment("web"))
        relabelled = store.update(created | {"metadata": {**created["metadata"], "labels": {"app": "web", "x": "y"}}})
        assert relabelled["metadata"]["generation"] == 1
        with_status = store.update(relabelled | {"status": {"replicas": 1}})
        assert with_status["metadata"]["generation"] == 1
        scaled = store.update(with_status | {"spec": {**with_status["spec"], "replicas": 3}})
        assert scaled["metadata"]["generation"] == 2
        assert rv(created) < rv(relabelled) < rv(with_status) < rv(scaled)

    def test_noop_update_keeps_resource_version(self, store):
        created = store.create(pod("x"))
        again = store.update(created)
        assert again == created
        assert store.revision() == rv(created)
        assert store.changes_since(rv(created)) == []

    def test_resource_versions_strictly_increase(self, store):
        versions = [rv(store.create(pod(f"p{i}"))) for i in range(5)]
        current = store.get("Pod", "default", "p0")
        for i in range(3):
            current = store.update(current | {"status": {"phase": f"Step{i}"}})
            versions.append(rv(current))
        versions.append(rv(store.delete("Pod", "default", "p1")))
        assert versions == sorted(set(versions))
        assert versions == list(range(2, 2 + len(versions)))
        assert store.revision() == versions[-1]

    def test_revisions_are_independent_between_clusters(self, clock):
        one = self.make_store("one", clock.now)
        two = self.make_store("two", clock.now)
        for store in (one, two):
            store.create(DEFAULT_NAMESPACE)
        for i in range(3):
            one.create(pod(f"a{i}"))
        created = two.create(pod("b"))
        assert (one.revision(), two.revision(), rv(created)) == (4, 2, 2)
        assert one.get("Pod", "default", "b") is None
        assert [c.name for c in two.changes_since(0)] == ["default", "b"]

    # --- delete -------------------------------------------------------------------------------
    def test_delete_removes_and_returns_the_object(self, store):
        created = store.create(pod("x"))
        deleted = store.delete("Pod", "default", "x")
        assert rv(deleted) == rv(created) + 1
        assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
        assert store.get("Pod", "default", "x") is None
        assert store.list("Pod")[0] == []
        with pytest.raises(errors.ApiError) as caught:
            store.delete("Pod", "default", "x")
        assert caught.value.code == 404

    def test_finalizers_hold_a_deleted_object(self, store, clock):
        created = store.create(pod("x", finalizers=["example.com/cleanup"]))
        clock.advance(60)
        marked = store.delete("Pod", "default", "x")
        assert marked["metadata"]["deletionTimestamp"] == format_rfc3339(DEFAULT_START + 60)
        assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
        assert store.get("Pod", "default", "x") == marked
        clock.advance(60)
        again = store.delete("Pod", "default", "x")
        assert again["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
        # A client cannot clear deletionTimestamp; removing the last finalizer ends the object.
        relabelled = store.update(again | {"metadata": {**again["metadata"], "labels": {"a": "b"},
                                                        "deletionTimestamp": None}})
        assert relabelled["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
        assert store.get("Pod", "default", "x") is not None
        store.update(relabelled | {"metadata": {**relabelled["metadata"], "finalizers": []}})
        assert store.get("Pod", "default", "x") is None
        types = [c.type for c in store.changes_since(rv(created) - 1)]
        assert types == [ADDED, MODIFIED, MODIFIED, MODIFIED, DELETED]

    def test_namespace_spec_finalizers_hold_it(self, store):
        ns = store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"},
                           "spec": {"finalizers": ["kubernetes"]}})
        marked = store.delete("Namespace", "", "team")
        assert marked["metadata"]["deletionTimestamp"]
        store.update(marked | {"spec": {"finalizers": []}})
        assert store.get("Namespace", "", "team") is None
        assert store.changes_since(rv(ns))[-1].type == DELETED

    def test_delete_preconditions(self, store):
        created = store.create(pod("x"))
        uid = created["metadata"]["uid"]
        with pytest.raises(errors.ApiError) as caught:
            store.delete("Pod", "default", "x", uid="other-uid")
        assert caught.value.code == 409
        assert caught.value.message == (f'Operation cannot be fulfilled on pods "x": Precondition failed: '
                                        f"UID in precondition: other-uid, UID in object meta: {uid}")
        with pytest.raises(errors.ApiError) as caught:
            store.delete("Pod", "default", "x", resource_version="1")
        assert caught.value.message == (f'Operation cannot be fulfilled on pods "x": Precondition failed: '
                                        f"ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv(created)}")
        assert store.get("Pod", "default", "x") == created
        assert store.revision() == rv(created)
        store.delete("Pod", "default", "x", uid=uid, resource_version=str(rv(created)))
        assert store.get("Pod", "default", "x") is None

    def test_update_deletion_marks_a_graceful_deletion(self, store):
        created = store.create(pod("x"))
        marked = store.update_deletion(created, "2026-01-01T00:00:30Z", 30)
        assert marked["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:30Z"
        assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
        assert rv(marked) == rv(created) + 1
        assert store.get("Pod", "default", "x") == marked

    # --- reading ------------------------------------------------------------------------------
    def test_list_by_kind_and_namespace(self, store):
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a-team"}})
        for namespace, name in (("default", "web-2"), ("default", "web1"), ("a-team", "web"), ("default", "api")):
            store.create(pod(name, namespace=namespace))
        store.create(deployment("web"))
        store.create(node("n1"))
        pods, revision = store.list("Pod")
        assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods] == [
            ("a-team", "web"), ("default", "api"), ("default", "web-2"), ("default", "web1")]
        assert revision == store.revision() == 8
        assert [p["metadata"]["name"] for p in store.list("Pod", "default")[0]] == ["api", "web-2", "web1"]
        assert store.list("Pod", "elsewhere") == ([], 8)
        assert store.list("Deployment")[0] == [store.get("Deployment", "default", "web")]
        everything, _ = store.list()
        assert sorted(o["kind"] for o in everything) == ["Deployment", "Namespace", "Namespace", "Node", "Pod", "Pod",
                                                          "Pod", "Pod"]
        in_default, _ = store.list(namespace="default")
        assert sorted(o["kind"] for o in in_default) == ["Deployment", "Pod", "Pod", "Pod"]

    def test_returned_objects_are_copies(self, store):
        created = store.create(pod("x", labels={"a": "1"}))
        created["metadata"]["labels"]["a"] = "changed"
        created["spec"]["containers"].append({"name": "extra"})
        got = store.get("Pod", "default", "x")
        assert got["metadata"]["labels"] == {"a": "1"}
        got["spec"]["containers"][0]["image"] = "changed"
        listed = store.list("Pod")[0][0]
        assert listed["spec"]["containers"] == [{"name": "main", "image": "nginx"}]
        listed["metadata"]["name"] = "changed"
        updated = store.update(store.get("Pod", "default", "x") | {"status": {"phase": "Running"}})
        updated["status"]["phase"] = "changed"
        assert store.get("Pod", "default", "x")["status"] == {"phase": "Running"}

    def test_changes_are_copies(self, store):
        store.create(pod("x"))
        store.changes_since(0)[-1].object["metadata"]["name"] = "changed"
        assert store.changes_since(0)[-1].object["metadata"]["name"] == "x"

    def test_objects_passed_in_are_not_kept(self, store):
        obj = pod("x")
        store.create(obj)
        obj["spec"]["containers"][0]["image"] = "changed"
        assert store.get("Pod", "default", "x")["spec"]["containers"][0]["image"] == "nginx"
        assert "resourceVersion" not in obj["metadata"]

    # --- watching -----------------------------------------------------------------------------
    def test_changes_since_in_order_and_resumable(self, store):
        created = store.create(pod("x"))
        running = store.update(created | {"status": {"phase": "Running"}})
        deleted = store.delete("Pod", "default", "x")
        changes = store.changes_since(0)
        assert [(c.revision, c.type, c.kind, c.name) for c in changes] == [
            (1, ADDED, "Namespace", "default"), (2, ADDED, "Pod", "x"), (3, MODIFIED, "Pod", "x"),
            (4, DELETED, "Pod", "x")]
        assert [c.object for c in changes[1:]] == [created, running, deleted]
        assert changes[3].namespace == "default"
        for since in range(5):
            assert [c.revision for c in store.changes_since(since)] == list(range(since + 1, 5))
        assert [c.revision for c in store.changes_since(1, limit=2)] == [2, 3]
        assert store.changes_since(99) == []

    def test_changes_for_a_watch_are_narrowed_by_key_and_continue_past_the_others(self, store):
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})  # 2
        a = store.create(pod("a"))  # 3
        store.create(pod("b"))  # 4
        store.create(pod("a", namespace="other"))  # 5
        store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}})
        changes, last = store.changes_for_watch(0, "Pod", "default", "a")
        assert [(c.revision, c.type, c.object) for c in changes] == [(3, ADDED, a)] and last == 6
        assert [c.revision for c in store.changes_for_watch(2, "Pod")[0]] == [3, 4, 5]
        assert [c.revision for c in store.changes_for_watch(3, "Pod", "other")[0]] == [5]
        assert [c.revision for c in store.changes_for_watch(0, None, None, "a")[0]] == [3, 5, 6]
        assert store.changes_for_watch(6, "Pod") == ([], 6)

    def test_too_old_resource_version_is_gone_after_compaction(self, clock):
        store = self.make_store("small", clock.now, change_window=3)
        store.create(DEFAULT_NAMESPACE)
        for i in range(5):
            store.create(pod(f"p{i}"))
        self.compact(store)
        for since in (0, 1, 2):
            with pytest.raises(errors.ApiError) as caught:
                store.changes_since(since)
            assert (caught.value.code, caught.value.reason) == (410, "Expired")
            assert caught.value.message == f"too old resource version: {since} (4)"
            with pytest.raises(errors.ApiError) as caught:
                store.changes_for_watch(since, "Pod")
            assert caught.value.code == 410
        assert [c.revision for c in store.changes_since(3)] == [4, 5, 6]
        assert len(store.list("Pod")[0]) == 5  # compaction forgets changes, not objects
