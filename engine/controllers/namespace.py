"""The namespace controller (pkg/controller/namespace): empties a Terminating namespace, then lets it go.

`kubectl delete namespace x` only marks the namespace (deletionTimestamp, phase
Terminating, spec.finalizers [kubernetes]). This controller deletes every
namespaced object in it, kind by kind, through the apiserver (pods get their
graceful termination), reports what remains in the namespace's conditions as
Kubernetes does, and once nothing is left calls the apiserver's finalize, which
removes the namespace.
"""

from __future__ import annotations

from engine import errors
from engine.clock import format_rfc3339
from engine.controllers.base import Controller, Key
from engine.resources import registry
from engine.store import DELETED, Change, copy_json

# While content remains, look again this often even if no change nudges us (virtual seconds).
RECHECK_SECONDS = 5.0


def _namespaced_kinds() -> list[registry.KindInfo]:
    return [info for info in registry.KINDS if info.namespaced]


def _condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict:
    return {"type": ctype, "status": status, "lastTransitionTime": format_rfc3339(now), "reason": reason,
            "message": message}


def termination_conditions(remaining: dict[str, int], finalizers: dict[str, int], now: float) -> list[dict]:
    """The five conditions a Terminating namespace carries, from what is left in it.

    `remaining`: resource (e.g. `pods`, `replicasets.apps`) -> objects left; `finalizers`: finalizer -> objects held.
    """
    if remaining:
        listed = ", ".join(f"{resource} has {count} resource instances" for resource, count in sorted(remaining.items()))
        content = _condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                             f"Some resources are remaining: {listed}", now)
    else:
        content = _condition("NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed",
                             now)
    if finalizers:
        listed = ", ".join(f"{name} in {count} resource instances" for name, count in sorted(finalizers.items()))
        held = _condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                          f"Some content in the namespace has finalizers remaining: {listed}", now)
    else:
        held = _condition("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                          "All content-preserving finalizers finished", now)
    return [
        _condition("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
                   "All resources successfully discovered", now),
        _condition("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
                   "All legacy kube types successfully parsed", now),
        _condition("NamespaceDeletionContentFailure", "False", "ContentDeleted",
                   "All content successfully deleted, may be waiting on finalization", now),
        content,
        held,
    ]


def _merge_conditions(old: list[dict], new: list[dict]) -> list[dict]:
    """New conditions, keeping the old transition time of those whose status did not change."""
    before = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        prev = before.get(cond["type"])
        if prev is not None and prev.get("status") == cond["status"]:
            cond = {**cond, "lastTransitionTime": prev.get("lastTransitionTime")}
        out.append(cond)
    return out


class NamespaceController(Controller):
    name = "namespace-controller"
    primary_kind = "Namespace"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self._terminating: set[str] = set()

    def handle(self, change: Change) -> None:
        if change.kind == "Namespace":
            if change.type != DELETED and change.object["metadata"].get("deletionTimestamp"):
                self._terminating.add(change.name)
                self.enqueue("Namespace", "", change.name)
            else:
                self._terminating.discard(change.name)
            return
        # Something in a terminating namespace changed (a pod finally went): look again.
        if change.namespace in self._terminating:
            self.enqueue("Namespace", "", change.namespace)

    def resync(self) -> None:
        self._terminating = {ns["metadata"]["name"] for ns in self.sim.cache.list("Namespace")
                             if ns["metadata"].get("deletionTimestamp")}
        for name in sorted(self._terminating):
            self.enqueue("Namespace", "", name)

    def sync(self, key: Key) -> None:
        name = key[2]
        ns = self.sim.cache.get("Namespace", "", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            self._terminating.discard(name)
            return
        self._terminating.add(name)
        remaining, finalizers = self.delete_content(name)
        if not remaining:
            try:
                self.sim.api.finalize_namespace(name)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
            return
        self.write_conditions(ns, remaining, finalizers)
        self.enqueue_after(key, RECHECK_SECONDS)

    def delete_content(self, namespace: str) -> tuple[dict[str, int], dict[str, int]]:
        """Delete what is not yet being deleted; return what is left, by resource, and the finalizers holding it."""
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        from engine.resources import custom

        kinds = _namespaced_kinds() + [k for k in custom.kinds(self.sim.api.store) if k.namespaced]  # and CRDs' kinds
        for info in kinds:
            objects = self.sim.cache.list(info.kind, namespace)
            for obj in objects:
                meta = obj["metadata"]
                if meta.get("deletionTimestamp"):
                    continue
                try:
                    self.client.delete(info.kind, namespace, meta["name"], propagation_policy="Background",
                                       uid=meta.get("uid"))
                except errors.ApiError as exc:
                    if exc.code not in (404, 409):
                        raise
            left = self.sim.cache.list(info.kind, namespace)
            if left:
                remaining[info.qualified_plural] = len(left)
                for obj in left:
                    for finalizer in obj["metadata"].get("finalizers") or []:
                        finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
        return remaining, finalizers

    def write_conditions(self, ns: dict, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        status = ns.get("status") or {}
        now = self.sim.clock.now()
        conditions = _merge_conditions(status.get("conditions") or [],
                                       termination_conditions(remaining, finalizers, now))
        if conditions == status.get("conditions"):
            return
        updated = copy_json(ns)
        updated["status"] = {**copy_json(status), "phase": "Terminating", "conditions": conditions}
        try:
            self.client.update_status(updated)
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise


__all__ = ["NamespaceController", "termination_conditions"]
