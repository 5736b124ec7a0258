"""CRUD through HTTP: the verbs kubectl uses, answered as kube-apiserver answers them."""

from __future__ import annotations

import copy
import json

from tests.api.conftest import DEPLOYMENT, POD, TABLE, status_of

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def test_create_get_list(k8s):
    response = k8s.post(PODS + "?fieldManager=kubectl-create&fieldValidation=Strict", POD)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["metadata"]["namespace"] == "default" and created["metadata"]["uid"]
    got = k8s.get(PODS + "/nginx").json()
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    listed = k8s.get(PODS + "?limit=500").json()
    assert listed["kind"] == "PodList" and listed["apiVersion"] == "v1"
    assert [p["metadata"]["name"] for p in listed["items"]] == ["nginx"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])
    everywhere = k8s.get("/api/v1/pods").json()
    assert "nginx" in [p["metadata"]["name"] for p in everywhere["items"]]


def test_create_takes_the_namespace_from_the_url_and_accepts_yaml(k8s):
    k8s.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n"
    response = k8s.post("/api/v1/namespaces/team/configmaps", raw=body, content_type="application/yaml")
    assert response.status_code == 201, response.content
    assert response.json()["metadata"]["namespace"] == "team"
    mismatch = dict(POD, metadata={"name": "x", "namespace": "team"})
    assert status_of(k8s.post(PODS, mismatch))["reason"] == "BadRequest"


def test_duplicate_create_is_already_exists(k8s):
    assert k8s.post(PODS, POD).status_code == 201
    response = k8s.post(PODS, POD)
    assert response.status_code == 409
    body = status_of(response)
    assert body["reason"] == "AlreadyExists" and body["message"] == 'pods "nginx" already exists'
    assert body["details"] == {"name": "nginx", "kind": "pods"}


def test_get_missing_is_not_found(k8s):
    body = status_of(k8s.get(PODS + "/nope"))
    assert body["message"] == 'pods "nope" not found' and body["reason"] == "NotFound"
    body = status_of(k8s.get(DEPLOYS + "/nope"))
    assert body["message"] == 'deployments.apps "nope" not found'


def test_tables_for_kubectl_get(k8s):
    k8s.post(PODS, POD)
    table = k8s.get(PODS + "?limit=500", accept=TABLE).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    (row,) = table["rows"]
    assert row["cells"][0] == "nginx"
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"]["resourceVersion"]
    one = k8s.get(PODS + "/nginx", accept=TABLE).json()
    assert one["kind"] == "Table" and one["rows"][0]["cells"][0] == "nginx"
    nodes = k8s.get("/api/v1/nodes", accept=TABLE).json()
    assert len(nodes["rows"]) == 4


def test_partial_object_metadata(k8s):
    k8s.post(PODS, POD)
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    body = k8s.get(PODS, accept=accept).json()
    assert body["kind"] == "PartialObjectMetadataList"
    assert body["items"][0]["metadata"]["name"] == "nginx" and "spec" not in body["items"][0]


def test_selectors_and_paging(k8s):
    for i in range(5):
        pod = copy.deepcopy(POD)
        pod["metadata"] = {"name": f"p{i}", "labels": {"app": "web" if i % 2 else "db"}}
        assert k8s.post(PODS, pod).status_code == 201
    web = k8s.get(PODS + "?labelSelector=app%3Dweb").json()
    assert [p["metadata"]["name"] for p in web["items"]] == ["p1", "p3"]
    by_name = k8s.get(PODS + "?fieldSelector=metadata.name%3Dp2&resourceVersion=0").json()
    assert [p["metadata"]["name"] for p in by_name["items"]] == ["p2"]
    first = k8s.get(PODS + "?limit=2").json()
    assert len(first["items"]) == 2 and first["metadata"]["continue"]
    rest = k8s.get(PODS + "?limit=10&continue=" + first["metadata"]["continue"]).json()
    assert [p["metadata"]["name"] for p in first["items"] + rest["items"]] == [f"p{i}" for i in range(5)]
    assert status_of(k8s.get(PODS + "?labelSelector=a%20in%20(")).get("code") == 400
    assert status_of(k8s.get(PODS + "?fieldSelector=spec.nope%3Dx")).get("code") == 400


def test_put_update(k8s):
    created = k8s.post(PODS, POD).json()
    created["metadata"]["labels"]["tier"] = "front"
    response = k8s.put(PODS + "/nginx", created)
    assert response.status_code == 200, response.content
    assert response.json()["metadata"]["labels"] == {"app": "web", "tier": "front"}
    stale = copy.deepcopy(created)
    stale["metadata"]["labels"]["tier"] = "back"
    assert status_of(k8s.put(PODS + "/nginx", stale))["reason"] == "Conflict"
    assert status_of(k8s.put(PODS + "/other", created))["reason"] == "BadRequest"


def test_patches(k8s):
    k8s.post(DEPLOYS, DEPLOYMENT)
    merged = k8s.patch(DEPLOYS + "/bootcamp", {"metadata": {"labels": {"team": "a"}}})
    assert merged.status_code == 200 and merged.json()["metadata"]["labels"] == {"team": "a"}
    strategic = k8s.patch(DEPLOYS + "/bootcamp", {"spec": {"template": {"spec": {"containers": [
        {"name": "bootcamp-app", "image": "nginx"}]}}}}, content_type="application/strategic-merge-patch+json")
    containers = strategic.json()["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"], c["ports"][0]["containerPort"]) for c in containers] == [
        ("bootcamp-app", "nginx", 8080)]
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    assert k8s.patch(DEPLOYS + "/bootcamp", ops, content_type="application/json-patch+json").json()["spec"][
        "replicas"] == 4
    assert status_of(k8s.patch(DEPLOYS + "/nope", {"a": 1}))["reason"] == "NotFound"


def test_server_side_apply_creates_then_merges(k8s):
    body = copy.deepcopy(DEPLOYMENT)
    response = k8s.patch(DEPLOYS + "/bootcamp?fieldManager=kubectl&force=false", body,
                         content_type="application/apply-patch+yaml")
    assert response.status_code == 201, response.content
    body["spec"]["replicas"] = 3
    response = k8s.patch(DEPLOYS + "/bootcamp?fieldManager=kubectl&force=false", body,
                         content_type="application/apply-patch+yaml")
    assert response.status_code == 200 and response.json()["spec"]["replicas"] == 3
    missing_manager = k8s.patch(DEPLOYS + "/bootcamp", body, content_type="application/apply-patch+yaml")
    assert status_of(missing_manager)["code"] == 400


def test_delete_answers_status_or_object(k8s):
    k8s.post(DEPLOYS, DEPLOYMENT)
    response = k8s.delete(DEPLOYS + "/bootcamp", {"propagationPolicy": "Background"})
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"]["name"] == "bootcamp" and body["details"]["group"] == "apps"
    assert status_of(k8s.get(DEPLOYS + "/bootcamp"))["reason"] == "NotFound"
    k8s.post(PODS, POD)
    response = k8s.delete(PODS + "/nginx")
    assert response.status_code == 200 and response.json()["kind"] == "Pod"
    assert status_of(k8s.delete(PODS + "/nginx"))["reason"] == "NotFound"


def test_delete_collection_by_label(k8s):
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        k8s.post(PODS, dict(POD, metadata={"name": name, "labels": {"app": app}}))
    response = k8s.delete(PODS + "?labelSelector=app%3Dweb")
    assert response.status_code == 200
    assert sorted(p["metadata"]["name"] for p in response.json()["items"]) == ["a", "b"]
    assert [p["metadata"]["name"] for p in k8s.get(PODS).json()["items"]] == ["c"]


def test_dry_run_stores_nothing(k8s):
    before = k8s.objects()
    response = k8s.post(PODS + "?dryRun=All", POD)
    assert response.status_code == 201 and response.json()["metadata"]["name"] == "nginx"
    assert k8s.objects() == before
    assert status_of(k8s.post(PODS + "?dryRun=Sometimes", POD))["code"] == 400


def test_scale_subresource(k8s):
    k8s.post(DEPLOYS, DEPLOYMENT)
    scale = k8s.get(DEPLOYS + "/bootcamp/scale").json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"]["selector"] == "app=bootcamp"
    response = k8s.patch(DEPLOYS + "/bootcamp/scale", {"spec": {"replicas": 3}})
    assert response.status_code == 200 and response.json()["spec"]["replicas"] == 3
    assert k8s.get(DEPLOYS + "/bootcamp").json()["spec"]["replicas"] == 3
    scale = k8s.get(DEPLOYS + "/bootcamp/scale").json()
    scale["spec"]["replicas"] = 1
    assert k8s.put(DEPLOYS + "/bootcamp/scale", scale).json()["spec"]["replicas"] == 1
    body = status_of(k8s.patch(DEPLOYS + "/bootcamp/scale", {"spec": {"replicas": -1}}))
    assert body["reason"] == "Invalid" and "spec.replicas" in body["message"]
    assert k8s.get(DEPLOYS + "/bootcamp").json()["spec"]["replicas"] == 1
    assert status_of(k8s.get(PODS + "/x/scale"))["code"] == 404


def test_status_subresource(k8s):
    created = k8s.post(DEPLOYS, DEPLOYMENT).json()
    created["status"] = {"replicas": 2, "observedGeneration": 1}
    response = k8s.put(DEPLOYS + "/bootcamp/status", created)
    assert response.status_code == 200, response.content
    assert response.json()["status"]["replicas"] == 2
    # The main resource ignores status.
    current = k8s.get(DEPLOYS + "/bootcamp").json()
    current["status"] = {"replicas": 99}
    assert k8s.put(DEPLOYS + "/bootcamp", current).json()["status"]["replicas"] == 2
    patched = k8s.patch(DEPLOYS + "/bootcamp/status", {"status": {"readyReplicas": 1}})
    assert patched.json()["status"]["readyReplicas"] == 1


def test_binding(k8s):
    k8s.post(PODS, POD)
    nodes = [n["metadata"]["name"] for n in k8s.get("/api/v1/nodes").json()["items"]]
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "nginx"},
               "target": {"kind": "Node", "name": nodes[-1]}}
    response = k8s.post(PODS + "/nginx/binding", binding)
    assert response.status_code == 201 and response.json()["status"] == "Success"
    assert k8s.get(PODS + "/nginx").json()["spec"]["nodeName"] == nodes[-1]
    assert status_of(k8s.post(PODS + "/nginx/binding", binding))["reason"] == "Conflict"


def test_logs_of_a_pod_not_started(k8s):
    k8s.post(PODS, POD)
    body = status_of(k8s.get(PODS + "/nginx/log"))
    assert body["message"] == 'container "nginx" in pod "nginx" is waiting to start: ContainerCreating'
    assert status_of(k8s.get(PODS + "/nginx/log?container=other"))["message"] == \
        "container other is not valid for pod nginx"
    assert status_of(k8s.get(PODS + "/nope/log"))["reason"] == "NotFound"


def test_logs_of_a_running_container(k8s):
    from cluster.runtime import api_for

    k8s.post(PODS, POD)
    api = api_for(k8s.cluster)
    pod = api.get("Pod", "default", "nginx")
    pod["status"]["containerStatuses"] = [{"name": "nginx", "ready": True, "restartCount": 0, "image": "nginx",
                                           "imageID": "", "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}}]
    api.update(pod, subresource="status")
    response = k8s.get(PODS + "/nginx/log?tailLines=2")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert len(lines) == 2 and "worker process" in lines[-1]


def test_namespace_lifecycle_and_finalize(k8s):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}}
    assert k8s.post("/api/v1/namespaces", ns).status_code == 201
    response = k8s.delete("/api/v1/namespaces/scratch")
    assert response.status_code == 200 and response.json()["kind"] == "Namespace"
    current = k8s.get("/api/v1/namespaces/scratch").json()
    assert current["status"]["phase"] == "Terminating"
    current["spec"]["finalizers"] = []
    response = k8s.put("/api/v1/namespaces/scratch/finalize", current)
    assert response.status_code == 200, response.content
    assert status_of(k8s.get("/api/v1/namespaces/scratch"))["reason"] == "NotFound"


def test_cluster_scoped_paths(k8s):
    nodes = k8s.get("/api/v1/nodes").json()
    name = nodes["items"][0]["metadata"]["name"]
    assert k8s.get(f"/api/v1/nodes/{name}").json()["kind"] == "Node"
    assert status_of(k8s.get(f"/api/v1/namespaces/default/nodes/{name}"))["code"] == 404
    assert status_of(k8s.get("/api/v1/pods/nginx"))["code"] == 404
    assert status_of(k8s.post("/api/v1/pods", POD))["code"] == 405


def test_warnings_for_unknown_fields_when_asked_to_warn(k8s):
    pod = json.loads(json.dumps(POD))
    pod["spec"]["containers"][0]["imagee"] = "typo"
    response = k8s.post(PODS + "?fieldValidation=Warn", pod)
    assert response.status_code == 201
    assert 'unknown field \\"spec.containers[0].imagee\\"' in response["Warning"]
    assert response["Warning"].startswith('299 - "')
