"""Defaulting matches what a Kubernetes 1.32 apiserver stores."""

import base64
import copy

import pytest

from engine.resources import registry
from engine.resources.defaults import apply_defaults, image_pull_policy, set_job_selector
from tests.engine import seed_manifests as seeds

POD_SPEC_DEFAULTS = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "terminationGracePeriodSeconds": 30,
    "securityContext": {},
}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 300}


def defaulted(obj: dict) -> dict:
    apply_defaults(obj, registry.by_kind(obj["kind"]))
    return obj


def test_seed_nginx_pod():
    pod = defaulted(seeds.nginx_pod())
    spec = pod["spec"]
    assert spec == {
        "containers": [{
            "name": "nginx",
            "image": "nginx",
            "imagePullPolicy": "Always",
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "resources": {},
        }],
        **POD_SPEC_DEFAULTS,
        "enableServiceLinks": True,
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
        "tolerations": [NOT_READY, UNREACHABLE],
    }


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:alpine", "IfNotPresent"),
    ("gcr.io/google-samples/node-hello:1.0", "IfNotPresent"),
    ("localhost:5000/app", "Always"),
    ("localhost:5000/app:v2", "IfNotPresent"),
    ("nginx@sha256:0123456789abcdef", "IfNotPresent"),
    ("nginx:latest@sha256:0123456789abcdef", "Always"),
])
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_explicit_values_are_kept():
    pod = defaulted(seeds.nginx_alpine_pod())
    container = pod["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Always"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_requests_default_to_limits():
    pod = seeds.nginx_pod()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m"}}
    defaulted(pod)
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}


def test_existing_tolerations_are_respected():
    pod = seeds.nginx_pod()
    pod["spec"]["tolerations"] = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                                   "tolerationSeconds": 10}]
    defaulted(pod)
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10},
        UNREACHABLE,
    ]


def test_probes_volumes_and_host_network():
    pod = seeds.fsgroup_pod()
    pod["spec"]["hostNetwork"] = True
    container = pod["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 8080}]
    container["livenessProbe"] = {"httpGet": {"port": 8080}}
    pod["spec"]["volumes"].append({"name": "cfg", "configMap": {"name": "app"}})
    pod["spec"]["volumes"].append({"name": "scratch"})
    defaulted(pod)
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP", "hostPort": 8080}]
    assert container["livenessProbe"] == {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                          "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert pod["spec"]["volumes"][1] == {"name": "cfg", "configMap": {"name": "app", "defaultMode": 420}}
    assert pod["spec"]["volumes"][2] == {"name": "scratch", "emptyDir": {}}
    assert pod["spec"]["securityContext"] == {"fsGroup": 1000}


def test_bootcamp_deployment():
    dep = defaulted(seeds.bootcamp_deployment())
    spec = dep["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod_spec = spec["template"]["spec"]
    assert {k: pod_spec[k] for k in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert pod_spec["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    # Templates get pod spec defaults but not what admission adds to pods.
    for key in ("tolerations", "serviceAccountName", "enableServiceLinks", "priority"):
        assert key not in pod_spec


def test_surge_deployment_keeps_its_strategy_and_replicas_default():
    dep = seeds.nginx_surge_deployment()
    del dep["spec"]["replicas"]
    defaulted(dep)
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "0%"}}


def test_recreate_strategy_gets_no_rolling_parameters():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["strategy"] = {"type": "Recreate"}
    assert defaulted(dep)["spec"]["strategy"] == {"type": "Recreate"}


def test_defaulting_is_idempotent():
    once = defaulted(seeds.bootcamp_deployment())
    assert defaulted(copy.deepcopy(once)) == once
    pod = defaulted(seeds.nginx_pod())
    assert defaulted(copy.deepcopy(pod)) == pod


def test_replica_set_daemon_set_stateful_set():
    template = seeds.bootcamp_deployment()["spec"]["template"]
    rs = defaulted({"kind": "ReplicaSet", "metadata": {"name": "r"}, "spec": {"template": copy.deepcopy(template)}})
    assert rs["spec"]["replicas"] == 1
    ds = defaulted({"kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {"template": copy.deepcopy(template)}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    sts = defaulted({"kind": "StatefulSet", "metadata": {"name": "s"}, "spec": {
        "template": copy.deepcopy(template),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                                         "resources": {"requests": {"storage": "1Gi"}}}}],
    }})
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["revisionHistoryLimit"] == 10
    claim = spec["volumeClaimTemplates"][0]
    assert claim["apiVersion"] == "v1" and claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}


def test_replication_controller_takes_template_labels():
    rc = defaulted({"kind": "ReplicationController", "metadata": {"name": "rc"}, "spec": {
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}}})
    assert rc["spec"]["selector"] == {"app": "web"}
    assert rc["metadata"]["labels"] == {"app": "web"}
    assert rc["spec"]["replicas"] == 1


def test_job_and_cron_job():
    job = defaulted({"kind": "Job", "metadata": {"name": "pi"}, "spec": {"template": {"metadata": {"labels": {"app": "pi"}},
                     "spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}}})
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert job["metadata"]["labels"] == {"app": "pi"}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    parallel = defaulted({"kind": "Job", "metadata": {"name": "p"}, "spec": {"parallelism": 3, "template": {}}})
    assert parallel["spec"].get("completions") is None and parallel["spec"]["parallelism"] == 3

    set_job_selector(job, "uid-1")
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}}
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "pi"

    cron = defaulted({"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "*/1 * * * *", "jobTemplate": {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}})
    spec = cron["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec  # Job defaults apply to Jobs, not to the template
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_services():
    svc = defaulted(seeds.bootcamp_service())
    assert svc["spec"] == {
        "type": "ClusterIP",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
        "selector": {"app": "bootcamp"},
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }
    no_target = seeds.my_service()
    del no_target["spec"]["ports"][0]["targetPort"]
    no_target["spec"]["type"] = "NodePort"
    spec = defaulted(no_target)["spec"]
    assert spec["ports"][0]["targetPort"] == 80
    assert spec["externalTrafficPolicy"] == "Cluster"
    lb = seeds.my_service()
    lb["spec"].update(type="LoadBalancer", sessionAffinity="ClientIP")
    spec = defaulted(lb)["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    external = defaulted(seeds.external_name_service())["spec"]
    assert "ipFamilies" not in external and "internalTrafficPolicy" not in external
    assert external["sessionAffinity"] == "None"


def test_namespace():
    ns = defaulted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}


def test_secret_string_data_is_merged_into_data():
    secret = defaulted({"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "YQ=="},
                        "stringData": {"password": "s3cret", "a": "b"}})
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert secret["data"] == {"a": base64.b64encode(b"b").decode(), "password": base64.b64encode(b"s3cret").decode()}


def test_storage_objects_and_others():
    pvc = defaulted({"kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "spec": {}})
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"]["phase"] == "Pending"
    pv = defaulted({"kind": "PersistentVolume", "metadata": {"name": "v"}, "spec": {"hostPath": {"path": "/data"}}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["hostPath"] == {"path": "/data", "type": ""}
    sc = defaulted({"kind": "StorageClass", "metadata": {"name": "standard"}, "provisioner": "x"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    node = defaulted({"kind": "Node", "metadata": {"name": "n"}, "status": {"capacity": {"cpu": "2"}}})
    assert node["status"]["allocatable"] == {"cpu": "2"}
    hpa = defaulted({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"}, "spec": {"maxReplicas": 5}})
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    limits = defaulted({"kind": "LimitRange", "metadata": {"name": "l"}, "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}}]}})
    item = limits["spec"]["limits"][0]
    assert item["default"] == {"cpu": "1"}
    assert item["defaultRequest"] == {"cpu": "1", "memory": "64Mi"}
    policy = defaulted({"kind": "NetworkPolicy", "metadata": {"name": "np"}, "spec": {"podSelector": {},
                        "egress": [{"ports": [{"port": 53}]}]}})
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"


def test_every_registry_kind_accepts_defaulting():
    for info in registry.KINDS:
        obj = {"apiVersion": info.api_version, "kind": info.kind, "metadata": {"name": "x"}}
        apply_defaults(obj, info)
        assert obj["metadata"]["name"] == "x"
