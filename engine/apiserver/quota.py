"""A per-cluster object quota: an admission plugin that caps how many objects, pods and nodes a cluster holds.

Workshops give every learner a cluster on one shared server; this keeps one learner's
`replicas: 10000` from starving the others. It behaves like the ResourceQuota admission
plugin: a create that would go over a limit is refused with 403 Forbidden and the words
kube-apiserver uses,

    pods "web-7d4b9c-x2x8q" is forbidden: exceeded quota: kubedojo-seat, requested: pods=1,
    used: pods=40, limited: pods=40

so a ReplicaSet that hits it records a FailedCreate event, as on a real cluster with a quota.
Updates never add objects, so only creates are checked. Events and Leases (the cluster's own
bookkeeping) are not counted.

The plugin is not part of `admission.default_chain()`: whoever builds an ApiServer for a
limited cluster appends it (`api.admission.append(ClusterQuota(limits))`; the workshops app
does so through cluster.runtime's API hooks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine import errors
from engine.apiserver.admission import Plugin

QUOTA_NAME = "kubedojo-seat"
# Kinds the cluster writes for its own bookkeeping, whatever the learner does.
UNCOUNTED_KINDS = frozenset({"Event", "Lease"})


@dataclass(frozen=True)
class QuotaLimits:
    """0 or None means no limit."""

    objects: int | None = 300
    pods: int | None = 40
    nodes: int | None = 8

    def limit_for(self, resource: str) -> int | None:
        value = getattr(self, resource)
        return value if value else None


def count_with_store(store, kind: str | None) -> int:
    """How many objects of `kind` (or of every counted kind, for None) the store holds."""
    if kind is not None:
        return len(store.list(kind)[0])
    objects, _ = store.list()
    return sum(1 for o in objects if o.get("kind") not in UNCOUNTED_KINDS)


class ClusterQuota(Plugin):
    """Refuses creates beyond the cluster's limits.

    `counter(kind)` counts stored objects of a kind (None: every counted kind); by default it lists the
    store, which a database-backed cluster can replace with a COUNT query.
    """

    def __init__(self, limits: QuotaLimits, counter: Callable[[str | None], int] | None = None,
                 name: str = QUOTA_NAME):
        self.limits = limits
        self.counter = counter
        self.name = name

    def _count(self, api, kind: str | None) -> int:
        if self.counter is not None:
            api.store.flush_writes()  # the counter reads rows: with this transaction's writes in them
            return self.counter(kind)
        return count_with_store(api.store, kind)

    def admit_create(self, api, info, obj, namespace):
        if info.kind in UNCOUNTED_KINDS:
            return
        checks = [("count/objects", None, self.limits.limit_for("objects"))]
        if info.kind == "Pod":
            checks.append(("pods", "Pod", self.limits.limit_for("pods")))
        elif info.kind == "Node":
            checks.append(("count/nodes", "Node", self.limits.limit_for("nodes")))
        # The narrower resource first: "pods=40" says more than "count/objects=300".
        for resource, kind, limit in reversed(checks):
            if limit is None:
                continue
            used = self._count(api, kind)
            if used + 1 > limit:
                raise errors.forbidden(
                    info.plural, obj["metadata"].get("name", ""), info.group,
                    f"exceeded quota: {self.name}, requested: {resource}=1, used: {resource}={used}, "
                    f"limited: {resource}={limit}")


__all__ = ["ClusterQuota", "QUOTA_NAME", "QuotaLimits", "UNCOUNTED_KINDS", "count_with_store"]
