"""Events (core/v1), recorded the way client-go's recorder does, with aggregation of repeats."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import errors
from engine.clock import format_rfc3339

if TYPE_CHECKING:
    from engine.simulation import Simulation

NORMAL, WARNING = "Normal", "Warning"
# Repeats of the same event within this many seconds update its count instead of adding a new one.
AGGREGATION_WINDOW = 600.0
# Most distinct recent events remembered for aggregation.
MAX_REMEMBERED = 5000


class EventRecorder:
    def __init__(self, sim: Simulation):
        self.sim = sim
        self._recent: dict[tuple, tuple[str, str, float]] = {}  # key -> (namespace, event name, last time)
        self._seq = 0

    def record(self, obj: dict, event_type: str, reason: str, message: str, component: str, host: str = "",
               field_path: str = "") -> dict | None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        now = self.sim.clock.now()
        key = (meta.get("uid"), reason, message, component, host, field_path)
        previous = self._recent.get(key)
        if previous and now - previous[2] < AGGREGATION_WINDOW:
            existing = self.sim.cache.get("Event", previous[0], previous[1])
            if existing is not None:
                updated = {**existing, "count": int(existing.get("count") or 1) + 1,
                           "lastTimestamp": format_rfc3339(now)}
                try:
                    stored = self.sim.client(component, host).update(updated)
                except errors.ApiError:
                    stored = None
                if stored is not None:
                    self._remember(key, (previous[0], previous[1], now))
                    return stored
        self._seq += 1
        name = f"{meta['name']}.{int(now * 1e9) + self._seq:x}"
        involved = {"kind": obj["kind"], "namespace": meta.get("namespace", ""), "name": meta["name"],
                    "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
                    "resourceVersion": meta.get("resourceVersion", "")}
        if not meta.get("namespace"):
            involved.pop("namespace")
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component}
        if host:
            source["host"] = host
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": format_rfc3339(now),
            "lastTimestamp": format_rfc3339(now),
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        try:
            stored = self.sim.client(component, host).create(event)
        except errors.ApiError:
            return None  # events are best effort, as in Kubernetes
        self._remember(key, (namespace, name, now))
        return stored

    def _remember(self, key: tuple, entry: tuple[str, str, float]) -> None:
        # Insertion order is recency order (a refreshed key moves to the end), so expiry pops from the front.
        self._recent.pop(key, None)
        self._recent[key] = entry
        cutoff = entry[2] - AGGREGATION_WINDOW
        while self._recent:
            oldest = next(iter(self._recent))
            if self._recent[oldest][2] >= cutoff and len(self._recent) <= MAX_REMEMBERED:
                break
            del self._recent[oldest]
