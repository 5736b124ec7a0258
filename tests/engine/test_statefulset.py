"""The StatefulSet controller (seed 000/001: stable names web-0, web-1 ..., a disk per pod that survives it).

OrderedReady creates one pod at a time, each after the previous one is Running
and Ready, and removes them from the highest ordinal down; every ordinal gets
its PersistentVolumeClaim `www-web-<n>`, provisioned and bound by the PV
controller, kept when the pod goes and bound again to its replacement;
partitioned rolling updates go from the highest ordinal down; the forbidden
update is refused with Kubernetes 1.32's words.
"""

from __future__ import annotations

import pytest

from engine import errors
from engine.controllers.replicaset import is_pod_ready
from engine.kubelet import filesystem
from engine.store import copy_json
from tests.engine.cluster import events, get, make_cluster, pods


def stateful_set(replicas=3, policy=None, strategy=None, image="nginx:1.27") -> dict:
    body = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "serviceName": "nginx", "replicas": replicas, "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [
                {"name": "nginx", "image": image, "ports": [{"containerPort": 80, "name": "web"}],
                 "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
        },
    }
    if policy:
        body["spec"]["podManagementPolicy"] = policy
    if strategy:
        body["spec"]["updateStrategy"] = strategy
    return body


def live(sim) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in pods(sim, prefix="web-")}


def ready_names(sim) -> list[str]:
    return [n for n, p in live(sim).items() if is_pod_ready(p) and not p["metadata"].get("deletionTimestamp")]


def settled(sim, replicas=3):
    sts = get(sim, "StatefulSet", "web")
    status = sts.get("status") or {}
    return (status.get("readyReplicas") == replicas and status.get("replicas") == replicas
            and status.get("observedGeneration") == sts["metadata"]["generation"]
            and status.get("updatedReplicas") == replicas)


def update(sim, change):
    sts = copy_json(sim.api.get("StatefulSet", "default", "web"))
    change(sts)
    sim.api.update(sts)


def image_of(pod):
    return pod["spec"]["containers"][0]["image"]


def test_ordered_ready_creates_one_pod_at_a_time_with_stable_identity_and_storage():
    sim = make_cluster(workers=2)
    sim.api.create(stateful_set())
    created_when_predecessor_ready: list[bool] = []
    seen: set[str] = set()

    def watch(s):
        current = live(s)
        for name in sorted(current):
            if name not in seen:
                seen.add(name)
                ordinal = int(name.rsplit("-", 1)[1])
                before = [f"web-{i}" for i in range(ordinal)]
                created_when_predecessor_ready.append(all(
                    b in current and current[b]["status"].get("phase") == "Running" and is_pod_ready(current[b])
                    for b in before))
        return settled(s)

    assert sim.run_until(watch, timeout=60, step=0.25)
    assert sorted(seen) == ["web-0", "web-1", "web-2"]
    assert created_when_predecessor_ready == [True, True, True]
    assert events(sim, None, "web") == [
        "create Claim www-web-0 Pod web-0 in StatefulSet web success",
        "create Pod web-0 in StatefulSet web successful",
        "create Claim www-web-1 Pod web-1 in StatefulSet web success",
        "create Pod web-1 in StatefulSet web successful",
        "create Claim www-web-2 Pod web-2 in StatefulSet web success",
        "create Pod web-2 in StatefulSet web successful",
    ]

    sts = get(sim, "StatefulSet", "web")
    revision = sts["status"]["currentRevision"]
    assert revision == sts["status"]["updateRevision"] and revision.startswith("web-")
    assert sts["status"] == {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3,
                             "updatedReplicas": 3, "currentRevision": revision, "updateRevision": revision,
                             "collisionCount": 0, "availableReplicas": 3}
    stored_revision = get(sim, "ControllerRevision", revision)
    assert stored_revision["revision"] == 1
    assert stored_revision["metadata"]["labels"]["controller.kubernetes.io/hash"] == revision[len("web-"):]

    pod = get(sim, "Pod", "web-1")
    assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "nginx"
    assert pod["metadata"]["labels"] == {"app": "nginx", "statefulset.kubernetes.io/pod-name": "web-1",
                                         "apps.kubernetes.io/pod-index": "1", "controller-revision-hash": revision}
    assert pod["spec"]["volumes"][0] == {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}}
    claim = get(sim, "PersistentVolumeClaim", "www-web-1")
    assert claim["spec"]["storageClassName"] == "standard"  # the default StorageClass
    assert claim["metadata"]["labels"] == {"app": "nginx"}
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    volume = get(sim, "PersistentVolume", claim["spec"]["volumeName"], "")
    assert volume["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
    assert volume["spec"]["claimRef"]["name"] == "www-web-1" and volume["status"]["phase"] == "Bound"
    assert volume["spec"]["hostPath"]["path"] == "/tmp/hostpath-provisioner/default/www-web-1"
    assert events(sim, "ProvisioningSucceeded", "www-web-1") == [f"Successfully provisioned volume {volume['metadata']['name']}"]


def test_a_deleted_pod_comes_back_with_the_same_name_and_claim():
    sim = make_cluster(workers=2)
    sim.api.create(stateful_set())
    assert sim.run_until(settled, timeout=60)
    claim_uid = get(sim, "PersistentVolumeClaim", "www-web-1")["metadata"]["uid"]
    old_uid = get(sim, "Pod", "web-1")["metadata"]["uid"]
    sim.api.delete("Pod", "default", "web-1")
    sim.tick(0.1)
    assert live(sim)["web-1"]["metadata"].get("deletionTimestamp")
    assert sim.run_until(lambda s: settled(s) and get(s, "Pod", "web-1")["metadata"]["uid"] != old_uid, timeout=60)
    assert get(sim, "PersistentVolumeClaim", "www-web-1")["metadata"]["uid"] == claim_uid
    assert len(sim.cache.list("PersistentVolumeClaim", "default")) == 3
    assert len(sim.cache.list("PersistentVolume")) == 3
    assert get(sim, "Pod", "web-1")["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "www-web-1"


def served(sim, name):
    pod = get(sim, "Pod", name)
    fs = filesystem.container_fs(pod, "nginx", sim.cache.get)
    return filesystem.http_response(fs, "nginx:1.27", "/", sim.clock.now())


def test_what_a_pod_wrote_to_its_claim_is_there_for_its_replacement_and_only_for_it():
    sim = make_cluster(workers=2)
    sim.api.create(stateful_set(replicas=2))
    assert sim.run_until(lambda s: settled(s, 2), timeout=60)
    assert served(sim, "web-0")[0] == 403  # the claim is mounted over the docroot, and starts empty
    filesystem.set_file_written(sim, "default", "web-0", "nginx", "/usr/share/nginx/html/index.html", "web-0\n")
    filesystem.set_file_written(sim, "default", "web-1", "nginx", "/usr/share/nginx/html/index.html", "web-1\n")
    sim.run(1)
    assert served(sim, "web-0") == (200, "web-0\n")
    old_uid = get(sim, "Pod", "web-0")["metadata"]["uid"]
    sim.api.delete("Pod", "default", "web-0")
    assert sim.run_until(lambda s: settled(s, 2) and get(s, "Pod", "web-0")["metadata"]["uid"] != old_uid,
                         timeout=60)
    assert served(sim, "web-0") == (200, "web-0\n")  # the same disk: what the old web-0 wrote
    assert served(sim, "web-1") == (200, "web-1\n")


def test_scale_down_removes_the_highest_ordinal_first_and_keeps_the_claims():
    sim = make_cluster(workers=2)
    sim.api.create(stateful_set())
    assert sim.run_until(settled, timeout=60)
    update(sim, lambda s: s["spec"].update(replicas=1))
    order: list[str] = []

    def watch(s):
        for name, pod in live(s).items():
            if pod["metadata"].get("deletionTimestamp") and name not in order:
                order.append(name)
        return settled(s, 1) and list(live(s)) == ["web-0"]

    assert sim.run_until(watch, timeout=60, step=0.25)
    assert order == ["web-2", "web-1"]
    assert sorted(c["metadata"]["name"] for c in sim.cache.list("PersistentVolumeClaim", "default")) == [
        "www-web-0", "www-web-1", "www-web-2"]
    assert events(sim, "SuccessfulDelete", "web") == ["delete Pod web-2 in StatefulSet web successful",
                                                       "delete Pod web-1 in StatefulSet web successful"]
    # Scaling up again re-uses the kept claims.
    claim_uid = get(sim, "PersistentVolumeClaim", "www-web-2")["metadata"]["uid"]
    update(sim, lambda s: s["spec"].update(replicas=3))
    assert sim.run_until(settled, timeout=60)
    assert get(sim, "PersistentVolumeClaim", "www-web-2")["metadata"]["uid"] == claim_uid


def test_parallel_creates_every_pod_at_once():
    sim = make_cluster(workers=2)
    sim.api.create(stateful_set(policy="Parallel"))
    sim.tick(0.1)
    assert sorted(live(sim)) == ["web-0", "web-1", "web-2"]
    assert sim.run_until(settled, timeout=30)


def test_partitioned_rolling_update_goes_from_the_highest_ordinal_down():
    sim = make_cluster(workers=2)
    sim.api.create(stateful_set())
    assert sim.run_until(settled, timeout=60)
    old_revision = get(sim, "StatefulSet", "web")["status"]["currentRevision"]

    def set_image_with_partition(s):
        s["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25"
        s["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}

    update(sim, set_image_with_partition)
    updated_order: list[str] = []

    def partial(s):
        for name, pod in live(s).items():
            if image_of(pod) == "nginx:1.25" and name not in updated_order:
                updated_order.append(name)
        status = get(s, "StatefulSet", "web")["status"]
        return status.get("updatedReplicas") == 2 and status.get("readyReplicas") == 3

    assert sim.run_until(partial, timeout=60, step=0.25)
    assert updated_order == ["web-2", "web-1"]
    assert image_of(get(sim, "Pod", "web-0")) == "nginx:1.27"  # below the partition
    status = get(sim, "StatefulSet", "web")["status"]
    assert status["currentRevision"] == old_revision != status["updateRevision"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 2)
    assert get(sim, "Pod", "web-0")["metadata"]["labels"]["controller-revision-hash"] == old_revision

    update(sim, lambda s: s["spec"]["updateStrategy"]["rollingUpdate"].update(partition=0))
    assert sim.run_until(settled, timeout=60)
    status = get(sim, "StatefulSet", "web")["status"]
    assert status["currentRevision"] == status["updateRevision"] != old_revision
    assert {image_of(p) for p in live(sim).values()} == {"nginx:1.25"}
    assert sorted(r["revision"] for r in sim.cache.list("ControllerRevision", "default")) == [1, 2]


def test_on_delete_updates_a_pod_only_when_it_is_deleted():
    sim = make_cluster(workers=2)
    sim.api.create(stateful_set(replicas=2, strategy={"type": "OnDelete"}))
    assert sim.run_until(lambda s: settled(s, 2), timeout=60)
    update(sim, lambda s: s["spec"]["template"]["spec"]["containers"][0].update(image="nginx:1.25"))
    sim.run(10)
    assert {image_of(p) for p in live(sim).values()} == {"nginx:1.27"}
    sim.api.delete("Pod", "default", "web-0")
    assert sim.run_until(lambda s: image_of(get(s, "Pod", "web-0")) == "nginx:1.25" and len(ready_names(s)) == 2,
                         timeout=60)
    assert image_of(get(sim, "Pod", "web-1")) == "nginx:1.27"
    status = get(sim, "StatefulSet", "web")["status"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 1)


def test_forbidden_update_and_bad_input_are_refused_and_nothing_changes():
    sim = make_cluster(workers=1)
    sim.api.create(stateful_set(replicas=1))
    stored = sim.api.get("StatefulSet", "default", "web")
    renamed = copy_json(stored)
    renamed["spec"]["serviceName"] = "other"
    with pytest.raises(errors.ApiError) as caught:
        sim.api.update(renamed)
    assert caught.value.code == 422
    assert caught.value.message == (
        'StatefulSet.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than '
        "'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden")
    after = sim.api.get("StatefulSet", "default", "web")
    assert after["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert after["spec"]["serviceName"] == "nginx"

    negative = stateful_set()
    negative["metadata"]["name"] = "neg"
    negative["spec"]["replicas"] = -1
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(negative)
    assert caught.value.message == (
        'StatefulSet.apps "neg" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0')
    assert sim.store.get("StatefulSet", "default", "neg") is None
