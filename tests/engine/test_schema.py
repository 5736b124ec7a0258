"""The structural check: type errors and unknown fields, worded as kube-apiserver's decoder words them."""


import pytest

from engine.errors import ApiError
from engine.resources import registry, schema
from tests.engine import seed_manifests as seeds

DEPLOYMENT = registry.by_kind("Deployment")
POD = registry.by_kind("Pod")
PREFIX = 'Deployment in version "v1" cannot be handled as a Deployment: '


def rejected(obj, info=DEPLOYMENT, mode="Strict") -> ApiError:
    with pytest.raises(ApiError) as excinfo:
        schema.check(obj, info, mode)
    assert excinfo.value.code == 400
    assert excinfo.value.reason == "BadRequest"
    return excinfo.value


def test_seed_manifests_pass():
    assert schema.check(seeds.bootcamp_deployment(), DEPLOYMENT) == []
    assert schema.check(seeds.nginx_surge_deployment(), DEPLOYMENT) == []
    assert schema.check(seeds.bootcamp_service(), registry.by_kind("Service")) == []
    assert schema.check(seeds.external_name_service(), registry.by_kind("Service")) == []
    assert schema.check(seeds.nginx_alpine_pod(), POD) == []  # `args: null` is fine, as for Go
    assert schema.check(seeds.fsgroup_pod(), POD) == []


def test_unknown_field_strict():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["imagee"] = "nginx"
    error = rejected(dep)
    assert error.message == PREFIX + 'strict decoding error: unknown field "spec.template.spec.containers[0].imagee"'


def test_several_unknown_fields_in_document_order():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["replica"] = 3
    dep["spec"]["template"]["spec"]["containers"][0]["port"] = 80
    dep["spec"]["template"]["metadata"]["label"] = {"a": "b"}
    error = rejected(dep)
    assert error.message == PREFIX + (
        'strict decoding error: unknown field "spec.template.metadata.label", '
        'unknown field "spec.template.spec.containers[0].port", unknown field "spec.replica"'
    )


def test_unknown_field_warn_and_ignore():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["foo"] = 1
    assert schema.check(dep, DEPLOYMENT, "Warn") == ['unknown field "spec.foo"']
    assert schema.check(dep, DEPLOYMENT, "Ignore") == []


def test_real_object_meta_fields_are_known():
    dep = seeds.bootcamp_deployment()
    dep["metadata"].update({
        "selfLink": "/apis/apps/v1/namespaces/default/deployments/bootcamp",
        "deletionGracePeriodSeconds": 30,
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
                           "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}],
    })
    assert schema.check(dep, DEPLOYMENT) == []
    dep["metadata"]["managedFields"][0]["bogus"] = 1
    assert rejected(dep).message == PREFIX + 'strict decoding error: unknown field "metadata.managedFields[0].bogus"'


def test_top_level_unknown_field():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {"a": "b"}}
    error = rejected(cm, registry.by_kind("ConfigMap"))
    assert error.message == 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec"'


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["spec"].update(replicas="two"),
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (lambda d: d["spec"].update(replicas=2.5),
     "json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (lambda d: d["spec"]["template"]["spec"].update(containers={"name": "x"}),
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image=5),
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string"),
    (lambda d: d["spec"].update(strategy={"rollingUpdate": {"maxSurge": True}}),
     "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge "
     "of type int32"),
    (lambda d: d.update(spec="x"),
     "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"),
    (lambda d: d["metadata"].update(labels={"app": 5}),
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    (lambda d: d["spec"]["template"]["spec"].update(terminationGracePeriodSeconds="30"),
     "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.terminationGracePeriodSeconds "
     "of type int64"),
])
def test_type_errors(mutate, message):
    dep = seeds.bootcamp_deployment()
    mutate(dep)
    assert rejected(dep).message == PREFIX + message


def test_type_error_wins_over_unknown_fields_and_is_the_first_in_the_document():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["bogus"] = 1
    dep["spec"]["replicas"] = "two"
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = 5
    assert rejected(dep).message == PREFIX + (
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32")


def test_whole_floats_become_ints():
    dep = seeds.bootcamp_deployment()
    dep["spec"]["replicas"] = 3.0
    assert schema.check(dep, DEPLOYMENT) == []
    assert dep["spec"]["replicas"] == 3 and isinstance(dep["spec"]["replicas"], int)


def test_quantities_are_normalized_and_bad_ones_rejected():
    pod = seeds.nginx_pod_with_resources()
    assert schema.check(pod, POD) == []
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "64M"}
    pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "2x"
    error = rejected(pod, POD)
    assert error.message == ('Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
                             "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_bad_timestamp():
    dep = seeds.bootcamp_deployment()
    dep["metadata"]["creationTimestamp"] = "yesterday"
    assert rejected(dep).message == PREFIX + (
        'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"')


def test_every_registry_kind_has_a_loadable_model():
    for info in registry.KINDS:
        assert schema.load_model(info.model).__name__ == info.kind


def test_secret_data_must_be_base64():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "s3cret!"}}
    error = rejected(secret, registry.by_kind("Secret"))
    assert error.message == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 6'
    secret["data"] = {"password": "czNjcmV0", "user": "YWRtaW4=\n"}
    assert schema.check(secret, registry.by_kind("Secret")) == []
    secret["data"] = {"user": "YQ"}  # Go insists on padding
    assert rejected(secret, registry.by_kind("Secret")).message.endswith("illegal base64 data at input byte 0")
