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

Reads are single statements: `list` and `changes_since` join the cluster row, so the objects (or
changes) and the revision (or compaction mark) come from one snapshot.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F, FilteredRelation, Q, Value
from django.db.models.functions import Greatest

from cluster.models import Change, Cluster, StoredObject
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


def cluster_clock(cluster: Cluster) -> Callable[[], float]:
    """The cluster's virtual time, extrapolated from what the loop last stored: the clock of a store used
    outside the simulation worker (which passes its own VirtualClock.now)."""
    return cluster.virtual_now


class DjangoStore(BaseStore):
    """The store of one cluster, on the database `using` (the cluster row's own database by default)."""

    def __init__(self, cluster: Cluster | str, now: Callable[[], float] | None = None, *, using: str | None = None,
                 change_window: int = DEFAULT_CHANGE_WINDOW):
        if isinstance(cluster, str):
            cluster = Cluster.objects.using(using or DEFAULT_DB_ALIAS).get(name=cluster)
        super().__init__(cluster.name, now or cluster_clock(cluster))
        self.cluster_row = cluster
        self.cluster_id = cluster.pk
        self.using = using or cluster._state.db or DEFAULT_DB_ALIAS
        self.change_window = change_window
        # The (key, resourceVersion) last read by this thread: what a following write must still find.
        self._last_read = threading.local()
        self._sql = _Statements(self.using)

    def __repr__(self) -> str:
        return f"<DjangoStore {self.cluster} on {self.using}>"

    # --- primitives ---------------------------------------------------------------------------
    def _objects(self):
        return StoredObject.objects.using(self.using).filter(cluster_id=self.cluster_id)

    def _read(self, key: Key) -> dict | None:
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self._sql.read, [self.cluster_id, *key])
            row = cursor.fetchone()
        resource_version, data = row if row else (None, None)
        self._last_read.value = (key, resource_version)
        return _data_field().from_db_value(data, None, connection) if data is not None else None

    def _next_revision(self) -> int:
        with connections[self.using].cursor() as cursor:
            for sql in self._sql.bump:
                cursor.execute(sql, [self.cluster_id])
            row = cursor.fetchone()
        if row is None:
            raise Cluster.DoesNotExist(f'cluster "{self.cluster}" does not exist')
        return row[0]

    def _write(self, key: Key, obj: dict, revision: int, change_type: str) -> None:
        columns = StoredObject.columns_for(obj)
        if change_type == ADDED:
            if not self._insert(key, obj, columns):
                info = self._kind_info(key[0])  # a built-in kind or a CRD's
                raise errors.already_exists(info.plural, key[2], info.group)  # created since we looked
        elif not self._update(key, obj, columns):
            self._lost_race(key)
        self._log(key, obj, revision, change_type)

    def _update(self, key: Key, obj: dict, columns: dict) -> bool:
        """Overwrite the row if it still has the resourceVersion last read (any, if it was not read)."""
        connection = connections[self.using]
        values = {"data": obj, **columns}
        params = [field.get_db_prep_save(values[column], connection)
                  for column, field in zip(_UPDATE_COLUMNS, _fields(StoredObject, _UPDATE_COLUMNS), strict=True)]
        params += [self.cluster_id, *key]
        sql = self._sql.update
        read_key, read_version = getattr(self._last_read, "value", (None, None))
        if read_key == key and read_version is not None:
            sql = self._sql.update_if_version
            params.append(read_version)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount == 1

    def _remove(self, key: Key, obj: dict, revision: int) -> None:
        deleted, _ = self._unchanged_since_read(key).delete()
        if deleted != 1:
            self._lost_race(key)
        self._log(key, obj, revision, DELETED)

    # --- the primitives' helpers ----------------------------------------------------------------
    def _unchanged_since_read(self, key: Key):
        kind, namespace, name = key
        rows = self._objects().filter(kind=kind, namespace=namespace, name=name)
        read_key, read_version = getattr(self._last_read, "value", (None, None))
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

    def _insert(self, key: Key, obj: dict, columns: dict) -> bool:
        """Insert the row unless one has the key; whether it was inserted. One statement, and a clash
        leaves the transaction usable (an IntegrityError would abort it on PostgreSQL)."""
        kind, namespace, name = key
        values = {"cluster_id": self.cluster_id, "kind": kind, "namespace": namespace, "name": name, "data": obj,
                  **columns}
        connection = connections[self.using]
        params = [field.get_db_prep_save(values[column], connection)
                  for column, field in zip(_INSERT_COLUMNS, _fields(StoredObject, _INSERT_COLUMNS), strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(self._sql.insert, params)
            return cursor.rowcount == 1

    def _log(self, key: Key, obj: dict, revision: int, change_type: str) -> None:
        kind, namespace, name = key
        connection = connections[self.using]
        values = {"cluster_id": self.cluster_id, "revision": revision, "type": change_type, "kind": kind,
                  "namespace": namespace, "name": name, "data": obj}
        params = [field.get_db_prep_save(values[column], connection)
                  for column, field in zip(_CHANGE_COLUMNS, _fields(Change, _CHANGE_COLUMNS), strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(self._sql.log, params)
        if revision % COMPACT_EVERY == 0:
            self.compact()

    # --- reads ----------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._read((kind, namespace or "", name))  # freshly decoded: already the caller's copy

    def list(self, kind: str | None = None, namespace: str | None = None) -> tuple[list[dict], int]:
        rows = self._list_rows(kind, namespace)
        items = [(ns, name, data["kind"], data) for _, ns, name, data in rows if data is not None]
        items.sort(key=lambda item: item[:3])
        return [item[3] for item in items], rows[0][0]

    def list_all_kinds(self) -> tuple[dict[str, list[dict]], int]:
        """Every object grouped by kind (each list sorted by namespace and name), and the revision they
        are as of, in one query: an informer's full resync."""
        objects, revision = self.list()
        by_kind: dict[str, list[dict]] = {}
        for obj in objects:
            by_kind.setdefault(obj["kind"], []).append(obj)
        return by_kind, revision

    def _list_rows(self, kind: str | None, namespace: str | None) -> list[tuple[int, Any, Any, Any]]:
        """(revision, namespace, name, data) rows; one row with None columns when nothing matches."""
        clusters = Cluster.objects.using(self.using).filter(pk=self.cluster_id).order_by()
        condition = Q()
        if kind:
            condition &= Q(stored_objects__kind=kind)
        if namespace is not None:
            condition &= Q(stored_objects__namespace=namespace)
        relation = "stored_objects"
        if condition:
            clusters = clusters.annotate(selected=FilteredRelation("stored_objects", condition=condition))
            relation = "selected"
        rows = list(clusters.values_list("revision", f"{relation}__namespace", f"{relation}__name",
                                         f"{relation}__data"))
        if not rows:
            raise Cluster.DoesNotExist(f'cluster "{self.cluster}" does not exist')
        return rows

    def changes_since(self, revision: int, limit: int | None = None) -> list[ChangeEvent]:
        rows = (Cluster.objects.using(self.using).filter(pk=self.cluster_id)
                .annotate(later=FilteredRelation("changes", condition=Q(changes__revision__gt=revision)))
                .order_by("later__revision")
                .values_list("compacted_revision", "later__revision", "later__type", "later__data"))
        rows = list(rows[:limit] if limit else rows)
        if not rows:
            raise Cluster.DoesNotExist(f'cluster "{self.cluster}" does not exist')
        compacted = rows[0][0]
        if revision < compacted:
            raise errors.gone(revision, compacted + 1)
        return [ChangeEvent(rev, change_type, data) for _, rev, change_type, data in rows if rev is not None]

    def revision(self) -> int:
        return Cluster.objects.using(self.using).filter(pk=self.cluster_id).values_list("revision", flat=True).get()

    def atomic(self) -> transaction.Atomic:
        return transaction.atomic(using=self.using)

    # --- housekeeping -----------------------------------------------------------------------------
    def compact(self, keep: int | None = None) -> int:
        """Forget all but the newest `keep` changes (default: the change window); the compaction mark."""
        keep = self.change_window if keep is None else keep
        clusters = Cluster.objects.using(self.using).filter(pk=self.cluster_id)
        with self.atomic():
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
        qn = connection.ops.quote_name
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
        # The hot paths of every tick, as plain statements: building them with the ORM cost more than running them.
        self.read = f"SELECT {qn('resource_version')}, {qn('data')} FROM {objects} WHERE {where_key}"
        assignments = ", ".join(f"{qn(field.column)} = %s" for field in _fields(StoredObject, _UPDATE_COLUMNS))
        self.update = f"UPDATE {objects} SET {assignments} WHERE {where_key}"
        self.update_if_version = f"{self.update} AND {qn('resource_version')} = %s"
        change_columns = ", ".join(qn(field.column) for field in _fields(Change, _CHANGE_COLUMNS))
        self.log = (f"INSERT INTO {qn(Change._meta.db_table)} ({change_columns}) "
                    f"VALUES ({', '.join(['%s'] * len(_CHANGE_COLUMNS))})")


@functools.cache
def _fields(model, columns: tuple[str, ...]) -> tuple:
    return tuple(model._meta.get_field(column) for column in columns)


def _data_field():
    return StoredObject._meta.get_field("data")
