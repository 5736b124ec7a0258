"""Watch streams over HTTP (the async client: a watch is an async streaming response)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from tests.api.conftest import POD, TABLE, make_cluster

pytestmark = pytest.mark.django_db(transaction=True)
PODS = "/api/v1/namespaces/default/pods"


async def read_events(response) -> list[dict]:
    data = b""
    async for chunk in response.streaming_content:
        data += chunk
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


async def setup():
    cluster = await sync_to_async(make_cluster)("watchtest")
    return cluster, f"/k8s/{cluster.access_key}"


async def create_pod(prefix: str, name: str):
    client = AsyncClient()
    body = dict(POD, metadata={"name": name, "labels": {"app": "web"}})
    response = await client.post(prefix + PODS, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    return response.json()


async def test_watch_from_zero_sends_current_objects_then_changes():
    _cluster, prefix = await setup()
    created = await create_pod(prefix, "first")
    client = AsyncClient()
    response = await client.get(prefix + PODS + "?watch=true&timeoutSeconds=1&resourceVersion=0")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    events = await read_events(response)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events][:1] == [("ADDED", "first")]
    rv = created["metadata"]["resourceVersion"]
    response = await client.get(prefix + PODS + f"?watch=1&timeoutSeconds=1&resourceVersion={rv}")
    await create_pod(prefix, "second")
    events = await read_events(response)
    assert ("ADDED", "second") in [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert ("ADDED", "first") not in [(e["type"], e["object"]["metadata"]["name"]) for e in events]


async def test_watch_as_table_and_by_name():
    _cluster, prefix = await setup()
    await create_pod(prefix, "web")
    await create_pod(prefix, "other")
    client = AsyncClient()
    response = await client.get(prefix + PODS + "?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dweb",
                                headers={"Accept": TABLE})
    events = await read_events(response)
    assert [e["type"] for e in events] == ["ADDED"]
    table = events[0]["object"]
    assert table["kind"] == "Table" and table["rows"][0]["cells"][0] == "web"
    response = await client.get(prefix + "/api/v1/watch/namespaces/default/pods/other?timeoutSeconds=1")
    events = await read_events(response)
    assert [e["object"]["metadata"]["name"] for e in events] == ["other"]


async def test_bookmarks_and_initial_events_end():
    _cluster, prefix = await setup()
    await create_pod(prefix, "web")
    client = AsyncClient()
    response = await client.get(prefix + PODS + "?watch=true&timeoutSeconds=1&allowWatchBookmarks=true"
                                "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")
    events = await read_events(response)
    assert [e["type"] for e in events[:2]] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_expired_resource_version_is_an_error_event():
    cluster, prefix = await setup()
    from cluster.models import Cluster

    await Cluster.objects.filter(pk=cluster.pk).aupdate(compacted_revision=cluster.revision)
    client = AsyncClient()
    response = await client.get(prefix + PODS + "?watch=true&timeoutSeconds=1&resourceVersion=1")
    assert response.status_code == 200
    events = await read_events(response)
    assert events[-1]["type"] == "ERROR"
    status = events[-1]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"


async def test_bad_selector_is_a_400_not_a_stream():
    _cluster, prefix = await setup()
    response = await AsyncClient().get(prefix + PODS + "?watch=true&labelSelector=a%20in%20(")
    assert response.status_code == 400
    assert response.json()["kind"] == "Status"
