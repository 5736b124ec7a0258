"""The store (our etcd): the interface, its shared semantics, and an in-memory implementation.

Objects are plain JSON-like dicts, as on the wire. A store holds one cluster.
`BaseStore` implements every rule once (uid, per-cluster monotonically
increasing resourceVersion, generation, finalizers and deletionTimestamp,
optimistic concurrency, the change log and 410 Gone); an implementation only
supplies row access. `cluster.store.DjangoStore` is the other implementation,
and one contract suite (tests/store_contract.py) runs against both.
"""

from __future__ import annotations

import contextlib
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from engine import errors
from engine.clock import format_rfc3339
from engine.resources import registry

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

# How many changes a store keeps for watches to resume from.
DEFAULT_CHANGE_WINDOW = 10_000

Key = tuple[str, str, str]  # (kind, namespace, name); namespace "" for cluster-scoped kinds


@dataclass(frozen=True)
class Change:
    revision: int
    type: str
    object: dict

    @property
    def kind(self) -> str:
        return self.object["kind"]

    @property
    def namespace(self) -> str:
        return self.object["metadata"].get("namespace", "")

    @property
    def name(self) -> str:
        return self.object["metadata"]["name"]


def copy_json(value):
    """A deep copy of JSON-like data, several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def change_matches(change, kind: str | None, namespace: str | None, name: str | None) -> bool:
    """Whether a change is of `kind`, in `namespace` and of `name` (each when given), by its key alone."""
    return ((not kind or change.kind == kind) and (not namespace or change.namespace == namespace)
            and (name is None or change.name == name))


def key_of(obj: dict) -> Key:
    meta = obj.get("metadata") or {}
    return obj.get("kind", ""), meta.get("namespace") or "", meta.get("name") or ""


def _held(obj: dict) -> bool:
    """Whether finalizers keep a deleted object stored (a Namespace's live in spec.finalizers)."""
    if obj["metadata"].get("finalizers"):
        return True
    return obj.get("kind") == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))


def _spec_part(obj: dict) -> dict:
    """What bumps metadata.generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store(ABC):
    """What every store offers. All returned objects are copies the caller may change."""

    cluster: str

    @abstractmethod
    def get(self, kind: str, namespace: str, name: str) -> dict | None: ...

    @abstractmethod
    def list(self, kind: str | None = None, namespace: str | None = None) -> tuple[list[dict], int]:
        """The objects (of a kind, in a namespace, when given) and the revision they are as of."""

    @abstractmethod
    def create(self, obj: dict) -> dict: ...

    @abstractmethod
    def update(self, obj: dict) -> dict: ...

    @abstractmethod
    def delete(self, kind: str, namespace: str, name: str, *, uid: str | None = None,
               resource_version: str | None = None) -> dict: ...

    @abstractmethod
    def changes_since(self, revision: int, limit: int | None = None) -> list[Change]:
        """Changes after `revision`, oldest first; 410 Gone when they are no longer kept."""

    @abstractmethod
    def revision(self) -> int: ...

    @abstractmethod
    def atomic(self) -> contextlib.AbstractContextManager: ...

    def flush_writes(self) -> None:
        """Make the writes this store holds back in its transaction visible to readers that bypass it (a COUNT
        query of the rows). A no-op unless the store holds writes back (DjangoStore does, under its lock)."""
        return None

    # --- the informer's reads: objects it promises never to change ------------------------------
    def snapshot(self) -> tuple[list[dict], int]:
        """Every object and the revision, for the informer cache, which never changes what it holds.
        A store that keeps its objects in memory may share them instead of copying (MemoryStore does)."""
        return self.list()

    def changes_for_cache(self, revision: int) -> list[Change]:
        """`changes_since` for the informer cache (read-only objects, which a store may share)."""
        return self.changes_since(revision)

    # --- a watch's reads -----------------------------------------------------------------------------
    def changes_for_watch(self, revision: int, kind: str | None = None, namespace: str | None = None,
                          name: str | None = None) -> tuple[list[Change], int]:
        """The changes after `revision` of `kind`, in `namespace`, of `name` (each when given), oldest first,
        and the revision a watch continues from: the newest it has looked past. 410 Gone as `changes_since`.
        A store with an index answers without reading the others (DjangoStore filters in SQL)."""
        changes = self.changes_since(revision)
        last = changes[-1].revision if changes else max(revision, 0)
        return [c for c in changes if change_matches(c, kind, namespace, name)], last


class BaseStore(Store):
    """Store semantics on top of five primitives an implementation provides."""

    def __init__(self, cluster: str = "default", now: Callable[[], float] | None = None):
        self.cluster = cluster
        import time

        self._now = now or time.time
        self.writes = 0  # writes made through this store object: whether a poll of the change log has news

    def _reserve_revision(self) -> int:
        self.writes += 1
        return self._next_revision()

    # --- primitives ------------------------------------------------------------------
    @abstractmethod
    def _read(self, key: Key) -> dict | None:
        """The stored object (not a copy; callers copy before changing)."""

    @abstractmethod
    def _write(self, key: Key, obj: dict, revision: int, change_type: str) -> None:
        """Insert or replace the row and append the change, in one step."""

    @abstractmethod
    def _remove(self, key: Key, obj: dict, revision: int) -> None:
        """Remove the row and append a DELETED change carrying `obj`."""

    @abstractmethod
    def _next_revision(self) -> int:
        """Reserve the next revision of this cluster."""

    def _kind_info(self, kind: str) -> registry.KindInfo:
        """A built-in kind, else one this cluster's CustomResourceDefinitions add."""
        try:
            return registry.by_kind(kind)
        except registry.UnknownKind:
            pass
        from engine.resources import custom

        found = custom.by_kind(self, kind)
        if found is None:
            raise errors.bad_request(f"no kind \"{kind}\" is registered")
        return found

    # --- reads ----------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        found = self._read((kind, namespace or "", name))
        return copy_json(found) if found is not None else None

    # --- writes ---------------------------------------------------------------------
    # `own`: the caller hands `obj` over and keeps no reference to it (the apiserver's private copy), so it is
    # stored without another copy. `share`: the caller only reads the result (the simulation's controllers,
    # whose informer cache holds it), so the stored object itself comes back instead of a copy.
    def create(self, obj: dict, *, own: bool = False, share: bool = False) -> dict:
        kind, namespace, name = key_of(obj)
        info = self._kind_info(kind)
        if not name:
            raise errors.invalid(info.qualified_kind, "", [errors.required("metadata.name", "name or generateName is required")],
                                 info.group)
        if info.namespaced:
            if not namespace:
                raise errors.bad_request("the server could not find the requested resource: namespace is required")
            if self._read(("Namespace", "", namespace)) is None:
                raise errors.not_found("namespaces", namespace)
        elif namespace:
            obj = copy_json(obj)
            obj["metadata"].pop("namespace", None)
            namespace = ""
        with self.atomic():
            if self._read((kind, namespace, name)) is not None:
                raise errors.already_exists(info.plural, name, info.group)
            stored = obj if own else copy_json(obj)
            stored["apiVersion"] = info.api_version
            meta = stored["metadata"]
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["creationTimestamp"] = format_rfc3339(self._now())
            meta["generation"] = 1
            for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                meta.pop(transient, None)
            revision = self._reserve_revision()
            meta["resourceVersion"] = str(revision)
            self._write((kind, namespace, name), stored, revision, ADDED)
        return stored if share else copy_json(stored)

    def update(self, obj: dict, *, own: bool = False, share: bool = False) -> dict:
        kind, namespace, name = key_of(obj)
        info = self._kind_info(kind)
        key = (kind, namespace if info.namespaced else "", name)
        with self.atomic():
            current = self._read(key)
            if current is None:
                raise errors.not_found(info.plural, name, info.group)
            cur_meta = current["metadata"]
            wanted_rv = (obj.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != cur_meta["resourceVersion"]:
                raise errors.conflict(info.plural, name, info.group)
            new = obj if own else copy_json(obj)
            new["apiVersion"] = info.api_version
            meta = new["metadata"]
            # What the server owns cannot be changed by an update.
            for owned in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                meta[owned] = cur_meta[owned]
            if not info.namespaced:
                meta.pop("namespace", None)
            if cur_meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = cur_meta["deletionTimestamp"]
                if "deletionGracePeriodSeconds" in cur_meta:
                    meta["deletionGracePeriodSeconds"] = cur_meta["deletionGracePeriodSeconds"]
            if _spec_part(new) != _spec_part(current):
                meta["generation"] = cur_meta["generation"] + 1
            if new == current:  # a no-op update keeps its resourceVersion, as in Kubernetes
                return current if share else copy_json(current)
            revision = self._reserve_revision()
            meta["resourceVersion"] = str(revision)
            if meta.get("deletionTimestamp") and _held(current) and not _held(new):
                self._remove(key, new, revision)
            else:
                self._write(key, new, revision, MODIFIED)
        return new if share else copy_json(new)

    def update_deletion(self, obj: dict, deletion_timestamp: str, grace_seconds: int) -> dict:
        """Start a graceful deletion (server-internal: clients cannot set these fields by update)."""
        kind, namespace, name = key_of(obj)
        info = self._kind_info(kind)
        key = (kind, namespace if info.namespaced else "", name)
        with self.atomic():
            current = self._read(key)
            if current is None:
                raise errors.not_found(info.plural, name, info.group)
            new = copy_json(current)
            new["metadata"]["deletionTimestamp"] = deletion_timestamp
            new["metadata"]["deletionGracePeriodSeconds"] = grace_seconds
            revision = self._reserve_revision()
            new["metadata"]["resourceVersion"] = str(revision)
            self._write(key, new, revision, MODIFIED)
        return copy_json(new)

    def delete(self, kind: str, namespace: str, name: str, *, uid: str | None = None,
               resource_version: str | None = None) -> dict:
        info = self._kind_info(kind)
        key = (kind, namespace if info.namespaced else "", name)
        with self.atomic():
            current = self._read(key)
            if current is None:
                raise errors.not_found(info.plural, name, info.group)
            meta = current["metadata"]
            if uid and uid != meta["uid"]:
                raise errors.conflict(
                    info.plural, name, info.group,
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta['uid']}")
            if resource_version and resource_version != meta["resourceVersion"]:
                raise errors.conflict(
                    info.plural, name, info.group,
                    f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                    f"ResourceVersion in object meta: {meta['resourceVersion']}")
            obj = copy_json(current)
            revision = self._reserve_revision()
            obj["metadata"]["resourceVersion"] = str(revision)
            if _held(obj):
                # Finalizers hold the object: mark it and let their owners finish.
                if not obj["metadata"].get("deletionTimestamp"):
                    obj["metadata"]["deletionTimestamp"] = format_rfc3339(self._now())
                    obj["metadata"]["deletionGracePeriodSeconds"] = 0
                self._write(key, obj, revision, MODIFIED)
            else:
                self._remove(key, obj, revision)
        return copy_json(obj)


class MemoryStore(BaseStore):
    """The in-memory store: engine tests, benchmarks, and the reference for the contract."""

    def __init__(self, cluster: str = "default", now: Callable[[], float] | None = None,
                 change_window: int = DEFAULT_CHANGE_WINDOW):
        super().__init__(cluster, now)
        self._objects: dict[Key, dict] = {}
        self._by_kind: dict[str, dict[Key, dict]] = {}
        self._revision = 0
        self._changes: deque[Change] = deque(maxlen=change_window)
        self._compacted = 0  # changes at or below this revision are forgotten

    def _read(self, key: Key) -> dict | None:
        return self._objects.get(key)

    # A stored object is never changed after `_write` (BaseStore writes a new copy each time), so the change log
    # and the informer cache share it instead of holding copies: one copy of each object per cluster, not three.
    # Callers of get/list/changes_since still get copies of their own.
    def _write(self, key: Key, obj: dict, revision: int, change_type: str) -> None:
        self._objects[key] = obj
        self._by_kind.setdefault(key[0], {})[key] = obj
        self._log(Change(revision, change_type, obj))

    def _remove(self, key: Key, obj: dict, revision: int) -> None:
        self._objects.pop(key, None)
        self._by_kind.get(key[0], {}).pop(key, None)
        self._log(Change(revision, DELETED, obj))

    def _log(self, change: Change) -> None:
        if len(self._changes) == self._changes.maxlen:
            self._compacted = self._changes[0].revision
        self._changes.append(change)

    def _next_revision(self) -> int:
        self._revision += 1
        return self._revision

    def revision(self) -> int:
        return self._revision

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        yield

    def list(self, kind: str | None = None, namespace: str | None = None) -> tuple[list[dict], int]:
        source = self._by_kind.get(kind, {}) if kind else self._objects
        items = [copy_json(o) for k, o in source.items() if namespace is None or k[1] == namespace]
        items.sort(key=lambda o: key_of(o)[1:])
        return items, self._revision

    def snapshot(self) -> tuple[list[dict], int]:
        items = sorted(self._objects.values(), key=lambda o: key_of(o)[1:])
        return items, self._revision

    def changes_for_cache(self, revision: int) -> list[Change]:
        return self._changes_after(revision, None)

    def changes_since(self, revision: int, limit: int | None = None) -> list[Change]:
        # Each caller gets its own objects, as from a database: the log must not change under it.
        return [Change(c.revision, c.type, copy_json(c.object)) for c in self._changes_after(revision, limit)]

    def _changes_after(self, revision: int, limit: int | None) -> list[Change]:
        if revision < self._compacted:
            raise errors.gone(revision, self._compacted + 1)
        out = []
        # Changes are in revision order: walk back from the newest until we pass `revision`.
        for change in reversed(self._changes):
            if change.revision <= revision:
                break
            out.append(change)
        out.reverse()
        if limit:
            out = out[:limit]
        return out
