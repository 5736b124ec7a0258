"""The informer cache: every object of a cluster, read-only, fed by the store's change log.

Controllers read here and write through the apiserver; their own writes are
applied at once (`observe`) so a controller sees what it just did, and the same
change arriving later from the log is recognised by its resourceVersion.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine import errors
from engine.labels import Selector
from engine.store import ADDED, DELETED, MODIFIED, Change, Store

NsName = tuple[str, str]


def _rv(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


class Informer:
    def __init__(self, store: Store):
        self.store = store
        self.revision = 0
        self._by_kind: dict[str, dict[NsName, dict]] = {}
        self._pods_by_node: dict[str, dict[NsName, dict]] = {}
        # Objects by the uid of their controller (ownerReference with controller: true), and those with no
        # controller per (kind, namespace): what a controller claims from, without scanning every pod.
        self._controlled: dict[str, dict[tuple[str, str, str], dict]] = {}
        self._orphans: dict[tuple[str, str], dict[str, dict]] = {}
        # Bumped whenever an object of the kind is put or dropped (observed writes too, which `revision` misses):
        # what readers key their derived lookups on (engine.network.traffic's reused Topology).
        self._versions: dict[str, int] = {}

    # --- feeding --------------------------------------------------------------------
    def resync(self) -> list[Change]:
        """Reload everything; returns synthetic changes so handlers see every object once."""
        objects, revision = self.store.snapshot()
        for kind in self._versions:  # a kind that is gone from the store has no `_drop` to bump it
            self._versions[kind] += 1
        self._by_kind.clear()
        self._pods_by_node.clear()
        self._controlled.clear()
        self._orphans.clear()
        out = []
        for obj in objects:
            self._put(obj)
            out.append(Change(_rv(obj), ADDED, obj))
        self.revision = revision
        return out

    def poll(self) -> list[Change]:
        """Apply the changes committed since the last poll and return the ones that were news to us."""
        try:
            changes = self.store.changes_for_cache(self.revision)
        except errors.ApiError as exc:
            if exc.code == 410:
                return self.resync()
            raise
        fresh = []
        for change in changes:
            if self._apply(change):
                fresh.append(change)
            self.revision = max(self.revision, change.revision)
        return fresh

    def observe(self, obj: dict, deleted: bool = False) -> None:
        """Apply one of our own writes immediately."""
        self._apply(Change(_rv(obj), DELETED if deleted else MODIFIED, obj))

    def _apply(self, change: Change) -> bool:
        obj = change.object
        kind = obj["kind"]
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        current = self._by_kind.get(kind, {}).get(key)
        if current is not None and _rv(current) >= change.revision and change.type != DELETED:
            if _rv(current) == change.revision and current is not obj and change.revision:
                # Our own write, seen through `observe`: hold the store's copy instead (a MemoryStore shares it
                # with the cache), and let the writer's copy go.
                self._put(obj)
            return True  # already seen through `observe`; still news to the handlers
        if change.type == DELETED:
            if current is not None and _rv(current) > change.revision:
                return False  # a newer incarnation exists
            self._drop(kind, key)
        else:
            self._put(obj)
        return True

    def _put(self, obj: dict) -> None:
        kind = obj["kind"]
        self._versions[kind] = self._versions.get(kind, 0) + 1
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        old = self._by_kind.get(kind, {}).get(key)
        if kind == "Pod":
            if old is not None:
                self._pods_by_node.get(old["spec"].get("nodeName") or "", {}).pop(key, None)
            self._pods_by_node.setdefault(obj.get("spec", {}).get("nodeName") or "", {})[key] = obj
        self._by_kind.setdefault(kind, {})[key] = obj
        if old is not None and self._controller_uid(old) == self._controller_uid(obj):
            # Same controller: replace the entry in place (an update does not move it to the end of the index).
            self._index_owner(kind, key, obj)
            return
        if old is not None:
            self._unindex_owner(kind, key, old)
        self._index_owner(kind, key, obj)

    def _drop(self, kind: str, key: NsName) -> None:
        self._versions[kind] = self._versions.get(kind, 0) + 1
        old = self._by_kind.get(kind, {}).pop(key, None)
        if old is not None:
            self._unindex_owner(kind, key, old)
        if kind == "Pod" and old is not None:
            self._pods_by_node.get(old["spec"].get("nodeName") or "", {}).pop(key, None)

    @staticmethod
    def _controller_uid(obj: dict) -> str:
        for ref in obj["metadata"].get("ownerReferences") or ():
            if ref.get("controller"):
                return ref.get("uid") or ""
        return ""

    def _index_owner(self, kind: str, key: NsName, obj: dict) -> None:
        uid = self._controller_uid(obj)
        if uid:
            self._controlled.setdefault(uid, {})[(kind, *key)] = obj
        else:
            self._orphans.setdefault((kind, key[0]), {})[key[1]] = obj

    def _unindex_owner(self, kind: str, key: NsName, obj: dict) -> None:
        uid = self._controller_uid(obj)
        index, entry = (self._controlled.get(uid), (kind, *key)) if uid else (self._orphans.get((kind, key[0])), key[1])
        if index is not None:
            index.pop(entry, None)
            if not index:
                if uid:
                    self._controlled.pop(uid, None)
                else:
                    self._orphans.pop((kind, key[0]), None)

    # --- reading (never mutate what you get) ------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._by_kind.get(kind, {}).get((namespace or "", name))

    def list(self, kind: str, namespace: str | None = None, selector: Selector | None = None) -> list[dict]:
        objs: Iterable[dict] = self._by_kind.get(kind, {}).values()
        if namespace is not None:
            objs = (o for o in objs if o["metadata"].get("namespace", "") == namespace)
        if selector is not None:
            objs = (o for o in objs if selector.matches(o["metadata"].get("labels")))
        return list(objs)

    def claimable(self, kind: str, namespace: str, owner_uid: str) -> list[dict]:
        """What a controller's claim can look at: the objects it controls and the orphans in its namespace
        (objects another controller owns are never claimed, so they need not be listed)."""
        owned = [obj for (k, ns, _), obj in (self._controlled.get(owner_uid) or {}).items()
                 if k == kind and ns == namespace]
        return owned + list((self._orphans.get((kind, namespace)) or {}).values())

    def controlled_by(self, kind: str, namespace: str, owner_uid: str) -> list[dict]:
        """The objects of `kind` in `namespace` whose controller (ownerReference with controller: true) has
        `owner_uid`, in the order they came under it: an index lookup instead of a scan of every object."""
        return [obj for (k, ns, _), obj in (self._controlled.get(owner_uid) or {}).items()
                if k == kind and ns == namespace]

    def nodes_with_pods(self) -> list[str]:
        """The names of the nodes that pods are bound to ("" for the unscheduled ones, when there are any)."""
        return [node for node, pods in self._pods_by_node.items() if pods]

    def pods_on_node(self, node: str) -> list[dict]:
        return list(self._pods_by_node.get(node, {}).values())

    def version(self, kind: str) -> int:
        """A number that changes whenever an object of `kind` is added, changed or removed here."""
        return self._versions.get(kind, 0)

    def count(self, kind: str) -> int:
        return len(self._by_kind.get(kind, {}))

    def kinds(self) -> list[str]:
        return list(self._by_kind)


__all__ = ["Informer", "ADDED", "MODIFIED", "DELETED"]
