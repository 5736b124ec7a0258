"""Django's SQLite backend with the process's writers taking turns through a queue.

SQLite has one writer at a time. A transaction that finds the write lock taken does not wait for its
release: SQLite's busy handler sleeps and retries with growing pauses (up to 100 ms each), so a web
request arriving during a simulation tick waited up to several times the tick's length. Embedded, every
writer (the simulation's thread and the request threads) lives in this one process, so a lock here lets
each transaction start the moment the previous one ends. Other processes (a `manage.py` command) still
meet SQLite's own busy handling. In-memory databases (the test suite's) have one connection and no
contention, and are left alone.
"""

from __future__ import annotations

import threading

from django.db.backends.sqlite3 import base

# Past this, go ahead anyway and let SQLite's busy timeout decide: a lost turn must never hang a thread.
TURN_TIMEOUT_SECONDS = 30.0

_turns: dict[str, threading.Lock] = {}
_turns_guard = threading.Lock()


def _turn_for(name: str) -> threading.Lock:
    with _turns_guard:
        return _turns.setdefault(name, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _turn: threading.Lock | None = None

    def _start_transaction_under_autocommit(self):
        if not self.is_in_memory_db():
            turn = _turn_for(str(self.settings_dict["NAME"]))
            if turn.acquire(timeout=TURN_TIMEOUT_SECONDS):
                self._turn = turn
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._end_turn()
            raise

    def _end_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._end_turn()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._end_turn()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._end_turn()
