"""ControllerRevisions: the template history DaemonSets and StatefulSets keep (pkg/controller/history).

A ControllerRevision stores, as `data`, the patch that puts a pod template
back (`{"spec": {"template": {..., "$patch": "replace"}}}`) and a `revision`
number. A workload keeps one per template it has had; the one equal to its
current template is its current revision, and `kubectl rollout history` /
`undo` read them. Everything here is pure: it builds objects and compares
them, and the controllers write.

The two workloads name and label their revisions differently, as Kubernetes does:

- DaemonSet: `<ds>-<pod-template-hash>`, labelled `controller-revision-hash: <hash>`;
  its pods carry the same hash (and `pod-template-generation`).
- StatefulSet: `<sts>-<hash of the revision data>`, labelled
  `controller.kubernetes.io/hash: <hash>`; its pods carry the whole revision
  name in `controller-revision-hash`.
"""

from __future__ import annotations

import json

from engine.controllers import deployment_util as dutil
from engine.controllers.replicaset import controller_ref, new_controller_ref
from engine.store import copy_json

# apps.ControllerRevisionHashLabelKey (= apps.DefaultDaemonSetUniqueLabelKey), on pods and DaemonSet revisions.
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
# history.ControllerRevisionHashLabel, on StatefulSet revisions.
HASH_LABEL = "controller.kubernetes.io/hash"
# A revision name's prefix is cut so that prefix + "-" + hash stays a valid name.
MAX_PREFIX_LENGTH = 223


def template_patch(workload: dict) -> dict:
    """The revision data of a workload: a strategic merge patch replacing its pod template (getPatch)."""
    template = copy_json(((workload.get("spec") or {}).get("template")) or {})
    meta = template.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", None)  # Go serialises the zero time of an embedded ObjectMeta as null
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: dict) -> dict:
    """The pod template a revision stores (ApplyRevision of its replace patch)."""
    template = copy_json((((revision.get("data") or {}).get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    meta = template.get("metadata")
    if isinstance(meta, dict) and meta.get("creationTimestamp") is None:
        meta.pop("creationTimestamp", None)
    return template


def hash_data(data: dict, collision_count: int | None = None) -> str:
    """HashControllerRevision: FNV-32a of the revision data (and collision count), safe-encoded."""
    raw = json.dumps(dutil.semantic(data), sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        raw += (int(collision_count) & 0xFFFFFFFF).to_bytes(4, "little")
    return dutil.safe_encode(str(dutil.fnv32a(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:MAX_PREFIX_LENGTH]}-{hash_}"


def new_revision(owner: dict, name: str, labels: dict, data: dict, number: int,
                 annotations: dict | None = None) -> dict:
    """A ControllerRevision controlled by `owner`."""
    meta: dict = {"name": name, "namespace": owner["metadata"].get("namespace", "default"), "labels": dict(labels),
                  "ownerReferences": [new_controller_ref(owner)]}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "data": copy_json(data),
            "revision": int(number)}


def revision_number(revision: dict | None) -> int:
    return int((revision or {}).get("revision") or 0)


def max_revision(revisions: list[dict]) -> int:
    return max((revision_number(r) for r in revisions), default=0)


def by_revision(revisions: list[dict]) -> list[dict]:
    """Oldest first (history.SortControllerRevisions: revision, then creation, then name)."""
    return sorted(revisions, key=lambda r: (revision_number(r), r["metadata"].get("creationTimestamp") or "",
                                            r["metadata"]["name"]))


def equal_data(a: dict, b: dict) -> bool:
    """Whether two revisions store the same template (history.EqualRevision, semantically)."""
    return dutil.semantic((a or {}).get("data")) == dutil.semantic((b or {}).get("data"))


def owned_revisions(cache, owner: dict) -> list[dict]:
    """The ControllerRevisions in the owner's namespace that it controls."""
    uid = owner["metadata"]["uid"]
    namespace = owner["metadata"].get("namespace", "")
    return [r for r in cache.list("ControllerRevision", namespace) if (controller_ref(r) or {}).get("uid") == uid]


__all__ = [
    "CONTROLLER_REVISION_HASH_LABEL", "HASH_LABEL", "by_revision", "equal_data", "hash_data", "max_revision",
    "new_revision", "owned_revisions", "revision_name", "revision_number", "template_of", "template_patch",
]
