"""The Deployment controller: rollouts on the virtual clock, checked at every step.

Seed 004's rollout (2 replicas, maxSurge 50%, maxUnavailable 0%) must come out
exactly as `kubectl get po -w` showed it; every RollingUpdate keeps
pods <= replicas + maxSurge and available >= replicas - maxUnavailable after
each round of the controllers; Recreate never overlaps old and new pods;
pause/resume, `rollout undo` (revision 1 becomes 3, the old ReplicaSet is
reused), proportional scaling mid-rollout, the progress deadline, minReadySeconds
and revision history.
"""

from __future__ import annotations

import pytest

from engine.controllers import deployment_util as util
from engine.store import copy_json
from tests.engine.workloads import (
    BoundsChecker,
    available,
    deployment,
    events,
    get,
    make_sim,
    pods,
    rolling,
    stub_kubelet,
)

SELECTOR = {"matchLabels": {"app": "web"}}


def set_image(sim, image, name="web", **annotations):
    d = sim.api.get("Deployment", "default", name)
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    if annotations:
        d["metadata"].setdefault("annotations", {}).update(annotations)
    sim.api.update(d)


def replica_sets(sim, name="web"):
    return sorted((rs for rs in sim.cache.list("ReplicaSet", "default") if rs["metadata"]["name"].startswith(name)),
                  key=util.revision)


def rs_images(sim):
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in replica_sets(sim)}


def complete(sim, name="web"):
    d = get(sim, "Deployment", name)
    return d is not None and util.deployment_complete(d, d.get("status") or {})


def checked_sim(kubelet, **deploy):
    sim = make_sim(kubelet, BoundsChecker)
    sim.api.create(deployment(**deploy))
    assert sim.run_until(complete, timeout=60)
    checker = sim.controller("bounds-checker")
    checker.armed = True
    return sim, checker


# --- pure arithmetic ------------------------------------------------------------------------------

@pytest.mark.parametrize(("surge", "unavailable", "replicas", "expected"), [
    ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
    ("50%", "0%", 2, (1, 0)),  # seed 004
    (0, 0, 3, (0, 1)),  # both zero: one may be unavailable
    ("10%", "10%", 1, (1, 0)),
    (2, "30%", 5, (2, 1)),
])
def test_fenceposts(surge, unavailable, replicas, expected):
    assert util.resolve_fenceposts(surge, unavailable, replicas) == expected


def test_pod_template_hash_is_stable_and_safe_encoded():
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    value = util.compute_hash(template)
    assert value == util.compute_hash(copy_json(template))
    assert 8 <= len(value) <= 10 and set(value) <= set("456789bcdf")
    assert util.compute_hash(template, 1) != value
    # Empty values and the hash label do not make templates differ.
    noisy = copy_json(template)
    noisy["metadata"]["annotations"] = {}
    noisy["metadata"]["labels"]["pod-template-hash"] = value
    assert util.equal_ignore_hash(template, noisy)


# --- rolling updates ------------------------------------------------------------------------------

def pod_line(pod):
    ready = "1/1" if any(c["type"] == "Ready" and c["status"] == "True"
                         for c in pod["status"].get("conditions") or []) else "0/1"
    state = "Terminating" if pod["metadata"].get("deletionTimestamp") else pod["status"]["phase"]
    return pod["metadata"]["name"], ready, state


def test_rollout_matches_seed_004():
    sim, checker = checked_sim(stub_kubelet(start=3, stop=1), strategy=rolling("50%", "0%"))
    old = replica_sets(sim)[0]["metadata"]["name"]
    old_pods = [p["metadata"]["name"] for p in pods(sim, SELECTOR)]

    set_image(sim, "nginx:1.28")
    watch = []  # (pod, ready, status) lines as `kubectl get po -w` prints them, one per change
    for _ in range(120):
        for change in sim.tick(0.5).changes:
            if change.kind == "Pod":
                line = pod_line(change.object)
                if not watch or watch[-1] != line:
                    watch.append(line)
        if complete(sim):
            break

    new = rs_images(sim)["nginx:1.28"]["metadata"]["name"]
    new_pods = [p["metadata"]["name"] for p in pods(sim, SELECTOR)]
    story = []
    for name, ready, state in watch:
        if state == "Pending" and name in new_pods:
            step = ("created", name)
        elif (ready, state) == ("1/1", "Running"):
            step = ("running", name)
        elif state == "Terminating":
            step = ("terminating", name)
        else:
            continue
        if step not in story:
            story.append(step)
    # One new pod; when it runs, one old pod terminates and the second new one is created; when that one runs,
    # the last old pod terminates.
    n1, n2 = story[0][1], story[3][1]
    assert story == [("created", n1), ("running", n1), ("terminating", story[2][1]), ("created", n2),
                     ("running", n2), ("terminating", story[5][1])]
    assert {n1, n2} == set(new_pods) and {story[2][1], story[5][1]} == set(old_pods)

    assert events(sim, "ScalingReplicaSet") == [
        f"Scaled up replica set {old} from 0 to 2",
        f"Scaled up replica set {new} from 0 to 1",
        f"Scaled down replica set {old} from 2 to 1",
        f"Scaled up replica set {new} from 1 to 2",
        f"Scaled down replica set {old} from 1 to 0",
    ]
    assert checker.violations == []
    d = get(sim, "Deployment", "web")
    assert d["metadata"]["annotations"][util.REVISION_ANNOTATION] == "2"
    assert [util.revision(rs) for rs in replica_sets(sim)] == [1, 2]
    assert d["status"]["updatedReplicas"] == 2 and d["status"]["observedGeneration"] == 2
    conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in d["status"]["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        "Progressing": ("True", "NewReplicaSetAvailable", f'ReplicaSet "{new}" has successfully progressed.'),
    }


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [
    (4, "25%", "25%"),
    (3, 1, 0),
    (5, 0, 2),
    (10, "30%", "20%"),
    (1, "10%", "10%"),
    (6, "50%", "50%"),
])
def test_rolling_update_stays_within_bounds(replicas, surge, unavailable):
    sim, checker = checked_sim(stub_kubelet(start=2, stop=1), replicas=replicas, strategy=rolling(surge, unavailable))
    set_image(sim, "nginx:1.28")
    assert sim.run_until(complete, timeout=120)
    set_image(sim, "nginx:1.29")  # a second rollout, from a Deployment with an old ReplicaSet at 0
    assert sim.run_until(complete, timeout=120)
    assert checker.rounds > 10 and checker.violations == []
    live = pods(sim, SELECTOR)
    assert len(live) == replicas
    assert {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:1.29"}
    assert [util.replicas_of(rs) for rs in replica_sets(sim)] == [0, 0, replicas]


def test_rollover_mid_rollout_keeps_bounds():
    sim, checker = checked_sim(stub_kubelet(start=3, stop=1), replicas=6, strategy=rolling(2, 1))
    set_image(sim, "nginx:1.28")
    sim.run(4)
    set_image(sim, "nginx:1.29")
    assert sim.run_until(complete, timeout=120)
    assert checker.violations == []
    assert {p["spec"]["containers"][0]["image"] for p in pods(sim, SELECTOR)} == {"nginx:1.29"}


def test_recreate_scales_old_to_zero_and_waits_for_their_pods():
    sim = make_sim(stub_kubelet(start=2, stop=5))
    sim.api.create(deployment(replicas=3, strategy={"type": "Recreate"}))
    assert sim.run_until(complete, timeout=30)
    set_image(sim, "nginx:1.28")
    existing = {p["metadata"]["name"]: "nginx:1.27" for p in pods(sim, SELECTOR)}
    terminating_seen = False
    for _ in range(240):
        for change in sim.tick(0.5).changes:  # in commit order: every intermediate state
            if change.kind != "Pod":
                continue
            image = change.object["spec"]["containers"][0]["image"]
            if change.type == "DELETED":
                existing.pop(change.name, None)
                continue
            if image == "nginx:1.28" and change.type == "ADDED":
                assert "nginx:1.27" not in existing.values(), "a new pod while old ones still exist"
            terminating_seen = terminating_seen or bool(change.object["metadata"].get("deletionTimestamp"))
            existing[change.name] = image
        if complete(sim):
            break
    assert terminating_seen and set(existing.values()) == {"nginx:1.28"} and len(existing) == 3
    old, new = rs_images(sim)["nginx:1.27"], rs_images(sim)["nginx:1.28"]
    assert events(sim, "ScalingReplicaSet")[1:] == [
        f"Scaled down replica set {old['metadata']['name']} from 3 to 0",
        f"Scaled up replica set {new['metadata']['name']} from 0 to 3",
    ]


def test_pause_holds_the_rollout_and_resume_continues_it():
    sim, checker = checked_sim(stub_kubelet(start=2, stop=1), replicas=2)
    merge = "application/strategic-merge-patch+json"
    sim.api.patch("Deployment", "default", "web", {"spec": {"paused": True}}, merge)
    set_image(sim, "nginx:1.28")
    sim.run(10)
    assert len(replica_sets(sim)) == 1
    d = get(sim, "Deployment", "web")
    progressing = util.get_condition(d["status"], util.PROGRESSING)
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "Unknown", "DeploymentPaused", "Deployment is paused")
    assert d["status"]["observedGeneration"] == d["metadata"]["generation"]

    sim.api.patch("Deployment", "default", "web", {"spec": {"paused": None}}, merge)
    sim.tick()
    assert util.get_condition(get(sim, "Deployment", "web")["status"], util.PROGRESSING)["reason"] in (
        "DeploymentResumed", "NewReplicaSetCreated", "ReplicaSetUpdated")
    assert sim.run_until(complete, timeout=60)
    assert len(replica_sets(sim)) == 2 and checker.violations == []


def kubectl_rollout_undo(sim, name, to_revision):
    """What `kubectl rollout undo --to-revision` sends: the old ReplicaSet's template (without the hash label)
    and annotations, as a JSON patch."""
    rs = next(r for r in replica_sets(sim, name) if util.revision(r) == to_revision)
    template = copy_json(rs["spec"]["template"])
    del template["metadata"]["labels"][util.POD_TEMPLATE_HASH_LABEL]
    d = get(sim, "Deployment", name)
    annotations = {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k in util.ANNOTATIONS_TO_SKIP}
    annotations.update({k: v for k, v in (rs["metadata"].get("annotations") or {}).items()
                        if k not in util.ANNOTATIONS_TO_SKIP})
    sim.api.patch("Deployment", "default", name, [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ], "application/json-patch+json")


def test_undo_to_revision_1_reuses_the_old_replica_set_as_revision_3():
    sim, checker = checked_sim(stub_kubelet(start=2, stop=1), strategy=rolling("50%", "0%"))
    first = replica_sets(sim)[0]
    set_image(sim, "nginx:1.28", **{util.CHANGE_CAUSE_ANNOTATION: "kubectl set image deployment/web web=nginx:1.28"})
    assert sim.run_until(complete, timeout=60)
    assert rs_images(sim)["nginx:1.28"]["metadata"]["annotations"][util.CHANGE_CAUSE_ANNOTATION] == \
        "kubectl set image deployment/web web=nginx:1.28"

    kubectl_rollout_undo(sim, "web", 1)
    assert sim.run_until(complete, timeout=60)

    rss = replica_sets(sim)
    assert len(rss) == 2  # no third ReplicaSet: the first one is the new one again
    reused = rs_images(sim)["nginx:1.27"]
    assert reused["metadata"]["uid"] == first["metadata"]["uid"]
    assert reused["metadata"]["name"] == first["metadata"]["name"]
    assert util.revision(reused) == 3
    assert reused["metadata"]["annotations"][util.REVISION_HISTORY_ANNOTATION] == "1"
    assert util.replicas_of(reused) == 2 and util.replicas_of(rs_images(sim)["nginx:1.28"]) == 0
    assert get(sim, "Deployment", "web")["metadata"]["annotations"][util.REVISION_ANNOTATION] == "3"
    assert {p["spec"]["containers"][0]["image"] for p in pods(sim, SELECTOR)} == {"nginx:1.27"}
    assert checker.violations == []


def test_identical_templates_get_identical_hashes_after_defaulting():
    sim = make_sim(stub_kubelet())
    spelled_out = deployment("a")
    spelled_out["spec"]["template"]["spec"].update(restartPolicy="Always", dnsPolicy="ClusterFirst")
    sim.api.create(spelled_out)
    sim.api.create(deployment("b"))
    sim.tick()
    hash_a = replica_sets(sim, "a")[0]["metadata"]["labels"][util.POD_TEMPLATE_HASH_LABEL]
    b = copy_json(get(sim, "Deployment", "b"))
    b["spec"]["template"]["metadata"]["labels"]["app"] = "a"
    assert util.compute_hash(b["spec"]["template"]) == hash_a


def test_scaling_mid_rollout_is_proportional():
    """The Kubernetes docs' example: 10 replicas, maxSurge 3, maxUnavailable 2, a stuck rollout, then scale to 15."""
    kubelet = stub_kubelet(start=1, stop=1, never_ready=lambda p: p["spec"]["containers"][0]["image"] == "nginx:bad")
    sim = make_sim(kubelet)
    sim.api.create(deployment(replicas=10, strategy=rolling(3, 2)))
    assert sim.run_until(complete, timeout=30)
    set_image(sim, "nginx:bad")
    sim.run(10)
    sizes = {image: util.replicas_of(rs) for image, rs in rs_images(sim).items()}
    assert sizes == {"nginx:1.27": 8, "nginx:bad": 5}

    sim.api.patch("Deployment", "default", "web", {"spec": {"replicas": 15}}, "application/merge-patch+json")
    sim.run(3)
    sizes = {image: util.replicas_of(rs) for image, rs in rs_images(sim).items()}
    assert sizes == {"nginx:1.27": 11, "nginx:bad": 7}
    for rs in replica_sets(sim):
        assert rs["metadata"]["annotations"][util.DESIRED_REPLICAS_ANNOTATION] == "15"
        assert rs["metadata"]["annotations"][util.MAX_REPLICAS_ANNOTATION] == "18"


def test_progress_deadline_exceeded_when_the_rollout_is_stuck():
    kubelet = stub_kubelet(start=1, never_ready=lambda p: p["spec"]["containers"][0]["image"] == "nginx:bad")
    sim = make_sim(kubelet)
    sim.api.create(deployment(replicas=2, progressDeadlineSeconds=30))
    assert sim.run_until(complete, timeout=30)
    set_image(sim, "nginx:bad")
    sim.run(20)
    progressing = util.get_condition(get(sim, "Deployment", "web")["status"], util.PROGRESSING)
    assert progressing["status"] == "True"
    sim.run(15)
    progressing = util.get_condition(get(sim, "Deployment", "web")["status"], util.PROGRESSING)
    new = rs_images(sim)["nginx:bad"]["metadata"]["name"]
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False", "ProgressDeadlineExceeded", f'ReplicaSet "{new}" has timed out progressing.')
    # The old pods stay: availability is kept.
    assert available(sim, pods(sim, SELECTOR)) >= 1


def test_min_ready_seconds_slows_the_rollout():
    sim, checker = checked_sim(stub_kubelet(start=1, stop=1), replicas=2, minReadySeconds=5,
                               strategy=rolling(1, 0))
    set_image(sim, "nginx:1.28")
    sim.run(4)
    assert util.replicas_of(rs_images(sim)["nginx:1.27"]) == 2  # the new pod is ready but not yet available
    assert sim.run_until(complete, timeout=60)
    assert checker.violations == []


def test_revision_history_limit_cleans_up_old_replica_sets():
    sim = make_sim(stub_kubelet(start=1, stop=0.5))
    sim.api.create(deployment(replicas=1, revisionHistoryLimit=1))
    assert sim.run_until(complete, timeout=30)
    for image in ("nginx:1.28", "nginx:1.29", "nginx:1.30"):
        set_image(sim, image)
        assert sim.run_until(complete, timeout=60)
    sim.run(2)
    assert [rs["spec"]["template"]["spec"]["containers"][0]["image"] for rs in replica_sets(sim)] == [
        "nginx:1.29", "nginx:1.30"]
    assert [util.revision(rs) for rs in replica_sets(sim)] == [3, 4]


def test_scale_of_a_settled_deployment_goes_to_its_replica_set():
    sim = make_sim(stub_kubelet(start=1))
    sim.api.create(deployment(replicas=2))
    assert sim.run_until(complete, timeout=30)
    sim.api.patch("Deployment", "default", "web", {"spec": {"replicas": 4}}, "application/merge-patch+json")
    assert sim.run_until(complete, timeout=30)
    name = replica_sets(sim)[0]["metadata"]["name"]
    assert events(sim, "ScalingReplicaSet")[-1] == f"Scaled up replica set {name} from 2 to 4"
    assert replica_sets(sim)[0]["metadata"]["annotations"][util.DESIRED_REPLICAS_ANNOTATION] == "4"


def test_deployment_adopts_a_matching_orphan_replica_set():
    sim = make_sim(stub_kubelet(start=1))
    sim.api.create(deployment(replicas=1))
    assert sim.run_until(complete, timeout=30)
    rs = copy_json(replica_sets(sim)[0])
    sim.api.delete("Deployment", "default", "web", propagation_policy="Orphan")
    sim.run(1)
    assert "ownerReferences" not in get(sim, "ReplicaSet", rs["metadata"]["name"])["metadata"]
    sim.api.create(deployment(replicas=1))
    assert sim.run_until(complete, timeout=30)
    adopted = replica_sets(sim)
    assert [r["metadata"]["uid"] for r in adopted] == [rs["metadata"]["uid"]]
    assert adopted[0]["metadata"]["ownerReferences"][0]["name"] == "web"


def test_selecting_everything_is_refused_with_a_warning():
    sim = make_sim()
    body = deployment()
    body["spec"]["selector"] = {}
    sim.store.create(body)  # past validation, which refuses it, as an older object might be
    sim.tick()
    assert events(sim, "SelectingAll") == ["This deployment is selecting all pods. A non-empty selector is required."]
    assert replica_sets(sim) == []
