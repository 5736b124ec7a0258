"""The store on Django models: `BaseStore`'s semantics over the rows of one Cluster.

`BaseStore` (engine/store.py) implements every rule; this module only supplies row access:
`_read`, `_write`, `_remove`, `_next_revision`, `list`, `changes_since`, `revision` and `atomic`.

Concurrency. Several processes may write one cluster (API processes and the simulation worker).
Every write first bumps `Cluster.revision` with an UPDATE, which locks the cluster row until the
transaction ends, so writers of one cluster queue there and revisions become visible in order: no
watcher sees revision 7 while 6 is still uncommitted. A writer may have read its object before the
previous writer committed, so the row is then changed only if it still holds the resourceVersion
that was read (a conditional update: exactly one row must change), and created only if no row has
the name (INSERT ... ON CONFLICT DO NOTHING). A lost race ends in 409 Conflict or AlreadyExists,
never in a silent overwrite or a broken transaction. On SQLite the IMMEDIATE transaction mode
takes the database's write lock at BEGIN, which serialises writers before they read.

Held writes. From its first revision bump a transaction holds that lock, so nothing it reads afterwards can
change under it: later revisions are counted in memory, objects read under the lock are read once, and the
writes of objects read under it are kept (cluster.pending) and sent together in a few batched statements
before any other read of the rows and before the commit. A loop's tick of 30 writes made ~150 statements,
each a round trip on PostgreSQL while requests queued behind the lock; it now makes one per object read
plus five. The loop's own store (`mirror=True`) does not even read those objects: its `RowMirror`
(cluster.mirror) knows every row as of the revision the lock was taken at, and the batched statements check
each row still has the version it was read at, so a mistaken read fails the transaction instead of
overwriting a row. Every change after a transaction's first is its own, so `changes_for_cache` answers the
loop's read-back of them from memory.

Reads are single statements: `list` and `changes_since` join the cluster row, so the objects (or
changes) and the revision (or compaction mark) come from one snapshot.

Shared reads. Decoding the stored JSON was most of the cost of listing 1,000 pods. Readers that promise
never to change what they get (the HTTP API's GET and LIST, inside `shared_reads()`, and the informer's
`snapshot()`) get decoded objects from a process-wide cache (`SHARED`) instead of fresh copies; an
entry is reused only while the stored text is the same, character for character, so no rule about
resourceVersions (which a rolled-back transaction may reuse) is relied on.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from cluster.mirror import RowMirror
from cluster.models import Change, Cluster, StoredObject
from cluster.pending import PendingWrites
from engine import errors
from engine.store import ADDED, DEFAULT_CHANGE_WINDOW, DELETED, BaseStore, Key
from engine.store import Change as ChangeEvent

# Writes between two automatic compactions of the change log (one DELETE per this many writes).
COMPACT_EVERY = 1000

_INSERT_COLUMNS = ("cluster_id", "kind", "namespace", "name", "data", "api_version", "uid", "resource_version",
                   "phase", "node_name", "owner_kind", "owner_name", "labels")
_UPDATE_COLUMNS = ("data", "api_version", "uid", "resource_version", "phase", "node_name", "owner_kind", "owner_name",
                   "labels")
_CHANGE_COLUMNS = ("cluster_id", "revision", "type", "kind", "namespace", "name", "data")
# Decoded objects kept for shared reads, process-wide: about 16 KB each for a running pod.
SHARED_OBJECTS = 5000


class _Shared:
    """One decoded object, the text it was decoded from, and what readers derived from it (`memo`)."""

    __slots__ = ("text", "obj", "memo")

    def __init__(self, text: str, obj: dict):
        self.text, self.obj, self.memo = text, obj, {}


class LazyChange:
    """A change read from the log (engine.store.Change's attributes), its object decoded on first use, once.
    Readers of a change's object own it as a fresh decode, as `changes_since` promises."""

    __slots__ = ("revision", "type", "kind", "namespace", "name", "_text", "_object")

    def __init__(self, revision: int, change_type: str, key: Key, text: str):
        self.revision, self.type = revision, change_type
        self.kind, self.namespace, self.name = key
        self._text, self._object = text, None

    @property
    def object(self) -> dict:
        if self._object is None:
            self._object = json.loads(self._text)  # as JSONField.from_db_value decodes
            self._text = ""
        return self._object

    def __eq__(self, other) -> bool:
        return (isinstance(other, (LazyChange, ChangeEvent)) and (self.revision, self.type, self.object)
                == (other.revision, other.type, other.object))

    __hash__ = None

    def __repr__(self) -> str:
        return f"LazyChange({self.revision}, {self.type}, {self.kind}/{self.namespace}/{self.name})"


class SharedObjects:
    """Decoded objects shared by readers that never change them, keyed by (database, cluster, kind,
    namespace, name) and valid while the stored text is unchanged; the oldest go first past `limit`."""

    def __init__(self, limit: int = SHARED_OBJECTS):
        self.limit = limit
        self._entries: dict[tuple, _Shared] = {}
        self._lock = threading.Lock()

    def decode(self, key: tuple, text: str) -> _Shared:
        entry = self._entries.get(key)
        if entry is not None and entry.text == text:
            return entry
        entry = _Shared(text, json.loads(text))  # what JSONField.from_db_value does
        with self._lock:
            entries = self._entries
            if key not in entries:
                while entries and len(entries) >= self.limit:
                    del entries[next(iter(entries))]
            if self.limit > 0:
                entries[key] = entry
        return entry

    def remember(self, key: tuple, text: str, obj: dict) -> None:
        """Record that `text` decodes to `obj` (a writer's object, never changed after its write)."""
        if self.limit <= 0:
            return
        with self._lock:
            entries = self._entries
            if key not in entries:
                while entries and len(entries) >= self.limit:
                    del entries[next(iter(entries))]
            entries[key] = _Shared(text, obj)

    def entry(self, key: tuple, obj: dict) -> _Shared | None:
        entry = self._entries.get(key)
        return entry if entry is not None and entry.obj is obj else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


SHARED = SharedObjects()


def cluster_clock(cluster: Cluster) -> Callable[[], float]:
    """The cluster's virtual time, extrapolated from what the loop last stored: the clock of a store used
    outside the simulation worker (which passes its own VirtualClock.now)."""
    return cluster.virtual_now


class DjangoStore(BaseStore):
    """The store of one cluster, on the database `using` (the cluster row's own database by default)."""

    def __init__(self, cluster: Cluster | str, now: Callable[[], float] | None = None, *, using: str | None = None,
                 change_window: int = DEFAULT_CHANGE_WINDOW, mirror: bool = False):
        if isinstance(cluster, str):
            cluster = Cluster.objects.using(using or DEFAULT_DB_ALIAS).get(name=cluster)
        super().__init__(cluster.name, now or cluster_clock(cluster))
        self.cluster_row = cluster
        self.cluster_id = cluster.pk
        self.using = using or cluster._state.db or DEFAULT_DB_ALIAS
        self.change_window = change_window
        # The (key, resourceVersion, under the write lock) last read by this thread: what a following write must
        # still find, and whether it is sure to.
        self._last_read = threading.local()
        self._sql = _Statements(self.using)
        # Per thread: inside shared_reads() get and list answer shared objects, in that thread only (the loop's
        # store is also read from other threads, which must still get copies of their own).
        self._shared_reads = threading.local()
        self._atomic_depth = threading.local()  # how deep this thread is in this store's `atomic` blocks
        # The simulation loop's store: its snapshot and change-log reads keep a mirror of the rows, which
        # answers its reads under the write lock (see cluster.mirror).
        self.mirror = RowMirror() if mirror else None

    def __repr__(self) -> str:
        return f"<DjangoStore {self.cluster} on {self.using}>"

    # --- primitives ---------------------------------------------------------------------------
    def _objects(self):
        return StoredObject.objects.using(self.using).filter(cluster_id=self.cluster_id)

    def _read(self, key: Key) -> dict | None:
        pending = self._pending()
        if pending is not None and key in pending.objects:
            held = pending.objects[key]
            self._last_read.value = (key, held.resource_version, True)
            return held.obj  # never changed after its write, as what SHARED hands out
        connection = connections[self.using]
        if pending is not None and pending.mirrored:
            row = self.mirror.row(key)  # exact: see `_mirror_exact`
        else:
            self._begin()  # inside an `atomic` block a write follows: read what it will check under the write lock
            with connection.cursor() as cursor:
                cursor.execute(self._sql.read, [self.cluster_id, *key])
                row = cursor.fetchone()
        resource_version, data = row if row else (None, None)
        self._last_read.value = (key, resource_version, pending is not None)
        if data is None:
            found = None
        elif getattr(self._shared_reads, "on", False):
            found = SHARED.decode(self._shared_key(key), data).obj
        else:
            found = _data_field().from_db_value(data, None, connection)
        if pending is not None:
            pending.remember(key, found, data, resource_version)
        return found

    def _next_revision(self) -> int:
        local = self._atomic_depth
        pending = getattr(local, "pending", None)
        if pending is not None:
            return pending.next_revision()
        self._begin()  # every write reserves its revision first
        with connections[self.using].cursor() as cursor:
            for sql in self._sql.bump:
                cursor.execute(sql, [self.cluster_id])
            row = cursor.fetchone()
        if row is None:
            raise Cluster.DoesNotExist(f'cluster "{self.cluster}" does not exist')
        if getattr(local, "value", 0):
            local.pending = PendingWrites(row[0])  # the row's lock is ours until the transaction ends
            local.pending.mirrored = self._mirror_exact(row[0] - 1)
        return row[0]

    def _mirror_exact(self, revision: int) -> bool:
        """Whether the mirror is exact as of `revision`, the cluster's revision when this transaction took the
        lock: brought up to it from the change log when behind (nothing can commit meanwhile). Only in a
        transaction this store opened: in someone else's, what it wrote before could still be rolled back."""
        mirror = self.mirror
        if mirror is None or mirror.revision is None or getattr(self._atomic_depth, "opened", None) is None:
            return False
        if mirror.revision < revision:
            after = mirror.revision
            try:
                rows, _ = self._changes_text(after)
            except errors.ApiError:  # compacted past it: unknown until the informer's next full list
                mirror.forget()
                return False
            mirror.apply(after, [change for change in rows if change[0] <= revision], revision)
        return mirror.revision == revision

    def _feed_mirror(self, update: Callable, *args) -> None:
        """Apply what a read found to the mirror, once it is known to be committed: a read inside a transaction
        sees that transaction's own writes, which a rollback would take back."""
        if connections[self.using].in_atomic_block:
            transaction.on_commit(functools.partial(update, *args), using=self.using)
        else:
            update(*args)

    def _last_read_in_thread(self) -> tuple[Key | None, int | None, bool]:
        """(key, resourceVersion, under the write lock) of this thread's last read: what its next write checks."""
        return getattr(self._last_read, "value", (None, None, False))

    def _pending(self) -> PendingWrites | None:
        """The writes held back in this thread's transaction, once it holds the write lock (see cluster.pending)."""
        return getattr(self._atomic_depth, "pending", None)

    def _holding(self, key: Key) -> tuple[PendingWrites, int | None] | None:
        """The pending writes and the version of the row of `key` in the database (None: no row), when a write of
        `key` may be held back: the lock is held, and the object was last read under it as it still is, or read
        just before it and still as the mirror (exact as of the lock) has it. None: write it now."""
        pending = self._pending()
        if pending is None:
            return None
        read_key, read_version, under_lock = self._last_read_in_thread()
        if read_key != key:
            return None
        if not under_lock:  # a tick's first write: its object was read before the lock was taken
            if not pending.mirrored:
                return None
            row = self.mirror.row(key)
            if (row[0] if row else None) != read_version:
                return None  # changed since it was read: the conditional statement below answers Conflict
            return pending, read_version
        held = pending.objects.get(key)
        if held is not None and held.resource_version != read_version:
            return None  # changed since it was read: the conditional statement below answers Conflict
        return pending, pending.stored_version(key, read_version)

    def flush_writes(self) -> None:
        """Send the writes held back in this thread's transaction (see cluster.pending): before anything reads
        rows other than through `_read`, and before the transaction ends."""
        pending = self._pending()
        if pending is None or not pending.dirty:
            return
        inserts, updates, deletes = pending.rows()
        connection = connections[self.using]
        with connection.cursor() as cursor:
            # Each statement changes exactly its row, as it was read: anything else fails the transaction.
            if deletes:
                cursor.executemany(self._sql.delete_if_version, [[self.cluster_id, *key, held.stored_version]
                                                                 for key, held in deletes])
                self._check_batch(cursor, deletes, "delete")
            if inserts:
                cursor.executemany(self._sql.insert, [self._insert_params(key, held.text, held.columns)
                                                      for key, held in inserts])
                self._check_batch(cursor, inserts, "create")
            if updates:
                cursor.executemany(self._sql.update_if_version, [
                    [*self._update_params(key, held.text, held.columns), held.stored_version]
                    for key, held in updates])
                self._check_batch(cursor, updates, "update")
            if pending.changes:
                cursor.executemany(self._sql.log, [self._log_params(key, text, revision, change_type)
                                                   for revision, change_type, key, text in pending.changes])
            if pending.revision != pending.stored_revision:
                cursor.execute(self._sql.set_revision, [pending.revision, self.cluster_id])
        pending.flushed()

    def _check_batch(self, cursor, rows: list, action: str) -> None:
        if cursor.rowcount == len(rows):
            return
        if self.mirror is not None:
            self.mirror.forget()
        found = []
        for key, held in rows:
            cursor.execute(self._sql.read, [self.cluster_id, *key])
            row = cursor.fetchone()
            if (row[0] if row else None) != held.resource_version:  # not as the batch left it
                found.append(f"{'/'.join(part for part in key if part)} (read as {held.stored_version}, stored as "
                             f"{row[0] if row else None})")
        raise HeldWritesLost(f"cluster {self.cluster!r}: held writes to {action} found rows other than they were "
                             f"read under the write lock: {', '.join(found)}; the transaction is rolled back")

    def _write(self, key: Key, obj: dict, revision: int, change_type: str) -> None:
        columns = StoredObject.columns_for(obj)
        text = self._encode(key, obj)
        holding = self._holding(key)
        if holding is not None:
            pending, stored_version = holding
            pending.put(key, obj, text, columns, stored_version)
            self._log(key, text, revision, change_type)
            return
        self.flush_writes()  # the statements below check rows the held writes may have changed
        if change_type == ADDED:
            if not self._insert(key, text, columns):
                info = self._kind_info(key[0])  # a built-in kind or a CRD's
                raise errors.already_exists(info.plural, key[2], info.group)  # created since we looked
        elif not self._update(key, text, columns):
            self._lost_race(key)
        self._written_now(key, obj, text, revision)
        self._log(key, text, revision, change_type)

    def _written_now(self, key: Key, obj: dict | None, text: str | None, revision: int | None) -> None:
        """A write sent at once under the lock: what a later read of its object answers (the mirror is as of
        the lock, and does not have it)."""
        pending = self._pending()
        if pending is not None:
            pending.remember(key, obj, text, revision)

    def _encode(self, key: Key, obj: dict) -> str:
        """The object's JSON, encoded once for its row and its change. The object is never changed after a
        write (BaseStore's rule), so it is also what shared readers get for this text: the informer reading
        the loop's own writes back, and API reads of them, decode nothing."""
        text = json.dumps(obj)  # what JSONField.get_db_prep_save encodes (no custom encoder)
        SHARED.remember(self._shared_key(key), text, obj)
        return text

    def _update_params(self, key: Key, text: str, columns: dict) -> list:
        connection = connections[self.using]
        params = [self._sql.json(text)]
        params += [field.get_db_prep_save(columns[column], connection)
                   for column, field in zip(_UPDATE_COLUMNS[1:], _fields(StoredObject, _UPDATE_COLUMNS[1:]),
                                            strict=True)]
        return [*params, self.cluster_id, *key]

    def _update(self, key: Key, text: str, columns: dict) -> bool:
        """Overwrite the row if it still has the resourceVersion last read (any, if it was not read)."""
        connection = connections[self.using]
        params = self._update_params(key, text, columns)
        sql = self._sql.update
        read_key, read_version, _ = self._last_read_in_thread()
        if read_key == key and read_version is not None:
            sql = self._sql.update_if_version
            params.append(read_version)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount == 1

    def _remove(self, key: Key, obj: dict, revision: int) -> None:
        holding = self._holding(key)
        if holding is not None:
            pending, stored_version = holding
            text = self._encode(key, obj)
            pending.remove(key, text, stored_version)
            self._log(key, text, revision, DELETED)
            return
        self.flush_writes()
        deleted, _ = self._unchanged_since_read(key).delete()
        if deleted != 1:
            self._lost_race(key)
        self._written_now(key, None, None, None)
        self._log(key, self._encode(key, obj), revision, DELETED)

    # --- the primitives' helpers ----------------------------------------------------------------
    def _unchanged_since_read(self, key: Key):
        kind, namespace, name = key
        rows = self._objects().filter(kind=kind, namespace=namespace, name=name)
        read_key, read_version, _ = self._last_read_in_thread()
        if read_key == key and read_version is not None:
            rows = rows.filter(resource_version=read_version)
        return rows

    def _lost_race(self, key: Key) -> None:
        """Another writer changed or removed the object between our read and our write."""
        kind, namespace, name = key
        info = self._kind_info(kind)
        if self._objects().filter(kind=kind, namespace=namespace, name=name).exists():
            raise errors.conflict(info.plural, name, info.group)
        raise errors.not_found(info.plural, name, info.group)

    def _insert_params(self, key: Key, text: str, columns: dict) -> list:
        kind, namespace, name = key
        values = {"cluster_id": self.cluster_id, "kind": kind, "namespace": namespace, "name": name, **columns}
        connection = connections[self.using]
        return [self._sql.json(text) if column == "data" else field.get_db_prep_save(values[column], connection)
                for column, field in zip(_INSERT_COLUMNS, _fields(StoredObject, _INSERT_COLUMNS), strict=True)]

    def _insert(self, key: Key, text: str, columns: dict) -> bool:
        """Insert the row unless one has the key; whether it was inserted. One statement, and a clash
        leaves the transaction usable (an IntegrityError would abort it on PostgreSQL)."""
        with connections[self.using].cursor() as cursor:
            cursor.execute(self._sql.insert, self._insert_params(key, text, columns))
            return cursor.rowcount == 1

    def _log_params(self, key: Key, text: str, revision: int, change_type: str) -> list:
        return [self.cluster_id, revision, change_type, *key, self._sql.json(text)]

    def _log(self, key: Key, text: str, revision: int, change_type: str) -> None:
        pending = self._pending()
        if pending is not None and revision >= pending.stored_revision:
            pending.log(revision, change_type, key, text)  # sent with the held writes
        else:
            with connections[self.using].cursor() as cursor:
                cursor.execute(self._sql.log, self._log_params(key, text, revision, change_type))
        if revision % COMPACT_EVERY == 0:
            self._atomic_depth.compact_due = True  # once this store's transaction is over: see `atomic`

    # --- reads ----------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        key = (kind, namespace or "", name)
        pending = self._pending()
        if pending is not None and not getattr(self._shared_reads, "on", False):
            if self._read(key) is None:
                return None
            return json.loads(pending.objects[key].text)  # the caller's copy of what the lock's holder knows
        return self._read(key)  # freshly decoded: already the caller's copy

    def list(self, kind: str | None = None, namespace: str | None = None) -> tuple[list[dict], int]:
        rows, revision = self._list_text(kind, namespace)
        if getattr(self._shared_reads, "on", False):
            decode, prefix = SHARED.decode, (self.using, self.cluster_id)
            return [decode((*prefix, kind_, ns, name), text).obj for ns, name, kind_, text in rows], revision
        return [json.loads(text) for _, _, _, text in rows], revision  # as JSONField.from_db_value decodes

    def list_all_kinds(self) -> tuple[dict[str, list[dict]], int]:
        """Every object grouped by kind (each list sorted by namespace and name), and the revision they
        are as of, in one query: an informer's full resync."""
        objects, revision = self.list()
        by_kind: dict[str, list[dict]] = {}
        for obj in objects:
            by_kind.setdefault(obj["kind"], []).append(obj)
        return by_kind, revision

    def _list_text(self, kind: str | None, namespace: str | None) -> tuple[list[tuple[str, str, str, str]], int]:
        """(namespace, name, kind, stored JSON text) of the objects, sorted, and the revision they are as of:
        one statement joined to the cluster row, in SQL (building it with the ORM cost more than running it)."""
        self.flush_writes()
        params: list = []
        condition = ""
        if kind:
            condition += f" AND o.{self._sql.qn('kind')} = %s"
            params.append(kind)
        if namespace is not None:
            condition += f" AND o.{self._sql.qn('namespace')} = %s"
            params.append(namespace)
        with connections[self.using].cursor() as cursor:
            cursor.execute(self._sql.list.format(condition=condition), [*params, self.cluster_id])
            rows = cursor.fetchall()
        if not rows:
            raise Cluster.DoesNotExist(f'cluster "{self.cluster}" does not exist')
        return sorted((ns, name, kind_, text) for _, kind_, ns, name, text in rows if text is not None), rows[0][0]

    # --- shared reads ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Within this block `get` and `list` answer objects shared with other readers: the caller must not
        change them (nor anything in them). The HTTP API's reads render and forget what they read."""
        flag = self._shared_reads
        previous, flag.on = getattr(flag, "on", False), True
        try:
            yield
        finally:
            flag.on = previous

    def snapshot(self) -> tuple[list[dict], int]:
        """Every object and the revision, shared: the informer cache never changes what it holds. The mirror
        (if any) starts over from it."""
        rows, revision = self._list_text(None, None)
        decode, prefix = SHARED.decode, (self.using, self.cluster_id)
        objects = [decode((*prefix, kind, ns, name), text).obj for ns, name, kind, text in rows]
        if self.mirror is not None:
            # Each row's resource_version column, as StoredObject.columns_for derives it from the object.
            self._feed_mirror(self.mirror.load, [
                ((kind, ns, name), int((obj.get("metadata") or {}).get("resourceVersion") or 0), text)
                for (ns, name, kind, text), obj in zip(rows, objects, strict=True)], revision)
        return objects, revision

    def memo(self, obj: dict) -> dict | None:
        """Scratch space for what is derived from a shared object (a Table row's fixed cells, its encoding),
        kept as long as the object is; None for an object that is not shared."""
        meta = obj.get("metadata") or {}
        key = (obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
        entry = SHARED.entry(self._shared_key(key), obj)
        return entry.memo if entry is not None else None

    def _shared_key(self, key: Key) -> tuple:
        return (self.using, self.cluster_id, *key)

    def changes_since(self, revision: int, limit: int | None = None) -> list[ChangeEvent]:
        """Each change's object is decoded when first asked for: a watch skips the changes of other kinds,
        namespaces and names by their key alone (kube-apiserver's watch cache filters before it encodes)."""
        rows, _ = self._changes_text(revision, limit)
        return [LazyChange(rev, change_type, key, text) for rev, change_type, key, text in rows]

    def changes_for_cache(self, revision: int) -> list[ChangeEvent]:
        """`changes_since`, shared: the informer never changes what it holds, and the loop's own writes come
        back as the very objects it wrote (see `_encode`)."""
        decode, prefix = SHARED.decode, (self.using, self.cluster_id)
        pending = self._pending()
        if pending is not None and revision >= pending.base:
            # Under the lock, read back after this transaction's writes began: the changes are its own, and
            # what is held stays held (the loop polls its own writes every round of a tick).
            rows, current = pending.changes_after(revision), pending.revision
        else:
            rows, current = self._changes_text(revision)
        if self.mirror is not None:
            self._feed_mirror(self.mirror.apply, revision, rows, current)
        newest = {key: i for i, (_, _, key, _) in enumerate(rows)}
        # An object's older versions are decoded apart: through SHARED they would evict its newest.
        return [ChangeEvent(rev, change_type, decode((*prefix, *key), text).obj if newest[key] == i else json.loads(text))
                for i, (rev, change_type, key, text) in enumerate(rows)]

    def changes_for_watch(self, revision: int, kind: str | None = None, namespace: str | None = None,
                          name: str | None = None) -> tuple[list[ChangeEvent], int]:
        """Narrowed in SQL: a watch resuming from long ago (`kubectl get pod NAME -w` from the pod's last change)
        no longer reads every other object's changes. It continues from the cluster's revision as of the same
        statement: every change up to it was committed and looked at."""
        rows, current = self._changes_text(revision, kind=kind, namespace=namespace, name=name)
        changes = [LazyChange(rev, change_type, key, text) for rev, change_type, key, text in rows]
        return changes, max(revision, current, changes[-1].revision if changes else 0)

    def _changes_text(self, revision: int, limit: int | None = None, *, kind: str | None = None,
                      namespace: str | None = None, name: str | None = None
                      ) -> tuple[list[tuple[int, str, Key, str]], int]:
        """(revision, type, key, stored JSON text) of the changes after `revision` (of `kind`, in `namespace`,
        of `name`, each when given), oldest first, and the cluster's revision: one statement joined to the
        cluster row, which also gives the compaction mark (the ORM cost more than running it)."""
        self.flush_writes()
        condition, params = "", [revision]
        for column, value in (("kind", kind), ("namespace", namespace), ("name", name)):
            if value is not None and (value or column == "name"):
                condition += f" AND h.{self._sql.qn(column)} = %s"
                params.append(value)
        sql, params = self._sql.changes.format(condition=condition), [*params, self.cluster_id]
        if limit:
            sql, params = f"{sql} LIMIT %s", [*params, int(limit)]
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            raise Cluster.DoesNotExist(f'cluster "{self.cluster}" does not exist')
        current, compacted = rows[0][0], rows[0][1]
        if revision < compacted:
            raise errors.gone(revision, compacted + 1)
        return [(rev, change_type, (kind_, ns, name_), text)
                for _, _, rev, change_type, kind_, ns, name_, text in rows if rev is not None], current

    def revision(self) -> int:
        self.flush_writes()
        return Cluster.objects.using(self.using).filter(pk=self.cluster_id).values_list("revision", flat=True).get()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """This store's transaction: inside it, the same one (no savepoint per write: an operation raises only
        before it changes a row, a clash leaves the transaction usable, and a database error ends the whole
        transaction anyway).

        Begun in autocommit (the loop's tick, an API request), the transaction opens at the block's first
        write (`_begin`), as PostgreSQL's row lock is only taken there anyway: a tick that writes nothing, or
        the reads and computing before a tick's first write, no longer hold SQLite's write lock, which every
        request's write waits for. A store operation's own read of its object opens it too, so an update reads
        what it replaces under the lock, as before. Inside someone
        else's transaction (a service's, a test's) the block is a savepoint from its start, as before."""
        local = self._atomic_depth
        depth = getattr(local, "value", 0)
        if depth:
            local.value = depth + 1
            try:
                yield
            finally:
                local.value = depth
            return
        if connections[self.using].in_atomic_block:
            with transaction.atomic(using=self.using):
                local.value, local.opened, local.pending = 1, None, None
                try:
                    yield
                    self.flush_writes()
                finally:
                    local.value, local.pending = 0, None
        else:
            local.value, local.opened, local.pending = 1, None, None
            try:
                yield
                self.flush_writes()
            except BaseException as exc:
                opened, local.value, local.opened, local.pending = local.opened, 0, None, None
                if opened is not None:
                    opened.__exit__(type(exc), exc, exc.__traceback__)  # rolls back
                raise
            opened, local.value, local.opened, local.pending = local.opened, 0, None, None
            if opened is not None:
                opened.__exit__(None, None, None)  # commits
        # Compaction deletes a thousand changes: in a transaction of its own, so that the loop's tick (or a
        # request) does not hold the cluster's write lock for it.
        if getattr(local, "compact_due", False):
            local.compact_due = False
            self.compact()

    def _begin(self) -> None:
        """Open the transaction of the `atomic` block in progress, at its first write or object read (see
        `atomic`)."""
        local = self._atomic_depth
        if not getattr(local, "value", 0) or getattr(local, "opened", None) is not None:
            return
        if connections[self.using].in_atomic_block:
            return  # inside a block of someone else's (a savepoint of ours could not outlive it): write in theirs
        opened = transaction.atomic(using=self.using)
        opened.__enter__()
        local.opened = opened

    # --- housekeeping -----------------------------------------------------------------------------
    def compact(self, keep: int | None = None) -> int:
        """Forget all but the newest `keep` changes (default: the change window); the compaction mark."""
        keep = self.change_window if keep is None else keep
        self.flush_writes()
        clusters = Cluster.objects.using(self.using).filter(pk=self.cluster_id)
        with self.atomic():
            self._begin()
            revision, compacted = clusters.values_list("revision", "compacted_revision").get()
            target = revision - keep
            if target <= compacted:
                return compacted
            Change.objects.using(self.using).filter(cluster_id=self.cluster_id, revision__lte=target).delete()
            clusters.update(compacted_revision=Greatest(F("compacted_revision"), Value(target)))
        return target


class _Statements:
    """The SQL the ORM cannot say in one statement, quoted for one database."""

    def __init__(self, using: str):
        connection = connections[using]
        qn = self.qn = connection.ops.quote_name
        table, rev, pk = qn(Cluster._meta.db_table), qn("revision"), qn(Cluster._meta.pk.column)
        bump = f"UPDATE {table} SET {rev} = {rev} + 1 WHERE {pk} = %s"
        if connection.vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
            self.bump = (bump, f"SELECT {rev} FROM {table} WHERE {pk} = %s")  # no RETURNING before 3.35
        else:
            self.bump = (f"{bump} RETURNING {rev}",)
        objects = qn(StoredObject._meta.db_table)
        columns = ", ".join(qn(field.column) for field in _fields(StoredObject, _INSERT_COLUMNS))
        placeholders = ", ".join(["%s"] * len(_INSERT_COLUMNS))
        key_columns = [qn(StoredObject._meta.get_field(f).column) for f in ("cluster", "kind", "namespace", "name")]
        key = ", ".join(key_columns)
        where_key = " AND ".join(f"{column} = %s" for column in key_columns)
        self.insert = f"INSERT INTO {objects} ({columns}) VALUES ({placeholders}) ON CONFLICT ({key}) DO NOTHING"
        self.delete_if_version = f"DELETE FROM {objects} WHERE {where_key} AND {qn('resource_version')} = %s"
        self.set_revision = f"UPDATE {table} SET {rev} = %s WHERE {pk} = %s"
        # The hot paths of every tick, as plain statements: building them with the ORM cost more than running them.
        self.read = f"SELECT {qn('resource_version')}, {qn('data')} FROM {objects} WHERE {where_key}"
        assignments = ", ".join(f"{qn(field.column)} = %s" for field in _fields(StoredObject, _UPDATE_COLUMNS))
        self.update = f"UPDATE {objects} SET {assignments} WHERE {where_key}"
        self.update_if_version = f"{self.update} AND {qn('resource_version')} = %s"
        # `list`: the stored text as text, joined to the cluster row for the revision; `{condition}` narrows the
        # join to a kind and a namespace.
        self.list = (f"SELECT c.{rev}, o.{qn('kind')}, o.{qn('namespace')}, o.{qn('name')}, o.{qn('data')} "
                     f"FROM {table} c LEFT JOIN {objects} o ON o.{key_columns[0]} = c.{pk}{{condition}} "
                     f"WHERE c.{pk} = %s")
        changes = qn(Change._meta.db_table)
        # `_changes_text`: the changes after a revision, narrowed by `{condition}` on their key, joined to the
        # cluster row for its revision and compaction mark.
        self.changes = (f"SELECT c.{rev}, c.{qn('compacted_revision')}, h.{rev}, h.{qn('type')}, h.{qn('kind')}, "
                        f"h.{qn('namespace')}, h.{qn('name')}, h.{qn('data')} FROM {table} c "
                        f"LEFT JOIN {changes} h ON h.{qn(Change._meta.get_field('cluster').column)} = c.{pk} "
                        f"AND h.{rev} > %s{{condition}} WHERE c.{pk} = %s ORDER BY h.{rev}")
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            # Text encoded once (DjangoStore._encode) and sent as it is.
            self.json = functools.partial(Jsonb, dumps=_as_is)
        else:
            self.json = _as_is
        change_columns = ", ".join(qn(field.column) for field in _fields(Change, _CHANGE_COLUMNS))
        self.log = (f"INSERT INTO {qn(Change._meta.db_table)} ({change_columns}) "
                    f"VALUES ({', '.join(['%s'] * len(_CHANGE_COLUMNS))})")


class HeldWritesLost(RuntimeError):
    """A batched statement of held writes found a row other than it was read under the write lock: a bug, or
    rows changed by something other than a store. The transaction is rolled back."""


def _as_is(text: str) -> str:
    return text


@functools.cache
def _fields(model, columns: tuple[str, ...]) -> tuple:
    return tuple(model._meta.get_field(column) for column in columns)


def _data_field():
    return StoredObject._meta.get_field("data")
