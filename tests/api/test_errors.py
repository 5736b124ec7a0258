"""Bad input: every failure is a 4xx Status worded as Kubernetes words it, and nothing stored changes."""

from __future__ import annotations

import json
import random

import pytest

from tests.api.conftest import DEPLOYMENT, POD, status_of

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture
def unchanged(k8s):
    """Assert at the end of the test that the store did not change."""
    before = (k8s.revision(), k8s.objects())
    yield
    assert (k8s.revision(), k8s.objects()) == before


def test_malformed_json(k8s, unchanged):
    body = status_of(k8s.post(PODS, raw=b'{"apiVersion": "v1", kind: Pod}'))
    assert body["code"] == 400 and body["reason"] == "BadRequest"
    assert body["message"].startswith("couldn't get version/kind; json parse error: invalid character 'k'")
    assert status_of(k8s.post(PODS, raw=b" "))["message"].endswith("unexpected end of JSON input")
    assert status_of(k8s.post(PODS, raw=b"[1, 2]"))["code"] == 400
    assert status_of(k8s.post(PODS, raw=b"\xff\xfe"))["code"] == 400


def test_malformed_yaml(k8s, unchanged):
    body = status_of(k8s.post(PODS, raw=b"apiVersion: v1\nkind: Pod\n metadata: : x\n",
                              content_type="application/yaml"))
    assert body["code"] == 400 and body["message"].startswith("error converting YAML to JSON: yaml: line")
    two_docs = b"apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\n"
    assert status_of(k8s.post(PODS, raw=two_docs, content_type="application/yaml"))["code"] == 400


def test_yaml_alias_bomb_is_refused(k8s, unchanged):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*{'a' if i == 1 else 'l' + str(i - 1)}"] * 10) + "]")
    body = "\n".join(lines).encode()
    response = k8s.post("/api/v1/namespaces/default/configmaps", raw=body, content_type="application/yaml")
    assert status_of(response)["code"] == 413


def test_deep_nesting_is_refused(k8s, unchanged):
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert status_of(k8s.post("/api/v1/namespaces/default/configmaps", raw=body))["code"] == 400


def test_unknown_kind_and_mismatched_kinds(k8s, unchanged):
    body = status_of(k8s.post(PODS, {"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}))
    assert body["code"] == 400
    body = status_of(k8s.post(PODS, dict(DEPLOYMENT)))
    assert body["message"] == "the API version in the data (apps/v1) does not match the expected API version (v1)"
    assert status_of(k8s.post(PODS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}))["code"] == 400
    assert status_of(k8s.post(PODS, {"apiVersion": 1, "kind": "Pod"}))["code"] == 400
    assert status_of(k8s.post(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": "nginx"}))["code"] == 400


def test_unknown_fields_with_strict_validation(k8s, unchanged):
    pod = json.loads(json.dumps(POD))
    pod["spec"]["containers"][0]["imagee"] = "typo"
    pod["spec"]["bogus"] = True
    body = status_of(k8s.post(PODS + "?fieldValidation=Strict", pod))
    assert body["code"] == 400 and body["reason"] == "BadRequest"
    assert 'unknown field "spec.containers[0].imagee"' in body["message"]
    assert 'unknown field "spec.bogus"' in body["message"]
    assert status_of(k8s.post(PODS + "?fieldValidation=Sometimes", POD))["code"] == 400


def test_wrong_types(k8s, unchanged):
    deploy = json.loads(json.dumps(DEPLOYMENT))
    deploy["spec"]["replicas"] = "two"
    body = status_of(k8s.post(DEPLOYS, deploy))
    assert body["code"] == 400 and "cannot unmarshal string" in body["message"]


def test_invalid_objects(k8s, unchanged):
    deploy = json.loads(json.dumps(DEPLOYMENT))
    deploy["spec"]["replicas"] = -1
    body = status_of(k8s.post(DEPLOYS, deploy))
    assert body["code"] == 422 and body["reason"] == "Invalid"
    assert status_of(k8s.post(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}))["code"] == 422


def test_huge_body(k8s, unchanged):
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"x": "y" * (4 * 1024 * 1024)}}
    body = status_of(k8s.post("/api/v1/namespaces/default/configmaps", big))
    assert body["code"] == 413 and body["reason"] == "RequestEntityTooLarge"


def test_wrong_content_types(k8s, unchanged):
    body = status_of(k8s.post(PODS, POD, content_type="text/plain"))
    assert body["code"] == 415 and body["reason"] == "UnsupportedMediaType"
    body = status_of(k8s.put(PODS + "/nginx", raw=b"k8s\x00\x0a", content_type="application/vnd.kubernetes.protobuf"))
    assert body["code"] == 415 and "protobuf" in body["message"]
    broken = k8s.post(PODS, raw=b"k8s\x00\x0a", content_type="application/vnd.kubernetes.protobuf")
    assert status_of(broken)["code"] == 400
    k8s_patch = k8s.patch(PODS + "/nginx", {"a": 1}, content_type="application/json")
    assert status_of(k8s_patch)["code"] == 415


def test_bad_patches(k8s):
    k8s.post(DEPLOYS, DEPLOYMENT)
    with_unchanged = (k8s.revision(), k8s.objects())
    assert status_of(k8s.patch(DEPLOYS + "/bootcamp", raw=b"{nope"))["code"] == 400
    assert status_of(k8s.patch(DEPLOYS + "/bootcamp", [1, 2]))["code"] == 400
    assert status_of(k8s.patch(DEPLOYS + "/bootcamp", {"op": "add"},
                               content_type="application/json-patch+json"))["code"] == 400
    bad_op = [{"op": "replace", "path": "/spec/nothing/here", "value": 1}]
    assert status_of(k8s.patch(DEPLOYS + "/bootcamp", bad_op,
                               content_type="application/json-patch+json"))["code"] in (400, 422)
    assert status_of(k8s.patch(DEPLOYS + "/bootcamp", {"spec": {"replicas": -5}}))["code"] == 422
    assert status_of(k8s.patch(DEPLOYS + "/bootcamp", {"spec": {"replicas": "many"}}))["code"] == 400
    assert (k8s.revision(), k8s.objects()) == with_unchanged


def test_unknown_resources_and_methods(k8s, unchanged):
    body = status_of(k8s.get("/api/v1/namespaces/default/widgets"))
    assert body["code"] == 404 and body["message"] == "the server could not find the requested resource"
    assert status_of(k8s.get("/api/v1/namespaces/default/pods/x/y/z"))["code"] == 404
    assert status_of(k8s.get("/api/v1/namespaces/default/pods//"))["code"] == 404
    assert status_of(k8s.put(PODS, POD))["code"] == 405
    assert status_of(k8s.post(PODS + "/nginx", POD))["code"] == 405
    assert status_of(k8s.send("OPTIONS", PODS))["code"] == 405
    assert status_of(k8s.get(PODS + "/nginx/nonsense"))["code"] == 404


def test_bad_query_parameters(k8s, unchanged):
    assert status_of(k8s.get(PODS + "?limit=abc"))["code"] == 400
    assert status_of(k8s.get(PODS + "?continue=%%%"))["code"] == 400
    assert status_of(k8s.get(PODS + "?watch=true&resourceVersion=abc"))["code"] == 400
    assert status_of(k8s.get(PODS, accept="application/vnd.kubernetes.protobuf;as=Table"))["code"] == 406


def test_bad_delete_options(k8s):
    k8s.post(PODS, POD)
    before = (k8s.revision(), k8s.objects())
    assert status_of(k8s.delete(PODS + "/nginx", raw=b"{bad"))["code"] == 400
    assert status_of(k8s.delete(PODS + "/nginx", {"propagationPolicy": "Sideways"}))["code"] == 422
    assert status_of(k8s.delete(PODS + "/nginx", {"gracePeriodSeconds": "soon"}))["code"] == 400
    assert (k8s.revision(), k8s.objects()) == before
    assert status_of(k8s.delete(PODS + "/nginx", {"preconditions": {"uid": "not-it"}}))["code"] == 409
    assert (k8s.revision(), k8s.objects()) == before
    k8s.delete(PODS + "/nginx")


def test_random_garbage_never_breaks_the_server(k8s, unchanged):
    rng = random.Random(42)
    samples = [b"", b"null", b"{}", b"[]", b'"text"', b"42", b"true", b'{"kind": null}', b'{"metadata": []}',
               b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":"nginx"}}',
               b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":1}]}}',
               b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"UPPER"},"spec":{"containers":[]}}',
               b"- a\n- b\n", b"!!python/object:os.system ls", b"key: [unclosed", b"\t\tbad indent: x"]
    samples += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))) for _ in range(30)]
    types = ["application/json", "application/yaml", "application/merge-patch+json",
             "application/strategic-merge-patch+json", "application/json-patch+json", "application/apply-patch+yaml",
             "", "text/html"]
    paths = [PODS, PODS + "/nginx", DEPLOYS, DEPLOYS + "/bootcamp/scale", "/api/v1/namespaces",
             "/api/v1/nodes/x/status", PODS + "/nginx/binding"]
    for raw in samples:
        for method in ("POST", "PUT", "PATCH"):
            path, content_type = rng.choice(paths), rng.choice(types)
            response = k8s.send(method, path, raw=raw, content_type=content_type)
            assert 400 <= response.status_code < 500, (method, path, content_type, raw, response.content[:300])
            status_of(response)


@pytest.mark.parametrize("path", [
    "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=a+in+(",
    "/apis/metrics.k8s.io/v2/nodes",
    "/apis/metrics.k8s.io/v1beta1/namespaces/default/nodes",
    "/apis/metrics.k8s.io/v1beta1/widgets",
    "/apis/metrics.k8s.io/v1beta1/nodes/a/b/c",
    "/api/v1/namespaces/default/pods/nope/exec?command=ls&tty=maybe",
    "/api/v1/namespaces/default/pods/nope/attach",
    "/api/v1/namespaces/default/services/x/exec",
    "/api/v1/nodes/x/portforward",
])
def test_bad_metrics_and_stream_requests(k8s, unchanged, path):
    for response in (k8s.get(path), k8s.post(path, {})):
        assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
        status_of(response)
