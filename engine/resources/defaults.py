"""Defaulting, as Kubernetes 1.32 fills in what a manifest leaves out.

Mirrors pkg/apis/*/v1/defaults.go (and the few values that admission plugins or
registry strategies add on create, noted where they are), so `kubectl get -o
yaml` shows the same fields a real cluster would. Functions mutate the object
in place and only ever fill what is absent, so defaulting twice is harmless.
"""

from __future__ import annotations

import base64

from engine.resources import crd
from engine.resources.registry import KindInfo

# DefaultTolerationSeconds admission: every pod tolerates a not-ready or unreachable node for 5 minutes.
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"

# Kinds whose spec.template is a pod template.
TEMPLATED_KINDS = ("Deployment", "ReplicaSet", "ReplicationController", "DaemonSet", "StatefulSet", "Job")


def apply_defaults(obj: dict, info: KindInfo) -> None:
    """Fill in Kubernetes' defaults for an object of this kind, in place."""
    handler = _HANDLERS.get(info.kind)
    if handler is not None:
        handler(obj)


# --- pods --------------------------------------------------------------------------------------


def default_pod_spec(spec: dict) -> None:
    """SetDefaults_PodSpec and the container defaults: what pods and pod templates both get."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    host_network = bool(spec.get("hostNetwork"))
    for group in ("initContainers", "containers"):
        for container in _list(spec.get(group)):
            default_container(container, host_network)
    for container in _list(spec.get("ephemeralContainers")):
        default_container(container, host_network)
    for volume in _list(spec.get("volumes")):
        default_volume(volume)


def default_container(container: dict, host_network: bool = False) -> None:
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy(container.get("image") or "")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if container.get("resources") is None:
        container["resources"] = {}  # a struct, not a pointer: always serialized
    for port in _list(container.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if host_network and not port.get("hostPort") and port.get("containerPort"):
            port["hostPort"] = port["containerPort"]
    for env in _list(container.get("env")):
        field_ref = _dict(_dict(env.get("valueFrom")).get("fieldRef"))
        if field_ref and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            default_probe(probe)
    lifecycle = _dict(container.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        http = _dict(_dict(lifecycle.get(hook)).get("httpGet"))
        if http:
            _default_http_get(http)


def image_pull_policy(image: str) -> str:
    """Always when the tag is `latest` (or absent, which means latest), IfNotPresent otherwise."""
    if not image:
        return "IfNotPresent"
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ("" if digest else "latest")
    return "Always" if tag == "latest" else "IfNotPresent"


def default_probe(probe: dict) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        _default_http_get(http)


def _default_http_get(http: dict) -> None:
    if not http.get("path"):
        http["path"] = "/"
    if not http.get("scheme"):
        http["scheme"] = "HTTP"


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)


def default_volume(volume: dict) -> None:
    if not any(source in volume for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}  # a volume with no source is an emptyDir
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        body = volume.get(source)
        if isinstance(body, dict) and body.get("defaultMode") is None:
            body["defaultMode"] = 0o644  # 420, as the API shows it
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        host_path.setdefault("type", "")
    claim_spec = _dict(_dict(_dict(volume.get("ephemeral")).get("volumeClaimTemplate")).get("spec"))
    if claim_spec:
        claim_spec.setdefault("volumeMode", "Filesystem")


def default_pod(pod: dict) -> None:
    """A Pod as it is stored on create: SetDefaults_Pod plus the admission plugins' additions."""
    spec = pod.setdefault("spec", {})
    for group in ("initContainers", "containers"):
        for container in _list(spec.get(group)):
            _requests_from_limits(container)
    default_pod_spec(spec)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    # ServiceAccount admission.
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
    spec["serviceAccount"] = spec["serviceAccountName"]  # the deprecated twin, kept equal by conversion
    # Priority admission (no PriorityClass named: priority 0).
    if not spec.get("priorityClassName"):
        spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    add_default_tolerations(spec)


def _requests_from_limits(container: dict) -> None:
    """Requests default to limits for every resource that has a limit but no request."""
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return
    limits = resources.get("limits")
    if not isinstance(limits, dict) or not limits:
        return
    requests = resources.get("requests")
    if not isinstance(requests, dict):
        requests = resources["requests"] = {}
    for name, value in limits.items():
        requests.setdefault(name, value)


def add_default_tolerations(spec: dict) -> None:
    """DefaultTolerationSeconds admission: NoExecute tolerations for not-ready and unreachable nodes."""
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = spec["tolerations"] = []
    for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        if any(_tolerates_no_execute(t, key) for t in tolerations if isinstance(t, dict)):
            continue
        tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})


def _tolerates_no_execute(toleration: dict, key: str) -> bool:
    # As the plugin checks it: the same key or an empty one, with NoExecute or an empty effect.
    return toleration.get("key") in (key, None, "") and toleration.get("effect") in (None, "", "NoExecute")


def default_pod_template(template: dict) -> None:
    spec = template.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


# --- workloads ---------------------------------------------------------------------------------


def default_deployment(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_pod_template(_dict(spec.get("template")))


def default_replica_set(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    default_pod_template(_dict(spec.get("template")))


def default_replication_controller(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    template = _dict(spec.get("template"))
    template_labels = _dict(_dict(template.get("metadata")).get("labels"))
    if template_labels:
        # An RC without a selector selects its template's labels, and takes them as its own.
        if not spec.get("selector"):
            spec["selector"] = dict(template_labels)
        meta = obj.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(template_labels)
    spec.setdefault("replicas", 1)
    default_pod_template(template)


def default_daemon_set(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(_dict(spec.get("template")))


def default_stateful_set(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})  # only a defaulted type gets default rolling parameters
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
        rolling.setdefault("partition", 0)
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(policy, dict):
        policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(_dict(spec.get("template")))
    for claim in _list(spec.get("volumeClaimTemplates")):
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        default_persistent_volume_claim(claim)


def default_job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    template = _dict(spec.get("template"))
    meta = obj.setdefault("metadata", {})
    template_labels = _dict(template.get("metadata")).get("labels")
    if not meta.get("labels") and template_labels:
        meta["labels"] = dict(template_labels)
    if not spec.get("completionMode"):
        spec["completionMode"] = "NonIndexed"
    spec.setdefault("suspend", False)
    if not spec.get("podReplacementPolicy"):
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec.pop("manualSelector", None)
    default_pod_template(template)


def set_job_selector(job: dict, uid: str) -> None:
    """The Job strategy on create: a generated selector on the job's uid, and the matching pod labels.

    The apiserver calls this once the uid is known (unless spec.manualSelector is true).
    """
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    name = job.get("metadata", {}).get("name", "")
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    # As generateSelector does: the uid joins a selector the user gave (validation then refuses it as
    # "`selector` not auto-generated" unless it selects exactly this uid).
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    if not isinstance(selector.get("matchLabels"), dict):
        selector["matchLabels"] = {}
    selector["matchLabels"].setdefault("batch.kubernetes.io/controller-uid", uid)
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key, value in generated.items():
        labels.setdefault(key, value)
    meta = job.setdefault("metadata", {})
    if not meta.get("labels"):
        meta["labels"] = dict(labels)  # defaulting on the way back from storage copies the template labels


def default_cron_job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    # The job template only gets pod template defaults; Job's own defaults apply when a Job is created from it.
    job_spec = _dict(_dict(spec.get("jobTemplate")).get("spec"))
    default_pod_template(_dict(job_spec.get("template")))


# --- services and networking -------------------------------------------------------------------


def default_service(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    if spec["sessionAffinity"] == "ClientIP":
        config = spec.setdefault("sessionAffinityConfig", {})
        client_ip = config.setdefault("clientIP", {})
        client_ip.setdefault("timeoutSeconds", 10800)
    for port in _list(spec.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]
    svc_type = spec["type"]
    if svc_type in ("NodePort", "LoadBalancer") and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if svc_type != "ExternalName" and not spec.get("internalTrafficPolicy"):
        spec["internalTrafficPolicy"] = "Cluster"
    if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    # The Service REST storage on a single-stack IPv4 cluster; ExternalName services have no IP family.
    if svc_type != "ExternalName":
        if not spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = "SingleStack"
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]


def default_endpoints(obj: dict) -> None:
    for subset in _list(obj.get("subsets")):
        for port in _list(subset.get("ports")):
            if not port.get("protocol"):
                port["protocol"] = "TCP"


def default_endpoint_slice(obj: dict) -> None:
    for port in _list(obj.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        port.setdefault("name", "")


def default_network_policy(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    for rule_group in ("ingress", "egress"):
        for rule in _list(spec.get(rule_group)):
            for port in _list(rule.get("ports")):
                if not port.get("protocol"):
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def default_ingress(obj: dict) -> None:
    # networking/v1 has no defaults for Ingress; the status is a struct and always present.
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


# --- cluster objects ---------------------------------------------------------------------------


def default_namespace(obj: dict) -> None:
    meta = obj.setdefault("metadata", {})
    name = meta.get("name")
    if name:
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    spec = obj.setdefault("spec", {})
    if not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]  # the Namespace strategy on create
    status = obj.setdefault("status", {})
    if not status.get("phase"):
        status["phase"] = "Active"


def default_node(obj: dict) -> None:
    status = obj.get("status")
    if isinstance(status, dict) and status.get("capacity") and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])


def default_secret(obj: dict) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def default_persistent_volume_claim(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    status = obj.setdefault("status", {})
    if not status.get("phase"):
        status["phase"] = "Pending"


def default_persistent_volume(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    spec.setdefault("volumeMode", "Filesystem")
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict):
        host_path.setdefault("type", "")
    status = obj.setdefault("status", {})
    if not status.get("phase"):
        status["phase"] = "Pending"


def default_limit_range(obj: dict) -> None:
    for item in _list(_dict(obj.get("spec")).get("limits")):
        if item.get("type") != "Container":
            continue
        # default <- max, defaultRequest <- default, then <- min, each only where missing.
        default = item.get("default")
        if not isinstance(default, dict):
            default = {}
        for name, value in _dict(item.get("max")).items():
            default.setdefault(name, value)
        if default:
            item["default"] = default
        default_request = item.get("defaultRequest")
        if not isinstance(default_request, dict):
            default_request = {}
        for name, value in default.items():
            default_request.setdefault(name, value)
        for name, value in _dict(item.get("min")).items():
            default_request.setdefault(name, value)
        if default_request:
            item["defaultRequest"] = default_request


def default_hpa(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = behavior.setdefault("scaleUp", {})
        up.setdefault("stabilizationWindowSeconds", 0)
        up.setdefault("selectPolicy", "Max")
        up.setdefault("policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                   {"type": "Percent", "value": 100, "periodSeconds": 15}])
        down = behavior.setdefault("scaleDown", {})
        down.setdefault("stabilizationWindowSeconds", 300)
        down.setdefault("selectPolicy", "Max")
        down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def default_priority_class(obj: dict) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def default_storage_class(obj: dict) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def default_role_binding(obj: dict) -> None:
    """rbac/v1 SetDefaults_RoleBinding and SetDefaults_Subject: the rbac group where left empty."""
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in _list(obj.get("subjects")):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _list(value) -> list:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


_HANDLERS = {
    "CustomResourceDefinition": crd.default,
    "Pod": default_pod,
    "Deployment": default_deployment,
    "ReplicaSet": default_replica_set,
    "ReplicationController": default_replication_controller,
    "DaemonSet": default_daemon_set,
    "StatefulSet": default_stateful_set,
    "Job": default_job,
    "CronJob": default_cron_job,
    "Service": default_service,
    "Endpoints": default_endpoints,
    "EndpointSlice": default_endpoint_slice,
    "NetworkPolicy": default_network_policy,
    "Ingress": default_ingress,
    "Namespace": default_namespace,
    "Node": default_node,
    "Secret": default_secret,
    "PersistentVolumeClaim": default_persistent_volume_claim,
    "PersistentVolume": default_persistent_volume,
    "LimitRange": default_limit_range,
    "HorizontalPodAutoscaler": default_hpa,
    "PriorityClass": default_priority_class,
    "StorageClass": default_storage_class,
    "RoleBinding": default_role_binding,
    "ClusterRoleBinding": default_role_binding,
}
