"""The CronJob controller (pkg/controller/cronjob/cronjob_controllerv2.go and utils.go).

Schedules are read with croniter (five-field cron and the `@hourly`-style
descriptors; `@every <duration>` as robfig/cron reads it), in `spec.timeZone`
(UTC when unset, the zone of kube-controller-manager on minikube). Everything
is driven by the virtual clock: after each sync the CronJob is requeued for
its next schedule time (plus 100 ms, as Kubernetes pads it), so fast-forwarding
the clock runs the Jobs that fall due.

A sync:

1. clean up finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit
   (oldest first, Event SuccessfulDelete "Deleted job ...");
2. reconcile `status.active` with the Jobs that exist (SawCompletedJob, MissingJob),
   and `lastSuccessfulTime`;
3. unless suspended, find the most recent missed schedule time; if it is past
   `startingDeadlineSeconds` record MissSchedule, with more than 100 missed record
   TooManyMissedTimes; apply concurrencyPolicy (Forbid skips with JobAlreadyActive,
   Replace deletes the running Jobs); create the Job `<cronjob>-<minutes since epoch>`
   with the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from engine import errors
from engine.clock import format_rfc3339, parse_rfc3339
from engine.controllers.base import Controller, Key
from engine.controllers.job import find_condition
from engine.controllers.replicaset import controller_ref, new_controller_ref
from engine.events import NORMAL, WARNING
from engine.store import DELETED, Change, copy_json

EVENT_COMPONENT = "cronjob-controller"
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
# The controller requeues a little after the schedule time (nextScheduleDelta).
NEXT_SCHEDULE_DELTA = 0.1
# More missed start times than this are reported as TooManyMissedTimes.
TOO_MANY_MISSED = 100
NONE_MISSED, FEW_MISSED, MANY_MISSED = "none", "few", "many"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ScheduleError(ValueError):
    pass


def parse_go_duration(text: str) -> float:
    """time.ParseDuration for the `@every` descriptor ("1h30m", "90s")."""
    text = text.strip()
    if not text or _DURATION_PART.sub("", text):
        raise ScheduleError(f'time: invalid duration "{text}"')
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))


class Schedule:
    """A parsed schedule: `next(t)` is the first activation strictly after `t` (epoch seconds)."""

    def __init__(self, expression: str, zone: str | None = None):
        self.expression = expression.strip()
        try:
            self.tz = ZoneInfo(zone) if zone else UTC
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"unknown time zone {zone}") from None
        self.every: float | None = None
        if self.expression.startswith("@every "):
            delay = parse_go_duration(self.expression[len("@every "):])
            self.every = max(1.0, float(int(delay)))  # robfig/cron rounds to whole seconds, at least one
        elif not croniter.is_valid(self.expression):
            raise ScheduleError(f"failed to parse schedule: {self.expression}")

    def next(self, t: float) -> float:
        if self.every is not None:
            return float(int(t)) + self.every
        start = datetime.fromtimestamp(float(int(t)), tz=self.tz)
        return float(croniter(self.expression, start).get_next(float))

    def format(self, t: float) -> str:
        """The scheduled time as RFC 3339 in the CronJob's zone (what the scheduled-timestamp annotation holds)."""
        moment = datetime.fromtimestamp(int(t), tz=self.tz)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S%z")
        if text.endswith("+0000") and self.tz is UTC:
            return text[:-5] + "Z"
        return text[:-2] + ":" + text[-2:]


def rfc1123z(t: float) -> str:
    return datetime.fromtimestamp(int(t), tz=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def most_recent_schedule_time(cj: dict, now: float, schedule: Schedule,
                              include_deadline: bool) -> tuple[float, float | None, str]:
    """mostRecentScheduleTime: (earliest time considered, the most recent unmet time or None, how many missed)."""
    earliest = parse_rfc3339(cj["metadata"].get("creationTimestamp")) or now
    last = parse_rfc3339((cj.get("status") or {}).get("lastScheduleTime"))
    if last is not None:
        earliest = last
    deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - int(deadline))
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1)
    if now < t1:
        return earliest, None, NONE_MISSED
    if now < t2:
        return earliest, t1, NONE_MISSED
    between = int(round(t2 - t1))
    if between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed_count = int(now - t1) // between + 1
    t = schedule.next(t1 + (missed_count - 2) * between)
    most_recent = None
    while t <= now:
        most_recent = t
        t = schedule.next(t)
    missed = MANY_MISSED if missed_count > TOO_MANY_MISSED else FEW_MISSED
    return earliest, most_recent, missed


def next_schedule_delay(cj: dict, now: float, schedule: Schedule) -> float:
    """nextScheduleTimeDuration: how long until the next schedule (plus the 100 ms padding)."""
    try:
        earliest, most_recent, missed = most_recent_schedule_time(cj, now, schedule, False)
    except ScheduleError:
        most_recent, earliest, missed = now, now, NONE_MISSED
    if most_recent is None:
        most_recent = earliest if missed == NONE_MISSED else now
    return schedule.next(most_recent) + NEXT_SCHEDULE_DELTA - now


def job_finished_type(job: dict) -> str | None:
    for ctype in ("Complete", "Failed"):
        cond = find_condition(job, ctype)
        if cond is not None and cond.get("status") == "True":
            return ctype
    return None


def job_name(cj: dict, scheduled: float) -> str:
    """`<cronjob>-<scheduled time in minutes since the epoch>`, so one schedule time makes one Job."""
    return f"{cj['metadata']['name']}-{int(scheduled) // 60}"


def job_from_template(cj: dict, scheduled: float, schedule: Schedule) -> dict:
    """getJobFromTemplate2."""
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    meta = template.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = schedule.format(scheduled)
    job_meta: dict = {"name": job_name(cj, scheduled), "namespace": cj["metadata"].get("namespace", "default"),
                      "annotations": annotations, "ownerReferences": [new_controller_ref(cj)]}
    if meta.get("labels"):
        job_meta["labels"] = dict(meta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta,
            "spec": copy_json(template.get("spec") or {})}


def job_reference(job: dict) -> dict:
    meta = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "namespace": meta.get("namespace", ""),
            "resourceVersion": meta.get("resourceVersion", ""), "uid": meta.get("uid", "")}


def _start_time(job: dict) -> tuple:
    start = (job.get("status") or {}).get("startTime")
    return (start is None, start or "", job["metadata"]["name"])


class CronJobController(Controller):
    name = "cronjob-controller"
    primary_kind = "CronJob"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self._wake: dict[Key, float] = {}

    # --- wiring ---------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        if change.kind == "CronJob":
            if change.type == DELETED:
                self._wake.pop(("CronJob", change.namespace, change.name), None)
            self.enqueue("CronJob", change.namespace, change.name)
        elif change.kind == "Job":
            ref = controller_ref(change.object)
            if ref is not None and ref.get("kind") == "CronJob":
                self.enqueue("CronJob", change.namespace, ref["name"])

    def requeue_at(self, key: Key, when: float) -> None:
        """One timer per CronJob and wake-up time (syncs are frequent; timers need not pile up)."""
        if self._wake.get(key) == when:
            return
        self._wake[key] = when
        self.enqueue_after(key, when - self.sim.clock.now())

    # --- sync -----------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        _, namespace, name = key
        cached = self.sim.cache.get("CronJob", namespace, name)
        if cached is None:
            self._wake.pop(key, None)
            return
        cj = copy_json(cached)
        cj.setdefault("status", {})
        jobs = [j for j in self.sim.cache.list("Job", namespace) if (controller_ref(j) or {}).get("name") == name
                and (controller_ref(j) or {}).get("kind") == "CronJob"]
        changed = self.cleanup_finished_jobs(cj, jobs)
        requeue, sync_changed, failure = self.sync_cronjob(cj, jobs)
        if changed or sync_changed:
            status = cj["status"]
            if not status.get("active"):
                status.pop("active", None)
            if status != (cached.get("status") or {}):
                self.client.update_status(cj)
        if requeue is not None:
            self.requeue_at(key, self.sim.clock.now() + requeue)
        if failure is not None:
            raise failure

    def cleanup_finished_jobs(self, cj: dict, jobs: list[dict]) -> bool:
        spec = cj.get("spec") or {}
        succeeded = [j for j in jobs if job_finished_type(j) == "Complete"]
        failed = [j for j in jobs if job_finished_type(j) == "Failed"]
        changed = False
        for finished, limit in ((succeeded, spec.get("successfulJobsHistoryLimit")),
                                (failed, spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            excess = len(finished) - int(limit)
            for job in sorted(finished, key=_start_time)[:max(0, excess)]:
                changed = self.delete_job(cj, job) or changed
        return changed

    def delete_job(self, cj: dict, job: dict) -> bool:
        meta = job["metadata"]
        try:
            self.client.delete("Job", meta["namespace"], meta["name"], propagation_policy="Background")
        except errors.ApiError as exc:
            if exc.code == 404:
                return False
            self.sim.events.record(cj, WARNING, "FailedDelete", f"Deleted job: {exc.message}", EVENT_COMPONENT)
            return False
        self.remove_active(cj, meta["uid"])
        self.sim.events.record(cj, NORMAL, "SuccessfulDelete", f"Deleted job {meta['name']}", EVENT_COMPONENT)
        return True

    @staticmethod
    def remove_active(cj: dict, uid: str) -> None:
        cj["status"]["active"] = [r for r in cj["status"].get("active") or [] if r.get("uid") != uid]

    def sync_cronjob(self, cj: dict, jobs: list[dict]) -> tuple[float | None, bool, errors.ApiError | None]:
        """syncCronJob: (seconds until the next look, whether the status changed, an error to retry on)."""
        now = self.sim.clock.now()
        status = cj["status"]
        changed = False
        children = set()
        for job in jobs:
            uid = job["metadata"]["uid"]
            children.add(uid)
            in_active = any(r.get("uid") == uid for r in status.get("active") or [])
            finished = job_finished_type(job)
            if not in_active and finished is None:
                self.sim.events.record(cj, WARNING, "UnexpectedJob", "Saw a job that the controller did not create or "
                                       f"forgot: {job['metadata']['name']}", EVENT_COMPONENT)
            elif in_active and finished is not None:
                self.remove_active(cj, uid)
                self.sim.events.record(cj, NORMAL, "SawCompletedJob",
                                       f"Saw completed job: {job['metadata']['name']}, status: {finished}",
                                       EVENT_COMPONENT)
                changed = True
            if finished == "Complete":
                completed = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if completed and (last is None or (parse_rfc3339(completed) or 0) > (parse_rfc3339(last) or 0)):
                    status["lastSuccessfulTime"] = completed
                    changed = True
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            if self.sim.cache.get("Job", ref.get("namespace", ""), ref.get("name", "")) is None:
                self.sim.events.record(cj, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}",
                                       EVENT_COMPONENT)
                self.remove_active(cj, ref.get("uid"))
                changed = True
        if cj["metadata"].get("deletionTimestamp"):
            return None, changed, None
        spec = cj.get("spec") or {}
        zone = spec.get("timeZone")
        try:
            schedule = Schedule(spec.get("schedule", ""), zone)
        except ScheduleError as exc:
            if zone and str(exc).startswith("unknown time zone"):
                self.sim.events.record(cj, WARNING, "UnknownTimeZone", f'invalid timeZone: "{zone}": {exc}',
                                       EVENT_COMPONENT)
            else:
                self.sim.events.record(cj, WARNING, "UnparseableSchedule",
                                       f'unparseable schedule: "{spec.get("schedule", "")}" : {exc}', EVENT_COMPONENT)
            return None, changed, None
        if spec.get("suspend"):
            return None, changed, None
        try:
            _, scheduled, missed = most_recent_schedule_time(cj, now, schedule, True)
        except ScheduleError as exc:
            self.sim.events.record(cj, WARNING, "InvalidSchedule",
                                   f"invalid schedule: {spec.get('schedule', '')} : {exc}", EVENT_COMPONENT)
            return None, changed, None
        if scheduled is not None and missed == MANY_MISSED:
            self.sim.events.record(cj, WARNING, "TooManyMissedTimes", "too many missed start times. Set or decrease "
                                   ".spec.startingDeadlineSeconds or check clock skew", EVENT_COMPONENT)
        if scheduled is None:
            return next_schedule_delay(cj, now, schedule), changed, None
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + int(deadline) < now:
            self.sim.events.record(cj, WARNING, "MissSchedule",
                                   f"Missed scheduled time to start a job: {rfc1123z(scheduled)}", EVENT_COMPONENT)
            return next_schedule_delay(cj, now, schedule), changed, None
        name = job_name(cj, scheduled)
        if any(r.get("name") == name for r in status.get("active") or []) or \
                parse_rfc3339(status.get("lastScheduleTime")) == scheduled:
            return next_schedule_delay(cj, now, schedule), changed, None
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.sim.events.record(cj, NORMAL, "JobAlreadyActive",
                                   "Not starting job because prior execution is running and concurrency policy is "
                                   "Forbid", EVENT_COMPONENT)
            return next_schedule_delay(cj, now, schedule), changed, None
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                job = self.sim.cache.get("Job", ref.get("namespace", ""), ref.get("name", ""))
                if job is None:
                    failure = errors.not_found("jobs", ref.get("name", ""), "batch")
                    self.sim.events.record(cj, WARNING, "FailedGet", f"Get job: {failure.message}", EVENT_COMPONENT)
                    return None, changed, failure
                if not self.delete_job(cj, job):
                    return None, changed, errors.internal(f"could not replace job {ref.get('namespace')}/"
                                                          f"{ref.get('name')}")
                changed = True
        try:
            created = self.client.create(job_from_template(cj, scheduled, schedule))
            already = False
        except errors.ApiError as exc:
            if exc.code == 403 and "being terminated" in exc.message:
                return None, changed, exc
            if exc.reason != "AlreadyExists":
                self.sim.events.record(cj, WARNING, "FailedCreate", f"Error creating job: {exc.message}",
                                       EVENT_COMPONENT)
                return None, changed, exc
            created = self.sim.cache.get("Job", cj["metadata"]["namespace"], name)
            if created is None or (controller_ref(created) or {}).get("uid") != cj["metadata"]["uid"]:
                return None, changed, None
            if any(r.get("uid") == created["metadata"]["uid"] for r in status.get("active") or []):
                return None, changed, None
            already = True
        if not already:
            self.sim.events.record(cj, NORMAL, "SuccessfulCreate", f"Created job {created['metadata']['name']}",
                                   EVENT_COMPONENT)
        status["active"] = [*(status.get("active") or []), job_reference(created)]
        status["lastScheduleTime"] = format_rfc3339(scheduled)
        return next_schedule_delay(cj, now, schedule), True, None


__all__ = ["CronJobController", "Schedule", "ScheduleError", "job_name", "most_recent_schedule_time",
           "next_schedule_delay"]
