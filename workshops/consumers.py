"""Workshop pages' WebSockets: the learner's seat and the instructor's dashboard, pushed as things change.

    ws/w/<code>/?lang=ja|en            the learner (the seat's cookie, as for the page)
    ws/workshops/<pk>/?lang=ja|en      the instructor's dashboard (staff who own the workshop, or a superuser)
    ws/workshops/<pk>/seats/<seat>/    the instructor's view of one seat (the same staff)

Messages only nudge, the rows hold the truth (workshops.services publishes to `seat_<pk>` and `workshop_<pk>`):

- The learner's socket sends `{"type": "progress", ...}` (the same payload as GET /w/<code>/progress) on connect
  and after every message of the seat's group, read again from the database. The browser sends
  `{"type": "resync"}` to ask for it again and `{"type": "alive"}` now and then (the learner is still here, so
  the idle reclaimer leaves the seat's cluster alone).
- The dashboard's socket sends `{"type": "dashboard", ...}` (GET dashboard.json's payload) on connect and on
  `resync`, `{"type": "tile", "tile": ...}` for each seat's tile the checker publishes, and
  `{"type": "state", ...}` (paused, closed, broadcast, revealed) when the instructor changes the workshop.
- The seat view's socket sends `{"type": "commands", "commands": [...]}` (the learner's terminal history) on
  connect and on `resync`, `{"type": "command", ...}` for each line the learner runs, and `{"type": "cluster"}`
  when the seat's cluster is replaced (reset, reclaimed): the page then redraws its map from the new one.

A page whose socket drops polls the JSON endpoints slowly and reconnects; on reconnect it gets a full payload.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from workshops.text import LANGUAGES

# Close codes (4000-4999 are the application's): the page stops reconnecting on these and falls back to polling.
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def _language(scope, workshop) -> str:
    """?lang= of the socket's URL (the page passes the language it was rendered in), else the workshop's."""
    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    wanted = (query.get("lang") or [""])[0]
    if wanted in LANGUAGES:
        return wanted
    return workshop.language if workshop.language in LANGUAGES else "en"


class _JsonConsumer(AsyncJsonWebsocketConsumer):
    """JSON in and out; frames that are not a JSON object and group messages without a handler are ignored."""

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data) if text_data else None
        except ValueError:
            content = None
        if isinstance(content, dict):  # anything else (binary frames, not JSON) is ignored, as unknown types are
            await self.receive_json(content, **kwargs)

    async def dispatch(self, message):
        # A group message this page has no use for (services may publish new kinds) is dropped, not an error.
        from channels.consumer import get_handler_name

        if getattr(self, get_handler_name(message), None) is None and not message["type"].startswith("websocket."):
            return
        await super().dispatch(message)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def join(self, group: str) -> None:
        self.groups_joined = [*getattr(self, "groups_joined", ()), group]
        await self.channel_layer.group_add(group, self.channel_name)


class LearnerConsumer(_JsonConsumer):
    seat_pk: int | None = None

    async def connect(self):
        seat = await self.find_seat(self.scope["url_route"]["kwargs"]["code"])
        if seat is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.seat_pk = seat.pk
        self.language = _language(self.scope, seat.workshop)
        await self.join(seat.group())
        await self.accept()
        await self.send_progress()

    async def receive_json(self, content, **kwargs):
        kind = content.get("type")
        if kind == "resync":
            await self.send_progress()
        elif kind == "alive":
            await self.touch()

    async def send_progress(self):
        payload = await self.progress()
        if payload is None:  # the seat (or its workshop) was deleted meanwhile
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json({"type": "progress", **payload})

    # Everything services publishes to the seat's group: read the seat again and send it all.
    async def seat_progress(self, event):
        await self.send_progress()

    seat_reset = seat_reclaimed = seat_progress
    workshop_clock = workshop_broadcast = workshop_reveal = workshop_closed = seat_progress

    @database_sync_to_async
    def find_seat(self, code: str):
        from workshops import services
        from workshops.models import Seat, Workshop, normalise_code

        workshop = Workshop.objects.filter(join_code=normalise_code(code)).first()
        if workshop is None:
            return None
        seat = Seat.for_token((self.scope.get("cookies") or {}).get(services.cookie_name(workshop)))
        if seat is None or seat.workshop_id != workshop.pk:
            return None
        services.touch(seat)
        return seat

    @database_sync_to_async
    def progress(self) -> dict | None:
        from workshops import services
        from workshops.models import Seat
        from workshops.views import progress_payload

        seat = Seat.objects.select_related("workshop", "cluster").filter(pk=self.seat_pk).first()
        if seat is None:
            return None
        # A reset or a reclaim gives the seat a new cluster: this browser may view it, as the progress view does.
        session = self.scope.get("session")
        if session is not None and seat.cluster is not None:
            before = list(session.get(services.SESSION_KEY) or [])
            services.admit_to_cluster(session, seat.cluster)
            if session.get(services.SESSION_KEY) != before:
                session.save()
        return progress_payload(seat, self.language)

    @database_sync_to_async
    def touch(self) -> None:
        from workshops import services
        from workshops.models import Seat

        seat = Seat.objects.filter(pk=self.seat_pk).first()
        if seat is not None:
            services.touch(seat)


class DashboardConsumer(_JsonConsumer):
    workshop_pk: int | None = None

    async def connect(self):
        workshop, allowed = await self.find_workshop(self.scope["url_route"]["kwargs"]["pk"])
        if workshop is None or not allowed:
            await self.close(code=CLOSE_NOT_FOUND if workshop is None else CLOSE_FORBIDDEN)
            return
        self.workshop_pk = workshop.pk
        self.language = _language(self.scope, workshop)
        await self.join(workshop.group())
        await self.accept()
        await self.send_dashboard()

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "resync":
            await self.send_dashboard()

    async def send_dashboard(self):
        payload = await self.dashboard()
        if payload is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json({"type": "dashboard", **payload})

    async def seat_tile(self, event):
        tile = event.get("tile")
        if isinstance(tile, dict):
            await self.send_json({"type": "tile", "tile": await self.localise(tile)})

    async def workshop_state(self, event):
        state = await self.state()
        if state is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json({"type": "state", **state})

    workshop_clock = workshop_broadcast = workshop_reveal = workshop_closed = workshop_state

    @database_sync_to_async
    def find_workshop(self, pk: int):
        from workshops.models import Workshop

        workshop = Workshop.objects.filter(pk=pk).first()
        return workshop, workshop is not None and workshop.owned_by(self.scope.get("user"))

    @database_sync_to_async
    def dashboard(self) -> dict | None:
        from workshops.models import Workshop
        from workshops.views import dashboard_payload

        workshop = Workshop.objects.filter(pk=self.workshop_pk).first()
        return dashboard_payload(workshop, self.language) if workshop is not None else None

    @database_sync_to_async
    def localise(self, tile: dict) -> dict:
        from workshops.views import localise_tile

        return localise_tile(dict(tile), self.workshop_pk, self.language)

    @database_sync_to_async
    def state(self) -> dict | None:
        from workshops.models import Workshop

        workshop = Workshop.objects.filter(pk=self.workshop_pk).first()
        if workshop is None:
            return None
        return {"paused": workshop.clock_paused, "closed": not workshop.is_open, "broadcast": workshop.broadcast,
                "revealed": list(workshop.revealed_steps)}


class SeatWatchConsumer(_JsonConsumer):
    """The instructor's read-only view of one seat: its terminal history as the learner types, and its cluster's
    replacement (the map itself comes from the map's own socket, which only sends)."""

    seat_pk: int | None = None

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        seat, allowed = await self.find_seat(kwargs["pk"], kwargs["seat"])
        if seat is None or not allowed:
            await self.close(code=CLOSE_NOT_FOUND if seat is None else CLOSE_FORBIDDEN)
            return
        self.seat_pk = seat.pk
        await self.join(seat.workshop.group())  # the lines (seat.command)
        await self.join(seat.group())  # the cluster's replacement (seat.reset, seat.reclaimed)
        await self.accept()
        await self.send_commands()

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "resync":
            await self.send_commands()

    async def send_commands(self):
        await self.send_json({"type": "commands", "commands": await self.commands()})

    async def seat_command(self, event):
        if event.get("seat") == self.seat_pk:
            await self.send_json({**event, "type": "command"})

    async def seat_reset(self, event):
        await self.send_json({"type": "cluster"})

    seat_reclaimed = seat_reset

    @database_sync_to_async
    def find_seat(self, workshop_pk: int, seat_pk: int):
        from workshops.models import Seat

        seat = Seat.objects.select_related("workshop").filter(pk=seat_pk, workshop_id=workshop_pk).first()
        return seat, seat is not None and seat.workshop.owned_by(self.scope.get("user"))

    @database_sync_to_async
    def commands(self) -> list[dict]:
        from workshops import history
        from workshops.models import Seat

        seat = Seat.objects.filter(pk=self.seat_pk).first()
        return [history.command_payload(c) for c in history.recent_commands(seat)] if seat is not None else []
