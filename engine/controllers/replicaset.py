"""The ReplicaSet controller (and the ReplicationController manager, the same loop on the legacy kind).

As in kube-controller-manager (pkg/controller/replicaset/replica_set.go), one
sync is a chain of small steps:

1. look the ReplicaSet up in the cache (gone: forget its expectations, done);
2. check expectations: creates and deletes asked for and not yet seen;
3. claim pods: adopt orphans that match the selector, release owned pods that
   no longer match;
4. manage replicas (only when expectations are satisfied and the ReplicaSet is
   not being deleted): create missing pods from the template, or delete the
   extras ranked as `ActivePodsWithRanks` ranks them, at most `BURST_REPLICAS`
   at a time;
5. compute the status with a pure function and write it only when it changed.

The module also holds the small pod and ownerReference helpers every workload
controller shares (Kubernetes keeps them in pkg/controller/controller_utils.go).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cmp_to_key

from engine import errors
from engine.clock import format_rfc3339, parse_rfc3339
from engine.controllers.base import Controller, Key
from engine.events import NORMAL, WARNING
from engine.labels import Requirement, Selector, from_label_selector
from engine.store import DELETED, Change, copy_json

log = logging.getLogger(__name__)

# Most pods one sync creates or deletes (kube-controller-manager's BurstReplicas).
BURST_REPLICAS = 500
# Creates go in batches of 1, 2, 4, ... and stop at the first failure (slowStartBatch).
SLOW_START_INITIAL_BATCH = 1
# Expectations older than this are considered satisfied, so a lost change cannot wedge a controller.
EXPECTATIONS_TTL = 300.0

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

# Event reasons, worded as pkg/controller/controller_utils.go records them.
SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"

WORKLOAD_KINDS = {"ReplicaSet": "apps/v1", "ReplicationController": "v1"}
EVENT_COMPONENT = {"ReplicaSet": "replicaset-controller", "ReplicationController": "replication-controller"}


# --- ownerReferences ------------------------------------------------------------------------------

def controller_ref(obj: dict) -> dict | None:
    """The ownerReference marked controller: true, if any (metav1.GetControllerOf)."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: dict) -> dict:
    """An ownerReference making `owner` the controller of a dependent (metav1.NewControllerRef)."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def is_controlled_by(obj: dict, owner: dict) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


# --- pods -----------------------------------------------------------------------------------------

def is_pod_active(pod: dict) -> bool:
    """Neither finished nor being deleted (controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def pod_ready_condition(pod: dict) -> dict | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def is_pod_ready(pod: dict) -> bool:
    cond = pod_ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def pod_ready_since(pod: dict) -> float | None:
    """When the pod last became ready (its Ready condition's lastTransitionTime), or None."""
    cond = pod_ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return None
    return parse_rfc3339(cond.get("lastTransitionTime"))


def is_pod_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    """Ready, and ready for longer than minReadySeconds (podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_since(pod)
    return since is not None and since + min_ready_seconds < now


def available_at(pod: dict, min_ready_seconds: int) -> float | None:
    """The moment a ready pod turns available, or None if it is not ready."""
    since = pod_ready_since(pod)
    return None if since is None else since + min_ready_seconds


def _max_restarts(pod: dict) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: dict) -> int:
    try:
        return int((pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST, 0))
    except (TypeError, ValueError):
        return 0


_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _newer_first(a: float | None, b: float | None) -> int:
    """Empty < newer < older (afterOrZero): negative when `a` should come first."""
    if a == b:
        return 0
    if a is None:
        return -1
    if b is None:
        return 1
    return -1 if a > b else 1


def compare_for_deletion(a: tuple[dict, int], b: tuple[dict, int]) -> int:
    """ActivePodsWithRanks.Less as a cmp function: negative when pod `a` should be deleted before `b`.

    1. unscheduled < scheduled; 2. Pending < Unknown < Running; 3. not ready < ready;
    4. lower pod-deletion-cost first; 5. more colocated related pods first; 6. ready more
    recently first; 7. more container restarts first; 8. created more recently first.
    Ties end in name order, which keeps the simulation deterministic.
    """
    (pa, rank_a), (pb, rank_b) = a, b
    node_a, node_b = pa["spec"].get("nodeName") or "", pb["spec"].get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1
    phase_a = _PHASE_ORDINAL.get((pa.get("status") or {}).get("phase"), 0)
    phase_b = _PHASE_ORDINAL.get((pb.get("status") or {}).get("phase"), 0)
    if phase_a != phase_b:
        return -1 if phase_a < phase_b else 1
    ready_a, ready_b = is_pod_ready(pa), is_pod_ready(pb)
    if ready_a != ready_b:
        return -1 if not ready_a else 1
    cost_a, cost_b = _deletion_cost(pa), _deletion_cost(pb)
    if cost_a != cost_b:
        return -1 if cost_a < cost_b else 1
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    if ready_a and ready_b:
        order = _newer_first(pod_ready_since(pa), pod_ready_since(pb))
        if order:
            return order
    restarts_a, restarts_b = _max_restarts(pa), _max_restarts(pb)
    if restarts_a != restarts_b:
        return -1 if restarts_a > restarts_b else 1
    order = _newer_first(parse_rfc3339(pa["metadata"].get("creationTimestamp")),
                         parse_rfc3339(pb["metadata"].get("creationTimestamp")))
    if order:
        return order
    name_a, name_b = pa["metadata"]["name"], pb["metadata"]["name"]
    return (name_a > name_b) - (name_a < name_b)


def pods_to_delete(pods: list[dict], related: list[dict], count: int) -> list[dict]:
    """The `count` pods to delete first, ranked by how many related active pods share their node."""
    if count >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = pod["spec"].get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get(pod["spec"].get("nodeName") or "", 0)) for pod in pods]
    ranked.sort(key=cmp_to_key(compare_for_deletion))
    return [pod for pod, _rank in ranked[:count]]


def pod_from_template(owner: dict, template: dict) -> dict:
    """The pod a workload creates from its template (controller.GetPodFromTemplate)."""
    meta = template.get("metadata") or {}
    owner_meta = owner["metadata"]
    pod_meta: dict = {"generateName": f"{owner_meta['name']}-", "namespace": owner_meta.get("namespace", "default"),
                      "ownerReferences": [new_controller_ref(owner)]}
    if meta.get("labels"):
        pod_meta["labels"] = dict(meta["labels"])
    if meta.get("annotations"):
        pod_meta["annotations"] = dict(meta["annotations"])
    if meta.get("finalizers"):
        pod_meta["finalizers"] = list(meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": copy_json(template.get("spec") or {})}


# --- selectors ------------------------------------------------------------------------------------

def workload_selector(obj: dict) -> Selector:
    """A ReplicaSet's LabelSelector, or a ReplicationController's plain map (its template labels when empty)."""
    spec = obj.get("spec") or {}
    if obj["kind"] == "ReplicationController":
        plain = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not plain:
            return Selector(match_nothing=True)
        return Selector([Requirement(k, "=", (str(v),)) for k, v in sorted(plain.items())])
    return from_label_selector(spec.get("selector"))


def claim(client, owner: dict, selector: Selector, candidates: list[dict]) -> list[dict]:
    """Adopt matching orphans and release owned non-matching objects; return those `owner` now controls.

    ControllerRefManager.ClaimObject: an object controlled by someone else is left
    alone; a controller being deleted neither adopts nor releases; an object being
    deleted is not adopted.
    """
    owner_meta = owner["metadata"]
    uid = owner_meta["uid"]
    owner_deleting = bool(owner_meta.get("deletionTimestamp"))
    claimed = []
    for obj in candidates:
        meta = obj["metadata"]
        ref = controller_ref(obj)
        matches = selector.matches(meta.get("labels"))
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                claimed.append(obj)
                continue
            if owner_deleting:
                continue
            _release(client, obj, uid)
            continue
        if owner_deleting or not matches or meta.get("deletionTimestamp"):
            continue
        if meta.get("namespace", "") != owner_meta.get("namespace", ""):
            continue
        adopted = _adopt(client, obj, owner)
        if adopted is not None:
            claimed.append(adopted)
    return claimed


def _adopt(client, obj: dict, owner: dict) -> dict | None:
    updated = copy_json(obj)
    refs = [r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != owner["metadata"]["uid"]]
    refs.append(new_controller_ref(owner))
    updated["metadata"]["ownerReferences"] = refs
    try:
        return client.update(updated)
    except errors.ApiError as exc:
        if exc.code in (404, 409):
            return None  # gone or changed meanwhile: the next sync looks again
        raise


def _release(client, obj: dict, owner_uid: str) -> None:
    updated = copy_json(obj)
    refs = [r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
    if refs:
        updated["metadata"]["ownerReferences"] = refs
    else:
        updated["metadata"].pop("ownerReferences", None)
    try:
        client.update(updated)
    except errors.ApiError as exc:
        if exc.code not in (404, 409):
            raise


# --- expectations ---------------------------------------------------------------------------------

@dataclass
class _Expectation:
    adds: int
    deletes: set[str] = field(default_factory=set)
    since: float = 0.0


class Expectations:
    """What a controller asked for and has not yet seen come back (UIDTrackingControllerExpectations, lightly).

    Our cache sees a controller's own writes at once, so these are satisfied by the
    next round; they still guard against creating twice when a change is late.
    """

    def __init__(self, now):
        self._now = now
        self._items: dict[Key, _Expectation] = {}

    def satisfied(self, key: Key) -> bool:
        exp = self._items.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and not exp.deletes:
            return True
        return self._now() - exp.since > EXPECTATIONS_TTL

    def expect_creations(self, key: Key, count: int) -> None:
        self._items[key] = _Expectation(count, set(), self._now())

    def expect_deletions(self, key: Key, pod_names: list[str]) -> None:
        self._items[key] = _Expectation(0, set(pod_names), self._now())

    def creation_observed(self, key: Key) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.adds -= 1

    def deletion_observed(self, key: Key, pod_name: str) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.deletes.discard(pod_name)

    def forget(self, key: Key) -> None:
        self._items.pop(key, None)


# --- status ---------------------------------------------------------------------------------------

def calculate_status(rs: dict, pods: list[dict], manage_error: errors.ApiError | None, diff: int, now: float) -> dict:
    """The status a ReplicaSet (or ReplicationController) should have, from the pods it controls.

    `pods` are its active pods; `diff` is pods minus desired replicas when `manage_error` happened.
    Zero counts are left out, as Kubernetes' omitempty does (replicas always stays).
    """
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully_labeled = ready = available = 0
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    status: dict = {"replicas": len(pods)}
    for name, value in (("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready),
                        ("availableReplicas", available), ("observedGeneration", rs["metadata"].get("generation", 0))):
        if value:
            status[name] = value
    conditions = [copy_json(c) for c in (rs.get("status") or {}).get("conditions") or []]
    failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        reason = FAILED_CREATE if diff < 0 else FAILED_DELETE
        conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": format_rfc3339(now),
                           "reason": reason, "message": manage_error.message})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if conditions:
        status["conditions"] = conditions
    return status


# --- the controller -------------------------------------------------------------------------------

class ReplicaSetController(Controller):
    """Keeps `spec.replicas` pods running for every ReplicaSet and ReplicationController."""

    name = "replicaset-controller"
    primary_kind = "ReplicaSet"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self.expectations = Expectations(sim.clock.now)

    # --- wiring ---------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        kind = change.kind
        if kind in WORKLOAD_KINDS:
            if change.type == DELETED:
                self.expectations.forget((kind, change.namespace, change.name))
            self.enqueue(kind, change.namespace, change.name)
            return
        if kind != "Pod":
            return
        pod = change.object
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") not in WORKLOAD_KINDS:
                return
            key = (ref["kind"], change.namespace, ref["name"])
            if change.type == DELETED or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key, change.name)
            elif change.type == "ADDED":
                self.expectations.creation_observed(key)
            self.enqueue(*key)
            return
        if change.type == DELETED or pod["metadata"].get("deletionTimestamp"):
            return
        # An orphan: every workload whose selector matches it may adopt it.
        labels = pod["metadata"].get("labels")
        for kind in WORKLOAD_KINDS:
            for owner in self.sim.cache.list(kind, change.namespace):
                if workload_selector(owner).matches(labels):
                    self.enqueue_object(owner)

    def resync(self) -> None:
        for kind in WORKLOAD_KINDS:
            for obj in self.sim.cache.list(kind):
                self.enqueue_object(obj)

    # --- sync -----------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        kind, namespace, name = key
        cached = self.sim.cache.get(kind, namespace, name)
        if cached is None:
            self.expectations.forget(key)
            return
        rs = cached
        needs_sync = self.expectations.satisfied(key)
        selector = workload_selector(rs)
        candidates = self.sim.cache.claimable("Pod", namespace, rs["metadata"]["uid"])
        active = [p for p in candidates if is_pod_active(p)]
        pods = claim(self.client, rs, selector, active)

        manage_error: errors.ApiError | None = None
        diff = len(pods) - self.desired(rs)
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            manage_error = self.manage_replicas(key, rs, pods, diff)

        # Our own creates and deletes are already in the cache: count what is there now.
        uid = rs["metadata"]["uid"]
        current = [p for p in self.sim.cache.controlled_by("Pod", namespace, uid) if is_pod_active(p)]
        now = self.sim.clock.now()
        self.write_status(rs, calculate_status(rs, current, manage_error, diff, now))
        self.requeue_for_min_ready(key, rs, current, now)
        if manage_error is not None:
            raise manage_error

    @staticmethod
    def desired(rs: dict) -> int:
        replicas = (rs.get("spec") or {}).get("replicas")
        return 1 if replicas is None else int(replicas)

    def manage_replicas(self, key: Key, rs: dict, pods: list[dict], diff: int) -> errors.ApiError | None:
        if diff < 0:
            return self.create_pods(key, rs, min(-diff, BURST_REPLICAS))
        if diff > 0:
            related = self.related_pods(rs)
            victims = pods_to_delete(pods, related, min(diff, BURST_REPLICAS))
            return self.delete_pods(key, rs, victims)
        return None

    def create_pods(self, key: Key, rs: dict, count: int) -> errors.ApiError | None:
        """Create `count` pods in slow-start batches (1, 2, 4, ...), stopping at the first failure."""
        self.expectations.expect_creations(key, count)
        template = (rs.get("spec") or {}).get("template") or {}
        component = EVENT_COMPONENT[rs["kind"]]
        created, batch = 0, SLOW_START_INITIAL_BATCH
        failure: errors.ApiError | None = None
        while created < count and failure is None:
            for _ in range(min(batch, count - created)):
                try:
                    pod = self.client.create(pod_from_template(rs, template))
                except errors.ApiError as exc:
                    failure = exc
                    break
                created += 1
                self.sim.events.record(rs, NORMAL, SUCCESSFUL_CREATE, f"Created pod: {pod['metadata']['name']}",
                                       component)
            batch *= 2
        if failure is None:
            return None
        # The creates we did not make will never be observed.
        for _ in range(count - created):
            self.expectations.creation_observed(key)
        if _namespace_terminating(failure):
            return None  # every later create fails too, and the namespace controller is removing us
        self.sim.events.record(rs, WARNING, FAILED_CREATE, f"Error creating: {failure.message}", component)
        return failure

    def delete_pods(self, key: Key, rs: dict, victims: list[dict]) -> errors.ApiError | None:
        self.expectations.expect_deletions(key, [p["metadata"]["name"] for p in victims])
        component = EVENT_COMPONENT[rs["kind"]]
        failure: errors.ApiError | None = None
        for pod in victims:
            meta = pod["metadata"]
            try:
                self.client.delete("Pod", meta["namespace"], meta["name"], uid=meta["uid"])
            except errors.ApiError as exc:
                self.expectations.deletion_observed(key, meta["name"])
                if exc.code == 404:
                    continue
                failure = failure or exc
                self.sim.events.record(rs, WARNING, FAILED_DELETE, f"Error deleting: {exc.message}", component)
                continue
            self.sim.events.record(rs, NORMAL, SUCCESSFUL_DELETE, f"Deleted pod: {meta['name']}", component)
        return failure

    def related_pods(self, rs: dict) -> list[dict]:
        """Pods of every ReplicaSet sharing this one's controller (a Deployment's old and new ones)."""
        namespace = rs["metadata"].get("namespace", "")
        owner = controller_ref(rs)
        uids = {rs["metadata"]["uid"]}
        if owner is not None and owner.get("uid"):
            uids |= {s["metadata"]["uid"] for s in self.sim.cache.controlled_by(rs["kind"], namespace, owner["uid"])}
        # The owner index, not a scan of every pod: only the counts per node matter to the ranking.
        return [p for uid in sorted(uids) for p in self.sim.cache.controlled_by("Pod", namespace, uid)]

    def write_status(self, rs: dict, status: dict) -> None:
        if (rs.get("status") or {}) == status:
            return
        updated = copy_json(rs)
        updated["status"] = status
        self.client.update_status(updated)

    def requeue_for_min_ready(self, key: Key, rs: dict, pods: list[dict], now: float) -> None:
        """Look again when the next ready pod has been ready for minReadySeconds."""
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        if not min_ready:
            return
        moments = [t for p in pods if not is_pod_available(p, min_ready, now)
                   and (t := available_at(p, min_ready)) is not None]
        if moments:
            # Available means strictly later than the moment: look just after it.
            self.enqueue_after(key, max(0.0, min(moments) - now) + 0.01)


def _namespace_terminating(exc: errors.ApiError) -> bool:
    return exc.code == 403 and "because it is being terminated" in exc.message


__all__ = [
    "BURST_REPLICAS", "Expectations", "ReplicaSetController", "available_at", "calculate_status", "claim",
    "compare_for_deletion", "controller_ref", "is_controlled_by", "is_pod_active", "is_pod_available",
    "is_pod_ready", "new_controller_ref", "pod_from_template", "pod_ready_since", "pods_to_delete",
    "workload_selector",
]
