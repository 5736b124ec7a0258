"""Per-seat limits: how many objects, pods and nodes a seat's cluster may hold (engine.apiserver.quota's
admission plugin, added to every ApiServer built for a seat's cluster through cluster.runtime.API_HOOKS).

Defaults suit a class on one server; KUBEDOJO_SEAT_LIMITS in the settings (a dict) or the environment
variables KUBEDOJO_SEAT_MAX_OBJECTS, KUBEDOJO_SEAT_MAX_PODS, KUBEDOJO_SEAT_MAX_NODES change them (0 turns
one off). Only clusters that belong to a seat are limited.
"""

from __future__ import annotations

import os

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


def quota_for(cluster) -> ClusterQuota | None:
    """The quota plugin for a seat's cluster, counting with COUNT queries; None for any other cluster."""
    from cluster.models import StoredObject
    from workshops.models import Seat

    db = cluster._state.db or "default"
    if not Seat.objects.using(db).filter(cluster_id=cluster.pk).exists():
        return None
    values = seat_limits()
    limits = QuotaLimits(objects=int(values["objects"]), pods=int(values["pods"]), nodes=int(values["nodes"]))

    def count(kind: str | None) -> int:
        rows = StoredObject.objects.using(db).filter(cluster_id=cluster.pk)
        if kind is None:
            return rows.exclude(kind__in=UNCOUNTED_KINDS).count()
        return rows.filter(kind=kind).count()

    return ClusterQuota(limits, counter=count)
