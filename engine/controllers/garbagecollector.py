"""The garbage collector (pkg/controller/garbagecollector): ownerReferences made into deletions.

It keeps an index built from the cache, owner uid -> dependents, and reacts to
changes instead of scanning everything:

- an object whose owners are all gone (no object of that kind and name with that
  uid) is deleted, in the background (`kubectl delete deployment` -> its
  ReplicaSets -> their pods); one with some owners left just loses the dangling
  references;
- an owner deleted with `propagationPolicy: Foreground` carries the
  `foregroundDeletion` finalizer: its dependents are deleted first (those that
  block the owner's deletion first of all), and once no blocking dependent is
  left the finalizer is removed and the owner goes;
- an owner deleted with `propagationPolicy: Orphan` carries the `orphan`
  finalizer: its dependents lose their references to it, then the finalizer is
  removed.
"""

from __future__ import annotations

import logging

from engine import errors
from engine.controllers.base import Controller, Key
from engine.resources import registry
from engine.store import DELETED, Change, copy_json

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def _finalizers(obj: dict) -> list[str]:
    return list(obj["metadata"].get("finalizers") or [])


def _key(obj: dict) -> Key:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace", ""), meta["name"]


class GarbageCollector(Controller):
    name = "garbage-collector"
    primary_kind = ""

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self._uid_of: dict[Key, str] = {}  # every object we have seen -> its uid
        self._key_of: dict[str, Key] = {}  # uid -> object
        self._owners_of: dict[Key, tuple[str, ...]] = {}  # dependent -> owner uids it references
        self._dependents: dict[str, set[Key]] = {}  # owner uid -> dependents referencing it
        self._indexed = False  # the first resync (at start) builds the index from the whole cache

    # --- the index --------------------------------------------------------------------------------
    def _forget(self, key: Key) -> None:
        uid = self._uid_of.pop(key, None)
        if uid is not None and self._key_of.get(uid) == key:
            del self._key_of[uid]
        for owner_uid in self._owners_of.pop(key, ()):
            deps = self._dependents.get(owner_uid)
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[owner_uid]

    def _index(self, obj: dict) -> bool:
        """Record an object; return whether its ownerReferences changed."""
        key = _key(obj)
        meta = obj["metadata"]
        owners = tuple(sorted(r.get("uid", "") for r in meta.get("ownerReferences") or []))
        old_uid = self._uid_of.get(key)
        if old_uid is not None and old_uid != meta.get("uid"):
            self._forget(key)  # a new object under an old name
        self._uid_of[key] = meta.get("uid", "")
        self._key_of[meta.get("uid", "")] = key
        previous = self._owners_of.get(key, ())
        if previous == owners:
            return False
        for owner_uid in previous:
            deps = self._dependents.get(owner_uid)
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[owner_uid]
        if owners:
            self._owners_of[key] = owners
            for owner_uid in owners:
                self._dependents.setdefault(owner_uid, set()).add(key)
        else:
            self._owners_of.pop(key, None)
        return True

    def dependents_of(self, uid: str) -> list[dict]:
        out = []
        for kind, namespace, name in sorted(self._dependents.get(uid, ())):
            obj = self.sim.cache.get(kind, namespace, name)
            if obj is not None:
                out.append(obj)
        return out

    # --- wiring -----------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        obj = change.object
        key = _key(obj)
        uid = obj["metadata"].get("uid", "")
        if change.type == DELETED:
            # Its dependents may now be orphans; an owner waiting for it may now go.
            for dep in self._dependents.get(uid, ()):
                self.queue.add(dep)
            self._wake_owners(obj)
            if self._uid_of.get(key) == uid:
                self._forget(key)
            return
        owners_changed = self._index(obj)
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            if FOREGROUND in _finalizers(obj) or ORPHAN in _finalizers(obj):
                self.queue.add(key)
            self._wake_owners(obj)
        elif (owners_changed or change.type == "ADDED") and meta.get("ownerReferences") and self._owner_in_doubt(obj):
            self.queue.add(key)

    def _owner_in_doubt(self, obj: dict) -> bool:
        """Whether a new or re-owned dependent needs a look: an owner never seen (the real GC's virtual node, which
        it looks up), seen under another kind or name, or being deleted. A dependent of live owners (a new pod of
        its ReplicaSet) is only recorded in the graph, as kube-controller-manager's graph builder does."""
        namespace = obj["metadata"].get("namespace", "")
        for ref in obj["metadata"].get("ownerReferences") or []:
            known = self._key_of.get(ref.get("uid", ""))
            if known is None or known[0] != ref.get("kind") or known[2] != ref.get("name") or known[1] not in ("", namespace):
                return True
            owner = self.sim.cache.get(*known)
            if owner is None or owner["metadata"].get("deletionTimestamp"):
                return True
        return False

    def _wake_owners(self, obj: dict) -> None:
        """A dependent went (or started going): an owner deleting in the foreground may be done."""
        for ref in obj["metadata"].get("ownerReferences") or []:
            owner_key = self._key_of.get(ref.get("uid", ""))
            if owner_key is not None:
                self.queue.add(owner_key)

    def resync(self) -> None:
        if self._indexed:
            self._recheck_virtual_owners()
            return
        self._indexed = True
        self._uid_of.clear()
        self._key_of.clear()
        self._owners_of.clear()
        self._dependents.clear()
        for kind in self.sim.cache.kinds():
            for obj in self.sim.cache.list(kind):
                self._index(obj)
                meta = obj["metadata"]
                if meta.get("ownerReferences") or (meta.get("deletionTimestamp") and
                                                   {FOREGROUND, ORPHAN} & set(_finalizers(obj))):
                    self.queue.add(_key(obj))

    def _recheck_virtual_owners(self) -> None:
        """A periodic resync after the first: the index already follows every change (as the real GC's graph
        follows its informers, where a resync is an update without reference changes and does nothing), so
        only dependents of owners never seen (the real GC's virtual nodes) are looked at again."""
        for owner_uid, dependents in self._dependents.items():
            if owner_uid not in self._key_of:
                for key in sorted(dependents):
                    self.queue.add(key)

    # --- sync -------------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        kind, namespace, name = key
        obj = self.sim.cache.get(kind, namespace, name)
        if obj is None:
            return
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            finalizers = _finalizers(obj)
            if ORPHAN in finalizers:
                self.orphan_dependents(obj)
            elif FOREGROUND in finalizers:
                self.delete_dependents(obj)
            return
        if meta.get("ownerReferences"):
            self.attempt_to_delete(obj)

    def owner_state(self, dependent: dict, ref: dict) -> str:
        """'solid', 'dangling', 'waiting' (being deleted in the foreground) or 'unknown' (kind not served)."""
        try:
            info = registry.by_kind(ref.get("kind", ""))
        except registry.UnknownKind:
            return "unknown"
        namespace = dependent["metadata"].get("namespace", "") if info.namespaced else ""
        owner = self.sim.cache.get(info.kind, namespace, ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return "dangling"
        if owner["metadata"].get("deletionTimestamp") and FOREGROUND in _finalizers(owner):
            return "waiting"
        return "solid"

    def attempt_to_delete(self, obj: dict) -> None:
        """Delete a dependent whose owners are all gone (or being deleted in the foreground)."""
        refs = obj["metadata"].get("ownerReferences") or []
        states = [(ref, self.owner_state(obj, ref)) for ref in refs]
        if any(state == "unknown" for _, state in states):
            return  # never delete on a guess
        solid = [ref for ref, state in states if state == "solid"]
        stale = [ref for ref, state in states if state != "solid"]
        if not stale:
            return
        if solid:
            # Other owners still hold it: just drop the references to the missing ones.
            self._set_owner_refs(obj, solid)
            return
        waiting = any(state == "waiting" for _, state in states)
        has_dependents = bool(self._dependents.get(obj["metadata"].get("uid", "")))
        policy = "Foreground" if waiting and has_dependents else "Background"
        if ORPHAN in _finalizers(obj):
            policy = "Orphan"
        self._delete(obj, policy)

    def delete_dependents(self, owner: dict) -> None:
        """Foreground deletion: dependents go first; the owner goes when no blocking dependent is left."""
        uid = owner["metadata"]["uid"]
        dependents = self.dependents_of(uid)

        def blocks(dep: dict) -> bool:
            return any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                       for r in dep["metadata"].get("ownerReferences") or [])

        for dep in sorted(dependents, key=lambda o: not blocks(o)):
            if not dep["metadata"].get("deletionTimestamp"):
                self.attempt_to_delete(dep)
        remaining = [dep for dep in self.dependents_of(uid) if blocks(dep)]
        if not remaining:
            self._remove_finalizer(owner, FOREGROUND)

    def orphan_dependents(self, owner: dict) -> None:
        uid = owner["metadata"]["uid"]
        for dep in self.dependents_of(uid):
            refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            self._set_owner_refs(dep, refs)
        self._remove_finalizer(owner, ORPHAN)

    # --- writes -----------------------------------------------------------------------------------
    def _delete(self, obj: dict, policy: str) -> None:
        meta = obj["metadata"]
        try:
            self.client.delete(obj["kind"], meta.get("namespace", ""), meta["name"], propagation_policy=policy,
                               uid=meta.get("uid"))
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise

    def _set_owner_refs(self, obj: dict, refs: list[dict]) -> None:
        updated = copy_json(obj)
        if refs:
            updated["metadata"]["ownerReferences"] = copy_json(refs)
        else:
            updated["metadata"].pop("ownerReferences", None)
        try:
            self.client.update(updated)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    def _remove_finalizer(self, obj: dict, finalizer: str) -> None:
        updated = copy_json(obj)
        updated["metadata"]["finalizers"] = [f for f in _finalizers(obj) if f != finalizer]
        if not updated["metadata"]["finalizers"]:
            del updated["metadata"]["finalizers"]
        try:
            self.client.update(updated)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise


__all__ = ["GarbageCollector", "FOREGROUND", "ORPHAN"]
