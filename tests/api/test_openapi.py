"""OpenAPI: what kubectl's default --validate=strict and `explain` read."""

from __future__ import annotations

import json

from tests.api.conftest import status_of


def test_v3_index_points_below_the_cluster_prefix(k8s):
    body = k8s.get("/openapi/v3").json()
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1"} <= set(body["paths"])
    url = body["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith(k8s.prefix + "/openapi/v3/apis/apps/v1?hash=")
    response = k8s.client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


def test_patch_operations_carry_gvk_and_field_validation(k8s):
    doc = k8s.get("/openapi/v3/apis/apps/v1").json()
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op["parameters"])
    # Each PATCH operation of the kind (status too) must offer the parameter: kubectl checks whichever it finds.
    for path, item in doc["paths"].items():
        if "patch" in item:
            assert any(p["name"] == "fieldValidation" for p in item["patch"]["parameters"]), path


def test_schemas_for_explain(k8s):
    doc = k8s.get("/openapi/v3/api/v1").json()
    schemas = doc["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    spec = schemas["io.k8s.api.core.v1.PodSpec"]
    assert spec["properties"]["containers"]["type"] == "array" and "containers" in spec["required"]
    meta = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    assert {"name", "labels", "managedFields"} <= set(meta["properties"])
    port = schemas["io.k8s.api.core.v1.ContainerPort"]["properties"]["containerPort"]
    assert port["type"] == "integer"


def test_unknown_document_and_protobuf_v2(k8s):
    assert status_of(k8s.get("/openapi/v3/apis/nope/v1")).get("reason") == "NotFound"
    response = k8s.get("/openapi/v2", accept="application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert response.status_code == 406
    assert status_of(response)["reason"] == "NotAcceptable"
    swagger = k8s.get("/openapi/v2").json()
    assert swagger["swagger"] == "2.0" and "io.k8s.api.apps.v1.Deployment" in swagger["definitions"]
