"""PersistentVolumes, PersistentVolumeClaims and StorageClasses: static and dynamic binding, Local and
HostPath volumes, reclaim policies, and how the scheduler waits for claims.

From the seeds: a PersistentVolumeClaim asks for one of the PersistentVolumes an administrator made
(静的), or a StorageClass provisions one (minikube's `standard`, hostPath under
/tmp/hostpath-provisioner); a Pod names the claim; HostPath volumes do not follow pods to other
nodes, Local volumes are pinned to theirs by node affinity.
"""

from __future__ import annotations

from engine.kubelet import filesystem
from tests.engine.cluster import events, get, make_cluster

MANUAL_CLASS = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-storage"},
                "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}


def host_path_volume(name, size, policy="Retain", storage_class="manual"):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": policy, "storageClassName": storage_class,
                     "hostPath": {"path": f"/data/{name}"}}}


def local_volume(name, node):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "local-storage",
                     "local": {"path": "/mnt/disks/ssd1"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}


def claim(name, size="3Gi", storage_class="manual"):
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def pod_with(name, claim_name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "web", "image": "nginx", "volumeMounts": [
                {"name": "data", "mountPath": "/usr/share/nginx/html"}]}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]}}


def volume(sim, name):
    return sim.cache.get("PersistentVolume", "", name)


def phase(obj):
    return (obj.get("status") or {}).get("phase")


def test_a_claim_binds_the_smallest_matching_volume_and_a_retained_volume_is_released_not_deleted():
    sim = make_cluster(workers=1)
    for name, size in (("pv-big", "10Gi"), ("pv-small", "5Gi"), ("pv-tiny", "1Gi")):
        sim.api.create(host_path_volume(name, size))
    sim.run(1)
    assert {phase(volume(sim, n)) for n in ("pv-big", "pv-small", "pv-tiny")} == {"Available"}

    sim.api.create(claim("data"))
    sim.run(1)
    pvc = get(sim, "PersistentVolumeClaim", "data")
    assert pvc["spec"]["volumeName"] == "pv-small"  # big enough, and the smallest that is
    assert pvc["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "5Gi"}}
    assert pvc["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes",
                                              "pv.kubernetes.io/bound-by-controller": "yes"}
    pv = volume(sim, "pv-small")
    assert phase(pv) == "Bound"
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    assert phase(volume(sim, "pv-big")) == "Available"

    sim.api.create(pod_with("web", "data"))
    sim.run(3)
    assert get(sim, "Pod", "web")["status"]["phase"] == "Running"

    sim.api.delete("Pod", "default", "web", grace_period_seconds=0)
    sim.api.delete("PersistentVolumeClaim", "default", "data")
    sim.run(2)
    assert phase(volume(sim, "pv-small")) == "Released"  # Retain: the data stays for an administrator
    sim.api.create(claim("again"))
    sim.run(1)
    assert get(sim, "PersistentVolumeClaim", "again")["spec"]["volumeName"] == "pv-big"  # not the released one


def test_the_standard_class_provisions_a_host_path_volume_that_goes_with_its_claim():
    sim = make_cluster(workers=1)
    sim.api.create(claim("cache", "2Gi", storage_class=None))  # the default class is filled in
    sim.run(1)
    pvc = get(sim, "PersistentVolumeClaim", "cache")
    assert pvc["spec"]["storageClassName"] == "standard"
    name = f"pvc-{pvc['metadata']['uid']}"
    assert pvc["spec"]["volumeName"] == name and phase(pvc) == "Bound"
    pv = volume(sim, name)
    assert pv["spec"]["hostPath"] == {"path": "/tmp/hostpath-provisioner/default/cache", "type": ""}
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "k8s.io/minikube-hostpath"
    assert events(sim, name="cache") == [
        "Waiting for a volume to be created either by the external provisioner 'k8s.io/minikube-hostpath' or "
        "manually by the system administrator. If volume creation is delayed, please verify that the provisioner "
        "is running and correctly registered.",
        'External provisioner is provisioning volume for claim "default/cache"',
        f"Successfully provisioned volume {name}",
    ]
    sim.api.delete("PersistentVolumeClaim", "default", "cache")
    sim.run(2)
    assert volume(sim, name) is None  # Delete: released, then removed


def test_a_pod_waits_for_its_claim_with_the_schedulers_own_message():
    sim = make_cluster(workers=2)
    sim.api.create(pod_with("web", "nowhere"))
    sim.run(1)
    assert events(sim, "FailedScheduling", "web") == [
        '0/3 nodes are available: persistentvolumeclaim "nowhere" not found. preemption: 0/3 nodes are available: '
        "3 Preemption is not helpful for scheduling."]

    sim.api.create(claim("nowhere", storage_class="manual"))  # no such volume, no such class
    sim.run(12)
    assert events(sim, "FailedScheduling", "web")[-1] == (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are "
        "available: 3 Preemption is not helpful for scheduling.")
    assert events(sim, "ProvisioningFailed", "nowhere")[0] == 'storageclass.storage.k8s.io "manual" not found'
    assert not get(sim, "Pod", "web")["spec"].get("nodeName")

    sim.api.create(host_path_volume("pv-1", "5Gi"))  # an administrator makes one: the claim binds, the pod runs
    sim.run(12)
    assert phase(get(sim, "PersistentVolumeClaim", "nowhere")) == "Bound"
    assert get(sim, "Pod", "web")["status"]["phase"] == "Running"


def test_a_local_volume_pins_the_pod_to_its_node_and_binds_only_once_the_pod_is_scheduled():
    sim = make_cluster(workers=2)
    sim.api.create(MANUAL_CLASS)
    sim.api.create(local_volume("local-pv", "node-2"))
    sim.api.create(claim("fast", "5Gi", storage_class="local-storage"))
    sim.run(1)
    assert phase(get(sim, "PersistentVolumeClaim", "fast")) == "Pending"
    assert events(sim, "WaitForFirstConsumer", "fast")[0] == "waiting for first consumer to be created before binding"

    sim.api.create(pod_with("db", "fast"))
    sim.run(3)
    pod = get(sim, "Pod", "db")
    assert pod["spec"]["nodeName"] == "node-2"
    explanation = sim.controller("default-scheduler").explain("default", "db")
    assert explanation["nodes"]["node-1"]["filter"]["reasons"] == ["node(s) didn't find available persistent "
                                                                   "volumes to bind"]
    pvc = get(sim, "PersistentVolumeClaim", "fast")
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "node-2"
    assert pvc["spec"]["volumeName"] == "local-pv" and phase(pvc) == "Bound"
    assert pod["status"]["phase"] == "Running"

    # Once bound, the volume's node affinity holds every later pod of the claim to node-2.
    sim.api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-3", "labels": {
        "kubernetes.io/hostname": "node-3"}}})
    second = pod_with("db-2", "fast")
    second["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "node-1"}
    sim.api.create(second)
    sim.run(2)
    assert events(sim, "FailedScheduling", "db-2")[0] == (
        "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "1 node(s) had volume node affinity conflict, 2 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.")
    del second["spec"]["nodeSelector"]
    second["metadata"]["name"] = "db-3"
    sim.api.create(second)
    sim.run(2)
    conflicts = sim.controller("default-scheduler").explain("default", "db-3")
    assert get(sim, "Pod", "db-3")["spec"]["nodeName"] == "node-2"
    assert {n: (v["filter"] or {}).get("reasons") for n, v in conflicts["nodes"].items()} == {
        "controlplane": ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"],
        "node-1": ["node(s) had volume node affinity conflict"],
        "node-3": ["node(s) had volume node affinity conflict"],
        "node-2": None}


def host_path_pod(name, node):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                     "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "sleep 3600"],
                                     "volumeMounts": [{"name": "shared", "mountPath": "/var/www/foo"}]}],
                     "volumes": [{"name": "shared", "hostPath": {"path": "/data"}}]}}


def reads(sim, pod_name, path):
    fs = filesystem.container_fs(get(sim, "Pod", pod_name), "app", sim.cache.get)
    return fs.read(path)


def test_a_host_path_is_shared_by_the_pods_of_one_node_and_outlives_them():
    """Seed 000: HostPath is a bind mount of the node's /data, shared by the pods on the same node."""
    sim = make_cluster(workers=2)
    for name, node in (("a", "node-1"), ("b", "node-1"), ("elsewhere", "node-2")):
        sim.api.create(host_path_pod(name, node))
    sim.run(5)
    filesystem.set_file_written(sim, "default", "a", "app", "/var/www/foo/hello.txt", "from a\n")
    sim.run(1)
    assert reads(sim, "b", "/var/www/foo/hello.txt") == "from a\n"
    assert reads(sim, "elsewhere", "/var/www/foo/hello.txt") is None  # another node's /data
    sim.api.delete("Pod", "default", "a")
    sim.api.delete("Pod", "default", "b")
    sim.run(5)
    sim.api.create(host_path_pod("c", "node-1"))
    sim.run(5)
    assert reads(sim, "c", "/var/www/foo/hello.txt") == "from a\n"
