"""The disruption controller (pkg/controller/disruption/disruption.go): PodDisruptionBudget status.

For every PodDisruptionBudget it counts the pods its selector picks (in
policy/v1 an empty selector picks every pod of the namespace):

- expectedPods: the number of pods; with `maxUnavailable` or a percentage
  `minAvailable`, the sum of the scales of the pods' controllers (Deployment,
  ReplicaSet, ReplicationController, StatefulSet) instead;
- desiredHealthy: `minAvailable`, or expected minus `maxUnavailable`
  (percentages of expected, rounded up);
- currentHealthy: pods Ready and not being deleted (nor just evicted);
- disruptionsAllowed: currentHealthy - desiredHealthy, never below 0;

and the DisruptionAllowed condition (SufficientPods / InsufficientPods). The
eviction API (engine.apiserver.eviction) spends disruptionsAllowed and records
the pod in `disruptedPods`; entries this controller has not seen deleted
within 2 minutes are dropped.
"""

from __future__ import annotations

from engine.clock import format_rfc3339, parse_rfc3339
from engine.controllers import deployment_util as dutil
from engine.controllers.base import Controller, Key
from engine.controllers.replicaset import controller_ref, is_pod_ready
from engine.events import NORMAL, WARNING
from engine.labels import from_label_selector, selector_string
from engine.store import DELETED, Change, copy_json

EVENT_COMPONENT = "controllermanager"
# How long an eviction the API server approved counts as a disruption before the pod is seen going (DeletionTimeout).
DELETION_TIMEOUT = 120.0
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS, INSUFFICIENT_PODS, SYNC_FAILED = "SufficientPods", "InsufficientPods", "SyncFailed"
SCALED_KINDS = ("Deployment", "ReplicaSet", "ReplicationController", "StatefulSet")


class ExpectedCountError(Exception):
    pass


def pdb_selector(pdb: dict):
    """policy/v1: a nil selector selects nothing, an empty one every pod in the namespace."""
    return from_label_selector((pdb.get("spec") or {}).get("selector"))


def count_healthy(pods: list[dict], disrupted: dict[str, str], now: float) -> int:
    """countHealthyPods: Ready, not being deleted, and not an eviction still pending."""
    healthy = 0
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        evicted = parse_rfc3339(disrupted.get(pod["metadata"]["name"]))
        if evicted is not None and evicted + DELETION_TIMEOUT > now:
            continue
        if is_pod_ready(pod):
            healthy += 1
    return healthy


def scaled_value(value, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent rounding up."""
    return dutil.value_from_int_or_percent(value, total, True)


def set_allowed_condition(status: dict, allowed: int, now: float, generation: int, failure: str | None = None) -> None:
    """The DisruptionAllowed condition; its transition time moves only when its status changes."""
    if failure is not None:
        value, reason, message = "False", SYNC_FAILED, failure
    elif allowed > 0:
        value, reason, message = "True", SUFFICIENT_PODS, ""
    else:
        value, reason, message = "False", INSUFFICIENT_PODS, ""
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != DISRUPTION_ALLOWED]
    old = next((c for c in status.get("conditions") or [] if c.get("type") == DISRUPTION_ALLOWED), None)
    changed = old is None or old.get("status") != value
    conditions.append({"type": DISRUPTION_ALLOWED, "status": value, "observedGeneration": generation,
                       "lastTransitionTime": format_rfc3339(now) if changed else old.get("lastTransitionTime"),
                       "reason": reason, "message": message})
    status["conditions"] = conditions


class DisruptionController(Controller):
    name = "disruption-controller"
    primary_kind = "PodDisruptionBudget"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)

    def handle(self, change: Change) -> None:
        kind = change.kind
        if kind == "PodDisruptionBudget":
            if change.type != DELETED:
                self.enqueue(kind, change.namespace, change.name)
        elif kind == "Pod" or kind in SCALED_KINDS:
            # Any pod (or controller scale) change may move the budgets of its namespace.
            for pdb in self.sim.cache.list("PodDisruptionBudget", change.namespace):
                self.enqueue_object(pdb)

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        pdb = self.sim.cache.get("PodDisruptionBudget", namespace, name)
        if pdb is None:
            return
        now = self.sim.clock.now()
        selector = pdb_selector(pdb)
        pods = sorted((p for p in self.sim.cache.list("Pod", namespace) if selector.matches(p["metadata"].get("labels"))),
                      key=lambda p: p["metadata"]["name"])
        if not pods:
            self.sim.events.record(pdb, NORMAL, "NoPods", "No matching pods found", EVENT_COMPONENT)
        disrupted, recheck = self.disrupted_pods(pdb, pods, now)
        try:
            expected, desired = self.expected_and_desired(pdb, pods)
        except ExpectedCountError as exc:
            self.sim.events.record(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                   f"Failed to calculate the number of expected pods: {exc}", EVENT_COMPONENT)
            self.write_status(pdb, None, disrupted, now, failure=str(exc))
            return
        healthy = count_healthy(pods, disrupted, now)
        self.write_status(pdb, (healthy, desired, expected), disrupted, now)
        if recheck is not None:
            self.enqueue_after(key, max(0.0, recheck - now) + 0.01)

    def disrupted_pods(self, pdb: dict, pods: list[dict], now: float) -> tuple[dict[str, str], float | None]:
        """buildDisruptedPodMap: pending evictions still in time; and when the next one expires."""
        by_name = {p["metadata"]["name"]: p for p in pods}
        kept: dict[str, str] = {}
        recheck = None
        for name, stamp in ((pdb.get("status") or {}).get("disruptedPods") or {}).items():
            pod = by_name.get(name)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                continue  # gone, or its deletion has been seen
            when = parse_rfc3339(stamp)
            if when is None or when + DELETION_TIMEOUT < now:
                continue  # never deleted: the eviction did not happen
            kept[name] = stamp
            expires = when + DELETION_TIMEOUT
            recheck = expires if recheck is None else min(recheck, expires)
        return kept, recheck

    def expected_and_desired(self, pdb: dict, pods: list[dict]) -> tuple[int, int]:
        spec = pdb.get("spec") or {}
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None:
            expected = self.expected_scale(pdb, pods)
            return expected, max(0, expected - scaled_value(max_unavailable, expected))
        if min_available is not None:
            if isinstance(min_available, int):
                return len(pods), min_available
            expected = self.expected_scale(pdb, pods)
            return expected, scaled_value(min_available, expected)
        return len(pods), 0

    def expected_scale(self, pdb: dict, pods: list[dict]) -> int:
        """getExpectedScale: the sum of the scales of the pods' controllers (each counted once)."""
        namespace = pdb["metadata"]["namespace"]
        scales: dict[str, int] = {}
        unmanaged = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            found = self.find_scale(namespace, ref)
            if found is None:
                raise ExpectedCountError(f"found no controllers for pod \"{pod['metadata']['name']}\"")
            uid, scale = found
            scales[uid] = scale
        if unmanaged:
            self.sim.events.record(
                pdb, WARNING, "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {selector_string((pdb.get('spec') or {}).get('selector'))}) "
                "were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which "
                "may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of "
                "the PDB to an integer value.", EVENT_COMPONENT)
        return sum(scales.values())

    def find_scale(self, namespace: str, ref: dict) -> tuple[str, int] | None:
        kind = ref.get("kind")
        if kind not in SCALED_KINDS:
            return None
        owner = self.sim.cache.get(kind, namespace, ref.get("name", ""))
        if owner is None or owner["metadata"]["uid"] != ref.get("uid"):
            return None
        if kind == "ReplicaSet":
            # A Deployment's ReplicaSet counts as the Deployment's scale.
            parent = controller_ref(owner)
            if parent is not None and parent.get("kind") == "Deployment":
                deployment = self.sim.cache.get("Deployment", namespace, parent.get("name", ""))
                if deployment is not None and deployment["metadata"]["uid"] == parent.get("uid"):
                    return deployment["metadata"]["uid"], dutil.replicas_of(deployment)
        return owner["metadata"]["uid"], dutil.replicas_of(owner)

    def write_status(self, pdb: dict, counts: tuple[int, int, int] | None, disrupted: dict[str, str], now: float,
                     failure: str | None = None) -> None:
        old = pdb.get("status") or {}
        generation = pdb["metadata"].get("generation", 0)
        if counts is None:  # failSafe: nothing may be disrupted while the budget cannot be computed
            healthy = int(old.get("currentHealthy") or 0)
            desired = int(old.get("desiredHealthy") or 0)
            expected = int(old.get("expectedPods") or 0)
            allowed = 0
        else:
            healthy, desired, expected = counts
            allowed = max(0, healthy - desired) if expected > 0 else 0
        status: dict = {"observedGeneration": generation}
        if disrupted:
            status["disruptedPods"] = dict(disrupted)
        status.update(disruptionsAllowed=allowed, currentHealthy=healthy, desiredHealthy=desired,
                      expectedPods=expected)
        if old.get("conditions"):
            status["conditions"] = copy_json(old["conditions"])
        set_allowed_condition(status, allowed, now, generation, failure)
        if old == status:
            return
        updated = copy_json(pdb)
        updated["status"] = status
        self.client.update_status(updated)


__all__ = ["DisruptionController", "count_healthy", "pdb_selector"]
