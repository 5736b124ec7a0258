"""The learner's terminal history: every command line run in a seat's web terminal, through
frontend.terminal.COMMAND_HOOKS, kept for the instructor's read-only view of the seat (the last
MAX_COMMANDS_PER_SEAT lines of each seat; older ones are deleted as new ones come), and published to the
workshop's group as they come, for that view's WebSocket.

The real kubectl's requests are not lines: the HTTP API sees requests, not what the learner typed.
"""

from __future__ import annotations

from workshops.models import Seat, SeatCommand
from workshops.services import publish

MAX_COMMANDS_PER_SEAT = 300


def record_command(cluster, line: str) -> SeatCommand | None:
    """Store `line` for the seat whose cluster this is; any other cluster's lines are not kept."""
    if cluster is None or cluster.pk is None:
        return None
    db = cluster._state.db or "default"
    row = Seat.objects.using(db).filter(cluster_id=cluster.pk).values_list("pk", "workshop_id").first()
    if row is None:
        return None
    seat_pk, workshop_pk = row
    command = SeatCommand.objects.using(db).create(seat_id=seat_pk, line=line[:SeatCommand.MAX_LINE])
    rows = SeatCommand.objects.using(db).filter(seat_id=seat_pk)
    oldest_kept = rows.order_by("-pk").values_list("pk", flat=True)[MAX_COMMANDS_PER_SEAT - 1:MAX_COMMANDS_PER_SEAT]
    cutoff = next(iter(oldest_kept), None)
    if cutoff is not None:
        rows.filter(pk__lt=cutoff).delete()
    # The instructor's view of the seat shows it at once (workshops.consumers.SeatWatchConsumer).
    publish(f"workshop_{workshop_pk}", {"type": "seat.command", **command_payload(command)})
    return command


def command_payload(command: SeatCommand) -> dict:
    return {"seat": command.seat_id, "at": command.at.isoformat(), "line": command.line}


def recent_commands(seat: Seat, limit: int = MAX_COMMANDS_PER_SEAT) -> list[SeatCommand]:
    """The seat's last `limit` command lines, oldest first (as a terminal shows its history)."""
    return list(reversed(SeatCommand.objects.filter(seat=seat).order_by("-pk")[:limit]))


def register() -> None:
    """Hook into the web terminal (once per process; called from WorkshopsConfig.ready)."""
    from frontend import terminal

    if record_command not in terminal.COMMAND_HOOKS:
        terminal.COMMAND_HOOKS.append(record_command)
