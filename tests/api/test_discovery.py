"""Discovery and /version: what every kubectl command reads before anything else."""

from __future__ import annotations

import json

from tests.api.conftest import status_of

AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


def test_version_is_what_the_kubectl_dispatcher_needs(k8s):
    response = k8s.get("/version?timeout=5s")
    assert response.status_code == 200
    body = response.json()
    assert (body["major"], body["minor"]) == ("1", "32")
    assert body["gitVersion"].startswith("v1.32.")


def test_unknown_key_is_a_404_status_not_a_page(client, db):
    for path in ("/k8s/not-a-key/version", "/k8s/not-a-key/api/v1/pods", "/k8s/not-a-key/apis", "/k8s/x"):
        response = client.get(path)
        assert response.status_code == 404
        assert status_of(response)["reason"] == "NotFound"


def test_aggregated_discovery_carries_its_media_type(k8s):
    response = k8s.get("/api", accept=AGGREGATED)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    body = json.loads(response.content)
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    (core,) = body["items"]
    resources = {r["resource"]: r for r in core["versions"][0]["resources"]}
    pods = resources["pods"]
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert {"status", "log", "exec", "binding"} <= set(subs)
    assert subs["log"]["verbs"] == ["get"]
    assert resources["nodes"]["scope"] == "Cluster"


def test_aggregated_groups_list_apps_with_scale(k8s):
    response = k8s.get("/apis", accept=AGGREGATED.replace("v=v2;", "v=v2beta1;", 1).split(",", 1)[0])
    assert response["Content-Type"].endswith("v=v2beta1;as=APIGroupDiscoveryList")
    body = json.loads(response.content)
    groups = {g["metadata"]["name"]: g for g in body["items"]}
    assert "" not in groups and {"apps", "batch", "networking.k8s.io"} <= set(groups)
    deployments = next(r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments")
    scale = next(s for s in deployments["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert deployments["categories"] == ["all"] and deployments["shortNames"] == ["deploy"]


def test_legacy_discovery(k8s):
    versions = k8s.get("/api").json()
    assert versions["kind"] == "APIVersions" and versions["versions"] == ["v1"]
    groups = k8s.get("/apis").json()
    assert groups["kind"] == "APIGroupList"
    apps = next(g for g in groups["groups"] if g["name"] == "apps")
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    core = k8s.get("/api/v1").json()
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    names = {r["name"]: r for r in core["resources"]}
    assert {"pods", "pods/log", "pods/exec", "pods/status", "services", "namespaces/finalize"} <= set(names)
    assert names["pods"]["namespaced"] is True and names["pods"]["kind"] == "Pod"
    apps_v1 = k8s.get("/apis/apps/v1").json()
    scale = next(r for r in apps_v1["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert k8s.get("/apis/apps").json()["kind"] == "APIGroup"


def test_unknown_groups_and_versions_are_404(k8s):
    for path in ("/apis/nope/v1", "/apis/apps/v9", "/api/v2", "/apis/nope", "/api/v1/widgets", "/apis/apps/v1/pods"):
        response = k8s.get(path)
        assert response.status_code == 404, path
        assert status_of(response)["message"] == "the server could not find the requested resource"


def test_discovery_is_read_only(k8s):
    response = k8s.post("/api", {})
    assert response.status_code == 405
    assert status_of(response)["reason"] == "MethodNotAllowed"


def test_health(k8s):
    assert k8s.get("/healthz").content == b"ok"
    assert k8s.get("/readyz").status_code == 200



def test_metrics_api_for_kubectl_top(k8s):
    """metrics.k8s.io, as metrics-server serves it: listed in discovery, NodeMetrics and PodMetrics."""
    body = json.loads(k8s.get("/apis", accept=AGGREGATED).content)
    metrics = body["items"][-1]
    assert metrics["metadata"]["name"] == "metrics.k8s.io"
    assert [r["resource"] for r in metrics["versions"][0]["resources"]] == ["nodes", "pods"]
    assert any(g["name"] == "metrics.k8s.io" for g in k8s.get("/apis").json()["groups"])
    nodes = k8s.get("/apis/metrics.k8s.io/v1beta1/nodes").json()
    assert nodes["kind"] == "NodeMetricsList" and len(nodes["items"]) == 4
    usage = nodes["items"][0]["usage"]
    assert usage["cpu"].endswith("n") and usage["memory"].endswith("Ki") and int(usage["cpu"][:-1]) > 0
    one = k8s.get("/apis/metrics.k8s.io/v1beta1/nodes/node-1").json()
    assert one["kind"] == "NodeMetrics" and one["metadata"]["name"] == "node-1"
    pods = k8s.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dx").json()
    assert pods == {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": []}
    missing = k8s.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope").json()
    assert missing["code"] == 404 and missing["message"] == 'podmetrics.metrics.k8s.io "default/nope" not found'
    assert k8s.post("/apis/metrics.k8s.io/v1beta1/nodes", {}).status_code == 405
