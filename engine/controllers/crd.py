"""The apiextensions-apiserver's naming and establishing controllers, for CustomResourceDefinitions.

The naming controller accepts a CRD's names unless another CRD of the same
group already accepted its plural or kind (`NamesAccepted`, with
`status.acceptedNames`), and marks it `Established=False Installing`; the
establishing controller then makes it `Established=True`, as kube-apiserver
does once the new resource is served. Both run inside kube-apiserver.
"""

from __future__ import annotations

from engine import errors
from engine.clock import format_rfc3339
from engine.controllers.base import Controller, Key
from engine.resources import custom
from engine.resources.crd import CLEANUP_FINALIZER
from engine.store import copy_json

KIND = "CustomResourceDefinition"
NAME_FIELDS = ("plural", "singular", "shortNames", "kind", "listKind", "categories")


def _condition(status: dict, ctype: str) -> dict | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def set_condition(status: dict, ctype: str, value: str, reason: str, message: str, now: float) -> None:
    """apiextensions' SetCRDCondition: lastTransitionTime moves only when the status does."""
    conditions = status.setdefault("conditions", [])
    wanted = {"type": ctype, "status": value, "lastTransitionTime": format_rfc3339(now), "reason": reason,
              "message": message}
    for i, cond in enumerate(conditions):
        if cond.get("type") == ctype:
            if cond.get("status") == value:
                wanted["lastTransitionTime"] = cond.get("lastTransitionTime") or wanted["lastTransitionTime"]
            conditions[i] = wanted
            return
    conditions.append(wanted)


class CustomResourceDefinitionController(Controller):
    name = "crd-naming-controller"
    component = "kube-apiserver"
    primary_kind = KIND

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)

    def handle(self, change) -> None:
        if change.kind == KIND:
            # A CRD's names free or take names of the others in its group.
            group = (change.object.get("spec") or {}).get("group")
            for other in self.sim.cache.list(KIND):
                if (other.get("spec") or {}).get("group") == group:
                    self.enqueue_object(other)

    def sync(self, key: Key) -> None:
        _, _, name = key
        crd = self.sim.cache.get(KIND, "", name)
        if crd is None:
            return
        if crd["metadata"].get("deletionTimestamp"):
            self._finalize(crd)
            return
        status = copy_json(crd.get("status") or {})
        before = copy_json(status)
        now = self.sim.clock.now()
        accepted, reason, message = self._names_for(crd)
        if reason == "NoConflicts":
            status["acceptedNames"] = accepted
            set_condition(status, "NamesAccepted", "True", reason, message, now)
            established = _condition(status, "Established")
            if established is None or established.get("status") != "True":
                if established is not None and established.get("reason") == "Installing":
                    # The establishing controller: the names are served now.
                    set_condition(status, "Established", "True", "InitialNamesAccepted",
                                  "the initial names have been accepted", now)
                else:
                    set_condition(status, "Established", "False", "Installing",
                                  "the initial names have been accepted", now)
        else:
            set_condition(status, "NamesAccepted", "False", reason, message, now)
            if _condition(status, "Established") is None:
                set_condition(status, "Established", "False", "NotAccepted", "not all names are accepted", now)
        if status == before:
            return
        crd = {**crd, "status": status}  # never change the cached object: it is the store's own
        try:
            self.client.update_status(crd)
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise
            self.enqueue(KIND, "", name)

    def _finalize(self, crd: dict) -> None:
        """The finalizer controller: delete every instance, then let the CRD go."""
        meta = crd["metadata"]
        if CLEANUP_FINALIZER not in (meta.get("finalizers") or []):
            return
        info = custom.by_kind(self.sim.api.store, ((crd.get("status") or {}).get("acceptedNames") or {}).get("kind", ""))
        remaining = []
        if info is not None and info.crd_name == meta["name"]:
            remaining, _ = self.sim.api.store.list(info.kind)
        for obj in remaining:
            if obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.client.delete(info.kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"],
                                   propagation_policy="Background")
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        if remaining and self.sim.api.store.list(info.kind)[0]:
            self.enqueue_after((KIND, "", meta["name"]), 1.0)  # instances held by their own finalizers
            return
        crd = copy_json(crd)
        crd["metadata"]["finalizers"] = [f for f in meta.get("finalizers") or [] if f != CLEANUP_FINALIZER]
        try:
            self.client.update(crd)
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise
            self.enqueue(KIND, "", meta["name"])

    def _names_for(self, crd: dict) -> tuple[dict, str, str]:
        """The naming controller's calculateNamesAndConditions, for the plural and the kind."""
        spec = crd.get("spec") or {}
        requested = spec.get("names") or {}
        taken_plurals, taken_kinds = set(), set()
        for other in self.sim.cache.list(KIND):
            if other["metadata"]["name"] == crd["metadata"]["name"]:
                continue
            if (other.get("spec") or {}).get("group") != spec.get("group"):
                continue
            names = (other.get("status") or {}).get("acceptedNames") or {}
            for field in ("plural", "singular"):
                if names.get(field):
                    taken_plurals.add(names[field])
            taken_plurals.update(names.get("shortNames") or [])
            for field in ("kind", "listKind"):
                if names.get(field):
                    taken_kinds.add(names[field])
        accepted = {f: copy_json(requested[f]) for f in NAME_FIELDS if requested.get(f)}
        accepted.setdefault("plural", "")
        accepted.setdefault("kind", "")
        if requested.get("plural") in taken_plurals:
            return accepted, "PluralConflict", f'"{requested.get("plural")}" is already in use'
        if requested.get("kind") in taken_kinds:
            return accepted, "KindConflict", f'"{requested.get("kind")}" is already in use'
        return accepted, "NoConflicts", "no conflicts found"


__all__ = ["CustomResourceDefinitionController", "set_condition"]
