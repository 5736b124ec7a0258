"""Pure helpers of the Deployment controller (pkg/controller/deployment/util/deployment_util.go).

Nothing here reads the cache or writes: every function takes plain objects and
returns values (or changes a copy the caller owns, when its name says `set_`).
Deployments and ReplicaSets are the dicts the apiserver stores.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable

from engine.clock import format_rfc3339, parse_rfc3339

# Labels and annotations the controller owns.
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"  # apps.DefaultDeploymentUniqueLabelKey
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
# How long the revision-history annotation may grow (kube-controller-manager's default).
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000

# Annotations a Deployment does not pass on to its ReplicaSets.
ANNOTATIONS_TO_SKIP = frozenset({
    LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION, DEPRECATED_ROLLBACK_TO,
})

# Condition types and reasons, as Kubernetes words them.
PROGRESSING, AVAILABLE, REPLICA_FAILURE = "Progressing", "Available", "ReplicaFailure"
REPLICA_SET_UPDATED_REASON = "ReplicaSetUpdated"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
NEW_REPLICA_SET_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_DEPLOY_REASON = "DeploymentPaused"
RESUMED_DEPLOY_REASON = "DeploymentResumed"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"

ROLLING_UPDATE, RECREATE = "RollingUpdate", "Recreate"
DEFAULT_MAX_SURGE = DEFAULT_MAX_UNAVAILABLE = "25%"
MAX_INT32 = 2**31 - 1

# k8s.io/apimachinery/pkg/util/rand: no vowels, no 0/1/3, so no bad words and no look-alikes.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
FNV32_OFFSET, FNV32_PRIME = 0x811C9DC5, 0x01000193


# --- hashing --------------------------------------------------------------------------------------

def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte mapped onto the safe alphabet."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def fnv32a(data: bytes) -> int:
    value = FNV32_OFFSET
    for byte in data:
        value = ((value ^ byte) * FNV32_PRIME) & 0xFFFFFFFF
    return value


def semantic(value):
    """A canonical form for semantic equality: empty maps, lists and nulls vanish, as Go's nil and empty do."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = semantic(v)
            if v is None or v == {} or v == []:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    """The pod-template-hash of a (defaulted) pod template: FNV-32a, safe-encoded (controller.ComputeHash).

    Kubernetes hashes a spew dump of the Go struct; we hash canonical JSON of the
    same data, so equal templates always give equal hashes (about ten characters).
    """
    data = json.dumps(semantic(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (int(collision_count) & 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0"
    return safe_encode(str(fnv32a(data)))


def template_without_hash(template: dict) -> dict:
    # `semantic` builds a new structure: only the labels need a copy of their own, not the whole template.
    template = template or {}
    meta = template.get("metadata") or {}
    labels = meta.get("labels")
    if labels and POD_TEMPLATE_HASH_LABEL in labels:
        labels = {k: v for k, v in labels.items() if k != POD_TEMPLATE_HASH_LABEL}
        template = {**template, "metadata": {**meta, "labels": labels}}
    return semantic(template)


def equal_ignore_hash(a: dict, b: dict) -> bool:
    """Whether two pod templates are semantically equal, ignoring the pod-template-hash label."""
    return template_without_hash(a) == template_without_hash(b)


# --- spec accessors -------------------------------------------------------------------------------

def replicas_of(obj: dict | None) -> int:
    """spec.replicas (1 when unset, as defaulting makes it)."""
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: dict | None, name: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(name) or 0)


def strategy_type(d: dict) -> str:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") or ROLLING_UPDATE


def is_rolling_update(d: dict) -> bool:
    return strategy_type(d) == ROLLING_UPDATE


def _rolling_params(d: dict):
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return rolling.get("maxSurge", DEFAULT_MAX_SURGE), rolling.get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE)


_PERCENT = re.compile(r"^(\d+)%$")


def value_from_int_or_percent(value, total: int, round_up: bool) -> int:
    """intstr.GetValueFromIntOrPercent: an int, or a percentage of `total` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    match = _PERCENT.match(text)
    if match:
        scaled = int(match.group(1)) * total
        return -(-scaled // 100) if round_up else scaled // 100
    if text.lstrip("-").isdigit():
        return int(text)
    raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {text!r}")


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """maxSurge rounds up, maxUnavailable rounds down; if both come to 0, one pod may be unavailable."""
    surge = value_from_int_or_percent(0 if max_surge is None else max_surge, desired, True)
    unavailable = value_from_int_or_percent(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: dict) -> int:
    if not is_rolling_update(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_params(d), replicas_of(d))
    return surge


def max_unavailable(d: dict) -> int:
    replicas = replicas_of(d)
    if not is_rolling_update(d) or replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_params(d), replicas)
    return min(unavailable, replicas)


def min_available(d: dict) -> int:
    if not is_rolling_update(d):
        return 0
    return replicas_of(d) - max_unavailable(d)


def has_progress_deadline(d: dict) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def has_revision_history_limit(d: dict) -> bool:
    value = (d.get("spec") or {}).get("revisionHistoryLimit")
    return value is not None and int(value) != MAX_INT32


# --- revisions and annotations --------------------------------------------------------------------

def revision(obj: dict | None) -> int:
    """The revision annotation as a number (0 when absent or unreadable)."""
    if obj is None:
        return 0
    text = (obj["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION)
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


def max_revision(rss: Iterable[dict]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def set_deployment_revision(d: dict, value: str) -> bool:
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION_ANNOTATION) == value:
        return False
    annotations[REVISION_ANNOTATION] = value
    return True


def copy_deployment_annotations(d: dict, rs: dict) -> bool:
    """Copy the Deployment's annotations (change-cause among them) to the ReplicaSet, except ours."""
    changed = False
    annotations = rs["metadata"].setdefault("annotations", {})
    for k, v in (d["metadata"].get("annotations") or {}).items():
        if k in ANNOTATIONS_TO_SKIP or annotations.get(k) == v:
            continue
        annotations[k] = v
        changed = True
    return changed


def set_replicas_annotations(rs: dict, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, str(desired)), (MAX_REPLICAS_ANNOTATION, str(maximum))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: dict, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].get("annotations") or {}
    return (annotations.get(DESIRED_REPLICAS_ANNOTATION) != str(desired)
            or annotations.get(MAX_REPLICAS_ANNOTATION) != str(maximum))


def set_new_replica_set_annotations(d: dict, rs: dict, new_revision: str, exists: bool) -> bool:
    """Copy annotations, raise the revision to `new_revision` if lower (keeping the old one in
    revision-history, which is how `rollout undo` turns revision 1 into 3), and for a new
    ReplicaSet set desired-replicas and max-replicas. Returns whether anything changed."""
    changed = copy_deployment_annotations(d, rs)
    annotations = rs["metadata"].setdefault("annotations", {})
    old_text = annotations.get(REVISION_ANNOTATION)
    try:
        old = int(old_text) if old_text else 0
    except ValueError:
        return changed
    new = int(new_revision)
    if old < new:
        annotations[REVISION_ANNOTATION] = new_revision
        changed = True
        if old_text:
            history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
            revisions = [r for r in history.split(",") if r] + [old_text]
            while revisions and len(",".join(revisions)) > MAX_REV_HISTORY_LENGTH_IN_CHARS:
                revisions.pop(0)
            annotations[REVISION_HISTORY_ANNOTATION] = ",".join(revisions)
    if not exists and set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)):
        changed = True
    return changed


def _int_annotation(rs: dict, key: str) -> int | None:
    text = (rs["metadata"].get("annotations") or {}).get(key)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def desired_replicas_annotation(rs: dict) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)


def max_replicas_annotation(rs: dict) -> int | None:
    return _int_annotation(rs, MAX_REPLICAS_ANNOTATION)


# --- finding and sorting ReplicaSets --------------------------------------------------------------

def _created(obj: dict) -> float:
    return parse_rfc3339(obj["metadata"].get("creationTimestamp")) or 0.0


def by_creation(rss: Iterable[dict]) -> list[dict]:
    """Oldest first; ties by name (controller.ReplicaSetsByCreationTimestamp)."""
    return sorted(rss, key=lambda rs: (_created(rs), rs["metadata"]["name"]))


def by_size_older(rss: Iterable[dict]) -> list[dict]:
    """Largest first, then oldest (ReplicaSetsBySizeOlder): whom to scale down first."""
    return sorted(rss, key=lambda rs: (-replicas_of(rs), _created(rs), rs["metadata"]["name"]))


def by_size_newer(rss: Iterable[dict]) -> list[dict]:
    """Largest first, then newest (ReplicaSetsBySizeNewer): whom to scale up first."""
    return sorted(rss, key=lambda rs: (-replicas_of(rs), -_created(rs), rs["metadata"]["name"]))


def by_revision(rss: Iterable[dict]) -> list[dict]:
    return sorted(rss, key=lambda rs: (revision(rs), _created(rs), rs["metadata"]["name"]))


def filter_active(rss: Iterable[dict | None]) -> list[dict]:
    """ReplicaSets with replicas to run (controller.FilterActiveReplicaSets)."""
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def find_new_replica_set(d: dict, rs_list: list[dict]) -> dict | None:
    """The ReplicaSet whose template equals the Deployment's; the oldest if several do."""
    template = (d.get("spec") or {}).get("template") or {}
    for rs in by_creation(rs_list):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def find_old_replica_sets(d: dict, rs_list: list[dict]) -> tuple[list[dict], list[dict]]:
    """(old ReplicaSets with replicas, all old ReplicaSets)."""
    new = find_new_replica_set(d, rs_list)
    new_uid = new["metadata"]["uid"] if new is not None else None
    all_old = [rs for rs in rs_list if rs["metadata"]["uid"] != new_uid]
    return [rs for rs in all_old if replicas_of(rs) != 0], all_old


def find_active_or_latest(new_rs: dict | None, old_rss: list[dict]) -> dict | None:
    """The one active ReplicaSet, the newest if none is active, or None if several are."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=lambda rs: (_created(rs), rs["metadata"]["name"]), reverse=True)
    active = filter_active(newest_first + [new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    if len(active) == 1:
        return active[0]
    return None


# --- counting -------------------------------------------------------------------------------------

def replica_count(rss: Iterable[dict | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def actual_replica_count(rss: Iterable[dict | None]) -> int:
    return sum(status_int(rs, "replicas") for rs in rss)


def ready_replica_count(rss: Iterable[dict | None]) -> int:
    return sum(status_int(rs, "readyReplicas") for rs in rss)


def available_replica_count(rss: Iterable[dict | None]) -> int:
    return sum(status_int(rs, "availableReplicas") for rs in rss)


# --- scaling arithmetic ---------------------------------------------------------------------------

def new_rs_new_replicas(d: dict, all_rss: list[dict], new_rs: dict) -> int:
    """How many replicas the new ReplicaSet may have now (NewRSNewReplicas)."""
    if strategy_type(d) == RECREATE:
        return replicas_of(d)
    if strategy_type(d) != ROLLING_UPDATE:
        raise ValueError(f"deployment type {strategy_type(d)} isn't supported")
    surge = value_from_int_or_percent(_rolling_params(d)[0], replicas_of(d), True)
    current = replica_count(all_rss)
    max_total = replicas_of(d) + surge
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + scale_up


def is_saturated(d: dict, rs: dict | None) -> bool:
    """The new ReplicaSet runs, and was sized for, all of the Deployment's replicas, all available."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    if desired is None:
        return False
    replicas = replicas_of(d)
    return replicas_of(rs) == replicas and desired == replicas and status_int(rs, "availableReplicas") == replicas


def _round_half_away(value: float) -> int:
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def replica_set_fraction(rs: dict, d: dict) -> int:
    """How much this ReplicaSet should grow (or shrink) in a proportional scale."""
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas_of(d) + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        annotated = status_int(d, "replicas")
    if not annotated:
        return 0
    return _round_half_away(replicas_of(rs) * deployment_replicas / annotated) - replicas_of(rs)


def proportion(rs: dict | None, d: dict, to_add: int, added: int) -> int:
    """GetProportion: this ReplicaSet's share of `to_add`, never beyond what is left of it."""
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# --- conditions -----------------------------------------------------------------------------------

def new_condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict:
    stamp = format_rfc3339(now)
    return {"type": ctype, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def get_condition(status: dict | None, ctype: str) -> dict | None:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def set_condition(status: dict, condition: dict) -> None:
    """Add or replace a condition; same status and reason leaves it untouched; same status keeps the transition time."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition["reason"]:
        return
    condition = dict(condition)
    if current is not None and current.get("status") == condition["status"]:
        condition["lastTransitionTime"] = current.get("lastTransitionTime")
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != condition["type"]]
    status["conditions"].append(condition)


def remove_condition(status: dict, ctype: str) -> None:
    if "conditions" in status:
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != ctype]
        if not status["conditions"]:
            del status["conditions"]


# --- status ---------------------------------------------------------------------------------------

_OMIT_WHEN_ZERO = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                   "unavailableReplicas")


def compact_status(status: dict) -> dict:
    """Drop zero counts, as the omitempty JSON of DeploymentStatus does."""
    return {k: v for k, v in status.items() if not (k in _OMIT_WHEN_ZERO and not v)}


def calculate_status(all_rss: list[dict], new_rs: dict | None, d: dict, now: float) -> dict:
    """The Deployment's status from its ReplicaSets' (calculateStatus): counts and the Available condition."""
    rss = [rs for rs in all_rss if rs is not None]
    available = available_replica_count(rss)
    unavailable = max(0, replica_count(rss) - available)
    current = d.get("status") or {}
    status: dict = {
        "observedGeneration": d["metadata"].get("generation", 0),
        "replicas": actual_replica_count(rss),
        "updatedReplicas": actual_replica_count([new_rs]),
        "readyReplicas": ready_replica_count(rss),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    if current.get("collisionCount") is not None:
        status["collisionCount"] = current["collisionCount"]
    if current.get("conditions"):
        status["conditions"] = [dict(c) for c in current["conditions"]]
    if available >= replicas_of(d) - max_unavailable(d):
        cond = new_condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = new_condition(AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE,
                             "Deployment does not have minimum availability.", now)
    set_condition(status, cond)
    return compact_status(status)


def deployment_complete(d: dict, status: dict) -> bool:
    """All desired replicas updated and available, no old ones left, the latest generation observed."""
    replicas = replicas_of(d)
    return (int(status.get("updatedReplicas") or 0) == replicas and int(status.get("replicas") or 0) == replicas
            and int(status.get("availableReplicas") or 0) == replicas
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation", 0)))


def deployment_progressing(d: dict, status: dict) -> bool:
    """New pods were added or became ready or available, or old pods went away."""
    old = d.get("status") or {}

    def n(s: dict, key: str) -> int:
        return int(s.get(key) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(status, "replicas") - n(status, "updatedReplicas")
    return (n(status, "updatedReplicas") > n(old, "updatedReplicas") or new_old < old_old
            or n(status, "readyReplicas") > n(old, "readyReplicas")
            or n(status, "availableReplicas") > n(old, "availableReplicas"))


def deployment_timed_out(d: dict, status: dict, now: float) -> bool:
    """Whether the Progressing condition has not moved for longer than progressDeadlineSeconds."""
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    since = parse_rfc3339(cond.get("lastUpdateTime"))
    if since is None:
        return False
    return since + int(d["spec"]["progressDeadlineSeconds"]) < now
