"""The shape every controller (and the scheduler, and the kubelets) shares.

Event handlers only put keys on a queue; `sync(key)` reads desired and current
state from the informer cache and writes through the apiserver. A sync that
raises is retried with back-off; one that succeeds forgets the key.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from engine import errors
from engine.store import Change

if TYPE_CHECKING:
    from engine.simulation import Simulation

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (kind, namespace, name)

BASE_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 60.0


class WorkQueue:
    """An ordered set of keys: adding a queued key again does nothing.

    Keys added while `deferring()` (a periodic resync) wait in a backlog instead, which the simulation releases
    a batch per tick, so a resync of thousands of objects does not all run in one tick. A key added normally
    (a change happened) leaves the backlog and is worked at once.
    """

    def __init__(self) -> None:
        self._keys: dict[Key, None] = {}
        self._failures: dict[Key, int] = {}
        self._backlog: dict[Key, None] = {}
        self._deferring = False

    def add(self, key: Key) -> None:
        if self._deferring:
            if key not in self._keys:
                self._backlog[key] = None
            return
        self._backlog.pop(key, None)
        self._keys[key] = None

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    def release_deferred(self, count: int) -> None:
        """Move up to `count` keys from the resync backlog to the queue, oldest first."""
        while self._backlog and count > 0:
            key = next(iter(self._backlog))
            del self._backlog[key]
            self._keys[key] = None
            count -= 1

    def pop(self) -> Key | None:
        if not self._keys:
            return None
        key = next(iter(self._keys))
        del self._keys[key]
        return key

    def __len__(self) -> int:
        return len(self._keys)

    def forget(self, key: Key) -> None:
        self._failures.pop(key, None)

    def failed(self, key: Key) -> float:
        """Count a failure and return the back-off before the next try."""
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        return min(MAX_RETRY_SECONDS, BASE_RETRY_SECONDS * (2 ** (count - 1)))


class Controller:
    #: Name shown in the UI and in logs (e.g. "replicaset-controller").
    name = "controller"
    #: The control-plane component it belongs to, for the UI to light up.
    component = "kube-controller-manager"
    #: Kind whose objects are this controller's keys.
    primary_kind = ""
    #: Most syncs a controller runs per round, so one busy controller cannot starve the others.
    burst = 500

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.queue = WorkQueue()

    # --- wiring ---------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        """React to a committed change by enqueueing keys. Default: the object itself if primary."""
        if change.kind == self.primary_kind:
            self.enqueue(change.kind, change.namespace, change.name)

    def resync(self) -> None:
        """Enqueue every primary object (level-driven safety net, and the start after a takeover)."""
        if self.primary_kind:
            for obj in self.sim.cache.list(self.primary_kind):
                self.enqueue_object(obj)

    def enqueue(self, kind: str, namespace: str, name: str) -> None:
        self.queue.add((kind, namespace or "", name))

    def enqueue_object(self, obj: dict) -> None:
        meta = obj["metadata"]
        self.enqueue(obj["kind"], meta.get("namespace", ""), meta["name"])

    def enqueue_after(self, key: Key, delay: float) -> None:
        self.sim.clock.call_later(delay, lambda: self.queue.add(key))

    def enqueue_owner(self, obj: dict, owner_kinds: Iterable[str]) -> None:
        """Enqueue the controlling owner of `obj`, if it is one of `owner_kinds`."""
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") in owner_kinds:
                self.enqueue(ref["kind"], obj["metadata"].get("namespace", ""), ref["name"])

    # --- work -----------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        raise NotImplementedError

    def process(self) -> int:
        """Run up to `burst` queued syncs; returns how many ran."""
        done = 0
        while done < self.burst:
            key = self.queue.pop()
            if key is None:
                break
            done += 1
            try:
                self.sync(key)
                self.queue.forget(key)
            except errors.ApiError as exc:
                delay = self.queue.failed(key)
                if exc.code not in (404, 409):
                    log.info("%s: sync %s failed: %s (retry in %.1fs)", self.name, key, exc.message, delay)
                self.enqueue_after(key, delay)
            except Exception:  # a bug must not stop the cluster: log it and retry later
                delay = self.queue.failed(key)
                log.exception("%s: sync %s crashed (retry in %.1fs)", self.name, key, delay)
                self.enqueue_after(key, delay)
        return done
