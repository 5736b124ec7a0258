"""The API under ASGI: requests run whole on the API's threads (cluster/api/threads.py), concurrently, and
answer exactly what the sync path answers; reads share decoded objects (cluster/store.py) without
changing what they render."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from cluster.api import common
from tests.api.conftest import POD, TABLE, make_cluster

pytestmark = pytest.mark.django_db(transaction=True)
PODS = "/api/v1/namespaces/default/pods"
SAME_HEADERS = ("Content-Type", "Cache-Control", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                "Cross-Origin-Opener-Policy", "Vary", "Content-Language")


@pytest.fixture
def seen_threads():
    names: list[str] = []

    def hook(request, key):
        names.append(threading.current_thread().name)

    common.REQUEST_HOOKS.append(hook)
    yield names
    common.REQUEST_HOOKS.remove(hook)


async def setup(pods: int = 3) -> str:
    cluster = await sync_to_async(make_cluster)("threadstest")
    prefix = f"/k8s/{cluster.access_key}"
    client = AsyncClient()
    for i in range(pods):
        body = dict(POD, metadata={"name": f"web-{i}", "labels": {"app": "web"}})
        response = await client.post(prefix + PODS, data=json.dumps(body), content_type="application/json")
        assert response.status_code == 201, response.content
    return prefix


async def test_api_requests_run_on_the_api_threads_and_answer_as_the_sync_path(seen_threads):
    prefix = await setup()
    seen_threads.clear()
    async_response = await AsyncClient().get(prefix + PODS + "/web-0")
    sync_response = await sync_to_async(Client().get)(prefix + PODS + "/web-0")
    assert seen_threads[0].startswith("kubedojo-api")
    assert not seen_threads[1].startswith("kubedojo-api")  # the test client is sync: its own thread
    assert async_response.status_code == sync_response.status_code == 200
    assert async_response.content == sync_response.content
    for name in SAME_HEADERS:
        assert async_response.get(name) == sync_response.get(name), name


async def test_errors_are_the_same_status_on_the_api_threads():
    prefix = await setup(0)
    response = await AsyncClient().get(prefix + PODS + "/missing")
    assert response.status_code == 404
    assert response.json()["reason"] == "NotFound"
    response = await AsyncClient().get("/k8s/not-a-key/api/v1/pods")
    assert response.status_code == 404 and response.json()["kind"] == "Status"


async def test_concurrent_requests_all_answer_what_one_at_a_time_answers():
    prefix = await setup()
    paths = [(PODS, TABLE), (PODS, "application/json"), (PODS + "/web-1", TABLE), (PODS + "/web-2", "application/json"),
             (PODS + "?limit=2", TABLE)] * 3

    async def get(path, accept):
        response = await AsyncClient().get(prefix + path, headers={"Accept": accept})
        assert response.status_code == 200, response.content
        body = response.json()
        if body.get("kind") == "Table":
            for row in body["rows"]:
                row["cells"][4] = "<age>"  # AGE may tick over between the two runs
        return body

    one_at_a_time = [await get(path, accept) for path, accept in paths]
    together = await asyncio.gather(*(get(path, accept) for path, accept in paths))
    assert together == one_at_a_time


async def test_writes_on_the_api_threads_commit_in_order_and_reads_see_them():
    # One at a time: the test database (in-memory SQLite, shared cache) cannot take concurrent writers; the
    # benchmark (bench/api_latency.py) drives concurrent writes on SQLite files and PostgreSQL.
    prefix = await setup(0)
    versions = []
    for i in range(4):
        body = dict(POD, metadata={"name": f"p-{i}"})
        response = await AsyncClient().post(prefix + PODS, data=json.dumps(body), content_type="application/json")
        assert response.status_code == 201, response.content
        versions.append(int(response.json()["metadata"]["resourceVersion"]))
        patched = await AsyncClient().patch(prefix + PODS + f"/p-{i}", data=json.dumps({"metadata": {"labels": {
            "n": str(i)}}}), content_type="application/merge-patch+json")
        assert patched.status_code == 200
        versions.append(int(patched.json()["metadata"]["resourceVersion"]))
        got = (await AsyncClient().get(prefix + PODS + f"/p-{i}")).json()
        assert got["metadata"]["labels"] == {"n": str(i)}  # a shared read sees the write just made
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    listed = (await AsyncClient().get(prefix + PODS)).json()
    assert [p["metadata"]["labels"] for p in listed["items"]] == [{"n": str(i)} for i in range(4)]


@pytest.mark.parametrize("accept", ["application/json", TABLE,
                                    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"])
def test_lists_spliced_from_kept_encodings_are_the_plain_encoding(client, accept):
    from cluster.api.errors import encode

    cluster = make_cluster("splice")
    prefix = f"/k8s/{cluster.access_key}"
    tricky = {"note": "\u0000 a NUL, \u2603 and \"quotes\"", "other": "\\u0000" + "0" * 16 + "0\\u0000"}
    for i in range(3):
        body = dict(POD, metadata={"name": f"web-{i}", "annotations": tricky})
        assert client.post(prefix + PODS, data=json.dumps(body), content_type="application/json").status_code == 201
    for query in ("", "?includeObject=Object", "?limit=2"):
        first = client.get(prefix + PODS + query, HTTP_ACCEPT=accept)
        again = client.get(prefix + PODS + query, HTTP_ACCEPT=accept)  # now from what the first one kept
        for response in (first, again):
            assert response.status_code == 200
            text = response.content.decode()
            assert encode(json.loads(text)) == text  # compact, in order, nothing left of a stand-in
        parsed = json.loads(again.content)
        items = parsed.get("rows") or parsed.get("items")
        shown = [(r.get("object") or r)["metadata"]["annotations"] for r in items]
        assert shown == [tricky] * len(items)
        if parsed["kind"] != "Table":
            assert again.content == first.content
