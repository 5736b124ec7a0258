"""Service and pod proxy (what `kubectl proxy` users curl). The streaming subresources: test_streams.py."""

from __future__ import annotations

from tests.api.conftest import status_of

SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bootcamp-svc"},
       "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "bootcamp"}}}


def running_pod(k8s, name: str, image: str, ready: bool = True) -> dict:
    from cluster.runtime import api_for

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bootcamp"}},
           "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}]}}
    assert k8s.post("/api/v1/namespaces/default/pods", pod).status_code == 201
    api = api_for(k8s.cluster)
    stored = api.get("Pod", "default", name)
    stored["status"].update({"phase": "Running", "podIP": "10.244.1.7",
                             "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]})
    return api.update(stored, subresource="status")


def test_service_proxy_serves_the_image_page(k8s):
    k8s.post("/api/v1/namespaces/default/services", SVC)
    base = "/api/v1/namespaces/default/services/bootcamp-svc/proxy"
    body = status_of(k8s.get(base + "/"))
    assert body["code"] == 503 and body["message"] == 'no endpoints available for service "bootcamp-svc"'
    running_pod(k8s, "web-1", "gcr.io/google-samples/node-hello:1.0")
    response = k8s.get(base + "/")
    assert response.status_code == 200 and response.content == b"Hello Kubernetes!"
    assert k8s.get("/api/v1/namespaces/default/services/http:bootcamp-svc:80/proxy/").content == b"Hello Kubernetes!"
    assert k8s.get(base + "/missing/page").status_code == 404
    assert k8s.get("/api/v1/namespaces/default/pods/web-1:8080/proxy/").content == b"Hello Kubernetes!"


def test_proxy_to_a_port_nothing_listens_on(k8s):
    running_pod(k8s, "web-1", "nginx")
    body = status_of(k8s.get("/api/v1/namespaces/default/pods/web-1:8080/proxy/"))
    assert body["code"] == 503 and "connection refused" in body["message"]
    assert b"Welcome to nginx!" in k8s.get("/api/v1/namespaces/default/pods/web-1:80/proxy/").content


def test_paths_outside_the_prefix_explain_themselves(client, db):
    body = status_of(client.get("/api/v1/namespaces/default/pods"))
    assert body["code"] == 404 and "--append-server-path" in body["message"]


def test_an_object_named_proxy_is_not_a_proxy_path(k8s):
    running_pod(k8s, "proxy", "nginx")
    assert k8s.get("/api/v1/namespaces/default/pods/proxy").json()["metadata"]["name"] == "proxy"
    assert status_of(k8s.get("/api/v1/namespaces/default/pods/proxy/log"))["code"] == 400  # no container status
    assert b"Welcome to nginx!" in k8s.get("/api/v1/namespaces/default/pods/proxy:80/proxy/").content
    assert status_of(k8s.get("/api/v1/nodes/nope/proxy/"))["code"] == 404
