"""The workshop pages' WebSockets through the real ASGI application: the learner's seat (its cookie) and the
instructor's dashboard (staff who own the workshop), pushed by what workshops.services publishes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import timezone

from cluster.asgi import application
from workshops import services
from workshops.models import Seat, Workshop

pytestmark = pytest.mark.django_db(transaction=True)

HOST = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


def _join(workshop: Workshop, name: str = "Aiko") -> tuple[Seat, str, str]:
    """A learner who joined through the page: the seat, its cookie token and the browser session's key."""
    client = Client()
    response = client.post("/join/", {"code": workshop.join_code, "display_name": name})
    assert response.status_code == 302
    seat = Seat.objects.select_related("workshop", "cluster").get(workshop=workshop, display_name=name)
    return seat, client.cookies[services.cookie_name(workshop)].value, client.cookies["sessionid"].value


def _staff_session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _open(path: str, cookies: dict[str, str] | None = None) -> tuple[bool, WebsocketCommunicator, object]:
    headers = list(HOST)
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return connected, communicator, code


async def _learner(workshop, token, session_key, lang="en"):
    connected, communicator, code = await _open(
        f"/ws/w/{workshop.join_code}/?lang={lang}",
        {services.cookie_name(workshop): token, "sessionid": session_key})
    assert connected, code
    return communicator


# --- the learner ---------------------------------------------------------------------------------------------

async def test_the_learner_gets_the_progress_on_connect_and_after_every_change(workshop):
    seat, token, session_key = await sync_to_async(_join)(workshop)
    communicator = await _learner(workshop, token, session_key)
    try:
        first = await communicator.receive_json_from(timeout=5)
        assert first["type"] == "progress" and first["seat"] == seat.pk and first["current"] == 0
        assert first["cluster_id"] == seat.cluster_id and first["broadcast"] == ""
        check = first["steps"][0]["checks"]["deployment"]
        assert check["passed"] is False and isinstance(check["detail"], str) and check["detail"]

        await sync_to_async(services.broadcast)(workshop, "Ten minutes left")
        pushed = await communicator.receive_json_from(timeout=5)
        assert pushed["type"] == "progress" and pushed["broadcast"] == "Ten minutes left"

        key = (await sync_to_async(lambda: workshop.pack().steps[0].key)())
        await sync_to_async(services.reveal)(workshop, key)
        pushed = await communicator.receive_json_from(timeout=5)
        assert key in pushed["solutions"] and pushed["solutions"][key]["commands"]

        await sync_to_async(services.set_workshop_clock)(workshop, True)
        assert (await communicator.receive_json_from(timeout=5))["paused"] is True
    finally:
        await communicator.disconnect()


async def test_the_learner_follows_a_reset_and_may_view_the_new_cluster(workshop):
    seat, token, session_key = await sync_to_async(_join)(workshop)
    communicator = await _learner(workshop, token, session_key)
    try:
        old_cluster = (await communicator.receive_json_from(timeout=5))["cluster_id"]
        fresh = await sync_to_async(services.reset_seat)(seat, 1)
        seen = []
        while not seen or seen[-1]["current"] != 1 or seen[-1]["cluster_id"] != fresh.pk:
            seen.append(await communicator.receive_json_from(timeout=5))
    finally:
        await communicator.disconnect()
    assert fresh.pk != old_cluster and all(message["type"] == "progress" for message in seen)
    session = await sync_to_async(lambda: dict(SessionStore(session_key=session_key).load()))()
    assert fresh.pk in session[services.SESSION_KEY]


async def test_the_learner_page_speaks_its_language(workshop):
    seat, token, session_key = await sync_to_async(_join)(workshop)
    en = await _learner(workshop, token, session_key, "en")
    ja = await _learner(workshop, token, session_key, "ja")
    try:
        detail_en = (await en.receive_json_from(timeout=5))["steps"][0]["checks"]["deployment"]["detail"]
        detail_ja = (await ja.receive_json_from(timeout=5))["steps"][0]["checks"]["deployment"]["detail"]
    finally:
        await en.disconnect()
        await ja.disconnect()
    assert detail_en != detail_ja and detail_en.isascii() and not detail_ja.isascii()


async def test_alive_keeps_the_seat_from_being_reclaimed_and_bad_frames_are_ignored(workshop):
    seat, token, session_key = await sync_to_async(_join)(workshop)
    long_ago = timezone.now() - timedelta(hours=5)
    await sync_to_async(Seat.objects.filter(pk=seat.pk).update)(last_seen=long_ago)
    communicator = await _learner(workshop, token, session_key)
    try:
        await communicator.receive_json_from(timeout=5)
        await sync_to_async(Seat.objects.filter(pk=seat.pk).update)(last_seen=long_ago)
        await communicator.send_to(text_data="not json")
        await communicator.send_to(bytes_data=b"\x00\x01")
        await communicator.send_json_to(["resync"])
        await communicator.send_json_to({"type": "alive"})
        await communicator.send_json_to({"type": "resync"})  # answered after "alive" was handled
        assert (await communicator.receive_json_from(timeout=5))["type"] == "progress"
        assert await communicator.receive_nothing(timeout=0.1)
    finally:
        await communicator.disconnect()
    last_seen = await sync_to_async(lambda: Seat.objects.get(pk=seat.pk).last_seen)()
    assert last_seen > long_ago + timedelta(hours=4)
    assert await sync_to_async(services.reclaim_idle)(idle=3600, dry_run=True) == []


async def test_a_socket_without_the_seats_cookie_is_refused(workshop, instructor):
    seat, token, session_key = await sync_to_async(_join)(workshop)
    other = await sync_to_async(Workshop.objects.create)(owner=instructor, title="other",
                                                        lesson_pack="kubernetes-nyumon", nodes=1, node_size="small")
    attempts = [
        (f"/ws/w/{workshop.join_code}/", None),
        (f"/ws/w/{workshop.join_code}/", {services.cookie_name(workshop): "forged"}),
        # The seat's token under another workshop's cookie name reaches nothing there.
        (f"/ws/w/{other.join_code}/", {services.cookie_name(other): token}),
        ("/ws/w/NOSUCH/", {services.cookie_name(workshop): token}),
    ]
    for path, cookies in attempts:
        connected, communicator, code = await _open(path, cookies)
        assert not connected, path
        assert code in (4403, 4404)


# --- the dashboard -------------------------------------------------------------------------------------------

async def test_the_dashboard_gets_every_tile_then_each_change(workshop, instructor):
    seat, _token, _session = await sync_to_async(_join)(workshop)
    staff = await sync_to_async(_staff_session)(instructor)
    connected, communicator, code = await _open(f"/ws/workshops/{workshop.pk}/?lang=en", {"sessionid": staff})
    assert connected, code
    try:
        first = await communicator.receive_json_from(timeout=5)
        assert first["type"] == "dashboard" and first["workshop"] == workshop.pk
        (tile,) = first["tiles"]
        assert tile["name"] == "Aiko" and tile["step_title"] == "Apply a Deployment"
        assert tile["url"] == f"/workshops/{workshop.pk}/seats/{seat.pk}/"
        assert tile["thumbnail"]["nodes"]

        await sync_to_async(services.publish_tile)(seat)
        pushed = await communicator.receive_json_from(timeout=5)
        assert pushed["type"] == "tile" and pushed["tile"]["seat"] == seat.pk
        assert pushed["tile"]["step_title"] == "Apply a Deployment"
        assert all(isinstance(check["description"], str) for check in pushed["tile"]["checks"])

        await sync_to_async(services.set_workshop_clock)(workshop, True)
        state = await communicator.receive_json_from(timeout=5)
        assert state == {"type": "state", "paused": True, "closed": False, "broadcast": "", "revealed": []}
        await sync_to_async(services.close)(workshop)
        assert (await communicator.receive_json_from(timeout=5))["closed"] is True

        await communicator.send_json_to({"type": "resync"})
        again = await communicator.receive_json_from(timeout=5)
        assert again["type"] == "dashboard" and again["closed"] is True and again["paused"] is True
    finally:
        await communicator.disconnect()


async def test_only_the_owner_or_a_superuser_opens_the_dashboard(workshop, django_user_model):
    other = await sync_to_async(django_user_model.objects.create_user)("other", password="pw", is_staff=True)
    root = await sync_to_async(django_user_model.objects.create_superuser)("root", password="pw")
    seat, token, session_key = await sync_to_async(_join)(workshop)
    path = f"/ws/workshops/{workshop.pk}/"
    for cookies in (None, {"sessionid": await sync_to_async(_staff_session)(other)},
                    {"sessionid": session_key, services.cookie_name(workshop): token}):
        connected, communicator, code = await _open(path, cookies)
        assert not connected and code == 4403
    connected, communicator, _ = await _open("/ws/workshops/99999/", {"sessionid": await sync_to_async(_staff_session)(root)})
    assert not connected
    connected, communicator, _ = await _open(path, {"sessionid": await sync_to_async(_staff_session)(root)})
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "dashboard"
    await communicator.disconnect()
