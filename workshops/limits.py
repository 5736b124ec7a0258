"""Per-seat limits: how many objects, pods and nodes a seat's cluster may hold (engine.apiserver.quota's
admission plugin, added to every ApiServer built for a seat's cluster through cluster.runtime.API_HOOKS).

Defaults suit a class on one server; KUBEDOJO_SEAT_LIMITS in the settings (a dict) or the environment
variables KUBEDOJO_SEAT_MAX_OBJECTS, KUBEDOJO_SEAT_MAX_PODS, KUBEDOJO_SEAT_MAX_NODES change them (0 turns
one off). Only clusters that belong to a seat are limited.
"""

from __future__ import annotations

import os
import threading
import time

from django.conf import settings

from engine.apiserver.quota import UNCOUNTED_KINDS, ClusterQuota, QuotaLimits

DEFAULTS = {"objects": 300, "pods": 40, "nodes": 8}
_ENV = {"objects": "KUBEDOJO_SEAT_MAX_OBJECTS", "pods": "KUBEDOJO_SEAT_MAX_PODS", "nodes": "KUBEDOJO_SEAT_MAX_NODES"}


def seat_limits() -> dict:
    out = dict(DEFAULTS)
    out.update(getattr(settings, "KUBEDOJO_SEAT_LIMITS", None) or {})
    for key, name in _ENV.items():
        if os.environ.get(name):
            out[key] = float(os.environ[name])
    return out


# Whether a cluster belongs to a seat, by (database, cluster pk): every API request asks, and the query was a
# third of a GET's server time. A seat saved or deleted in this process forgets its entry at once (signals,
# connected in WorkshopsConfig.ready); another process's change is seen within SEAT_CACHE_SECONDS.
SEAT_CACHE_SECONDS = 5.0
_seat_cache: dict[tuple[str, int], tuple[bool, float]] = {}
_seat_cache_lock = threading.Lock()


def _is_seat(db: str, cluster_pk: int, query) -> bool:
    now = time.monotonic()
    cached = _seat_cache.get((db, cluster_pk))
    if cached is not None and now - cached[1] < SEAT_CACHE_SECONDS:
        return cached[0]
    found = bool(query())
    with _seat_cache_lock:
        _seat_cache[(db, cluster_pk)] = (found, now)
    return found


def forget_seat(cluster_pk: int | None = None) -> None:
    """Drop what `quota_for` remembers about a cluster (every cluster when None)."""
    with _seat_cache_lock:
        if cluster_pk is None:
            _seat_cache.clear()
        else:
            for key in [k for k in _seat_cache if k[1] == cluster_pk]:
                del _seat_cache[key]


def quota_for(cluster) -> ClusterQuota | None:
    """The quota plugin for a seat's cluster, counting with COUNT queries; None for any other cluster."""
    from cluster.models import StoredObject
    from workshops.models import Seat

    db = cluster._state.db or "default"
    if not _is_seat(db, cluster.pk, lambda: Seat.objects.using(db).filter(cluster_id=cluster.pk).exists()):
        return None
    values = seat_limits()
    limits = QuotaLimits(objects=int(values["objects"]), pods=int(values["pods"]), nodes=int(values["nodes"]))

    def count(kind: str | None) -> int:
        rows = StoredObject.objects.using(db).filter(cluster_id=cluster.pk)
        if kind is None:
            return rows.exclude(kind__in=UNCOUNTED_KINDS).count()
        return rows.filter(kind=kind).count()

    return ClusterQuota(limits, counter=count)
