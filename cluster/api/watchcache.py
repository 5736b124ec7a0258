"""The newest part of a cluster's change log, read once for all the watch streams of this process.

kube-apiserver serves watches from its watch cache: one watch on etcd per resource, fanned out to every
client. Here each watch stream reads the change log itself, and a commit wakes them all at once
(cluster.changefeed): ten `kubectl get -w` would run ten identical queries for the same few changes.
A `ChangeTail` per cluster keeps the changes read last: the first stream woken for a revision reads the
database (the others wait for it on the tail's lock), the others are answered from memory.

The tail holds every change with `start < revision <= end`, in order, at most TAIL_CHANGES of them. A
stream whose position is outside that window (far behind, or ahead of a stale tail) reads the database
itself, exactly as without the tail; so does any 410 Expired. The changes are shared between streams:
readers render them (as the API's shared reads do) and never change them.
"""

from __future__ import annotations

import threading

from engine.store import Change, change_matches

# Changes a tail keeps: enough for streams a few commits behind one another, small for a cluster's memory.
TAIL_CHANGES = 256


class ChangeTail:
    def __init__(self, limit: int = TAIL_CHANGES):
        self.limit = limit
        self.start = 0
        self.end: int | None = None  # None: nothing read yet
        self.changes: list[Change] = []
        self.lock = threading.Lock()  # one read of the database at a time; the others wait and reuse it

    def changes_since(self, store, since: int, wanted: int = 0) -> list[Change]:
        """The changes after `since`, as `store.changes_since(since)` answers; `wanted`: a revision known to
        be committed (from a notification), which the answer must include when the log has it."""
        with self.lock:
            if self.end is not None and self.start <= since <= self.end:
                if wanted > self.end or wanted <= since:  # not read yet, or a fallback poll: look again
                    try:
                        self._extend(store.changes_since(self.end))
                    except Exception:
                        self._forget()  # compacted past the tail, or the database failed: read on one's own
                        raise
                return self._after(since)
        changes = store.changes_since(since)
        with self.lock:
            if self.end is None or since > self.end:  # start (or restart) the tail from this read
                self._forget()
                self.start = self.end = since
                self._extend(changes)
        return changes

    def read(self, store, since: int, wanted: int = 0) -> tuple[list[Change], int] | None:
        """`changes_since` answered from the tail with the revision it covers up to, when `since` is inside
        its window (reading the database once for every stream behind `wanted`); None when it is not."""
        with self.lock:
            if self.end is None or not self.start <= since <= self.end:
                return None
            if wanted > self.end or wanted <= since:
                try:
                    self._extend(store.changes_since(self.end))
                except Exception:
                    self._forget()
                    raise
            return self._after(since), self.end

    def seed(self, revision: int) -> None:
        """Start the tail, empty, at `revision` (every change up to it is known to be read): streams
        continuing from there follow it from now on."""
        with self.lock:
            if self.end is None or revision > self.end:
                self._forget()
                self.start = self.end = revision

    def _after(self, since: int) -> list[Change]:
        if since == self.start:
            return list(self.changes)
        # Revisions ascend: find the first change after `since` from the end (streams are rarely far behind).
        index = len(self.changes)
        while index > 0 and self.changes[index - 1].revision > since:
            index -= 1
        return self.changes[index:]

    def _extend(self, changes: list[Change]) -> None:
        for change in changes:
            if change.revision > self.end:
                self.changes.append(change)
                self.end = change.revision
        overflow = len(self.changes) - self.limit
        if overflow > 0:
            self.start = self.changes[overflow - 1].revision
            del self.changes[:overflow]

    def _forget(self) -> None:
        self.start, self.end, self.changes = 0, None, []


class TailStore:
    """A store stand-in for `ApiServer.watch`: its change log comes through a shared tail, the rest from the
    real store. `wanted` is set by the stream before each read."""

    def __init__(self, store, tail: ChangeTail):
        self._store, self._tail = store, tail
        self.wanted = 0

    def changes_since(self, revision: int, limit: int | None = None) -> list[Change]:
        if limit is not None:
            return self._store.changes_since(revision, limit)
        return self._tail.changes_since(self._store, revision, self.wanted)

    def changes_for_watch(self, revision: int, kind: str | None = None, namespace: str | None = None,
                          name: str | None = None) -> tuple[list[Change], int]:
        """A stream inside the tail's window is answered from it; any other (a first read, one resuming from
        long ago) reads only its own changes (the store narrows them in SQL) and starts the tail where
        that read ended, for its next poll."""
        found = self._tail.read(self._store, revision, self.wanted)
        if found is not None:
            changes, end = found
            return [c for c in changes if change_matches(c, kind, namespace, name)], max(revision, end)
        changes, last = self._store.changes_for_watch(revision, kind, namespace, name)
        self._tail.seed(last)
        return changes, last

    def __getattr__(self, name):
        return getattr(self._store, name)


_tails: dict[tuple[str, int], tuple[ChangeTail, int]] = {}  # (database, cluster pk) -> (tail, streams using it)
_tails_lock = threading.Lock()


def acquire(using: str, cluster_pk: int) -> ChangeTail:
    """The tail of a cluster's change log, shared by the streams using it; `release` it when done (the last
    stream's release drops it)."""
    key = (using, cluster_pk)
    with _tails_lock:
        tail, users = _tails.get(key, (None, 0))
        tail = tail or ChangeTail()
        _tails[key] = (tail, users + 1)
    return tail


def release(using: str, cluster_pk: int) -> None:
    key = (using, cluster_pk)
    with _tails_lock:
        tail, users = _tails.get(key, (None, 0))
        if users <= 1:
            _tails.pop(key, None)
        else:
            _tails[key] = (tail, users - 1)
