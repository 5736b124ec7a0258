"""`manage.py kubeconfig` and the page's download link."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings


def test_command_prints_a_kubeconfig_for_the_cluster(cluster, monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    out = io.StringIO()
    call_command("kubeconfig", "--cluster", cluster.name, stdout=out)
    config = yaml.safe_load(out.getvalue())
    name = f"kubedojo-{cluster.name}"
    assert config["current-context"] == name
    server = f"http://127.0.0.1:8123/k8s/{cluster.access_key}"
    assert config["clusters"] == [{"name": name, "cluster": {"server": server}}]
    assert config["contexts"] == [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}]
    token = config["users"][0]["user"]["token"]
    cluster.refresh_from_db()
    assert cluster.check_token(token)


def test_command_server_option_and_public_url(cluster):
    out = io.StringIO()
    call_command("kubeconfig", "--cluster", cluster.name, "--server", "https://dojo.example/", "--no-token", stdout=out)
    config = yaml.safe_load(out.getvalue())
    assert config["clusters"][0]["cluster"]["server"] == f"https://dojo.example/k8s/{cluster.access_key}"
    assert config["users"][0]["user"] == {}
    with override_settings(KUBEDOJO_PUBLIC_URL="http://class.local:9000"):
        out = io.StringIO()
        call_command("kubeconfig", "--cluster", cluster.name, stdout=out)
    assert yaml.safe_load(out.getvalue())["clusters"][0]["cluster"]["server"].startswith("http://class.local:9000/k8s/")


def test_command_unknown_cluster(db):
    with pytest.raises(CommandError, match="no cluster named"):
        call_command("kubeconfig", "--cluster", "nope", stdout=io.StringIO())


def test_command_create(db, tmp_path):
    from cluster.models import Cluster
    from cluster.runtime import api_for

    target = tmp_path / "config"
    call_command("kubeconfig", "--cluster", "fresh", "--create", "-o", str(target))
    cluster = Cluster.objects.get(name="fresh")
    assert cluster.access_key in target.read_text()
    nodes, _ = api_for(cluster).store.list("Node")
    assert len(nodes) == 4


def test_download_needs_access(client, cluster, django_user_model):
    url = f"/clusters/{cluster.name}/kubeconfig"
    assert client.get(url, REMOTE_ADDR="203.0.113.9").status_code == 404
    session = client.session
    session["kubedojo_clusters"] = [cluster.pk]
    session.save()
    response = client.get(url, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="kubeconfig-{cluster.name}.yaml"'
    config = yaml.safe_load(response.content)
    assert config["clusters"][0]["cluster"]["server"] == f"http://testserver/k8s/{cluster.access_key}"
    assert client.get("/clusters/nope/kubeconfig").status_code == 404


def test_download_for_staff(client, cluster, django_user_model):
    staff = django_user_model.objects.create_user("teacher", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/clusters/{cluster.name}/kubeconfig").status_code == 200


def test_error_middleware_turns_pages_into_status():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from cluster.api.errors import K8sErrorMiddleware

    page = K8sErrorMiddleware(lambda request: HttpResponse("<h1>Server Error</h1>", status=500))
    response = page(RequestFactory().get("/k8s/key/api"))
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert b'"kind":"Status"' in response.content

    def boom(request):
        raise RuntimeError("secret detail")

    response = K8sErrorMiddleware(boom)(RequestFactory().get("/k8s/key/api"))
    assert response.status_code == 500 and b"secret detail" not in response.content
    outside = K8sErrorMiddleware(lambda request: HttpResponse("<p>page</p>", status=404))
    assert outside(RequestFactory().get("/elsewhere"))["Content-Type"].startswith("text/html")
