"""Every row of one cluster as the simulation loop's store last saw it, so that a tick holding the write lock
need not read rows from the database.

A tick takes its cluster's write lock at its first write and keeps it until it commits; every request's write
waits for it meanwhile. Most of what a tick did under the lock was reading, one round trip at a time, the
objects it was about to update and the names of the Events it was about to create. The loop's informer has
read all of them already: the full list when it started, and every change since from the change log. The
mirror keeps the same thing as rows, (resourceVersion, stored JSON text) by key, together with the revision
it is exact as of.

When a transaction takes the lock (its revision bump answers the revision before it), nothing else can
commit until it ends, so if the mirror is exact as of that revision (after reading the changes it is
missing, in the same transaction, when it is not) it says what every row is, absent rows included. Reads
under the lock are then answered from it, and `DjangoStore`'s batched statements check that each row still
has the version the mirror gave: a mirror that was wrong fails the tick instead of overwriting a row.

The mirror is fed only with what was committed: a change-log read or a full list made inside a transaction
(which sees that transaction's own writes) is applied once the transaction commits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from engine.store import DELETED, Key


class RowMirror:
    """(resourceVersion, JSON text) of every object of a cluster, exact as of `revision` (None: unknown)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rows: dict[Key, tuple[int, str]] = {}
        self.revision: int | None = None

    def load(self, rows: Iterable[tuple[Key, int, str]], revision: int) -> None:
        """Every object (key, resourceVersion, text) as of `revision`: a full list."""
        with self._lock:
            self._rows = {key: (resource_version, text) for key, resource_version, text in rows}
            self.revision = revision

    def apply(self, after: int, changes: Iterable[tuple[int, str, Key, str]], revision: int) -> None:
        """Every change (revision, type, key, text) after `after` up to `revision`, oldest first; those the
        mirror has already are skipped. Nothing is learnt when the mirror is unknown, or older than `after`
        (the changes in between are missing): it stays exact as of its own revision."""
        with self._lock:
            if self.revision is None or after > self.revision:
                return
            for change_revision, change_type, key, text in changes:
                if change_revision <= self.revision:
                    continue
                if change_type == DELETED:
                    self._rows.pop(key, None)
                else:
                    self._rows[key] = (change_revision, text)
            self.revision = max(self.revision, revision)

    def forget(self) -> None:
        """Unknown until the next full list (a compaction outran it, or a row was not what it said)."""
        with self._lock:
            self._rows = {}
            self.revision = None

    def row(self, key: Key) -> tuple[int, str] | None:
        """(resourceVersion, text) of the object of `key`, None when there is none: exact only while the
        caller knows the mirror is (see `DjangoStore._next_revision`)."""
        return self._rows.get(key)
