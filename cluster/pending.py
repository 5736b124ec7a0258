"""Writes held back while a transaction owns its cluster's write lock (see `DjangoStore`).

Once a transaction has bumped the cluster's revision it holds the cluster row's lock until it ends: no other
writer can change the cluster's objects, so what it reads from then on is exact, and a write whose object was
read under the lock cannot lose a race. Such writes need not be sent one statement at a time (on PostgreSQL
each is a round trip, and a tick's were most of the time it held the lock that requests wait for). They are
kept here and sent together, in a few batched statements, before anything else reads the rows: a list, the
change log, the revision, the commit. For the same reason an object read under the lock is read once: the
next read of it (a tick reads its namespace for every create, a pod for each of its updates) is answered here.

`PendingWrites` is the bookkeeping only: what each object read or written under the lock is now, the version
its row has in the database (what the batched statements check they replace), the changes to log, and the
revisions handed out since the one stored. `mirrored` says that reads under the lock are answered from the
store's `RowMirror` (see cluster.mirror) instead of the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.store import Key


@dataclass(slots=True)
class PendingObject:
    """An object as this transaction last read or wrote it under the lock (`obj` None: there is none)."""

    obj: dict | None
    text: str | None  # the object's JSON, as its row holds it (or will)
    columns: dict | None
    resource_version: int | None  # as the row's column
    # The resourceVersion of its row as the database has it, before the held writes (None: no row). It decides
    # INSERT, UPDATE or DELETE, and the batched statement checks the row still has it.
    stored_version: int | None
    written: bool = True  # False: as read, and as its row still is


class PendingWrites:
    """The held writes of one transaction, from its first revision bump to its end."""

    def __init__(self, stored_revision: int):
        self.stored_revision = stored_revision  # what the cluster row says
        self.revision = stored_revision  # the last revision handed out
        # The revision before this transaction's first: every change after it is this transaction's own.
        self.base = stored_revision - 1
        self.objects: dict[Key, PendingObject] = {}
        self.changes: list[tuple[int, str, Key, str]] = []  # to send at the next flush
        self.logged: list[tuple[int, str, Key, str]] = []  # all of this transaction's changes, in order
        self.mirrored = False  # reads under the lock come from the store's RowMirror, current as of the lock

    def next_revision(self) -> int:
        """The lock is held, so revisions are ours to count: the row is brought up to date at the flush."""
        self.revision += 1
        return self.revision

    def stored_version(self, key: Key, read_version: int | None) -> int | None:
        """The version of the row of `key` in the database, under the held writes (it was read under the lock
        as `read_version`)."""
        held = self.objects.get(key)
        return held.stored_version if held is not None else read_version

    def remember(self, key: Key, obj: dict | None, text: str | None, resource_version: int | None) -> None:
        """An object read under the lock: its row cannot change but through this transaction."""
        self.objects[key] = PendingObject(obj, text, None, resource_version, resource_version, False)

    def put(self, key: Key, obj: dict, text: str, columns: dict, stored_version: int | None) -> None:
        self.objects[key] = PendingObject(obj, text, columns, int(obj["metadata"]["resourceVersion"]), stored_version)

    def remove(self, key: Key, text: str, stored_version: int | None) -> None:
        self.objects[key] = PendingObject(None, text, None, None, stored_version)

    def log(self, revision: int, change_type: str, key: Key, text: str) -> None:
        self.changes.append((revision, change_type, key, text))
        self.logged.append((revision, change_type, key, text))

    def changes_after(self, revision: int) -> list[tuple[int, str, Key, str]]:
        """The change log after `revision` (at least `base`), as the database would answer it: all of it is
        this transaction's own, as nobody else can commit while it holds the lock."""
        return [change for change in self.logged if change[0] > revision]

    @property
    def dirty(self) -> bool:
        return bool(self.changes) or self.revision != self.stored_revision

    def rows(self) -> tuple[list, list, list]:
        """Each written object's net effect on its row: (inserts, updates, deletes) of (key, pending)."""
        inserts, updates, deletes = [], [], []
        for key, held in self.objects.items():
            if not held.written:
                continue
            if held.obj is not None:
                (updates if held.stored_version is not None else inserts).append((key, held))
            elif held.stored_version is not None:
                deletes.append((key, held))
        return inserts, updates, deletes

    def flushed(self) -> None:
        """Everything held is now in the database (in this transaction); what is known of the rows stays true."""
        for held in self.objects.values():
            if held.written:
                held.written, held.stored_version, held.columns = False, held.resource_version, None
        self.changes.clear()
        self.stored_revision = self.revision
