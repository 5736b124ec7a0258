"""kube-apiserver's request semantics, independent of HTTP.

Every write, from a learner's kubectl, the web terminal, a lesson check or a
controller, passes through here: decoding checks, defaulting, validation,
admission, then the store. The HTTP adapter (cluster.api) and the web
terminal's kubectl call these methods; nothing else writes to the store.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from engine import errors, labels
from engine.apiserver import admission, workload_strategy
from engine.apiserver import patch as patching
from engine.apiserver.fields import compile_field_selector, only_name
from engine.clock import format_rfc3339, parse_rfc3339
from engine.resources import registry
from engine.resources.registry import KindInfo
from engine.store import DELETED, Change, Store, copy_json

# The alphabet and length of generated name suffixes (k8s.io/apiserver names.SimpleNameGenerator).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NAME_SUFFIX_LENGTH = 5
MAX_GENERATE_NAME_BASE = 58
# The NamespaceLifecycle admission plugin refuses to delete these.
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict
    revision: int


@dataclass
class Listener:
    """Something told about every committed change (the simulation's informer, push fan-out)."""

    callback: Callable[[Change], None]


@dataclass
class DeleteResult:
    object: dict
    finished: bool  # True when the object is gone; False while finalizers or a grace period hold it


@dataclass
class RequestContext:
    """Who asks: recorded on managedFields and used by admission."""

    user: str = "kubernetes-admin"
    field_manager: str = ""
    dry_run: bool = False
    field_validation: str = "Strict"
    warnings: list[str] = field(default_factory=list)
    # A controller's typed client (client-go): it sends Go structs, which cannot hold unknown fields or wrongly
    # typed values, and it sets no fieldValidation; the schema's decode checks are skipped for it.
    typed: bool = False


class ApiServer:
    def __init__(self, store: Store, now: Callable[[], float], rng: random.Random | None = None):
        self.store = store
        self.now = now
        self.rng = rng or random.Random(0)
        self.admission = admission.default_chain()

    # --- helpers -------------------------------------------------------------------
    def kind_info(self, kind: str) -> KindInfo:
        try:
            return registry.by_kind(kind)
        except registry.UnknownKind:
            pass
        from engine.resources import custom

        found = custom.by_kind(self.store, kind)  # a kind this cluster's CustomResourceDefinitions add
        if found is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        return found

    def info_for_object(self, obj: dict) -> KindInfo:
        if not isinstance(obj, dict):
            raise errors.bad_request("Object 'Kind' is missing in the request body")
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if not kind:
            raise errors.bad_request("Object 'Kind' is missing in '" + json.dumps(obj, separators=(",", ":"))[:200] + "'")
        if not api_version:
            raise errors.bad_request("Object 'apiVersion' is missing in '" + json.dumps(obj, separators=(",", ":"))[:200] + "'")
        info = registry.by_api_version(str(api_version), str(kind))
        if info is None:
            from engine.resources import custom

            info = custom.by_api_version(self.store, str(api_version), str(kind))
        if info is None:
            raise errors.bad_request(f'no kind "{kind}" is registered for version "{api_version}" in scheme '
                                     f'"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"')
        return info

    def generate_name(self, base: str) -> str:
        base = base[:MAX_GENERATE_NAME_BASE]
        return base + "".join(self.rng.choice(NAME_ALPHABET) for _ in range(NAME_SUFFIX_LENGTH))

    def _namespace_for(self, info: KindInfo, obj: dict, namespace: str | None) -> str:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if not info.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        ns = namespace or body_ns or "default"
        meta["namespace"] = ns
        return ns

    def _check_and_default(self, info: KindInfo, obj: dict, ctx: RequestContext) -> None:
        from engine.resources import custom, defaults, schema

        if isinstance(info, custom.CustomKindInfo):
            ctx.warnings.extend(custom.check(info, obj, ctx.field_validation))
        ctx.warnings.extend(schema.check(obj, info, ctx.field_validation, typed=ctx.typed))
        defaults.apply_defaults(obj, info)
        # Go omits empty maps and lists of ObjectMeta on the wire: a patch that removes the last label leaves none.
        meta = obj["metadata"]
        for key in ("labels", "annotations", "finalizers", "ownerReferences", "managedFields"):
            if key in meta and not meta[key]:
                del meta[key]

    def _validate(self, info: KindInfo, obj: dict, old: dict | None) -> None:
        from engine.resources import custom, validation

        causes = validation.validate(obj, info, old)
        if isinstance(info, custom.CustomKindInfo):
            causes += custom.validate(info, obj)
        if causes:
            raise errors.invalid(info.qualified_kind, obj["metadata"].get("name", ""), causes, info.group)

    # --- reads ---------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict:
        info = self.kind_info(kind)
        found = self.store.get(kind, namespace if info.namespaced else "", name)
        if found is None:
            raise errors.not_found(info.plural, name, info.group)
        return found

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None, continue_token: str | None = None) -> dict:
        info = self.kind_info(kind)
        items, revision = self.store.list(kind, namespace if info.namespaced else None)
        items = self.filter(info, items, label_selector, field_selector)
        meta: dict = {"resourceVersion": str(revision)}
        if continue_token:
            start_key, revision_at = _decode_continue(continue_token)
            items = [o for o in items if _sort_key(o) > start_key]
            meta["resourceVersion"] = str(revision_at)
        if limit and limit > 0 and len(items) > limit:
            meta["continue"] = _encode_continue(_sort_key(items[limit - 1]), int(meta["resourceVersion"]))
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta, "items": items}

    @staticmethod
    def filter(info: KindInfo, items: list[dict], label_selector: str | None, field_selector: str | None) -> list[dict]:
        selector = labels.parse(label_selector)
        field_match = compile_field_selector(field_selector, info)
        return [o for o in items if selector.matches(o["metadata"].get("labels")) and field_match(o)]

    def watch(self, kind: str | None, namespace: str | None, since: int, label_selector: str | None = None,
              field_selector: str | None = None) -> tuple[list[WatchEvent], int]:
        """Events after `since` for matching objects, and the revision to continue from (410 when too old)."""
        info = self.kind_info(kind) if kind else None
        selector = labels.parse(label_selector)
        field_match = compile_field_selector(field_selector, info) if info else (lambda o: True)
        # The store narrows by key (kind, namespace, a name the field selector pins) before reading objects.
        changes, last = self.store.changes_for_watch(since, kind, namespace if info and info.namespaced else None,
                                                     only_name(field_selector))
        events = []
        for change in changes:
            obj = change.object
            if not selector.matches(obj["metadata"].get("labels")) or not field_match(obj):
                continue
            events.append(WatchEvent(change.type, obj, change.revision))
        return events, last

    # --- writes --------------------------------------------------------------------
    def create(self, obj: dict, namespace: str | None = None, ctx: RequestContext | None = None) -> dict:
        ctx = ctx or RequestContext()
        obj = copy_json(obj)
        info = self.info_for_object(obj)
        if getattr(info, "terminating", False):
            raise errors.method_not_allowed("create not allowed while custom resource definition is terminating")
        ns = self._namespace_for(info, obj, namespace)
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = self.generate_name(str(meta["generateName"]))
            else:
                raise errors.invalid(info.qualified_kind, "", [errors.required("metadata.name", "name or generateName is required")],
                                     info.group)
        # Server-owned metadata from the client is ignored, as on a real apiserver.
        for owned in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "selfLink"):
            meta.pop(owned, None)
        self._check_and_default(info, obj, ctx)
        self._prepare_for_create(info, obj)
        self._validate(info, obj, None)
        for plugin in self.admission:
            plugin.admit_create(self, info, obj, ns)
        if ctx.dry_run:
            return obj
        # `obj` is this request's own copy: the store keeps it as is. A controller's client gets the stored object
        # back uncopied (its cache holds it and nobody changes it).
        return self.store.create(obj, own=True, share=ctx.typed)

    def update(self, obj: dict, namespace: str | None = None, subresource: str | None = None,
               ctx: RequestContext | None = None) -> dict:
        ctx = ctx or RequestContext()
        obj = copy_json(obj)
        info = self.info_for_object(obj)
        ns = self._namespace_for(info, obj, namespace)
        name = obj["metadata"].get("name") or ""
        old = self.store.get(info.kind, ns, name)
        if old is None:
            raise errors.not_found(info.plural, name, info.group)
        new = self._merge_for_subresource(info, old, obj, subresource)
        if subresource != "status":
            # A status write is the controllers' own report: the spec it carries was validated when stored.
            self._check_and_default(info, new, ctx)
            workload_strategy.prepare_for_update(info, new, old)
            self._validate(info, new, old)
        for plugin in self.admission:
            plugin.admit_update(self, info, new, old)
        if ctx.dry_run:
            return new
        return self.store.update(new, own=True, share=ctx.typed)

    def _merge_for_subresource(self, info: KindInfo, old: dict, new: dict, subresource: str | None) -> dict:
        if subresource == "status":
            merged = copy_json(old)
            merged["status"] = new.get("status") or {}
            rv = new["metadata"].get("resourceVersion")
            if rv:
                merged["metadata"]["resourceVersion"] = rv
            else:
                merged["metadata"].pop("resourceVersion", None)
            return merged
        if info.status_subresource:
            # The main resource ignores status (kubectl edit sends it back unchanged or not).
            if "status" in old:
                new["status"] = copy_json(old["status"])
            else:
                new.pop("status", None)
        return new

    def patch(self, kind: str, namespace: str, name: str, body, patch_type: str, subresource: str | None = None,
              ctx: RequestContext | None = None) -> dict:
        ctx = ctx or RequestContext()
        info = self.kind_info(kind)
        for _attempt in range(5):
            current = self.get(kind, namespace, name)
            patched = patching.apply_patch(copy_json(current), body, patch_type)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            patched.setdefault("metadata", {})
            # A patch may not rename or move the object.
            patched["kind"], patched["apiVersion"] = info.kind, info.api_version
            patched["metadata"]["name"] = name
            if info.namespaced:
                patched["metadata"]["namespace"] = namespace
            if "resourceVersion" not in (body.get("metadata") or {} if isinstance(body, dict) else {}):
                patched["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                return self.update(patched, namespace, subresource, ctx)
            except errors.ApiError as exc:
                if exc.reason != "Conflict" or (isinstance(body, dict) and "resourceVersion" in (body.get("metadata") or {})):
                    raise
        raise errors.conflict(info.plural, name, info.group)

    def delete(self, kind: str, namespace: str, name: str, propagation_policy: str | None = None,
               grace_period_seconds: int | None = None, preconditions: dict | None = None,
               ctx: RequestContext | None = None) -> DeleteResult:
        ctx = ctx or RequestContext()
        info = self.kind_info(kind)
        ns = namespace if info.namespaced else ""
        current = self.get(kind, ns, name)
        preconditions = preconditions or {}
        uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
        if ctx.dry_run:
            return DeleteResult(current, False)
        if kind == "Namespace":
            return self._delete_namespace(current, ns)
        if kind == "CustomResourceDefinition" and not current["metadata"].get("deletionTimestamp"):
            from engine.resources import crd

            current = self.store.update(crd.mark_terminating(current, self.now()))
        meta = current["metadata"]
        if kind == "Pod":
            grace = self._pod_grace(current, grace_period_seconds)
            if grace > 0:
                return DeleteResult(self._mark_pod_terminating(current, grace), False)
            current, rv = self._zero_grace_first(current, uid, rv)
        policy = propagation_policy or _default_propagation(info)
        wanted_finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy)
        if policy not in ("Foreground", "Orphan", "Background"):
            raise errors.invalid("DeleteOptions", "", [errors.unsupported("propagationPolicy", policy,
                                                                          ["Foreground", "Background", "Orphan"])])
        if wanted_finalizer and wanted_finalizer not in (meta.get("finalizers") or []) and not meta.get("deletionTimestamp"):
            current["metadata"]["finalizers"] = list(meta.get("finalizers") or []) + [wanted_finalizer]
            current = self.store.update(current)
        deleted = self.store.delete(kind, ns, name, uid=uid, resource_version=rv if not wanted_finalizer else None)
        still_there = bool(deleted["metadata"].get("finalizers"))
        return DeleteResult(deleted, not still_there)

    def _pod_grace(self, pod: dict, requested: int | None) -> int:
        spec = pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0  # nothing runs it: no kubelet will confirm, so it goes at once
        if requested is not None:
            return max(0, int(requested))
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def _mark_pod_terminating(self, pod: dict, grace: int) -> dict:
        meta = pod["metadata"]
        existing = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and existing is not None and existing <= grace:
            return pod  # already terminating, and no sooner than asked
        return self.store.update_deletion(pod, format_rfc3339(self.now() + grace), grace)

    def _zero_grace_first(self, pod: dict, uid: str | None, rv: str | None) -> tuple[dict, str | None]:
        """A pod deleted with grace period 0 is first updated to deletionGracePeriodSeconds 0, then removed, as the
        registry's graceful delete does: watchers see a last MODIFIED (Terminating) before DELETED."""
        meta = pod["metadata"]
        if meta.get("finalizers") or meta.get("deletionGracePeriodSeconds") == 0:
            return pod, rv
        if (uid and uid != meta.get("uid")) or (rv and rv != meta.get("resourceVersion")):
            return pod, rv  # the delete below refuses it with the precondition message
        deadline = parse_rfc3339(meta.get("deletionTimestamp"))
        # Shortening a grace period moves the deadline back by the difference.
        when = self.now() if deadline is None else deadline - float(meta.get("deletionGracePeriodSeconds") or 0)
        updated = self.store.update_deletion(pod, format_rfc3339(when), 0)
        return updated, updated["metadata"]["resourceVersion"] if rv else None

    def _delete_namespace(self, ns_obj: dict, _ns: str) -> DeleteResult:
        name = ns_obj["metadata"]["name"]
        if name in IMMORTAL_NAMESPACES:
            raise errors.forbidden("namespaces", name, "", "this namespace may not be deleted")
        if ns_obj["metadata"].get("deletionTimestamp"):
            return DeleteResult(ns_obj, False)
        ns_obj = self.store.update_deletion(ns_obj, format_rfc3339(self.now()), 0)
        ns_obj["status"] = {"phase": "Terminating"}
        return DeleteResult(self.store.update(ns_obj), False)

    def finalize_namespace(self, name: str) -> None:
        """The namespace controller calls this once the namespace is empty."""
        ns_obj = self.get("Namespace", "", name)
        ns_obj.setdefault("spec", {})["finalizers"] = []
        self.store.update(ns_obj)  # the last finalizer gone, the store removes the namespace

    def evict(self, namespace: str, name: str, grace_period_seconds: int | None = None,
              ctx: RequestContext | None = None) -> dict:
        """pods/eviction: delete a pod unless that would break its PodDisruptionBudget (429); see eviction.py."""
        from engine.apiserver import eviction

        return eviction.evict(self, namespace, name, grace_period_seconds, ctx)

    def bind(self, namespace: str, name: str, node: str) -> dict:
        """pods/binding: what kube-scheduler posts."""
        pod = self.get("Pod", namespace, name)
        if pod["spec"].get("nodeName"):
            raise errors.conflict("pods", name, "", f"pod {name} is already assigned to node \"{pod['spec']['nodeName']}\"")
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods", name, "", "pod is being deleted, cannot be assigned to a host")
        pod["spec"]["nodeName"] = node
        status = pod.setdefault("status", {})
        _set_condition(status, "PodScheduled", "True", self.now())
        return self.store.update(pod)

    # --- strategies -----------------------------------------------------------------
    def _prepare_for_create(self, info: KindInfo, obj: dict) -> None:
        workload_strategy.prepare_for_create(info, obj)
        if info.kind == "Pod":
            from engine.resources.qos import qos_class

            obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}
        elif info.kind in ("PersistentVolume", "PersistentVolumeClaim"):
            obj["status"] = {"phase": "Pending"}
        elif info.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        elif info.kind == "CustomResourceDefinition":
            from engine.resources import crd

            obj["status"] = crd.initial_status(obj)
        elif info.status_subresource and getattr(info, "crd_name", ""):
            obj.pop("status", None)  # a custom resource with the status subresource: status only through it
        elif info.status_subresource and info.kind != "Node":
            obj["status"] = {} if info.kind != "Service" else {"loadBalancer": {}}


def _default_propagation(info: KindInfo) -> str:
    # Without a policy the REST default for these legacy kinds orphans; kubectl always sends Background.
    return "Background"


def _set_condition(status: dict, ctype: str, value: str, now: float, reason: str | None = None,
                   message: str | None = None) -> None:
    conditions = status.setdefault("conditions", [])
    for cond in conditions:
        if cond.get("type") == ctype:
            if cond.get("status") != value:
                cond["status"] = value
                cond["lastTransitionTime"] = format_rfc3339(now)
            cond["lastProbeTime"] = None
            if reason is not None:
                cond["reason"] = reason
            if message is not None:
                cond["message"] = message
            return
    cond = {"type": ctype, "status": value, "lastProbeTime": None, "lastTransitionTime": format_rfc3339(now)}
    if reason is not None:
        cond["reason"] = reason
    if message is not None:
        cond["message"] = message
    conditions.append(cond)


def _sort_key(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _encode_continue(key: str, revision: int) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["start"]), int(data["rv"])
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request("continue key is not valid: illegal base64 data") from None


__all__ = ["ApiServer", "RequestContext", "DeleteResult", "WatchEvent", "DELETED", "set_condition"]
set_condition = _set_condition
