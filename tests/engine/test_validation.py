"""Validation rejects what Kubernetes rejects, with Kubernetes' own words and field paths."""

import copy

import pytest

from engine.errors import invalid
from engine.resources import registry, schema, validation
from engine.resources.defaults import apply_defaults
from tests.engine import seed_manifests as seeds

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def admit(obj: dict) -> dict:
    """What the apiserver does before validation: the structural check, then defaulting."""
    info = registry.by_kind(obj["kind"])
    schema.check(obj, info)
    apply_defaults(obj, info)
    return obj


def message(obj: dict, old: dict | None = None) -> str | None:
    """The Invalid message kubectl would print (without `The `), or None when valid."""
    info = registry.by_kind(obj["kind"])
    admit(obj)
    causes = validation.validate(obj, info, old)
    if not causes:
        return None
    return invalid(info.qualified_kind, obj["metadata"].get("name", ""), causes, info.group).message


def test_seed_manifests_are_valid():
    for make in (seeds.bootcamp_deployment, seeds.nginx_surge_deployment, seeds.bootcamp_service, seeds.my_service,
                 seeds.external_name_service, seeds.nginx_pod, seeds.nginx_alpine_pod, seeds.fsgroup_pod):
        assert message(make()) is None, make.__name__


def test_requests_above_limits():
    assert message(seeds.nginx_pod_with_resources()) == (
        'Pod "nginx" is invalid: ['
        "spec.containers[0].resources.requests: Invalid value: \"4\": must be less than or equal to cpu limit of 500m, "
        "spec.containers[0].resources.requests: Invalid value: \"128M\": must be less than or equal to memory limit of 64M]"
    )


def test_resource_names_and_negative_quantities():
    pod = seeds.nginx_pod()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpuu": "1"}, "requests": {"memory": "-1"}}
    # The limit is also defaulted into the requests, so Kubernetes reports it twice.
    assert message(pod) == (
        'Pod "nginx" is invalid: ['
        "spec.containers[0].resources.limits[cpuu]: Invalid value: cpuu: must be a standard resource type or fully qualified, "
        "spec.containers[0].resources.limits[cpuu]: Invalid value: cpuu: must be a standard resource for containers, "
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0, '
        "spec.containers[0].resources.requests[cpuu]: Invalid value: cpuu: must be a standard resource type or fully qualified, "
        "spec.containers[0].resources.requests[cpuu]: Invalid value: cpuu: must be a standard resource for containers]"
    )


def test_extended_resources_must_request_their_limit():
    pod = seeds.nginx_pod()
    pod["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "1"}}
    assert message(pod) == ('Pod "nginx" is invalid: spec.containers[0].resources.limits: Required value: '
                            "Limit must be set for non overcommitable resources")


def test_names():
    pod = seeds.nginx_pod()
    pod["metadata"]["name"] = "Nginx_1"
    assert message(pod) == f'Pod "Nginx_1" is invalid: metadata.name: Invalid value: "Nginx_1": {SUBDOMAIN_MSG}'
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "my.ns"}}
    assert message(ns) == 'Namespace "my.ns" is invalid: metadata.name: Invalid value: "my.ns": must not contain dots'
    ns["metadata"]["name"] = "Dev"
    assert message(ns) == f'Namespace "Dev" is invalid: metadata.name: Invalid value: "Dev": {LABEL_MSG}'
    svc = seeds.bootcamp_service()
    svc["metadata"]["name"] = "1-svc"
    assert message(svc) == f'Service "1-svc" is invalid: metadata.name: Invalid value: "1-svc": {DNS1035_MSG}'
    unnamed = seeds.nginx_pod()
    del unnamed["metadata"]["name"]
    assert message(unnamed) == 'Pod "" is invalid: metadata.name: Required value: name or generateName is required'


def test_labels_and_annotations():
    pod = seeds.nginx_pod()
    pod["metadata"]["labels"] = {"app": "web server", "-bad": "x"}
    pod["metadata"]["annotations"] = {"a/b/c": "x"}
    assert message(pod) == (
        'Pod "nginx" is invalid: ['
        'metadata.labels: Invalid value: "web server": a valid label must be an empty string or consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
        "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), "
        'metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric characters, \'-\', \'_\' or '
        "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
        "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), "
        'metadata.annotations: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
        "subdomain prefix and '/' (e.g. 'example.com/MyName')]"
    )


def test_containers():
    pod = seeds.nginx_pod()
    pod["spec"]["containers"].append({"name": "nginx", "image": "", "ports": [{"containerPort": 70000, "protocol": "tcp"}]})
    pod["spec"]["restartPolicy"] = "Sometimes"
    assert message(pod) == (
        'Pod "nginx" is invalid: ['
        "spec.containers[1].image: Required value, "
        "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive, "
        'spec.containers[1].ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP", '
        'spec.containers[1].name: Duplicate value: "nginx", '
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"]'
    )
    empty = seeds.nginx_pod()
    empty["spec"]["containers"] = []
    assert message(empty) == 'Pod "nginx" is invalid: spec.containers: Required value'


def test_volume_mounts_must_name_a_volume():
    pod = seeds.fsgroup_pod()
    pod["spec"]["containers"][0]["volumeMounts"][0]["name"] = "dat"
    assert message(pod) == 'Pod "fsgroup-test" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "dat"'


def test_deployment_selector_must_match_template():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    assert message(dep) == (
        'Deployment.apps "bootcamp" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"x"}: `selector` does not match template `labels`'
    )
    dep = seeds.bootcamp_deployment()
    del dep["spec"]["selector"]
    assert message(dep) == 'Deployment.apps "bootcamp" is invalid: spec.selector: Required value'
    dep = seeds.bootcamp_deployment()
    dep["spec"]["selector"] = {}
    assert message(dep) == (
        'Deployment.apps "bootcamp" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        "map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid "
        "for deployment"
    )


def test_deployment_numbers_and_strategy():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["replicas"] = -1
    assert message(dep) == (
        'Deployment.apps "bootcamp" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0')
    dep = seeds.nginx_surge_deployment()
    dep["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 0, "maxUnavailable": "0%"}
    assert message(dep) == (
        'Deployment.apps "nginx" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: '
        'intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: may not be 0 when `maxSurge` is 0'
    )
    dep = seeds.nginx_surge_deployment()
    dep["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": "50", "maxUnavailable": "150%"}
    assert message(dep) == (
        'Deployment.apps "nginx" is invalid: ['
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"50"}: '
        "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used "
        "for validation is '[0-9]+%'), "
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
        'StrVal:"150%"}: must not be greater than 100%]'
    )
    dep = seeds.bootcamp_deployment()
    dep["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    assert message(dep) == ('Deployment.apps "bootcamp" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be '
                            "specified when strategy `type` is 'Recreate'")
    dep = seeds.bootcamp_deployment()
    dep["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert message(dep) == ('Deployment.apps "bootcamp" is invalid: spec.template.spec.restartPolicy: Unsupported '
                            'value: "Never": supported values: "Always"')


def test_deployment_template_pod_spec_paths():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["name"] = "Bootcamp"
    assert message(dep) == (f'Deployment.apps "bootcamp" is invalid: spec.template.spec.containers[0].name: '
                            f'Invalid value: "Bootcamp": {LABEL_MSG}')


def test_selector_is_immutable():
    old = admit(seeds.bootcamp_deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    new["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    assert message(new, old) == (
        'Deployment.apps "bootcamp" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"other"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'
    )
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert message(scaled, old) is None


def test_pod_updates():
    old = admit(seeds.nginx_pod())
    image_only = copy.deepcopy(old)
    image_only["spec"]["containers"][0]["image"] = "nginx:1.27"
    image_only["metadata"]["labels"] = {"tier": "web"}
    assert message(image_only, old) is None
    added_toleration = copy.deepcopy(old)
    added_toleration["spec"]["tolerations"].append({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"})
    assert message(added_toleration, old) is None
    changed = copy.deepcopy(old)
    changed["spec"]["restartPolicy"] = "Never"
    text = message(changed, old)
    assert text.startswith(
        'Pod "nginx" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
        "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if "
        "it was previously negative)\n"
    )
    assert '- \tRestartPolicy: "Always",' in text and '+ \tRestartPolicy: "Never",' in text
    more = copy.deepcopy(old)
    more["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    admit(more)
    assert validation.validate(more, registry.by_kind("Pod"), old)[-1].message == (
        "Forbidden: pod updates may not add or remove containers")


def test_statefulset_update_forbidden():
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}}, "template": {
               "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    old = admit(sts)
    assert message(copy.deepcopy(old)) is None
    renamed = copy.deepcopy(old)
    renamed["spec"]["serviceName"] = "other"
    assert message(renamed, old) == (
        'StatefulSet.apps "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than '
        "'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden"
    )
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert message(scaled, old) is None


def test_jobs():
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
           "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}}
    assert message(copy.deepcopy(job)) == (
        'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"')
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    old = admit(copy.deepcopy(job))
    assert message(copy.deepcopy(old)) is None
    changed = copy.deepcopy(old)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.34"
    assert message(changed, old).endswith(": field is immutable")
    assert message(changed, old).startswith('Job.batch "pi" is invalid: spec.template: Invalid value: core.PodTemplateSpec{')


def test_cron_jobs():
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": "every minute", "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "hello", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}}
    assert message(cron) == ('CronJob.batch "hello" is invalid: spec.schedule: Invalid value: "every minute": '
                             "expected exactly 5 fields, found 2: [every minute]")
    cron["spec"]["schedule"] = "*/1 * * * *"
    assert message(cron) is None


def test_services():
    svc = seeds.bootcamp_service()
    svc["spec"]["ports"][0]["nodePort"] = 30080
    assert message(svc) == ('Service "bootcamp-svc" is invalid: spec.ports[0].nodePort: Forbidden: may not be used '
                            "when `type` is 'ClusterIP'")
    svc = seeds.bootcamp_service()
    svc["spec"]["type"] = "Foo"
    assert message(svc) == ('Service "bootcamp-svc" is invalid: spec.type: Unsupported value: "Foo": supported values: '
                            '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')
    svc = seeds.bootcamp_service()
    svc["spec"].update(type="NodePort", clusterIP="None")
    assert message(svc) == ('Service "bootcamp-svc" is invalid: spec.clusterIPs[0]: Invalid value: "None": may not be '
                            "set to 'None' for NodePort services")
    svc = seeds.bootcamp_service()
    svc["spec"]["ports"].append({"port": 80, "protocol": "TCP"})
    assert message(svc) == (
        'Service "bootcamp-svc" is invalid: [spec.ports[0].name: Required value, spec.ports[1].name: Required value, '
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
        'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}]'
    )
    svc = seeds.bootcamp_service()
    svc["spec"]["ports"][0].update(port=0, targetPort="http_server_port")
    assert message(svc) == (
        'Service "bootcamp-svc" is invalid: ['
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, "
        'spec.ports[0].targetPort: Invalid value: "http_server_port": must be no more than 15 characters, '
        'spec.ports[0].targetPort: Invalid value: "http_server_port": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)]"
    )
    external = seeds.external_name_service()
    external["spec"]["externalName"] = ""
    assert message(external) == 'Service "my-service" is invalid: spec.externalName: Required value'
    svc = seeds.bootcamp_service()
    svc["spec"]["type"] = "NodePort"
    svc["spec"]["ports"][0]["nodePort"] = 80
    admit(svc)
    assert validation.validate(svc, registry.by_kind("Service")) == []
    assert [f"{c.field}: {c.message}" for c in validation.node_port_range_causes(svc)] == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"]


def test_cluster_ip_may_not_change():
    old = admit(seeds.bootcamp_service())
    old["spec"]["clusterIP"] = "10.96.0.10"
    old["spec"]["clusterIPs"] = ["10.96.0.10"]
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    new["spec"]["clusterIPs"] = ["10.96.0.11"]
    assert message(new, old) == ('Service "bootcamp-svc" is invalid: spec.clusterIPs[0]: Invalid value: "10.96.0.11": '
                                 "may not change once set")


def test_config_maps_and_secrets():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
          "data": {"bad key": "x"}}
    assert message(cm) == (
        'ConfigMap "cfg" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of '
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
        "validation is '[-._a-zA-Z0-9]+')"
    )
    old = admit({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
                 "data": {"a": "1"}, "immutable": True})
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert message(new, old) == 'ConfigMap "cfg" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    tls = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls", "namespace": "default"},
           "type": "kubernetes.io/tls", "data": {"tls.crt": "Y3J0"}}
    assert message(tls) == 'Secret "tls" is invalid: data[tls.key]: Required value'
    old = admit({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}})
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/basic-auth"
    new["data"] = {"username": "YQ=="}
    assert message(new, old) == 'Secret "s" is invalid: type: Invalid value: "kubernetes.io/basic-auth": field is immutable'


def test_nodes_and_storage():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}, "spec": {"taints": [
        {"key": "gpu", "effect": "NoSchedule"}, {"key": "gpu", "value": "x", "effect": "NoSchedule"},
        {"key": "a", "effect": "Sometimes"}]}}
    assert message(node) == (
        'Node "node-1" is invalid: [spec.taints[1]: Duplicate value: core.Taint{Key:"gpu", Value:"x", '
        'Effect:"NoSchedule", TimeAdded:<nil>}: taints must be unique by key and effect pair, spec.taints[2].effect: '
        'Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"]'
    )
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
           "spec": {"resources": {"requests": {}}}}
    assert message(pvc) == ('PersistentVolumeClaim "data" is invalid: [spec.accessModes: Required value: at least 1 '
                            "access mode is required, spec.resources[storage]: Required value]")


def test_metadata_name_is_immutable():
    old = admit(seeds.nginx_pod())
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "other"
    assert message(new, old) == 'Pod "other" is invalid: metadata.name: Invalid value: "other": field is immutable'


@pytest.mark.parametrize("info", registry.KINDS, ids=lambda k: k.kind)
def test_every_kind_validates_a_minimal_object_without_crashing(info):
    obj = {"apiVersion": info.api_version, "kind": info.kind, "metadata": {"name": "x"}}
    if info.namespaced:
        obj["metadata"]["namespace"] = "default"
    apply_defaults(obj, info)
    causes = validation.validate(obj, info, copy.deepcopy(obj))
    assert all(c.field is not None and c.message for c in causes)
