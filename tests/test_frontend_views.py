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
