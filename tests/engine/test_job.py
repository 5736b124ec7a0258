"""The Job controller (seed 001/002: run pods until a number of them succeed; batch work).

Pods whose simulated command exits drive it: `sh -c "sleep 2"` succeeds after
2 s, `exit 1` fails. Completions and parallelism, the 1.32 conditions
(SuccessCriteriaMet then Complete; FailureTarget then Failed), the pod-failure
back-off of 10 s, 20 s, 40 s, activeDeadlineSeconds, ttlSecondsAfterFinished,
suspend, and the messages for bad input.
"""

from __future__ import annotations

import pytest

from engine import errors
from engine.clock import parse_rfc3339
from engine.controllers.job import MAX_POD_FAILURE_BACKOFF, TRACKING_FINALIZER, remaining_backoff
from engine.store import copy_json
from tests.engine.cluster import condition, events, get, make_cluster, pods


def job(name="pi", command="sleep 2", restart="Never", **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {**spec, "template": {"spec": {
                "containers": [{"name": name, "image": "busybox", "command": ["sh", "-c", command]}],
                "restartPolicy": restart}}}}


def finished(sim, name="pi"):
    j = get(sim, "Job", name)
    return j is not None and any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
                                 for c in (j.get("status") or {}).get("conditions") or [])


def created_at(pod) -> float:
    return parse_rfc3339(pod["metadata"]["creationTimestamp"])


def test_a_job_runs_its_completions_one_after_another():
    sim = make_cluster(workers=1)
    stored = sim.api.create(job(completions=2))
    uid = stored["metadata"]["uid"]
    assert stored["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    sim.run(1)
    first = pods(sim, prefix="pi-")
    assert len(first) == 1
    assert first[0]["metadata"]["labels"] == {"batch.kubernetes.io/controller-uid": uid,
                                              "batch.kubernetes.io/job-name": "pi", "controller-uid": uid,
                                              "job-name": "pi"}
    assert first[0]["metadata"]["finalizers"] == [TRACKING_FINALIZER]
    running = get(sim, "Job", "pi")["status"]
    assert (running["active"], running["terminating"], running["uncountedTerminatedPods"]) == (1, 0, {})

    assert sim.run_until(finished, timeout=60)
    status = get(sim, "Job", "pi")["status"]
    assert status["succeeded"] == 2 and "active" not in status and status["ready"] == 0
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    for cond in status["conditions"]:
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "True", "CompletionsReached", "Reached expected number of succeeded pods")
    assert status["completionTime"] and status["startTime"] and status["uncountedTerminatedPods"] == {}
    done = pods(sim, prefix="pi-")
    assert len(done) == 2 and all(p["status"]["phase"] == "Succeeded" for p in done)
    assert all(not p["metadata"].get("finalizers") for p in done)
    # One after the other: the second pod starts once the first has succeeded.
    first_pod, second_pod = sorted(done, key=created_at)
    first_finished = parse_rfc3339(first_pod["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"])
    assert created_at(second_pod) >= first_finished
    names = [p["metadata"]["name"] for p in sorted(done, key=created_at)]
    assert events(sim, None, "pi") == [f"Created pod: {names[0]}", f"Created pod: {names[1]}", "Job completed"]


def test_parallelism_runs_pods_side_by_side():
    sim = make_cluster(workers=2)
    sim.api.create(job("para", completions=4, parallelism=2))
    most = 0

    def watch(s):
        nonlocal most
        most = max(most, sum(1 for p in pods(s, prefix="para-") if p["status"].get("phase") in ("Pending", "Running")))
        return finished(s, "para")

    assert sim.run_until(watch, timeout=60, step=0.25)
    assert most == 2
    assert len(pods(sim, prefix="para-")) == 4
    assert get(sim, "Job", "para")["status"]["succeeded"] == 4


def test_failed_pods_are_replaced_after_an_exponential_back_off_until_the_limit():
    sim = make_cluster(workers=1)
    sim.api.create(job("flaky", command="sleep 1; exit 1", backoffLimit=3))
    assert sim.run_until(lambda s: finished(s, "flaky"), timeout=300, step=0.5)
    attempts = sorted(pods(sim, prefix="flaky-"), key=created_at)
    assert len(attempts) == 4  # the first try and backoffLimit (3) retries
    gaps = []
    for previous, following in zip(attempts, attempts[1:], strict=False):
        ended = parse_rfc3339(previous["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"])
        gaps.append(created_at(following) - ended)
    assert gaps == [10.0, 20.0, 40.0]
    status = get(sim, "Job", "flaky")["status"]
    assert status["failed"] == 4
    assert [(c["type"], c["reason"], c["message"]) for c in status["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
    ]
    assert "completionTime" not in status
    assert events(sim, "BackoffLimitExceeded", "flaky") == ["Job has reached the specified backoff limit"]
    assert all(p["status"]["phase"] == "Failed" and not p["metadata"].get("finalizers") for p in attempts)


def test_back_off_doubles_up_to_its_cap():
    assert [remaining_backoff(n, 100.0, 100.0) for n in (0, 1, 2, 3, 4)] == [0.0, 10.0, 20.0, 40.0, 80.0]
    assert remaining_backoff(12, 100.0, 100.0) == MAX_POD_FAILURE_BACKOFF
    assert remaining_backoff(2, 100.0, 115.0) == 5.0 and remaining_backoff(2, 100.0, 125.0) == 0.0


def test_active_deadline_seconds_stops_the_job():
    sim = make_cluster(workers=1)
    sim.api.create(job("slow", command="sleep 600", parallelism=2, completions=2, activeDeadlineSeconds=10))
    sim.run(5)
    assert len([p for p in pods(sim, prefix="slow-") if p["status"].get("phase") == "Running"]) == 2
    assert not finished(sim, "slow")
    assert sim.run_until(lambda s: finished(s, "slow"), timeout=30)
    status = get(sim, "Job", "slow")["status"]
    assert parse_rfc3339(condition(get(sim, "Job", "slow"), "Failed")["lastTransitionTime"]) - parse_rfc3339(
        status["startTime"]) <= 12
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [("FailureTarget", "DeadlineExceeded"),
                                                                       ("Failed", "DeadlineExceeded")]
    assert condition(get(sim, "Job", "slow"), "Failed")["message"] == "Job was active longer than specified deadline"
    assert status["failed"] == 2 and pods(sim, prefix="slow-") == []
    deleted = events(sim, "SuccessfulDelete", "slow")
    assert len(deleted) == 2 and all(m.startswith("Deleted pod: slow-") for m in deleted)
    assert events(sim, "DeadlineExceeded", "slow") == ["Job was active longer than specified deadline"]


def test_ttl_seconds_after_finished_deletes_the_job_and_its_pods():
    sim = make_cluster(workers=1)
    sim.api.create(job("short", command="sleep 1", ttlSecondsAfterFinished=5))
    assert sim.run_until(lambda s: finished(s, "short"), timeout=30)
    done_at = sim.clock.now()
    assert sim.run_until(lambda s: get(s, "Job", "short") is None, timeout=30)
    assert 4 <= sim.clock.now() - done_at <= 7
    sim.run(2)
    assert pods(sim, prefix="short-") == []


def test_suspend_and_resume():
    sim = make_cluster(workers=1)
    sim.api.create(job("later", suspend=True))
    sim.run(3)
    assert pods(sim, prefix="later-") == []
    suspended = condition(get(sim, "Job", "later"), "Suspended")
    assert (suspended["status"], suspended["reason"], suspended["message"]) == ("True", "JobSuspended", "Job suspended")
    assert "startTime" not in get(sim, "Job", "later")["status"]
    resumed = copy_json(sim.api.get("Job", "default", "later"))
    resumed["spec"]["suspend"] = False
    sim.api.update(resumed)
    assert sim.run_until(lambda s: finished(s, "later"), timeout=30)
    assert condition(get(sim, "Job", "later"), "Suspended")["reason"] == "JobResumed"
    assert events(sim, "Suspended", "later") == ["Job suspended"] and events(sim, "Resumed", "later") == ["Job resumed"]


def test_bad_input_is_refused_and_nothing_is_stored():
    sim = make_cluster(workers=1, control_plane=False)
    cases = [
        (job("neg", parallelism=-1),
         'Job.batch "neg" is invalid: spec.parallelism: Invalid value: -1: must be greater than or equal to 0'),
        (job("always", restart="Always"),
         'Job.batch "always" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", '
         '"Never"'),
    ]
    manual = job("manual", manualSelector=True, selector={"matchLabels": {"app": "other"}})
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    cases.append((manual, 'Job.batch "manual" is invalid: spec.template.metadata.labels: Invalid value: '
                          'map[string]string{"app":"pi"}: `selector` does not match template `labels`'))
    for body, message in cases:
        with pytest.raises(errors.ApiError) as caught:
            sim.api.create(body)
        assert caught.value.code == 422
        assert caught.value.message == message
        assert sim.store.get("Job", "default", body["metadata"]["name"]) is None
    generated = job("picked", selector={"matchLabels": {"app": "pi"}})
    generated["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(generated)
    assert caught.value.message.startswith('Job.batch "picked" is invalid: spec.selector: Invalid value: '
                                           'v1.LabelSelector{MatchLabels:map[string]string{"app":"pi", ')
    assert caught.value.message.endswith("`selector` not auto-generated")
    assert sim.store.get("Job", "default", "picked") is None

    stored = sim.api.create(job("fixed"))
    changed = copy_json(stored)
    changed["spec"]["completions"] = 3
    with pytest.raises(errors.ApiError) as caught:
        sim.api.update(changed)
    assert caught.value.message == 'Job.batch "fixed" is invalid: spec.completions: Invalid value: 3: field is immutable'
    assert sim.api.get("Job", "default", "fixed")["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
