"""Fixtures for the HTTP API tests: a bootstrapped cluster and a client that speaks to its /k8s/<key>/ prefix."""

from __future__ import annotations

import json

import pytest

TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
         "application/json")

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "nginx", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
}

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "bootcamp"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "bootcamp"}},
        "template": {
            "metadata": {"labels": {"app": "bootcamp"}},
            "spec": {"containers": [{"name": "bootcamp-app", "image": "gcr.io/google-samples/node-hello:1.0",
                                     "ports": [{"containerPort": 8080}]}], "restartPolicy": "Always"},
        },
    },
}


class K8s:
    """A Django test client bound to one cluster's API prefix."""

    def __init__(self, client, cluster):
        self.client = client
        self.cluster = cluster
        self.prefix = f"/k8s/{cluster.access_key}"

    def url(self, path: str) -> str:
        return self.prefix + path

    def get(self, path: str, accept: str = "application/json", **extra):
        return self.client.get(self.url(path), HTTP_ACCEPT=accept, **extra)

    def send(self, method: str, path: str, body=None, content_type: str = "application/json", raw: bytes | None = None,
             **extra):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        call = getattr(self.client, method.lower())
        return call(self.url(path), data=data, content_type=content_type, **extra)

    def post(self, path, body=None, **kw):
        return self.send("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.send("PUT", path, body, **kw)

    def patch(self, path, body=None, content_type="application/merge-patch+json", **kw):
        return self.send("PATCH", path, body, content_type=content_type, **kw)

    def delete(self, path, body=None, **kw):
        return self.send("DELETE", path, body, **kw)

    def revision(self) -> int:
        from cluster.models import Cluster

        return Cluster.objects.get(pk=self.cluster.pk).revision

    def objects(self) -> list[tuple]:
        from cluster.models import StoredObject

        return sorted(StoredObject.objects.filter(cluster=self.cluster).values_list("kind", "namespace", "name",
                                                                                     "resource_version"))


def make_cluster(name: str):
    from cluster.models import Cluster
    from cluster.runtime import api_for
    from engine.bootstrap import bootstrap_cluster

    cluster = Cluster.objects.create(name=name)
    bootstrap_cluster(api_for(cluster), nodes=3)
    return Cluster.objects.get(pk=cluster.pk)


@pytest.fixture
def cluster(db):
    return make_cluster("apitest")


@pytest.fixture
def k8s(client, cluster):
    return K8s(client, cluster)


def status_of(response) -> dict:
    """The Status body of an error response; every error must be one."""
    assert response["Content-Type"].startswith("application/json"), (response.status_code, response.content[:300])
    body = json.loads(response.content)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["code"] == response.status_code, body
    return body
