"""The map page and its clock endpoint (the page's WebSocket is in test_consumers.py)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from cluster.models import Cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return Cluster.objects.create(name="demo", speed=1.0)


def test_root_redirects_to_the_demo_cluster(client, demo):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/clusters/demo/"


def test_the_map_page_renders_with_its_config(client, demo):
    response = client.get("/clusters/demo/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="control-plane"' in html and 'id="pending-queue"' in html and 'id="node-grid"' in html
    for component in ("kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager"):
        assert f'data-component="{component}"' in html
    assert "/static/dist/kubedojo.js" in html
    config = response.context["config"]
    assert config["ws"] == "/ws/clusters/demo/"
    assert config["control"] == "/clusters/demo/clock"
    assert "csrftoken" in response.cookies


def test_the_map_page_speaks_japanese(client, demo):
    response = client.get("/clusters/demo/", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    assert '<html lang="ja">' in response.content.decode()


def test_unknown_and_foreign_clusters_are_not_found(client, demo):
    Cluster.objects.create(name="seat-1")
    assert client.get("/clusters/nope/").status_code == 404
    assert client.get("/clusters/seat-1/").status_code == 404


def test_a_session_that_joined_a_seat_sees_its_cluster(client, demo):
    seat = Cluster.objects.create(name="seat-2")
    session = client.session
    session["kubedojo_clusters"] = [seat.pk]
    session.save()
    assert client.get("/clusters/seat-2/").status_code == 200


def test_pause_and_speed(client, demo):
    response = client.post("/clusters/demo/clock", json.dumps({"paused": True}), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["paused"] is True
    response = client.post("/clusters/demo/clock", json.dumps({"speed": 20, "paused": False}),
                           content_type="application/json")
    assert response.json()["speed"] == 20.0
    demo.refresh_from_db()
    assert (demo.speed, demo.paused) == (20.0, False)


@pytest.mark.parametrize("body", ['{"speed": 0}', '{"speed": "fast"}', '{"paused": "yes"}', "[1]", "not json"])
def test_bad_clock_requests_are_refused(client, demo, body):
    response = client.post("/clusters/demo/clock", body, content_type="application/json")
    assert response.status_code == 400


def test_the_clock_endpoint_needs_the_csrf_token(demo):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/clusters/demo/")
    token = page.cookies["csrftoken"].value
    refused = browser.post("/clusters/demo/clock", '{"paused": true}', content_type="application/json")
    assert refused.status_code == 403
    accepted = browser.post("/clusters/demo/clock", '{"paused": true}', content_type="application/json",
                            HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200
    assert browser.get("/clusters/demo/clock").status_code == 405


# --- the panels' endpoints -------------------------------------------------------------------------
@pytest.fixture
def cluster():
    """The demo cluster after a minute of virtual time (simulated here, without a runner): pods Running."""
    from cluster.runtime import ensure_demo_cluster
    from cluster.store import DjangoStore
    from engine.clock import VirtualClock
    from engine.simulation import Simulation

    demo = ensure_demo_cluster("demo")
    clock = VirtualClock(start=demo.virtual_time)
    Simulation(DjangoStore(demo, now=clock.now), clock, seed=demo.seed, profile="fast").run(60, step=1.0)
    Cluster.objects.filter(pk=demo.pk).update(virtual_time=clock.now())
    return Cluster.objects.get(pk=demo.pk)


def post(client, url: str, body) -> tuple[int, dict]:
    response = client.post(url, json.dumps(body), content_type="application/json")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


def test_validate_is_a_server_dry_run_that_creates_nothing(client, cluster):
    status, result = post(client, "/clusters/demo/manifests/validate", {"yaml": WEB})
    assert status == 200 and result["ok"] is True
    assert result["output"] == "deployment.apps/web created (server dry run)\n"
    assert client.get("/clusters/demo/object?kind=Deployment&namespace=default&name=web").status_code == 404


def test_apply_then_apply_again_then_delete(client, cluster):
    status, result = post(client, "/clusters/demo/manifests/apply", {"yaml": WEB})
    assert status == 200 and result["output"] == "deployment.apps/web created\n"
    _, again = post(client, "/clusters/demo/manifests/apply", {"yaml": WEB})
    assert again["output"] == "deployment.apps/web unchanged\n"
    _, changed = post(client, "/clusters/demo/manifests/apply", {"yaml": WEB.replace("replicas: 2", "replicas: 3")})
    assert changed["output"] == "deployment.apps/web configured\n"
    view = client.get("/clusters/demo/object?kind=deployments&namespace=default&name=web").json()
    assert view["kind"] == "Deployment" and "replicas: 3" in view["yaml"]
    assert view["describe"].startswith("Name:")
    _, deleted = post(client, "/clusters/demo/manifests/delete", {"yaml": WEB})
    assert deleted["output"] == 'deployment.apps "web" deleted\n' or deleted["output"] == "deployment.apps/web deleted\n"
    _, gone = post(client, "/clusters/demo/manifests/delete", {"yaml": WEB})
    assert gone["ok"] is False
    assert gone["error_output"] == 'Error from server (NotFound): deployments.apps "web" not found\n'


@pytest.mark.parametrize(("text", "line", "message"), [
    (WEB.replace("  replicas: 2", "  replicas: two"), 6,
     "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (WEB.replace("        image: nginx:1.27", "        image: nginx:1.27\n        imagePullPolicy: Sometimes"), 18,
     'spec.template.spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes"'),
    (WEB.replace("  replicas: 2", "  replicaz: 2"), 6, 'unknown field "spec.replicaz"'),
    (WEB.replace("    matchLabels:", "    matchLabels\n      x: [y"), 9, "error converting YAML to JSON: yaml: line 9:"),
    ("apiVersion: v1\nkind: Nothing\nmetadata:\n  name: x\n", 2, 'no matches for kind "Nothing" in version "v1"'),
    # go-yaml's wording, as kubectl apply prints it, not PyYAML's ("... are not allowed here")
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a: b\n", 4,
     "error converting YAML to JSON: yaml: line 4: mapping values are not allowed in this context"),
])
def test_problems_come_back_at_their_line_in_kubernetes_words(client, cluster, text, line, message):
    status, result = post(client, "/clusters/demo/manifests/validate", {"yaml": text})
    assert status == 200 and result["ok"] is False
    problem = result["errors"][0]
    assert message in problem["message"], problem
    assert problem["line"] == line, problem


def test_manifest_requests_that_are_not_manifests_are_refused_with_a_status(client, cluster):
    status, body = post(client, "/clusters/demo/manifests/apply", {"text": "x"})
    assert status == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest"
    status, body = post(client, "/clusters/demo/manifests/explode", {"yaml": WEB})
    assert status == 404 and body["kind"] == "Status"
    response = client.post("/clusters/demo/manifests/apply", b"\xff\xfe", content_type="application/json")
    assert response.status_code == 400 and response.json()["reason"] == "BadRequest"


def test_the_resource_tree_nests_deployment_replicaset_pods_and_service_endpoints(client, cluster):
    tree = client.get("/clusters/demo/tree").json()
    roots = {(r["kind"], r["namespace"], r["name"]): r for r in tree["roots"]}
    deployment = roots[("Deployment", "default", "bootcamp")]
    assert [c["kind"] for c in deployment["children"]] == ["ReplicaSet"]
    assert deployment["children"][0]["revision"] == "1"
    service = roots[("Service", "default", "bootcamp-svc")]
    assert service["status"].startswith("ClusterIP ")
    assert [c["kind"] for c in service["children"]] == ["Endpoints"]
    assert ("ReplicaSet", "default", deployment["children"][0]["name"]) not in roots


def test_an_object_that_does_not_exist_is_a_not_found_status(client, cluster):
    response = client.get("/clusters/demo/object?kind=Pod&namespace=default&name=nope")
    assert response.status_code == 404
    assert response.json()["message"] == 'pods "nope" not found'
    response = client.get("/clusters/demo/object?kind=Gizmo&name=x")
    assert response.status_code == 404
    assert response.json()["message"] == 'the server doesn\'t have a resource type "Gizmo"'
    assert client.get("/clusters/demo/object?kind=Pod").status_code == 400


def test_node_actions(client, cluster):
    status, _ = post(client, "/clusters/demo/nodes/node-1/cordon", {})
    assert status == 200
    node = client.get("/clusters/demo/object?kind=Node&name=node-1").json()
    assert "unschedulable: true" in node["yaml"]
    post(client, "/clusters/demo/nodes/node-1/uncordon", {})
    assert "unschedulable" not in client.get("/clusters/demo/object?kind=Node&name=node-1").json()["yaml"]

    status, body = post(client, "/clusters/demo/nodes/node-2/fail", {})
    assert status == 200
    assert "kubedojo.io/kubelet-stopped" in client.get("/clusters/demo/object?kind=Node&name=node-2").json()["yaml"]
    post(client, "/clusters/demo/nodes/node-2/recover", {})
    assert "kubelet-stopped" not in client.get("/clusters/demo/object?kind=Node&name=node-2").json()["yaml"]

    status, body = post(client, "/clusters/demo/nodes/controlplane/fail", {})
    assert status == 403 and body["reason"] == "Forbidden"
    status, body = post(client, "/clusters/demo/nodes/node-9/cordon", {})
    assert status == 404 and body["message"] == 'nodes "node-9" not found'
    status, body = post(client, "/clusters/demo/nodes/node-1/reboot", {})
    assert status == 404 and "unknown node action" in body["message"]

    status, added = post(client, "/clusters/demo/nodes", {"size": "small"})
    assert status == 200 and added["node"] == "node-4"
    status, body = post(client, "/clusters/demo/nodes", {"size": "huge"})
    assert status == 422 and body["reason"] == "Invalid"


def test_drain_evicts_all_but_daemonset_pods(client, cluster):
    from cluster.runtime import api_for

    api = api_for(cluster)
    on_node = [p["metadata"]["name"] for p in api.list("Pod", "default")["items"]
               if p["spec"].get("nodeName") == "node-1"]
    status, result = post(client, "/clusters/demo/nodes/node-1/drain", {})
    assert status == 200
    assert sorted(k.split("/")[1] for k in result["evicted"] if k.startswith("default/")) == sorted(on_node)
    assert api.get("Node", "", "node-1")["spec"]["unschedulable"] is True


def test_the_events_timeline_is_oldest_first(client, cluster):
    events = client.get("/clusters/demo/events").json()["events"]
    times = [e["time"] for e in events]
    assert times == sorted(times)


@pytest.mark.parametrize("body", [{"name": "bootcamp-svc", "rate": -1}, {"name": "bootcamp-svc", "rate": "lots"},
                                  {"kind": "Pod", "name": "x"}, {}])
def test_bad_traffic_requests_are_refused(client, cluster, body):
    status, result = post(client, "/clusters/demo/traffic", body)
    assert status == 400 and result["kind"] == "Status"


def test_the_page_hands_its_script_the_words_in_the_learners_language(client, cluster):
    english = client.get("/clusters/demo/").context["config"]["labels"]
    japanese = client.get("/clusters/demo/", HTTP_ACCEPT_LANGUAGE="ja").context["config"]
    assert english["pause"] == "Pause"
    assert japanese["labels"]["pause"] == "一時停止"
    assert japanese["language"] == "ja"
    html = client.get("/clusters/demo/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "コントロールプレーン" in html and "ワーカーノード" in html
