"""The Job controller (pkg/controller/job/job_controller.go, backoff_utils.go), as Kubernetes 1.32 runs it.

A Job runs pods until `completions` of them succeed, at most `parallelism` at
a time. Its pods carry the `batch.kubernetes.io/job-tracking` finalizer: a
finished pod is first listed in `status.uncountedTerminatedPods`, then its
finalizer is removed, then it is counted in `succeeded` or `failed`, so no
pod is counted twice or lost.

A sync:

1. claim the pods (adopting orphans the selector matches);
2. decide whether the Job has finished: too many failures (`backoffLimit`, or
   container restarts with restartPolicy OnFailure) or `activeDeadlineSeconds`
   passed give the interim `FailureTarget` condition (BackoffLimitExceeded,
   DeadlineExceeded) and delete the active pods; enough successes give
   `SuccessCriteriaMet` (CompletionsReached);
3. otherwise manage the pods: create what is missing, after the back-off that
   failed pods impose (10 s doubling per failure since the last success, capped),
   or delete extras; `suspend` deletes them all;
4. track: count finished pods through `uncountedTerminatedPods`, and once no pod
   is left terminating add the final `Complete` or `Failed` condition (with the
   Events `Completed` "Job completed" or the failure's reason).

The TTL after finished lives in engine.controllers.ttlafterfinished.
"""

from __future__ import annotations

from functools import cmp_to_key

from engine import errors
from engine.clock import format_rfc3339, parse_rfc3339
from engine.controllers.base import Controller, Key
from engine.controllers.replicaset import (
    Expectations,
    claim,
    compare_for_deletion,
    controller_ref,
    is_pod_active,
    is_pod_ready,
    pod_from_template,
)
from engine.events import NORMAL, WARNING
from engine.labels import from_label_selector
from engine.store import DELETED, Change, copy_json

EVENT_COMPONENT = "job-controller"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"

# Pod failure back-off (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff). The Job docs still say "capped at
# six minutes"; the 1.32 controller caps it at 10 minutes, and that is what runs.
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0
# Most pods one sync creates or deletes (MaxPodCreateDeletePerSync).
MAX_POD_CREATE_DELETE_PER_SYNC = 500

# Conditions and reasons (k8s.io/api/batch/v1).
COMPLETE, FAILED, SUSPENDED = "Complete", "Failed", "Suspended"
FAILURE_TARGET, SUCCESS_CRITERIA_MET = "FailureTarget", "SuccessCriteriaMet"
BACKOFF_LIMIT_EXCEEDED, DEADLINE_EXCEEDED = "BackoffLimitExceeded", "DeadlineExceeded"
COMPLETIONS_REACHED = "CompletionsReached"
BACKOFF_LIMIT_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
COMPLETIONS_MESSAGE = "Reached expected number of succeeded pods"


# --- pure helpers ---------------------------------------------------------------------------------

def new_condition(ctype: str, status: str, reason: str, message: str, now: float) -> dict:
    stamp = format_rfc3339(now)
    return {"type": ctype, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def find_condition(job: dict, ctype: str) -> dict | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def _true(job: dict, ctype: str) -> bool:
    cond = find_condition(job, ctype)
    return cond is not None and cond.get("status") == "True"


def is_finished(job: dict) -> bool:
    """IsJobFinished: a Complete or Failed condition that is True."""
    return _true(job, COMPLETE) or _true(job, FAILED)


def finished_at(job: dict) -> float | None:
    for ctype in (COMPLETE, FAILED):
        cond = find_condition(job, ctype)
        if cond is not None and cond.get("status") == "True":
            return parse_rfc3339(cond.get("lastTransitionTime"))
    return None


def ensure_condition(conditions: list[dict], ctype: str, status: str, reason: str, message: str,
                     now: float) -> bool:
    """ensureJobConditionStatus: update or append (never append a False one); returns whether it changed."""
    for i, cond in enumerate(conditions):
        if cond.get("type") == ctype:
            if cond.get("status") != status or cond.get("reason") != reason or cond.get("message") != message:
                conditions[i] = new_condition(ctype, status, reason, message, now)
                return True
            return False
    if status != "False":
        conditions.append(new_condition(ctype, status, reason, message, now))
        return True
    return False


def has_finalizer(pod: dict) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def only_replace_failed(job: dict) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: dict, job: dict) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it succeeded."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase != "Succeeded"


def is_terminating(pod: dict) -> bool:
    """CountTerminatingPods: being deleted and not yet finished."""
    return bool(pod["metadata"].get("deletionTimestamp")) and (pod.get("status") or {}).get("phase") not in (
        "Succeeded", "Failed")


def pod_finished_time(pod: dict) -> float:
    """getFinishedTime: the last container finish, else when Ready turned False, else the deletion, else creation."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    times = []
    for cs in statuses:
        done = (cs.get("state") or {}).get("terminated")
        stamp = parse_rfc3339((done or {}).get("finishedAt"))
        if stamp is None:
            times = []
            break
        times.append(stamp)
    if statuses and times:
        return max(times)
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "False":
            stamp = parse_rfc3339(cond.get("lastTransitionTime"))
            if stamp is not None:
                return stamp
    deletion = parse_rfc3339(pod["metadata"].get("deletionTimestamp"))
    if deletion is not None:
        return deletion - float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
    return parse_rfc3339(pod["metadata"].get("creationTimestamp")) or 0.0


def backoff_record(pods: list[dict], job: dict) -> tuple[int, float | None]:
    """(failures since the last success, when the last of them finished), from the Job's finished pods.

    Kubernetes keeps this in memory from the pods it counts; the pods stay with
    their Job, so it is derived from them here and survives a restart.
    """
    successes = [pod_finished_time(p) for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
    last_success = max(successes) if successes else None
    failures = sorted(pod_finished_time(p) for p in pods if is_pod_failed(p, job))
    after = [t for t in failures if last_success is None or t > last_success]
    return len(after), (after[-1] if after else None)


def remaining_backoff(failures: int, last_failure: float | None, now: float) -> float:
    """getRemainingTimeForFailuresCount: 10 s, 20 s, 40 s ... after the last failure (0 when over)."""
    if failures == 0 or last_failure is None:
        return 0.0
    delay = POD_FAILURE_BACKOFF
    for _ in range(1, failures):
        delay *= 2
        if delay >= MAX_POD_FAILURE_BACKOFF:
            delay = MAX_POD_FAILURE_BACKOFF
            break
    elapsed = now - last_failure
    return 0.0 if delay < elapsed else delay - elapsed


def past_backoff_limit_on_failure(job: dict, pods: list[dict]) -> bool:
    """With restartPolicy OnFailure, container restarts of running and pending pods count against backoffLimit."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Running", "Pending"):
            for key in ("initContainerStatuses", "containerStatuses"):
                restarts += sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get(key) or [])
    limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
    return restarts > 0 if limit == 0 else restarts >= limit


def _int(value) -> int:
    return int(value or 0)


# --- the controller -------------------------------------------------------------------------------

class JobController(Controller):
    name = "job-controller"
    primary_kind = "Job"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self.expectations = Expectations(sim.clock.now)

    # --- wiring ---------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        kind = change.kind
        if kind == "Job":
            key = ("Job", change.namespace, change.name)
            if change.type == DELETED:
                self.expectations.forget(key)
                self._orphans_of(change.object)
            self.enqueue(*key)
        elif kind == "Pod":
            self._pod_changed(change)

    def _pod_changed(self, change: Change) -> None:
        pod = change.object
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "Job":
            key = ("Job", change.namespace, ref["name"])
            if change.type == DELETED or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key, change.name)
            elif change.type == "ADDED":
                self.expectations.creation_observed(key)
            job = self.sim.cache.get("Job", change.namespace, ref["name"])
            if change.type != DELETED and has_finalizer(pod) and (
                    job is None or job["metadata"]["uid"] != ref.get("uid") or is_finished(job)):
                self.enqueue("OrphanPod", change.namespace, change.name)
            self.enqueue(*key)
            return
        if change.type == DELETED:
            return
        if has_finalizer(pod):
            self.enqueue("OrphanPod", change.namespace, change.name)
        if ref is None and not pod["metadata"].get("deletionTimestamp"):
            labels = pod["metadata"].get("labels")
            for job in self.sim.cache.list("Job", change.namespace):
                if from_label_selector((job.get("spec") or {}).get("selector")).matches(labels):
                    self.enqueue_object(job)

    def _orphans_of(self, job: dict) -> None:
        uid = job["metadata"].get("uid")
        for pod in self.sim.cache.list("Pod", job["metadata"].get("namespace", "")):
            if (controller_ref(pod) or {}).get("uid") == uid and has_finalizer(pod):
                self.enqueue("OrphanPod", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def resync(self) -> None:
        super().resync()
        for pod in self.sim.cache.list("Pod"):
            if has_finalizer(pod):
                ref = controller_ref(pod) or {}
                job = self.sim.cache.get("Job", pod["metadata"]["namespace"], ref.get("name", ""))
                if job is None or job["metadata"]["uid"] != ref.get("uid") or is_finished(job):
                    self.enqueue("OrphanPod", pod["metadata"]["namespace"], pod["metadata"]["name"])

    # --- sync -----------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        kind, namespace, name = key
        if kind == "OrphanPod":
            self.sync_orphan_pod(namespace, name)
            return
        cached = self.sim.cache.get("Job", namespace, name)
        if cached is None:
            self.expectations.forget(key)
            return
        if is_finished(cached):
            self._orphans_of(cached)
            return
        job = copy_json(cached)
        spec, status = job.setdefault("spec", {}), job.setdefault("status", {})
        now = self.sim.clock.now()
        status.setdefault("uncountedTerminatedPods", {})
        satisfied = self.expectations.satisfied(key)
        pods = self.pods_for_job(job)
        active_pods = [p for p in pods if is_pod_active(p)]
        uncounted = status["uncountedTerminatedPods"]
        uncounted_ok = set(uncounted.get("succeeded") or [])
        uncounted_failed = set(uncounted.get("failed") or [])

        def counted(pod: dict) -> bool:
            return not has_finalizer(pod) or pod["metadata"]["uid"] in uncounted_ok | uncounted_failed

        new_succeeded = [p for p in pods if not counted(p) and (p.get("status") or {}).get("phase") == "Succeeded"]
        new_failed = [p for p in pods if not counted(p) and is_pod_failed(p, job)]
        succeeded = _int(status.get("succeeded")) + len(new_succeeded) + len(uncounted_ok)
        failed = _int(status.get("failed")) + len(new_failed) + len(uncounted_failed)
        suspended = bool(spec.get("suspend"))
        if not status.get("startTime") and not suspended:
            status["startTime"] = format_rfc3339(now)
        active = len(active_pods)
        ready = sum(1 for p in active_pods if is_pod_ready(p))
        terminating = sum(1 for p in pods if is_terminating(p))

        finished = self.finished_condition(job, pods, failed, now, key)
        if finished is not None:
            deleted, deleted_ready = self.delete_active(job, active_pods)
            if deleted != active or not satisfied:
                finished = None  # not everything is gone yet, or the cache may be behind
            active -= deleted
            terminating += deleted
            ready -= deleted_ready
        else:
            managed = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                active, ready, terminating = self.manage(key, job, pods, active_pods, succeeded, ready, terminating,
                                                         now)
                managed = True
            completions = spec.get("completions")
            done = (succeeded > 0 and active == 0) if completions is None else (
                succeeded >= int(completions) and active == 0)
            if done:
                finished = new_condition(SUCCESS_CRITERIA_MET, "True", COMPLETIONS_REACHED, COMPLETIONS_MESSAGE, now)
            elif managed:
                self.suspend_condition(job, suspended, now)
        status["active"] = active
        status["ready"] = max(0, ready)
        status["terminating"] = terminating
        self.track(job, cached, pods, finished, now)

    def finished_condition(self, job: dict, pods: list[dict], failed: int, now: float, key: Key) -> dict | None:
        """The condition that ends the Job, if any: SuccessCriteriaMet or FailureTarget (interim) or Failed."""
        spec = job.get("spec") or {}
        met = find_condition(job, SUCCESS_CRITERIA_MET)
        if met is not None and met.get("status") == "True":
            return met
        target = find_condition(job, FAILURE_TARGET)
        if target is not None and target.get("status") == "True":
            return new_condition(FAILED, "True", target.get("reason", ""), target.get("message", ""), now)
        limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
        if failed > limit or past_backoff_limit_on_failure(job, pods):
            return new_condition(FAILURE_TARGET, "True", BACKOFF_LIMIT_EXCEEDED, BACKOFF_LIMIT_MESSAGE, now)
        deadline = spec.get("activeDeadlineSeconds")
        start = parse_rfc3339((job.get("status") or {}).get("startTime"))
        if deadline is not None and start is not None and not spec.get("suspend"):
            remaining = start + int(deadline) - now
            if remaining <= 0:
                return new_condition(FAILURE_TARGET, "True", DEADLINE_EXCEEDED, DEADLINE_MESSAGE, now)
            self.enqueue_after(key, remaining)
        return None

    def suspend_condition(self, job: dict, suspended: bool, now: float) -> None:
        conditions = job["status"].setdefault("conditions", [])
        if suspended:
            changed = ensure_condition(conditions, SUSPENDED, "True", "JobSuspended", "Job suspended", now)
            if changed:
                self.sim.events.record(job, NORMAL, "Suspended", "Job suspended", EVENT_COMPONENT)
        else:
            changed = ensure_condition(conditions, SUSPENDED, "False", "JobResumed", "Job resumed", now)
            if changed:
                self.sim.events.record(job, NORMAL, "Resumed", "Job resumed", EVENT_COMPONENT)
                job["status"]["startTime"] = format_rfc3339(now)
        if not conditions:
            del job["status"]["conditions"]

    # --- pods -----------------------------------------------------------------------------------
    def pods_for_job(self, job: dict) -> list[dict]:
        """The Job's pods, after adopting matching orphans and releasing strays."""
        selector = from_label_selector((job.get("spec") or {}).get("selector"))
        return claim(self.client, job, selector, self.sim.cache.list("Pod", job["metadata"]["namespace"]))

    def manage(self, key: Key, job: dict, pods: list[dict], active_pods: list[dict], succeeded: int, ready: int,
               terminating: int, now: float) -> tuple[int, int, int]:
        """manageJob: (active, ready, terminating) after creating or deleting pods."""
        spec = job.get("spec") or {}
        active = len(active_pods)
        if spec.get("suspend"):
            removed, removed_ready = self.delete_pods(key, job, self.order_for_removal(active_pods))
            return active - removed, ready - removed_ready, terminating + removed
        parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
        completions = spec.get("completions")
        if completions is None:
            want = active if succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - succeeded, parallelism))
        excess = max(0, active - want)
        if excess:
            victims = self.order_for_removal(active_pods)[:min(excess, MAX_POD_CREATE_DELETE_PER_SYNC)]
            removed, removed_ready = self.delete_pods(key, job, victims)
            return active - removed, ready - removed_ready, terminating + removed
        waiting_to_finish = terminating if only_replace_failed(job) else 0
        diff = want - waiting_to_finish - active
        if diff <= 0:
            return active, ready, terminating
        failures, last_failure = backoff_record(pods, job)
        remaining = remaining_backoff(failures, last_failure, now)
        if remaining > 0:
            self.enqueue_after(key, max(remaining, 1.0))
            return active, ready, terminating
        return active + self.create_pods(key, job, min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)), ready, terminating

    @staticmethod
    def order_for_removal(pods: list[dict]) -> list[dict]:
        """controller.ActivePods order: not ready before ready, unscheduled before scheduled, pending before running."""
        return [p for p, _ in sorted(((p, 0) for p in pods), key=cmp_to_key(compare_for_deletion))]

    def create_pods(self, key: Key, job: dict, count: int) -> int:
        """Create `count` pods in slow-start batches; returns how many were created."""
        self.expectations.expect_creations(key, count)
        template = copy_json((job.get("spec") or {}).get("template") or {})
        meta = template.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or [])
        if TRACKING_FINALIZER not in finalizers:
            finalizers.append(TRACKING_FINALIZER)
        meta["finalizers"] = finalizers
        created, batch = 0, 1
        failure: errors.ApiError | None = None
        while created < count and failure is None:
            for _ in range(min(batch, count - created)):
                try:
                    pod = self.client.create(pod_from_template(job, template))
                except errors.ApiError as exc:
                    failure = exc
                    break
                created += 1
                self.sim.events.record(job, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                                       EVENT_COMPONENT)
            batch *= 2
        for _ in range(count - created):
            self.expectations.creation_observed(key)
        if failure is not None and not (failure.code == 403 and "being terminated" in failure.message):
            self.sim.events.record(job, WARNING, "FailedCreate", f"Error creating: {failure.message}",
                                   EVENT_COMPONENT)
            raise failure
        return created

    def delete_pods(self, key: Key, job: dict, pods: list[dict]) -> tuple[int, int]:
        """deleteJobPods: remove the tracking finalizer, then delete; returns (deleted, of which ready)."""
        if not pods:
            return 0, 0
        self.expectations.expect_deletions(key, [p["metadata"]["name"] for p in pods])
        deleted = deleted_ready = 0
        for pod in pods:
            meta = pod["metadata"]
            try:
                self.remove_finalizer(pod)
                self.client.delete("Pod", meta["namespace"], meta["name"], uid=meta["uid"])
            except errors.ApiError as exc:
                self.expectations.deletion_observed(key, meta["name"])
                if exc.code != 404:
                    self.sim.events.record(job, WARNING, "FailedDelete", f"Error deleting: {exc.message}",
                                           EVENT_COMPONENT)
                    continue
            deleted += 1
            deleted_ready += is_pod_ready(pod)
            self.sim.events.record(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta['name']}", EVENT_COMPONENT)
        return deleted, deleted_ready

    def delete_active(self, job: dict, pods: list[dict]) -> tuple[int, int]:
        """deleteActivePods: delete (keeping the finalizers) the pods of a Job that has finished."""
        deleted = deleted_ready = 0
        for pod in pods:
            meta = pod["metadata"]
            try:
                self.client.delete("Pod", meta["namespace"], meta["name"], uid=meta["uid"])
            except errors.ApiError as exc:
                if exc.code != 404:
                    continue
            deleted += 1
            deleted_ready += is_pod_ready(pod)
            self.sim.events.record(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta['name']}", EVENT_COMPONENT)
        return deleted, deleted_ready

    def remove_finalizer(self, pod: dict) -> None:
        if not has_finalizer(pod):
            return
        current = self.sim.cache.get("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"] or not has_finalizer(current):
            return
        updated = copy_json(current)
        updated["metadata"]["finalizers"] = [f for f in current["metadata"]["finalizers"] if f != TRACKING_FINALIZER]
        if not updated["metadata"]["finalizers"]:
            del updated["metadata"]["finalizers"]
        try:
            self.client.update(updated)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    def sync_orphan_pod(self, namespace: str, name: str) -> None:
        """Remove the tracking finalizer of a pod whose Job is gone or finished."""
        pod = self.sim.cache.get("Pod", namespace, name)
        if pod is None or not has_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "Job":
                return
            job = self.sim.cache.get("Job", namespace, ref.get("name", ""))
            if job is not None and job["metadata"]["uid"] == ref.get("uid") and not is_finished(job):
                return  # adopted and running: the Job's own sync counts it
        self.remove_finalizer(pod)

    # --- tracking -------------------------------------------------------------------------------
    def track(self, job: dict, cached: dict, pods: list[dict], finished: dict | None, now: float) -> None:
        """trackJobStatusAndRemoveFinalizers: count finished pods, then add the final condition."""
        status = job["status"]
        uncounted = status["uncountedTerminatedPods"]
        succeeded_uids = list(uncounted.get("succeeded") or [])
        failed_uids = list(uncounted.get("failed") or [])
        job_deleting = bool(job["metadata"].get("deletionTimestamp"))
        to_release: list[dict] = []
        for pod in pods:
            if not has_finalizer(pod):
                continue
            uid = pod["metadata"]["uid"]
            considered_failed = is_pod_failed(pod, job)
            phase = (pod.get("status") or {}).get("phase")
            if not (job_deleting or finished is not None or phase == "Succeeded" or considered_failed):
                continue
            to_release.append(pod)
            if phase == "Succeeded" and uid not in failed_uids:
                if uid not in succeeded_uids:
                    succeeded_uids.append(uid)
            elif (considered_failed or (finished is not None and finished["type"] != SUCCESS_CRITERIA_MET)) \
                    and uid not in failed_uids:
                failed_uids.append(uid)
        uncounted["succeeded"], uncounted["failed"] = succeeded_uids, failed_uids
        conditions = status.setdefault("conditions", [])
        final: dict | None = None
        if finished is not None:
            if finished["type"] == FAILURE_TARGET:
                conditions.append(finished)
                final = new_condition(FAILED, "True", finished["reason"], finished["message"], now)
            elif finished["type"] == SUCCESS_CRITERIA_MET:
                if find_condition(job, SUCCESS_CRITERIA_MET) is None:
                    conditions.append(finished)
                final = new_condition(COMPLETE, "True", finished["reason"], finished["message"], now)
            else:
                final = finished
        if not conditions:
            del status["conditions"]
        self.flush(job, cached)
        for pod in to_release:
            self.remove_finalizer(pod)
        # Pods whose finalizer is gone are counted now.
        still_held = {p["metadata"]["uid"] for p in pods if has_finalizer(p)} - {
            p["metadata"]["uid"] for p in to_release}
        kept_ok = [u for u in succeeded_uids if u in still_held]
        kept_failed = [u for u in failed_uids if u in still_held]
        status["succeeded"] = _int(status.get("succeeded")) + len(succeeded_uids) - len(kept_ok)
        status["failed"] = _int(status.get("failed")) + len(failed_uids) - len(kept_failed)
        status["uncountedTerminatedPods"] = {"succeeded": kept_ok, "failed": kept_failed}
        finishing = False
        if final is not None and not kept_ok and not kept_failed and status.get("terminating", 0) == 0:
            conditions = status.setdefault("conditions", [])
            ensure_condition(conditions, final["type"], final["status"], final["reason"], final["message"], now)
            if final["type"] == COMPLETE:
                status["completionTime"] = format_rfc3339(now)
            finishing = True
        self.flush(job, cached)
        if finishing:
            if final["type"] == COMPLETE:
                completions = (job.get("spec") or {}).get("completions")
                if completions is not None and status["succeeded"] > int(completions):
                    self.sim.events.record(job, WARNING, "TooManySucceededPods",
                                           "Too many succeeded pods running after completion count reached",
                                           EVENT_COMPONENT)
                self.sim.events.record(job, NORMAL, "Completed", "Job completed", EVENT_COMPONENT)
            else:
                self.sim.events.record(job, WARNING, final["reason"], final["message"], EVENT_COMPONENT)

    def flush(self, job: dict, cached: dict) -> None:
        """Write the status if it differs from what is stored (zero counters left out, as omitempty does)."""
        status = copy_json(job["status"])
        for key in ("active", "succeeded", "failed"):
            if not status.get(key):
                status.pop(key, None)
        status["uncountedTerminatedPods"] = {k: v for k, v in (status.get("uncountedTerminatedPods") or {}).items()
                                             if v}
        stored = self.sim.cache.get("Job", job["metadata"]["namespace"], job["metadata"]["name"]) or cached
        if (stored.get("status") or {}) == status:
            return
        updated = copy_json(stored)
        updated["status"] = status
        result = self.client.update_status(updated)
        job["metadata"] = copy_json(result["metadata"])


__all__ = [
    "JobController", "TRACKING_FINALIZER", "backoff_record", "finished_at", "is_finished", "remaining_backoff",
]
