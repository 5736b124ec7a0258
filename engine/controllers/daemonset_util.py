"""Pure helpers of the DaemonSet controller (pkg/controller/daemon/util and the predicates of daemon_controller.go).

Which nodes should run a daemon pod, the tolerations and node affinity the
controller gives its pods, the pod template with its revision labels, the
surge/unavailable budget of a rolling update, and the status counters. Nothing
here reads the cache or writes.
"""

from __future__ import annotations

from functools import cmp_to_key

from engine.apiserver.workload_strategy import TEMPLATE_GENERATION_ANNOTATION
from engine.clock import parse_rfc3339
from engine.controllers import deployment_util as dutil
from engine.controllers.history import CONTROLLER_REVISION_HASH_LABEL
from engine.controllers.replicaset import is_pod_available, is_pod_ready
from engine.scheduler.framework import tolerated
from engine.scheduler.plugins.nodeaffinity import Required
from engine.store import copy_json

POD_TEMPLATE_GENERATION_LABEL = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey

# util.AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates, in the order Kubernetes adds them.
DAEMON_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
# Only hostNetwork daemon pods tolerate a node whose network is not set up yet.
NETWORK_UNAVAILABLE_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                                  "effect": "NoSchedule"}


# --- the pod template -----------------------------------------------------------------------------

def _same_toleration(a: dict, b: dict) -> bool:
    return (a.get("key") == b.get("key") and a.get("effect") == b.get("effect")
            and (a.get("operator") or "Equal") == (b.get("operator") or "Equal") and a.get("value") == b.get("value"))


def add_daemon_tolerations(spec: dict) -> None:
    """Add (or replace) the daemon tolerations in a pod spec, in place."""
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE_TOLERATION)
    for toleration in wanted:
        # AddOrUpdateTolerationInPodSpec: one with the same key, operator, value and effect is replaced in place.
        matched = False
        for i, existing in enumerate(tolerations):
            if _same_toleration(existing, toleration):
                tolerations[i] = dict(toleration)
                matched = True
        if not matched:
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations


def template_generation(ds: dict) -> str | None:
    return (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)


def pod_template(ds: dict, hash_: str) -> dict:
    """util.CreatePodTemplate: the template plus daemon tolerations, generation and revision-hash labels."""
    template = copy_json((ds.get("spec") or {}).get("template") or {})
    spec = template.setdefault("spec", {})
    add_daemon_tolerations(spec)
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    generation = template_generation(ds)
    if generation is not None:
        labels[POD_TEMPLATE_GENERATION_LABEL] = generation
    if hash_:
        labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
    return template


def replace_node_name_affinity(spec: dict, node_name: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: required node affinity on `metadata.name` = node, in place.

    The controller has already checked the template's own required terms; they are replaced.
    """
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = spec.get("affinity")
    if not isinstance(affinity, dict):
        affinity = spec["affinity"] = {}
    node_affinity = affinity.get("nodeAffinity")
    if not isinstance(node_affinity, dict):
        node_affinity = affinity["nodeAffinity"] = {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    else:
        required["nodeSelectorTerms"] = [term]


# --- which nodes --------------------------------------------------------------------------------

class _NodeView:
    """What node affinity needs of a node: its name and labels."""

    __slots__ = ("labels", "name")

    def __init__(self, node: dict):
        self.name = node["metadata"]["name"]
        self.labels = node["metadata"].get("labels") or {}


def should_run(node: dict, ds: dict) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should a daemon pod run here, may one that runs here keep running)."""
    template_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    name = node["metadata"]["name"]
    if template_spec.get("nodeName") and template_spec["nodeName"] != name:
        return False, False
    pod = {"spec": copy_json(template_spec)}
    add_daemon_tolerations(pod["spec"])
    if not Required(pod).matches(_NodeView(node)):
        return False, False
    tolerations = pod["spec"]["tolerations"]
    taints = (node.get("spec") or {}).get("taints") or []
    untolerated = [t for t in taints if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, t)]
    if untolerated:
        # A pod already there may stay unless a NoExecute taint it does not tolerate evicts it.
        return False, not any(t.get("effect") == "NoExecute" for t in untolerated)
    return True, True


# --- pods ----------------------------------------------------------------------------------------

def is_pod_updated(pod: dict, hash_: str, generation: str | None) -> bool:
    """util.IsPodUpdated: the pod carries the current revision hash (or template generation)."""
    labels = pod["metadata"].get("labels") or {}
    return bool(hash_ and labels.get(CONTROLLER_REVISION_HASH_LABEL) == hash_) or \
        (generation is not None and labels.get(POD_TEMPLATE_GENERATION_LABEL) == generation)


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2, "Succeeded": 3, "Failed": 4}


def _by_creation_and_phase(a: dict, b: dict) -> int:
    """podByCreationTimestampAndPhase: older first; ties by phase, then name."""
    ta = parse_rfc3339(a["metadata"].get("creationTimestamp")) or 0.0
    tb = parse_rfc3339(b["metadata"].get("creationTimestamp")) or 0.0
    if ta != tb:
        return -1 if ta < tb else 1
    pa = _PHASE_RANK.get((a.get("status") or {}).get("phase"), 0)
    pb = _PHASE_RANK.get((b.get("status") or {}).get("phase"), 0)
    if pa != pb:
        return -1 if pa < pb else 1
    na, nb = a["metadata"]["name"], b["metadata"]["name"]
    return (na > nb) - (na < nb)


def oldest_first(pods: list[dict]) -> list[dict]:
    return sorted(pods, key=cmp_to_key(_by_creation_and_phase))


# --- rolling update budget -------------------------------------------------------------------------

def _rolling(ds: dict) -> dict:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return {}
    return strategy.get("rollingUpdate") or {}


def surge_count(ds: dict, desired: int) -> int:
    """util.SurgeCount: maxSurge of the desired pods, rounded up (0 unless RollingUpdate)."""
    value = _rolling(ds).get("maxSurge")
    return dutil.value_from_int_or_percent(value, desired, True) if value is not None else 0


def unavailable_count(ds: dict, desired: int) -> int:
    """util.UnavailableCount: maxUnavailable of the desired pods, rounded up (0 unless RollingUpdate)."""
    value = _rolling(ds).get("maxUnavailable")
    return dutil.value_from_int_or_percent(value, desired, True) if value is not None else 0


def allows_surge(ds: dict) -> bool:
    value = _rolling(ds).get("maxSurge")
    return value is not None and dutil.value_from_int_or_percent(value, 100, True) != 0


# --- status --------------------------------------------------------------------------------------

def calculate_status(ds: dict, nodes: list[dict], node_to_pods: dict[str, list[dict]], hash_: str, now: float,
                     observe_generation: bool = True) -> dict:
    """The DaemonSet's status counters (updateDaemonSetStatus), zero counts left out as Kubernetes' omitempty does."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    desired = current = misscheduled = ready = updated = available = 0
    for node in nodes:
        run, _ = should_run(node, ds)
        pods = node_to_pods.get(node["metadata"]["name"]) or []
        if run:
            desired += 1
            if not pods:
                continue
            current += 1
            pod = oldest_first(pods)[0]
            if is_pod_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
            if is_pod_updated(pod, hash_, generation):
                updated += 1
        elif pods:
            misscheduled += 1
    old = ds.get("status") or {}
    status: dict = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                    "desiredNumberScheduled": desired, "numberReady": ready}
    observed = ds["metadata"].get("generation", 0) if observe_generation else old.get("observedGeneration")
    optional = (("observedGeneration", observed), ("updatedNumberScheduled", updated),
                ("numberAvailable", available), ("numberUnavailable", desired - available),
                ("collisionCount", old.get("collisionCount")))
    for key, value in optional:
        if value:
            status[key] = value
    if old.get("conditions"):
        status["conditions"] = copy_json(old["conditions"])
    return status


__all__ = [
    "DAEMON_TOLERATIONS", "POD_TEMPLATE_GENERATION_LABEL", "add_daemon_tolerations", "allows_surge",
    "calculate_status", "is_pod_updated", "oldest_first", "pod_template", "replace_node_name_affinity",
    "should_run", "surge_count", "template_generation", "unavailable_count",
]
