"""DjangoStore's shared reads (cluster/store.py): decoded objects kept for readers that never change them,
and what the API derives from them (a pod row's fixed cells, encodings) rendering exactly as without."""

from __future__ import annotations

import json

import pytest

from cluster import store as django_store
from cluster.models import Cluster
from cluster.store import DjangoStore, SharedObjects
from engine.resources import registry, tables
from tests.store_contract import pod


@pytest.fixture
def store(db):
    created = DjangoStore(Cluster.objects.create(name="shared"), lambda: 1_800_000_000.0)
    created.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return created


def test_shared_reads_answer_the_same_object_until_it_changes(store):
    created = store.create(pod("web-1"))
    with store.shared_reads():
        first = store.get("Pod", "default", "web-1")
        assert store.get("Pod", "default", "web-1") is first
        assert store.list("Pod", "default")[0] == [first] and store.list("Pod", "default")[0][0] is first
    assert first == created
    store.update(created | {"status": {"phase": "Running"}})
    with store.shared_reads():
        second = store.get("Pod", "default", "web-1")
    assert second is not first and second["status"] == {"phase": "Running"}
    assert "status" not in first  # the object handed out earlier was left as it was


def test_reads_outside_are_fresh_copies_and_lists_match(store):
    for name in ("b", "a", "c"):
        store.create(pod(name))
    with store.shared_reads():
        shared, revision = store.list("Pod")
    fresh, fresh_revision = store.list("Pod")
    assert fresh == shared and revision == fresh_revision
    assert [p["metadata"]["name"] for p in fresh] == ["a", "b", "c"]
    assert all(f is not s for f, s in zip(fresh, shared, strict=True))
    assert store.get("Pod", "default", "a") is not store.get("Pod", "default", "a")


def test_memo_lives_as_long_as_the_shared_object(store):
    created = store.create(pod("web-1"))
    assert store.memo(store.get("Pod", "default", "web-1")) is None  # a fresh copy has none
    with store.shared_reads():
        obj = store.get("Pod", "default", "web-1")
    store.memo(obj)["x"] = 1
    with store.shared_reads():
        assert store.memo(store.get("Pod", "default", "web-1")) == {"x": 1}
    store.update(created | {"metadata": {**created["metadata"], "labels": {"a": "b"}}})
    with store.shared_reads():
        assert store.memo(store.get("Pod", "default", "web-1")) == {}


def test_same_resource_version_with_other_content_is_not_reused(store):
    """A rolled-back transaction can leave a resourceVersion to be used again: the text decides."""
    key = (store.using, store.cluster_id, "Pod", "default", "web-1")
    text = json.dumps(pod("web-1") | {"metadata": {"name": "web-1", "resourceVersion": "7"}})
    first = django_store.SHARED.decode(key, text).obj
    other = json.dumps(pod("web-1") | {"metadata": {"name": "web-1", "resourceVersion": "7", "labels": {"x": "y"}}})
    assert django_store.SHARED.decode(key, other).obj is not first


def test_the_cache_keeps_at_most_its_limit():
    cache = SharedObjects(limit=3)
    for i in range(5):
        cache.decode(("db", 1, "Pod", "ns", f"p{i}"), json.dumps({"i": i}))
    assert len(cache) == 3
    kept = cache.decode(("db", 1, "Pod", "ns", "p4"), json.dumps({"i": 4}))
    assert cache.decode(("db", 1, "Pod", "ns", "p4"), json.dumps({"i": 4})) is kept
    assert SharedObjects(limit=0).decode(("k",), "{}").obj == {}


def test_pod_rows_from_the_memo_are_the_rows_without(store):
    info = registry.by_kind("Pod")
    restarted = pod("crash") | {"status": {"phase": "Running", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"finishedAt": "2027-01-15T07:55:00Z"}}}],
        "conditions": [{"type": "Ready", "status": "False"}]}}
    store.create(restarted)
    store.create(pod("done") | {"status": {"phase": "Succeeded"}})
    with store.shared_reads():
        objects, _ = store.list("Pod")
    for now in (1_800_000_000.0, 1_800_003_600.0):  # the memo keeps no time: AGE and RESTARTS follow `now`
        for include in ("Metadata", "None", "Object"):
            plain = tables.table(info, objects, now, include_object=include)
            memoised = tables.table(info, objects, now, include_object=include, memo=store.memo)
            assert json.dumps(memoised) == json.dumps(plain)
    assert "pod-row" in store.memo(objects[0])


def test_the_informer_gets_a_writers_own_objects_back_and_changes_since_copies(store):
    revision = store.revision()
    written = store.create(pod("web-1"), share=True)
    updated = store.update(written | {"status": {"phase": "Running"}}, share=True)
    cached = store.changes_for_cache(revision)
    assert [(c.type, c.object["metadata"]["resourceVersion"]) for c in cached] == [
        ("ADDED", written["metadata"]["resourceVersion"]), ("MODIFIED", updated["metadata"]["resourceVersion"])]
    assert cached[1].object is updated  # the newest version of each object is the very one written, not decoded
    assert cached[0].object == written  # an older one is decoded from its text
    copied = store.changes_since(revision)
    assert [c.object for c in copied] == [c.object for c in cached]
    assert all(a.object is not b.object for a, b in zip(copied, cached, strict=True))
    assert store.changes_since(revision, limit=1)[0].object == written


def test_a_row_and_its_change_store_the_same_text(store):
    from cluster.models import Change, StoredObject

    created = store.create(pod("web-1"))
    row = StoredObject.objects.get(cluster_id=store.cluster_id, kind="Pod", name="web-1")
    change = Change.objects.get(cluster_id=store.cluster_id, revision=int(created["metadata"]["resourceVersion"]))
    assert row.data == change.data == created
