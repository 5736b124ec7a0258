"""The learner's terminal history: lines run in the seat's web terminal are kept (bounded) and the instructor's
seat page shows them, with the seat's map drawn read-only instead of a link to the (writable) map page."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from cluster.asgi import application
from cluster.models import Cluster
from frontend import terminal
from workshops import history, services
from workshops.models import Seat, SeatCommand


def _join(workshop, name: str = "Aiko") -> tuple[Seat, Client]:
    client = Client()
    assert client.post("/join/", {"code": workshop.join_code, "display_name": name}).status_code == 302
    return Seat.objects.select_related("cluster", "workshop").get(workshop=workshop, display_name=name), client


@pytest.mark.django_db
def test_the_app_hooks_into_the_web_terminal():
    assert history.record_command in terminal.COMMAND_HOOKS


@pytest.mark.django_db
def test_only_seats_lines_are_kept_and_only_the_last_ones(workshop, monkeypatch):
    seat, _client = _join(workshop)
    assert history.record_command(Cluster.objects.create(name="not-a-seat"), "kubectl get pods") is None
    monkeypatch.setattr(history, "MAX_COMMANDS_PER_SEAT", 3)
    for i in range(5):
        history.record_command(seat.cluster, f"kubectl get pods # {i}")
    history.record_command(seat.cluster, "x" * 5000)
    lines = [c.line for c in history.recent_commands(seat)]
    assert lines == ["kubectl get pods # 3", "kubectl get pods # 4", "x" * SeatCommand.MAX_LINE]
    assert SeatCommand.objects.count() == 3


@pytest.mark.django_db(transaction=True)
async def test_lines_run_in_the_seats_terminal_reach_its_history(workshop):
    seat, client = await sync_to_async(_join)(workshop)
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"),
               (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    communicator = WebsocketCommunicator(application, f"/ws/clusters/{seat.cluster.name}/terminal/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        assert (await communicator.receive_json_from(timeout=5))["type"] == "ready"
        for line in ("kubectl get nodes", "  ls  ", ""):
            await communicator.send_json_to({"type": "run", "line": line})
            while (await communicator.receive_json_from(timeout=10))["type"] != "exit":
                pass
    finally:
        await communicator.disconnect()
    lines = await sync_to_async(lambda: [c.line for c in history.recent_commands(seat)])()
    assert lines == ["kubectl get nodes", "ls"]


@pytest.mark.django_db
def test_the_seat_page_shows_the_history_and_the_map_read_only(workshop, instructor):
    seat, _learner = _join(workshop)
    history.record_command(seat.cluster, "kubectl apply -f <app>.yml")
    staff = Client()
    staff.force_login(instructor)
    response = staff.get(f"/workshops/{workshop.pk}/seats/{seat.pk}/")
    page = response.content.decode()
    assert "$ kubectl apply -f &lt;app&gt;.yml" in page  # escaped, as the learner typed it
    assert f'href="/clusters/{seat.cluster.name}/"' not in page  # no way into the writable map page
    assert response.context["config"] == {"socketPath": f"/ws/clusters/{seat.cluster.name}/",
                                          "watchPath": f"/ws/workshops/{workshop.pk}/seats/{seat.pk}/"}
    services.reclaim(seat)
    page = staff.get(f"/workshops/{workshop.pk}/seats/{seat.pk}/").content.decode()
    assert "cluster reclaimed" in page and 'id="ws-seatmap"' not in page and "kubectl apply" in page


def _staff_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _watch(path: str, cookie: bytes | None):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")] + ([(b"cookie", cookie)] if cookie else [])
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return connected, communicator, code


@pytest.mark.django_db(transaction=True)
async def test_the_instructor_watches_the_seats_lines_as_they_come(workshop, instructor, django_user_model):
    seat, _client = await sync_to_async(_join)(workshop)
    other, _other_client = await sync_to_async(_join)(workshop, "Ben")
    await sync_to_async(history.record_command)(seat.cluster, "kubectl get nodes")
    cookie = await sync_to_async(_staff_cookie)(instructor)
    connected, communicator, code = await _watch(f"/ws/workshops/{workshop.pk}/seats/{seat.pk}/", cookie)
    assert connected, code
    try:
        first = await communicator.receive_json_from(timeout=5)
        assert first["type"] == "commands" and [c["line"] for c in first["commands"]] == ["kubectl get nodes"]
        await sync_to_async(history.record_command)(other.cluster, "kubectl get pods  # Ben's")
        await sync_to_async(history.record_command)(seat.cluster, "kubectl apply -f app.yml")
        pushed = await communicator.receive_json_from(timeout=5)
        assert pushed["type"] == "command" and pushed["seat"] == seat.pk and pushed["line"] == "kubectl apply -f app.yml"
        await sync_to_async(services.broadcast)(workshop, "hello")  # not for this page: nothing comes
        assert await communicator.receive_nothing(timeout=0.2)
        await sync_to_async(services.reset_seat)(seat, 0)
        assert (await communicator.receive_json_from(timeout=5)) == {"type": "cluster"}
        await communicator.send_json_to({"type": "resync"})
        again = await communicator.receive_json_from(timeout=5)
        assert [c["line"] for c in again["commands"]] == ["kubectl get nodes", "kubectl apply -f app.yml"]
    finally:
        await communicator.disconnect()

    stranger = await sync_to_async(django_user_model.objects.create_user)("other", password="pw", is_staff=True)
    for path, who in ((f"/ws/workshops/{workshop.pk}/seats/{seat.pk}/", None),
                      (f"/ws/workshops/{workshop.pk}/seats/{seat.pk}/", await sync_to_async(_staff_cookie)(stranger)),
                      (f"/ws/workshops/{workshop.pk + 1}/seats/{seat.pk}/", cookie)):
        connected, communicator, code = await _watch(path, who)
        assert not connected and code in (4403, 4404), path
