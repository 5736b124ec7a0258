"""Virtual time for one cluster.

A heap of (time, priority, sequence, callback): the sequence number makes ties
deterministic. The caller drives the clock: tests step it by hand, the runtime
paces it to the wall clock by a speed factor. Timers only wake work; what they
wake must be derivable from stored state, so a worker that takes a cluster
over rebuilds them on its first full resync.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

# 2026-01-01T00:00:00Z: a fixed epoch makes fresh clusters deterministic.
DEFAULT_START = 1767225600.0


@dataclass(order=True)
class Timer:
    when: float
    priority: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    def __init__(self, start: float = DEFAULT_START, speed: float = 1.0, paused: bool = False):
        self._now = float(start)
        self.speed = float(speed)
        self.paused = paused
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    # --- reading -------------------------------------------------------------
    def now(self) -> float:
        return self._now

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self._now, tz=UTC)

    def rfc3339(self, at: float | None = None) -> str:
        return format_rfc3339(self._now if at is None else at)

    # --- moving --------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move virtual time forward; timers fire when the owner calls `pop_due`."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += seconds

    def advance_wall(self, wall_seconds: float) -> float:
        """Advance by wall time scaled by speed (nothing while paused); returns the virtual step."""
        if self.paused or wall_seconds <= 0:
            return 0.0
        step = wall_seconds * self.speed
        self._now += step
        return step

    # --- timers --------------------------------------------------------------
    def call_at(self, when: float, callback: Callable[[], None], priority: int = 0) -> Timer:
        timer = Timer(float(when), priority, next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None], priority: int = 0) -> Timer:
        return self.call_at(self._now + max(0.0, delay), callback, priority)

    def next_due(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def pop_due(self) -> list[Callable[[], None]]:
        """Remove and return, in order, the callbacks of every timer due by now."""
        due = []
        while self._heap and self._heap[0].when <= self._now:
            timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                due.append(timer.callback)
        return due

    def pending(self) -> int:
        return sum(1 for t in self._heap if not t.cancelled)


def format_rfc3339(ts: float) -> str:
    return _format_second(int(ts))


@lru_cache(maxsize=1024)
def _format_second(second: int) -> str:
    # Cached: the objects written in one second (a big cluster writes thousands) share one string instead of
    # each holding its own copy, and strftime runs once per second instead of once per write.
    return datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
