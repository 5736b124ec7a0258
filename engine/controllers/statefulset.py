"""The StatefulSet controller (pkg/controller/statefulset: stateful_set.go, stateful_set_control.go).

Pods with stable identities: `web-0`, `web-1` ... each with hostname = its
name, subdomain = `spec.serviceName`, the `statefulset.kubernetes.io/pod-name`
label, and one PersistentVolumeClaim per volumeClaimTemplate named
`<claim>-<sts>-<ordinal>`, created before the pod and kept when the pod goes,
so a replacement pod of the same ordinal gets the same volume back.

A sync (updateStatefulSet):

1. revisions: the ControllerRevision of the current template is the update
   revision (`<sts>-<hash>`, created or renumbered), `status.currentRevision`
   the current one;
2. replicas (ordinals below `replicas`): recreate finished pods, create missing
   ones (claims first), and with OrderedReady stop at the first pod that is not
   yet Running and Ready (Parallel does not wait);
3. condemned pods (ordinals at or above `replicas`): delete them from the highest
   ordinal down, one at a time with OrderedReady;
4. RollingUpdate: delete the highest-ordinal pod at or above the partition that
   is not at the update revision, one at a time, waiting for each replacement
   to be healthy (OnDelete: pods change only when deleted);
5. write the status and drop old revisions beyond revisionHistoryLimit.
"""

from __future__ import annotations

from engine import errors
from engine.controllers import history
from engine.controllers import statefulset_util as util
from engine.controllers.base import Controller, Key
from engine.controllers.replicaset import available_at, claim, controller_ref
from engine.events import NORMAL, WARNING
from engine.labels import from_label_selector
from engine.store import DELETED, Change, copy_json

EVENT_COMPONENT = "statefulset-controller"


def _title(verb: str) -> str:
    return verb[:1].upper() + verb[1:]


class StatefulSetController(Controller):
    name = "statefulset-controller"
    primary_kind = "StatefulSet"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)

    # --- wiring ---------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        kind = change.kind
        if kind == "StatefulSet":
            self.enqueue(kind, change.namespace, change.name)
        elif kind == "ControllerRevision":
            self.enqueue_owner(change.object, ("StatefulSet",))
        elif kind == "Pod":
            pod = change.object
            ref = controller_ref(pod)
            if ref is not None:
                if ref.get("kind") == "StatefulSet":
                    self.enqueue("StatefulSet", change.namespace, ref["name"])
                return
            if change.type == DELETED or pod["metadata"].get("deletionTimestamp"):
                return
            labels = pod["metadata"].get("labels")
            for sts in self.sim.cache.list("StatefulSet", change.namespace):
                if util.is_member_of(sts, pod) and from_label_selector(
                        (sts.get("spec") or {}).get("selector")).matches(labels):
                    self.enqueue_object(sts)

    # --- sync -----------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        _, namespace, name = key
        sts = self.sim.cache.get("StatefulSet", namespace, name)
        if sts is None:
            return
        selector = from_label_selector((sts.get("spec") or {}).get("selector"))
        members = [p for p in self.sim.cache.list("Pod", namespace) if util.is_member_of(sts, p)]
        claim(self.client, sts, selector, members)
        revisions = claim(self.client, sts, selector, self.sim.cache.list("ControllerRevision", namespace))
        current, update, collision = self.revisions(sts, revisions)
        failure: errors.ApiError | None = None
        try:
            self.update_statefulset(sts, current, update)
        except errors.ApiError as exc:
            failure = exc
        self.write_status(sts, current, update, collision)
        self.truncate_history(sts, current, update)
        self.requeue_for_min_ready(key, sts)
        if failure is not None:
            raise failure

    def owned_pods(self, sts: dict) -> list[dict]:
        uid = sts["metadata"]["uid"]
        return [p for p in self.sim.cache.list("Pod", sts["metadata"]["namespace"])
                if (controller_ref(p) or {}).get("uid") == uid and util.is_member_of(sts, p)]

    # --- revisions ------------------------------------------------------------------------------
    def revisions(self, sts: dict, revisions: list[dict]) -> tuple[dict, dict, int]:
        """getStatefulSetRevisions: (current revision, update revision, collision count)."""
        revisions = history.by_revision(revisions)
        collision = int((sts.get("status") or {}).get("collisionCount") or 0)
        wanted = util.new_revision(sts, history.max_revision(revisions) + 1, collision)
        equal = [r for r in revisions if history.equal_data(r, wanted)]
        if equal and revisions and history.equal_data(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            # Going back to an older template (rollout undo): renumber its revision.
            renumbered = copy_json(equal[-1])
            renumbered["revision"] = wanted["revision"]
            update = self.client.update(renumbered)
        else:
            update, collision = self.create_revision(sts, wanted, collision)
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == current_name), None) or update
        return current, update, collision

    def create_revision(self, sts: dict, revision: dict, collision: int) -> tuple[dict, int]:
        """CreateControllerRevision: retry with a new hash (collisionCount + 1) while a different one holds the name."""
        while True:
            candidate = util.new_revision(sts, revision["revision"], collision)
            try:
                created = self.client.create(candidate)
            except errors.ApiError as exc:
                if exc.reason != "AlreadyExists":
                    raise
                existing = self.sim.cache.get("ControllerRevision", sts["metadata"]["namespace"],
                                              candidate["metadata"]["name"])
                if existing is not None and history.equal_data(existing, candidate):
                    return existing, collision
                collision += 1
                continue
            return created, collision

    def truncate_history(self, sts: dict, current: dict, update: dict) -> None:
        """Delete the oldest revisions no pod uses beyond revisionHistoryLimit (current and update stay)."""
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        live = {util.pod_revision(p) for p in self.owned_pods(sts)}
        live |= {current["metadata"]["name"], update["metadata"]["name"]}
        revisions = history.by_revision(history.owned_revisions(self.sim.cache, sts))
        dead = [r for r in revisions if r["metadata"]["name"] not in live]
        for revision in dead[:max(0, len(dead) - limit)]:
            meta = revision["metadata"]
            try:
                self.client.delete("ControllerRevision", meta["namespace"], meta["name"], uid=meta["uid"])
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise

    # --- the update -----------------------------------------------------------------------------
    def update_statefulset(self, sts: dict, current: dict, update: dict) -> None:
        if sts["metadata"].get("deletionTimestamp"):
            return  # being deleted: status only
        spec = sts.get("spec") or {}
        now = self.sim.clock.now()
        min_ready = int(spec.get("minReadySeconds") or 0)
        current_set = util.with_template(sts, current)
        update_set = util.with_template(sts, update)
        start, count = util.start_ordinal(sts), util.replicas_of(sts)
        replicas: list[dict | None] = [None] * count
        condemned: list[dict] = []
        for pod in self.owned_pods(sts):
            ordinal = util.ordinal_of(pod)
            if start <= ordinal < start + count:
                replicas[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        condemned.sort(key=util.ordinal_of, reverse=True)
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        # The first pod (missing ones count) that is not healthy may be deleted even while others wait.
        first_unhealthy: dict | None = None
        for pod in [*replicas, *condemned]:
            if pod is None or not util.is_healthy(pod):
                first_unhealthy = pod or {"metadata": {"uid": None}}
                break

        for i in range(count):
            if self.process_replica(sts, current_set, update_set, current, update, replicas, i, start, monotonic,
                                    min_ready, now) and monotonic:
                return
        for pod in condemned:
            if self.process_condemned(sts, pod, first_unhealthy, monotonic, min_ready, now) and monotonic:
                return
        strategy = spec.get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return  # OnDelete: a pod takes the new template when it is deleted and recreated
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for target in range(count - 1, partition - 1, -1):
            pod = replicas[target]
            if pod is None or not util.is_created(pod):
                return
            if util.pod_revision(pod) != update["metadata"]["name"] and not util.is_terminating(pod):
                self.delete_pod(sts, pod)
                return
            if not util.is_healthy(pod):
                return  # wait for the updated pod before touching the next one

    def versioned_pod(self, sts: dict, current_set: dict, update_set: dict, current: dict, update: dict,
                      ordinal: int) -> dict:
        """newVersionedStatefulSetPod: below the partition a pod keeps the current revision."""
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        start = util.start_ordinal(sts)
        keep_current = False
        if (strategy.get("type") or "RollingUpdate") == "RollingUpdate":
            rolling = strategy.get("rollingUpdate")
            if rolling is None:
                keep_current = ordinal < start + int((sts.get("status") or {}).get("currentReplicas") or 0)
            else:
                keep_current = ordinal < start + int(rolling.get("partition") or 0)
        if keep_current:
            return util.new_pod(sts, (current_set.get("spec") or {}).get("template") or {}, ordinal,
                                current["metadata"]["name"])
        return util.new_pod(sts, (update_set.get("spec") or {}).get("template") or {}, ordinal,
                            update["metadata"]["name"])

    def process_replica(self, sts: dict, current_set: dict, update_set: dict, current: dict, update: dict,
                        replicas: list[dict | None], i: int, start: int, monotonic: bool, min_ready: int,
                        now: float) -> bool:
        """processReplica: returns True when the sync must stop here (monotonic) after this replica."""
        pod = replicas[i]
        if pod is not None and util.is_finished(pod):
            if not util.is_terminating(pod):
                self.delete_pod(sts, pod)  # a finished pod is deleted and recreated under the same name
            return True
        if pod is None or not util.is_created(pod):
            self.create_pod(sts, self.versioned_pod(sts, current_set, update_set, current, update, start + i))
            return True
        if util.is_terminating(pod):
            return True
        if not util.is_running_and_ready(pod):
            return True
        if not util.is_running_and_available(pod, min_ready, now):
            return True
        if not util.identity_matches(sts, pod) or not util.storage_matches(sts, pod):
            self.update_pod(sts, pod)
        return False

    def process_condemned(self, sts: dict, pod: dict, first_unhealthy: dict | None, monotonic: bool,
                          min_ready: int, now: float) -> bool:
        if util.is_terminating(pod):
            return True
        is_first = first_unhealthy is not None and pod["metadata"]["uid"] == first_unhealthy["metadata"]["uid"]
        if monotonic and not is_first and (not util.is_running_and_ready(pod)
                                          or not util.is_running_and_available(pod, min_ready, now)):
            return True
        self.delete_pod(sts, pod)
        return True

    # --- writes ---------------------------------------------------------------------------------
    def record_pod_event(self, verb: str, sts: dict, pod_name: str, error: errors.ApiError | None) -> None:
        sts_name = sts["metadata"]["name"]
        if error is None:
            self.sim.events.record(sts, NORMAL, f"Successful{_title(verb)}",
                                   f"{verb} Pod {pod_name} in StatefulSet {sts_name} successful", EVENT_COMPONENT)
        else:
            self.sim.events.record(sts, WARNING, f"Failed{_title(verb)}",
                                   f"{verb} Pod {pod_name} in StatefulSet {sts_name} failed error: {error.message}",
                                   EVENT_COMPONENT)

    def create_claims(self, sts: dict, pod: dict) -> None:
        """createPersistentVolumeClaims: each missing claim of the pod's ordinal, before the pod."""
        ordinal = util.ordinal_of(pod)
        pod_name = pod["metadata"]["name"]
        sts_name = sts["metadata"]["name"]
        problems: list[str] = []
        for claim_obj in util.persistent_volume_claims(sts, ordinal).values():
            meta = claim_obj["metadata"]
            existing = self.sim.cache.get("PersistentVolumeClaim", meta["namespace"], meta["name"])
            if existing is not None:
                if existing["metadata"].get("deletionTimestamp"):
                    problems.append(f"pvc {meta['name']} is being deleted")
                continue
            try:
                self.client.create(claim_obj)
            except errors.ApiError as exc:
                if exc.reason == "AlreadyExists":
                    continue
                problems.append(f"failed to create PVC {meta['name']}: {exc.message}")
                self.sim.events.record(sts, WARNING, "FailedCreate",
                                       f"create Claim {meta['name']} for Pod {pod_name} in StatefulSet {sts_name} "
                                       f"failed error: {exc.message}", EVENT_COMPONENT)
                continue
            self.sim.events.record(sts, NORMAL, "SuccessfulCreate",
                                   f"create Claim {meta['name']} Pod {pod_name} in StatefulSet {sts_name} success",
                                   EVENT_COMPONENT)
        if problems:
            raise errors.ApiError(500, "InternalError", "; ".join(problems))

    def create_pod(self, sts: dict, pod: dict) -> None:
        try:
            self.create_claims(sts, pod)
        except errors.ApiError as exc:
            self.record_pod_event("create", sts, pod["metadata"]["name"], exc)
            raise
        try:
            self.client.create(pod)
        except errors.ApiError as exc:
            if exc.reason == "AlreadyExists":
                return
            if not (exc.code == 403 and "being terminated" in exc.message):
                self.record_pod_event("create", sts, pod["metadata"]["name"], exc)
            raise
        self.record_pod_event("create", sts, pod["metadata"]["name"], None)

    def delete_pod(self, sts: dict, pod: dict) -> None:
        meta = pod["metadata"]
        try:
            self.client.delete("Pod", meta["namespace"], meta["name"], uid=meta["uid"])
        except errors.ApiError as exc:
            if exc.code == 404:
                return
            self.record_pod_event("delete", sts, meta["name"], exc)
            raise
        self.record_pod_event("delete", sts, meta["name"], None)

    def update_pod(self, sts: dict, pod: dict) -> None:
        """UpdateStatefulPod: restore a pod's identity and storage (its claims too)."""
        updated = copy_json(pod)
        util.update_identity(sts, updated)
        util.update_storage(sts, updated)
        try:
            self.create_claims(sts, updated)
            self.client.update(updated)
        except errors.ApiError as exc:
            if exc.code in (404, 409):
                return
            self.record_pod_event("update", sts, pod["metadata"]["name"], exc)
            raise
        self.record_pod_event("update", sts, pod["metadata"]["name"], None)

    # --- status ---------------------------------------------------------------------------------
    def write_status(self, sts: dict, current: dict, update: dict, collision: int) -> None:
        fresh = self.sim.cache.get("StatefulSet", sts["metadata"]["namespace"], sts["metadata"]["name"])
        if fresh is None or fresh["metadata"]["uid"] != sts["metadata"]["uid"]:
            return
        min_ready = int((fresh.get("spec") or {}).get("minReadySeconds") or 0)
        counts = util.replica_status(self.owned_pods(fresh), min_ready, self.sim.clock.now(),
                                     current["metadata"]["name"], update["metadata"]["name"])
        status = util.build_status(fresh, counts, current["metadata"]["name"], update["metadata"]["name"], collision)
        util.complete_rolling_update(fresh, status)
        if (fresh.get("status") or {}) == status:
            return
        updated = copy_json(fresh)
        updated["status"] = status
        self.client.update_status(updated)

    def requeue_for_min_ready(self, key: Key, sts: dict) -> None:
        min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        if not min_ready:
            return
        now = self.sim.clock.now()
        moments = [t for p in self.owned_pods(sts) if (t := available_at(p, min_ready)) is not None and t >= now]
        if moments:
            self.enqueue_after(key, min(moments) - now + 0.01)


__all__ = ["StatefulSetController"]
