"""The CronJob controller on the virtual clock (seed 001: a CronJob manages Jobs, which manage Pods).

The cluster's clock starts at 09:59:30 UTC; a `*/1 * * * *` CronJob creates
`hello-<minutes since the epoch>` at 10:00 and 10:01. concurrencyPolicy
Forbid skips a run while the last one is still going, Replace swaps it; history
limits, suspend, time zones and the "too many missed start times" rule.
"""

from __future__ import annotations

import pytest

from engine import errors
from engine.clock import DEFAULT_START, parse_rfc3339
from engine.controllers.cronjob import Schedule, most_recent_schedule_time
from engine.store import copy_json
from tests.engine.cluster import events, get, make_cluster

TEN = DEFAULT_START + 10 * 3600  # 2026-01-01T10:00:00Z
MINUTE_10_00 = int(TEN) // 60


def cron_job(name="hello", schedule="*/1 * * * *", command="sleep 5", **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "default"},
            "spec": {"schedule": schedule, **spec, "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": name, "image": "busybox", "command": ["sh", "-c", command]}],
                "restartPolicy": "OnFailure"}}}}}}


def jobs(sim) -> dict[str, dict]:
    return {j["metadata"]["name"]: j for j in sorted(sim.cache.list("Job", "default"),
                                                     key=lambda j: j["metadata"]["name"])}


def cluster():
    return make_cluster(workers=1, start=TEN - 30)


def test_jobs_are_created_on_schedule_named_after_their_minute():
    sim = cluster()
    sim.api.create(cron_job())
    sim.run(29)
    assert jobs(sim) == {}
    sim.run(1)
    first = jobs(sim)
    assert list(first) == [f"hello-{MINUTE_10_00}"]
    job = first[f"hello-{MINUTE_10_00}"]
    assert job["metadata"]["creationTimestamp"] == "2026-01-01T10:00:00Z"
    assert job["metadata"]["annotations"] == {"batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-01-01T10:00:00Z"}
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "hello", True)
    status = get(sim, "CronJob", "hello")["status"]
    assert status["lastScheduleTime"] == "2026-01-01T10:00:00Z"
    assert [(r["kind"], r["name"]) for r in status["active"]] == [("Job", f"hello-{MINUTE_10_00}")]

    sim.run(60)
    assert list(jobs(sim)) == [f"hello-{MINUTE_10_00}", f"hello-{MINUTE_10_00 + 1}"]
    assert jobs(sim)[f"hello-{MINUTE_10_00 + 1}"]["metadata"]["creationTimestamp"] == "2026-01-01T10:01:00Z"
    status = get(sim, "CronJob", "hello")["status"]
    assert status["lastScheduleTime"] == "2026-01-01T10:01:00Z"
    first_done = jobs(sim)[f"hello-{MINUTE_10_00}"]["status"]["completionTime"]
    assert status["lastSuccessfulTime"] == first_done
    assert events(sim, None, "hello")[:3] == [
        f"Created job hello-{MINUTE_10_00}",
        f"Saw completed job: hello-{MINUTE_10_00}, status: Complete",
        f"Created job hello-{MINUTE_10_00 + 1}",
    ]


def test_forbid_skips_a_run_while_the_previous_one_is_running():
    sim = cluster()
    sim.api.create(cron_job(command="sleep 90", concurrencyPolicy="Forbid"))
    sim.run(91)  # 10:01:01
    assert list(jobs(sim)) == [f"hello-{MINUTE_10_00}"]
    assert events(sim, "JobAlreadyActive", "hello") == [
        "Not starting job because prior execution is running and concurrency policy is Forbid"]
    # Once the 10:00 run completes (~10:01:31), the missed 10:01 run starts late: no startingDeadlineSeconds.
    sim.run(40)
    assert list(jobs(sim)) == [f"hello-{MINUTE_10_00}", f"hello-{MINUTE_10_00 + 1}"]
    late = jobs(sim)[f"hello-{MINUTE_10_00 + 1}"]
    assert parse_rfc3339(late["metadata"]["creationTimestamp"]) > TEN + 90


def test_replace_deletes_the_running_job():
    sim = cluster()
    sim.api.create(cron_job(command="sleep 90", concurrencyPolicy="Replace"))
    sim.run(91)
    assert list(jobs(sim)) == [f"hello-{MINUTE_10_00 + 1}"]
    assert events(sim, "SuccessfulDelete", "hello") == [f"Deleted job hello-{MINUTE_10_00}"]
    assert [r["name"] for r in get(sim, "CronJob", "hello")["status"]["active"]] == [f"hello-{MINUTE_10_00 + 1}"]


def test_history_limits_keep_the_newest_finished_jobs():
    sim = cluster()
    sim.api.create(cron_job(command="sleep 1", successfulJobsHistoryLimit=2))
    sim.run(30 + 4 * 60)  # runs at 10:00, 10:01, 10:02, 10:03, 10:04
    assert list(jobs(sim)) == [f"hello-{MINUTE_10_00 + n}" for n in (2, 3, 4)]  # the 10:04 run is still active
    sim.run(10)
    assert list(jobs(sim)) == [f"hello-{MINUTE_10_00 + 3}", f"hello-{MINUTE_10_00 + 4}"]
    assert events(sim, "SuccessfulDelete", "hello")[:2] == [f"Deleted job hello-{MINUTE_10_00}",
                                                           f"Deleted job hello-{MINUTE_10_00 + 1}"]


def test_suspend_stops_new_runs_and_a_time_zone_moves_the_schedule():
    sim = cluster()
    sim.api.create(cron_job(suspend=True))
    sim.api.create(cron_job("tokyo", schedule="0 19 * * *", timeZone="Asia/Tokyo"))  # 19:00 JST = 10:00 UTC
    sim.api.create(cron_job("hourly", schedule="@hourly"))
    sim.run(35)
    names = list(jobs(sim))
    assert not any(n.startswith("hello-") for n in names)
    assert f"tokyo-{MINUTE_10_00}" in names and f"hourly-{MINUTE_10_00}" in names
    tokyo = jobs(sim)[f"tokyo-{MINUTE_10_00}"]
    assert tokyo["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        "2026-01-01T19:00:00+09:00"
    resumed = copy_json(sim.api.get("CronJob", "default", "hello"))
    resumed["spec"]["suspend"] = False
    sim.api.update(resumed)
    sim.run(1)
    assert f"hello-{MINUTE_10_00}" in jobs(sim)  # the most recent missed run starts at once


def test_too_many_missed_start_times():
    sim = cluster()
    sim.api.create(cron_job(suspend=True))
    sim.api.create(cron_job("bounded", suspend=True, startingDeadlineSeconds=200))
    sim.run(105 * 60, step=30)  # 105 schedule times pass while suspended
    for name in ("hello", "bounded"):
        resumed = copy_json(sim.api.get("CronJob", "default", name))
        resumed["spec"]["suspend"] = False
        sim.api.update(resumed)
    sim.run(1)
    assert events(sim, "TooManyMissedTimes", "hello") == [
        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"]
    assert events(sim, "TooManyMissedTimes", "bounded") == []  # the deadline bounds how far back it looks
    latest = MINUTE_10_00 + 104
    assert f"hello-{latest}" in jobs(sim) and f"bounded-{latest}" in jobs(sim)
    assert len([n for n in jobs(sim) if n.startswith("hello-")]) == 1


def test_schedule_arithmetic():
    schedule = Schedule("*/5 * * * *")
    assert schedule.next(TEN) == TEN + 300 and schedule.next(TEN - 1) == TEN
    cj = {"metadata": {"creationTimestamp": "2026-01-01T10:00:00Z"}, "spec": {}, "status": {}}
    assert most_recent_schedule_time(cj, TEN + 299, schedule, True) == (TEN, None, "none")
    assert most_recent_schedule_time(cj, TEN + 660, schedule, True) == (TEN, TEN + 600, "few")
    assert Schedule("@every 90s").next(TEN) == TEN + 90


def test_a_bad_schedule_is_refused():
    sim = cluster()
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(cron_job(schedule="every minute"))
    assert caught.value.message == ('CronJob.batch "hello" is invalid: spec.schedule: Invalid value: "every minute": '
                                    "expected exactly 5 fields, found 2: [every minute]")
    assert sim.store.get("CronJob", "default", "hello") is None
