"""Pure helpers of the StatefulSet controller (pkg/controller/statefulset/stateful_set_utils.go).

Ordinal names and identities (`web-0`, hostname, subdomain, the
`statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`
labels), the PersistentVolumeClaims of each ordinal
(`<claim>-<sts>-<ordinal>`), the pod a given revision makes, the revisions
themselves, and the status counters. Nothing here reads the cache or writes.
"""

from __future__ import annotations

import re

from engine.controllers import history
from engine.controllers.replicaset import (
    is_pod_available,
    is_pod_ready,
    new_controller_ref,
)
from engine.store import copy_json

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"  # apps.StatefulSetPodNameLabel
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"  # apps.PodIndexLabel (PodIndexLabel is on by default in 1.32)

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# --- names and ordinals ---------------------------------------------------------------------------

def parent_and_ordinal(pod: dict) -> tuple[str, int]:
    """getParentNameAndOrdinal: ("web", 2) for web-2, ("", -1) if the name has no ordinal."""
    match = _ORDINAL.match(pod["metadata"]["name"])
    if not match:
        return "", -1
    return match.group(1), int(match.group(2))


def ordinal_of(pod: dict) -> int:
    return parent_and_ordinal(pod)[1]


def is_member_of(sts: dict, pod: dict) -> bool:
    return parent_and_ordinal(pod)[0] == sts["metadata"]["name"]


def pod_name(sts: dict, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def start_ordinal(sts: dict) -> int:
    """spec.ordinals.start (StatefulSetStartOrdinal, on by default)."""
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replicas_of(sts: dict) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def claim_name(sts: dict, claim_template: dict, ordinal: int) -> str:
    return f"{claim_template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"


def claim_templates(sts: dict) -> list[dict]:
    return [t for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or [] if isinstance(t, dict)]


def persistent_volume_claims(sts: dict, ordinal: int) -> dict[str, dict]:
    """getPersistentVolumeClaims: template name -> the claim this ordinal uses, labelled with the selector."""
    match_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claims = {}
    for template in claim_templates(sts):
        claim = copy_json(template)
        claim.pop("status", None)
        meta = claim.setdefault("metadata", {})
        meta["name"] = claim_name(sts, template, ordinal)
        meta["namespace"] = sts["metadata"].get("namespace", "default")
        meta["labels"] = {**(meta.get("labels") or {}), **match_labels}
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claims[template["metadata"]["name"]] = claim
    return claims


# --- pods ------------------------------------------------------------------------------------------

def update_identity(sts: dict, pod: dict) -> None:
    """updateIdentity: name, namespace, hostname, subdomain and the pod-name/pod-index labels, in place."""
    name, ordinal = parent_and_ordinal(pod)
    meta = pod["metadata"]
    meta["namespace"] = sts["metadata"].get("namespace", "default")
    spec = pod.setdefault("spec", {})
    spec["hostname"] = meta["name"]
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    labels = meta.setdefault("labels", {})
    labels[POD_NAME_LABEL] = meta["name"]
    if ordinal >= 0:
        labels[POD_INDEX_LABEL] = str(ordinal)


def update_storage(sts: dict, pod: dict) -> None:
    """updateStorage: a persistentVolumeClaim volume per claim template, replacing template volumes of that name."""
    templates = claim_templates(sts)
    if not templates:
        return
    ordinal = ordinal_of(pod)
    claims = persistent_volume_claims(sts, ordinal)
    spec = pod.setdefault("spec", {})
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    for template in templates:
        name = template["metadata"]["name"]
        volumes.append({"name": name, "persistentVolumeClaim": {"claimName": claims[name]["metadata"]["name"]}})
    spec["volumes"] = volumes


def identity_matches(sts: dict, pod: dict) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    labels = pod["metadata"].get("labels") or {}
    spec = pod.get("spec") or {}
    service = (sts.get("spec") or {}).get("serviceName")
    return (ordinal >= 0 and parent == sts["metadata"]["name"] and labels.get(POD_NAME_LABEL) == pod["metadata"]["name"]
            and pod["metadata"].get("namespace") == sts["metadata"].get("namespace")
            and spec.get("hostname") == pod["metadata"]["name"]
            and (not service or spec.get("subdomain") == service))


def storage_matches(sts: dict, pod: dict) -> bool:
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for name, claim in persistent_volume_claims(sts, ordinal).items():
        volume = volumes.get(name) or {}
        if (volume.get("persistentVolumeClaim") or {}).get("claimName") != claim["metadata"]["name"]:
            return False
    return True


def new_pod(sts: dict, template: dict, ordinal: int, revision_name: str) -> dict:
    """newStatefulSetPod + setPodRevision: the pod of one ordinal, from a revision's template."""
    meta = template.get("metadata") or {}
    pod_meta: dict = {"name": pod_name(sts, ordinal), "namespace": sts["metadata"].get("namespace", "default"),
                      "labels": dict(meta.get("labels") or {}), "ownerReferences": [new_controller_ref(sts)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = dict(meta["annotations"])
    if meta.get("finalizers"):
        pod_meta["finalizers"] = list(meta["finalizers"])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": copy_json(template.get("spec") or {})}
    update_identity(sts, pod)
    update_storage(sts, pod)
    pod_meta["labels"][history.CONTROLLER_REVISION_HASH_LABEL] = revision_name
    return pod


def pod_revision(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH_LABEL, "")


def is_created(pod: dict) -> bool:
    return bool((pod.get("status") or {}).get("phase"))


def is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_finished(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_running_and_ready(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod)


def is_running_and_available(pod: dict, min_ready: int, now: float) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_available(pod, min_ready, now)


def is_healthy(pod: dict) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


# --- revisions --------------------------------------------------------------------------------------

def new_revision(sts: dict, number: int, collision_count: int | None) -> dict:
    """The ControllerRevision of the StatefulSet's current template: `<sts>-<hash of its data>`."""
    data = history.template_patch(sts)
    hash_ = history.hash_data(data, collision_count)
    labels = dict((((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
    labels[history.HASH_LABEL] = hash_
    return history.new_revision(sts, history.revision_name(sts["metadata"]["name"], hash_), labels, data, number)


def with_template(sts: dict, revision: dict | None) -> dict:
    """ApplyRevision: the StatefulSet with the pod template a revision stores."""
    if revision is None:
        return sts
    out = copy_json(sts)
    out.setdefault("spec", {})["template"] = history.template_of(revision)
    return out


# --- status -------------------------------------------------------------------------------------------

def replica_status(pods: list[dict], min_ready: int, now: float, current_revision: str,
                   update_revision: str) -> dict[str, int]:
    """computeReplicaStatus: replicas, ready, available, current and updated counts."""
    counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0}
    for pod in pods:
        if is_created(pod):
            counts["replicas"] += 1
        if is_running_and_ready(pod):
            counts["readyReplicas"] += 1
            if is_running_and_available(pod, min_ready, now):
                counts["availableReplicas"] += 1
        if is_created(pod) and not is_terminating(pod):
            revision = pod_revision(pod)
            if revision == current_revision:
                counts["currentReplicas"] += 1
            if revision == update_revision:
                counts["updatedReplicas"] += 1
    return counts


def build_status(sts: dict, counts: dict[str, int], current_revision: str, update_revision: str,
                 collision_count: int) -> dict:
    """The status written, omitting zeros as StatefulSetStatus' omitempty does (replicas and available stay)."""
    status: dict = {"observedGeneration": sts["metadata"].get("generation", 0), "replicas": counts["replicas"]}
    for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
        if counts[key]:
            status[key] = counts[key]
    if current_revision:
        status["currentRevision"] = current_revision
    if update_revision:
        status["updateRevision"] = update_revision
    status["collisionCount"] = collision_count
    status["availableReplicas"] = counts["availableReplicas"]
    conditions = (sts.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = copy_json(conditions)
    return status


def complete_rolling_update(sts: dict, status: dict) -> None:
    """A finished RollingUpdate makes the update revision current (OnDelete never does, as in Kubernetes)."""
    strategy = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
    replicas = status.get("replicas", 0)
    if (strategy == "RollingUpdate" and status.get("updatedReplicas", 0) == replicas
            and status.get("readyReplicas", 0) == replicas):
        status["currentRevision"] = status.get("updateRevision", status.get("currentRevision"))
        if status.get("updatedReplicas"):
            status["currentReplicas"] = status["updatedReplicas"]
        else:
            status.pop("currentReplicas", None)


__all__ = [
    "POD_INDEX_LABEL", "POD_NAME_LABEL", "build_status", "claim_name", "claim_templates", "complete_rolling_update",
    "identity_matches", "is_created", "is_finished", "is_healthy", "is_member_of", "is_running_and_available",
    "is_running_and_ready", "is_terminating", "new_pod", "new_revision", "ordinal_of", "parent_and_ordinal",
    "persistent_volume_claims", "pod_name", "pod_revision", "replica_status", "replicas_of", "start_ordinal",
    "storage_matches", "update_identity", "update_storage", "with_template",
]
