"""The per-seat request rate limit on the Kubernetes HTTP API, through Django's test client: a 429 Status with
Retry-After beyond the seat's rate, per seat (one learner does not starve another), streams not counted."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from cluster.api import common
from cluster.models import Cluster
from workshops import ratelimit
from workshops.models import Seat

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    settings.KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND = 2
    settings.KUBEDOJO_SEAT_REQUEST_BURST = 3
    fake = FakeClock()
    monkeypatch.setattr(ratelimit.limiter, "clock", fake)
    monkeypatch.setattr(ratelimit.limiter, "buckets", {})
    monkeypatch.setattr(ratelimit.limiter, "seats", {})
    return fake


def seat_key(workshop, name: str) -> str:
    client = Client()
    assert client.post("/join/", {"code": workshop.join_code, "display_name": name}).status_code == 302
    return Seat.objects.select_related("cluster").get(workshop=workshop, display_name=name).cluster.access_key


def pods(client: Client, key: str):
    return client.get(f"/k8s/{key}/api/v1/namespaces/default/pods")


def test_the_limiter_is_on_the_api():
    assert ratelimit.limiter in common.REQUEST_HOOKS


def test_beyond_the_burst_a_seat_gets_429_with_retry_after_until_the_bucket_refills(workshop, clock):
    key = seat_key(workshop, "Aiko")
    client = Client()
    assert [pods(client, key).status_code for _ in range(3)] == [200, 200, 200]
    refused = pods(client, key)
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    status = refused.json()
    assert (status["kind"], status["status"], status["reason"], status["code"]) == ("Status", "Failure",
                                                                                    "TooManyRequests", 429)
    assert status["details"]["retryAfterSeconds"] == 1
    assert "at most 2 requests per second" in status["message"]
    assert client.get(f"/k8s/{key}/version").status_code == 429  # discovery counts too
    clock.now += 0.5  # one more token at 2 per second
    assert pods(client, key).status_code == 200
    assert pods(client, key).status_code == 429
    clock.now += 10  # refilled to the burst, not beyond
    assert [pods(client, key).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_retry_after_says_how_long_a_slow_rate_takes(workshop, clock, settings):
    settings.KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND = 0.25
    settings.KUBEDOJO_SEAT_REQUEST_BURST = 1
    key = seat_key(workshop, "Aiko")
    client = Client()
    assert pods(client, key).status_code == 200
    assert pods(client, key)["Retry-After"] == "4"
    clock.now += 1
    assert pods(client, key)["Retry-After"] == "3"


def test_one_seat_does_not_starve_another_and_other_clusters_are_not_limited(workshop, clock):
    busy, quiet = seat_key(workshop, "Aiko"), seat_key(workshop, "Ben")
    demo = Cluster.objects.create(name="not-a-seat")
    client = Client()
    assert [pods(client, busy).status_code for _ in range(5)][-1] == 429
    assert pods(client, quiet).status_code == 200
    assert all(pods(client, demo.access_key).status_code == 200 for _ in range(10))


def test_streams_are_not_counted(workshop, clock):
    key = seat_key(workshop, "Aiko")
    client = Client()
    while pods(client, key).status_code != 429:
        pass
    # exec is a stream: served (here: no such pod) with the bucket empty
    response = client.post(f"/k8s/{key}/api/v1/namespaces/default/pods/web/exec?command=sh")
    assert response.status_code == 404 and response.json()["reason"] == "NotFound"
    factory = RequestFactory()
    streams = [f"/k8s/{key}/api/v1/pods?watch=true", f"/k8s/{key}/api/v1/pods?watch=1",
               f"/k8s/{key}/api/v1/watch/namespaces/default/pods",
               f"/k8s/{key}/apis/apps/v1/watch/deployments",
               f"/k8s/{key}/api/v1/namespaces/default/pods/web/log?follow=true",
               f"/k8s/{key}/api/v1/namespaces/default/pods/web/attach",
               f"/k8s/{key}/api/v1/namespaces/default/pods/web/portforward"]
    counted = [f"/k8s/{key}/api/v1/namespaces/watch/pods", f"/k8s/{key}/api/v1/namespaces/default/pods/exec",
               f"/k8s/{key}/api/v1/pods?watch=false", f"/k8s/{key}/api/v1/namespaces/default/pods/web/log",
               f"/k8s/{key}/version"]
    assert [ratelimit.is_stream(factory.get(p)) for p in streams] == [True] * len(streams)
    assert [ratelimit.is_stream(factory.get(p)) for p in counted] == [False] * len(counted)


def test_a_rate_of_zero_turns_it_off_and_bad_values_fall_back_to_the_default(workshop, clock, settings, caplog):
    settings.KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND = 0
    key = seat_key(workshop, "Aiko")
    client = Client()
    assert all(pods(client, key).status_code == 200 for _ in range(10))
    settings.KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND = "lots"
    settings.KUBEDOJO_SEAT_REQUEST_BURST = -5
    assert ratelimit.configured() == (ratelimit.DEFAULT_RATE, ratelimit.DEFAULT_BURST)
    assert "KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND='lots' is not a number" in caplog.text
    assert pods(client, key).status_code == 200


def test_the_environment_sets_the_rate(monkeypatch, settings):
    monkeypatch.setenv("KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND", "5")
    monkeypatch.setenv("KUBEDOJO_SEAT_REQUEST_BURST", "7")
    for name in ("KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND", "KUBEDOJO_SEAT_REQUEST_BURST"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert ratelimit.configured() == (5.0, 7.0)
