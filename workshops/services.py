"""What workshops do, kept out of the views: provisioning seats' clusters, evaluating progress, resetting,
reclaiming, and the summaries the learner page and the dashboard show.

Every change a page should see is published on a channel-layer group (`seat_<pk>` for the learner,
`workshop_<pk>` for the dashboard); messages only nudge, the rows hold the truth, and a page that
(re)connects reads them again.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cluster.models import Cluster
from workshops import limits
from workshops.lessons import LessonError
from workshops.lessons.checks import InformerSource, StoreSource, evaluate_step
from workshops.models import Seat, SeatEvent, StepProgress, Workshop

log = logging.getLogger(__name__)

SEAT_COOKIE_PREFIX = "kd_seat_"
SEAT_COOKIE_MAX_AGE = 30 * 24 * 3600
SESSION_KEY = "kubedojo_clusters"  # frontend.access.SESSION_KEY: clusters this browser session may view
# A step that passes at once (its checks already hold) hands over to the next; at most this many in a row.
MAX_STEPS_PER_EVALUATION = 5
SYSTEM_NAMESPACES = ("kube-system", "kube-node-lease", "kube-public")


def idle_seconds() -> float:
    """After how long without the learner a seat's cluster is reclaimed (KUBEDOJO_SEAT_IDLE_SECONDS)."""
    import os

    value = getattr(settings, "KUBEDOJO_SEAT_IDLE_SECONDS", None) or os.environ.get("KUBEDOJO_SEAT_IDLE_SECONDS")
    try:
        return float(value) if value else 4 * 3600.0
    except ValueError:
        return 4 * 3600.0


def cookie_name(workshop: Workshop) -> str:
    return f"{SEAT_COOKIE_PREFIX}{workshop.join_code}"


def seat_from_request(request, workshop: Workshop) -> Seat | None:
    seat = Seat.for_token(request.COOKIES.get(cookie_name(workshop)))
    return seat if seat is not None and seat.workshop_id == workshop.pk else None


def admit_to_cluster(session, cluster: Cluster | None) -> None:
    """Let this browser session view (and download the kubeconfig of) the seat's cluster."""
    if cluster is None or session is None:
        return
    allowed = list(session.get(SESSION_KEY) or [])
    if cluster.pk not in allowed:
        allowed.append(cluster.pk)
        session[SESSION_KEY] = allowed


# --- publishing ---------------------------------------------------------------------------------------------

def publish(group: str, message: dict, outbox: list | None = None) -> None:
    """Send to a group now, or, given an `outbox` (the simulation loop's thread), leave it for the loop to send
    on its own event loop after the tick."""
    if outbox is not None:
        outbox.append((group, message))
        return
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a page that misses a nudge reads the rows again when it reconnects
        log.exception("publishing to %s failed", group)


def nudge_runner(cluster_pk: int) -> None:
    from cluster.runtime import nudge_simulation

    try:
        async_to_sync(nudge_simulation)(cluster_pk)
    except Exception:
        log.exception("nudging the simulation runner failed")


# --- clusters -----------------------------------------------------------------------------------------------

def _cluster_name(workshop: Workshop) -> str:
    return f"{workshop.join_code.lower()}-{secrets.token_hex(3)}"


def build_cluster(seat: Seat, step_index: int) -> Cluster:
    """A fresh cluster of the workshop's shape, brought to the start of `step_index` (bootstrap, then every
    lesson's setup and earlier step's solution, as `play.apply_until` does)."""
    from cluster.runtime import api_for
    from engine.bootstrap import bootstrap_cluster
    from workshops.lessons.play import apply_until

    workshop = seat.workshop
    cluster = Cluster.objects.create(
        name=_cluster_name(workshop), display_name=f"{seat.display_name} · {workshop.title}"[:200],
        kube_proxy_mode=workshop.kube_proxy_mode, paused=workshop.clock_paused)
    api = api_for(cluster)
    with transaction.atomic():
        bootstrap_cluster(api, nodes=workshop.nodes, profile=workshop.node_size)
        apply_until(api, workshop.pack(), step_index, on_error=_skipped)
    return cluster


def _skipped(command: str, exc: Exception) -> None:
    log.info("setting a seat's cluster up: skipped %r (%s)", command, getattr(exc, "message", exc))


def provision(seat: Seat) -> Cluster:
    """Give the seat a cluster at the start of its current step (on join, and after a reclaim)."""
    cluster = build_cluster(seat, min(seat.current_step, max(0, len(seat.workshop.pack().steps) - 1)))
    Seat.objects.filter(pk=seat.pk).update(cluster=cluster, reclaimed_at=None)
    limits.forget_seat()  # a queryset update sends no signal
    seat.cluster, seat.reclaimed_at = cluster, None
    SeatEvent.objects.create(seat=seat, kind=SeatEvent.Kind.CLUSTER_PROVISIONED, detail=cluster.name)
    nudge_runner(cluster.pk)
    return cluster


class WorkshopClosed(Exception):
    pass


class WorkshopFull(Exception):
    pass


def join(workshop: Workshop, display_name: str) -> tuple[Seat, str]:
    """A new seat with a fresh cluster; returns it and the cookie token (shown once, stored hashed)."""
    if not workshop.is_open:
        raise WorkshopClosed(workshop.join_code)
    if workshop.seats.count() >= workshop.max_seats:
        raise WorkshopFull(workshop.join_code)
    seat = Seat(workshop=workshop, display_name=display_name.strip()[:60] or "?")
    token = seat.issue_token()
    seat.save()
    SeatEvent.objects.create(seat=seat, kind=SeatEvent.Kind.JOINED)
    provision(seat)
    start_step(seat, 0, apply_setup=False)
    evaluate_seat(seat)  # the first step's checks say what they wait for from the start
    publish_tile(seat)
    return seat, token


def start_step(seat: Seat, index: int, when=None, apply_setup: bool = True) -> None:
    """Move the seat to step `index`. Entering a lesson applies its setup (the objects it builds on) to the
    seat's cluster, unless the cluster was just built to this point (`apply_setup=False`)."""
    when = when or timezone.now()
    pack = seat.workshop.pack()
    Seat.objects.filter(pk=seat.pk).update(current_step=index, step_started_at=when)
    seat.current_step, seat.step_started_at = index, when
    ref = pack.step(index)
    if ref is not None and apply_setup and ref.step_number == 1 and ref.lesson.setup and seat.cluster_id:
        from cluster.runtime import api_for
        from workshops.lessons.play import apply_solution

        apply_solution(api_for(seat.cluster), ref.lesson.setup, on_error=_skipped)
    if ref is not None:
        StepProgress.objects.update_or_create(seat=seat, step_key=ref.key, defaults={
            "step_index": index, "started_at": when, "checks": {}, "state": {}, "first_passed_at": None})
        SeatEvent.objects.create(seat=seat, kind=SeatEvent.Kind.STEP_STARTED, step_key=ref.key, at=when)


def reset_seat(seat: Seat, step_index: int) -> Cluster:
    """Reset the seat's cluster to the start of a step: a new cluster built to that point replaces the old one
    (same name and API key, so the learner's map and kubeconfig keep working), and progress from that step on
    is forgotten."""
    pack = seat.workshop.pack()
    step_index = max(0, min(step_index, len(pack.steps) - 1))
    old = seat.cluster
    fresh = build_cluster(seat, step_index)
    with transaction.atomic():
        if old is not None:
            # Keep what the learner holds (the map's URL, the kubeconfig's key and token) pointing at the seat.
            name, key, token_hash = old.name, old.access_key, old.token_hash
            old.delete()  # its runner sees the row gone and stops simulating it
            Cluster.objects.filter(pk=fresh.pk).update(name=name, access_key=key, token_hash=token_hash)
            fresh.refresh_from_db()
        Seat.objects.filter(pk=seat.pk).update(cluster=fresh, reclaimed_at=None)
        limits.forget_seat()  # a queryset update sends no signal
        seat.cluster, seat.reclaimed_at = fresh, None
        StepProgress.objects.filter(seat=seat, step_index__gte=step_index).delete()
        key = pack.steps[step_index].key
        SeatEvent.objects.create(seat=seat, kind=SeatEvent.Kind.RESET, step_key=key,
                                 detail=f"cluster rebuilt to the start of step {step_index + 1}")
    start_step(seat, step_index, apply_setup=False)
    nudge_runner(fresh.pk)
    publish(seat.group(), {"type": "seat.reset", "cluster": fresh.name})
    publish_progress(seat)
    return fresh


def reclaim(seat: Seat, reason: str = "idle", outbox: list | None = None) -> bool:
    """Delete the seat's cluster (the learner can ask for a new one); progress is kept."""
    cluster = seat.cluster
    if cluster is None:
        return False
    Seat.objects.filter(pk=seat.pk).update(cluster=None, reclaimed_at=timezone.now())
    limits.forget_seat()  # a queryset update sends no signal
    cluster.delete()
    seat.cluster = None
    SeatEvent.objects.create(seat=seat, kind=SeatEvent.Kind.CLUSTER_RECLAIMED, detail=f"{cluster.name}: {reason}")
    publish(seat.group(), {"type": "seat.reclaimed"}, outbox)
    publish_tile(seat, None, outbox)
    return True


def reclaim_idle(idle: float | None = None, now=None, dry_run: bool = False,
                 outbox: list | None = None) -> list[Seat]:
    """Reclaim the clusters of seats whose learner has not been seen for `idle` seconds."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=idle if idle is not None else idle_seconds())
    seats = list(Seat.objects.select_related("workshop", "cluster")
                 .filter(cluster__isnull=False, last_seen__lt=cutoff))
    if not dry_run:
        for seat in seats:
            reclaim(seat, f"idle since {seat.last_seen:%Y-%m-%d %H:%M} UTC", outbox)
    return seats


def set_workshop_clock(workshop: Workshop, paused: bool) -> int:
    """Pause or resume every seat's cluster clock; returns how many clusters changed."""
    from cluster.runtime import set_clock

    Workshop.objects.filter(pk=workshop.pk).update(clock_paused=paused)
    workshop.clock_paused = paused
    changed = 0
    for cluster in Cluster.objects.filter(seat__workshop=workshop):
        set_clock(cluster, paused=paused)
        changed += 1
    publish(workshop.group(), {"type": "workshop.clock", "paused": paused})
    for seat in workshop.seats.all():
        publish(seat.group(), {"type": "workshop.clock", "paused": paused})
    return changed


def broadcast(workshop: Workshop, text: str) -> None:
    now = timezone.now()
    Workshop.objects.filter(pk=workshop.pk).update(broadcast=text, broadcast_at=now)
    workshop.broadcast, workshop.broadcast_at = text, now
    message = {"type": "workshop.broadcast", "text": text, "at": now.isoformat()}
    publish(workshop.group(), message)
    for seat in workshop.seats.all():
        publish(seat.group(), message)


def reveal(workshop: Workshop, step_key: str, shown: bool = True) -> None:
    keys = [k for k in workshop.revealed_steps if k != step_key]
    if shown:
        keys.append(step_key)
    Workshop.objects.filter(pk=workshop.pk).update(revealed_steps=keys)
    workshop.revealed_steps = keys
    for seat in workshop.seats.all():
        if shown:
            SeatEvent.objects.create(seat=seat, kind=SeatEvent.Kind.SOLUTION_REVEALED, step_key=step_key)
        publish(seat.group(), {"type": "workshop.reveal", "step": step_key, "shown": shown})
    publish(workshop.group(), {"type": "workshop.reveal", "step": step_key, "shown": shown})


def close(workshop: Workshop) -> None:
    Workshop.objects.filter(pk=workshop.pk).update(state=Workshop.State.CLOSED, closed_at=timezone.now())
    workshop.state = Workshop.State.CLOSED
    for seat in workshop.seats.all():
        publish(seat.group(), {"type": "workshop.closed"})
    publish(workshop.group(), {"type": "workshop.closed"})


def touch(seat: Seat, now=None) -> None:
    """The learner is here (page view, WebSocket): at most one write a minute."""
    now = now or timezone.now()
    if seat.last_seen is None or now - seat.last_seen > timedelta(seconds=60):
        Seat.objects.filter(pk=seat.pk).update(last_seen=now)
        seat.last_seen = now


# --- progress -----------------------------------------------------------------------------------------------

def evaluate_seat(seat: Seat, source=None, sim=None, outbox: list | None = None) -> bool:
    """Evaluate the seat's current step against its cluster; store what changed, advance past a passed step,
    and publish. Returns whether anything changed. `source` defaults to the cluster's stored objects."""
    if seat.cluster_id is None or not seat.workshop.is_open:
        return False
    if source is None:
        from cluster.store import DjangoStore

        source = StoreSource(DjangoStore(seat.cluster))
    try:
        pack = seat.workshop.pack()
    except LessonError:
        log.exception("workshop %s: its lesson pack does not load", seat.workshop_id)
        return False
    with transaction.atomic():
        # The loop's checker and a learner's page may evaluate the same seat at once: one at a time, from the
        # stored step, so a step is never passed (or started) twice.
        current = Seat.objects.select_for_update().filter(pk=seat.pk).values_list("current_step", "step_started_at")
        row = current.first()
        if row is None:
            return False
        seat.current_step, seat.step_started_at = row
        changed = _evaluate_locked(seat, pack, source, sim)
    if changed:
        publish_progress(seat, source, outbox)
    return changed


def _evaluate_locked(seat: Seat, pack, source, sim) -> bool:
    changed = False
    for _ in range(MAX_STEPS_PER_EVALUATION):
        ref = pack.step(seat.current_step)
        if ref is None:
            break
        progress = StepProgress.objects.filter(seat=seat, step_key=ref.key).first()
        if progress is None:
            progress = StepProgress.objects.create(seat=seat, step_key=ref.key, step_index=ref.index,
                                                   started_at=seat.step_started_at)
        results = evaluate_step(ref.step, source, progress.state, sim)
        checks = {r.id: r.as_dict() for r in results}
        state = {r.id: r.state for r in results if r.state}
        passed = all(r.passed for r in results)
        if checks == progress.checks and state == progress.state and not passed:
            break
        progress.checks, progress.state = checks, state
        now = timezone.now()
        if passed and progress.first_passed_at is None:
            progress.first_passed_at = now
        progress.save()
        changed = True
        if not passed:
            break
        SeatEvent.objects.create(seat=seat, kind=SeatEvent.Kind.STEP_PASSED, step_key=ref.key, at=now)
        start_step(seat, ref.index + 1, now)
    return changed


def seat_progress(seat: Seat) -> dict:
    """What the learner page shows of the seat's progress (language-neutral: details carry ja and en)."""
    pack = seat.workshop.pack()
    rows = {p.step_key: p for p in seat.progress.all()}
    steps = []
    for ref in pack.steps:
        row = rows.get(ref.key)
        steps.append({"key": ref.key, "index": ref.index, "passed": bool(row and row.first_passed_at),
                      "checks": row.checks if row else {}})
    return {
        "seat": seat.pk,
        "current": seat.current_step,
        "finished": seat.current_step >= len(pack.steps),
        "step_started_at": seat.step_started_at.timestamp(),
        "steps": steps,
        "cluster": seat.cluster.name if seat.cluster_id else None,
        "revealed": list(seat.workshop.revealed_steps),
        "paused": seat.workshop.clock_paused,
        "closed": not seat.workshop.is_open,
    }


def publish_progress(seat: Seat, source=None, outbox: list | None = None) -> None:
    publish(seat.group(), {"type": "seat.progress", "progress": seat_progress(seat)}, outbox)
    publish_tile(seat, source, outbox)


# --- the dashboard ------------------------------------------------------------------------------------------

def thumbnail(source) -> dict:
    """A cluster in a few bytes: each node (control plane first) and the STATUS of the learner's pods on it."""
    from engine.kubelet.nodes import CONTROL_PLANE_LABEL
    from engine.resources.tables import pod_status

    nodes = source.list("Node")
    pods = [p for p in source.list("Pod") if p["metadata"].get("namespace") not in SYSTEM_NAMESPACES]
    by_node: dict[str, list[str]] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod_status(pod))
    out = []
    for node in sorted(nodes, key=lambda n: (CONTROL_PLANE_LABEL not in (n["metadata"].get("labels") or {}),
                                             n["metadata"]["name"])):
        name = node["metadata"]["name"]
        ready = next((c.get("status") for c in (node.get("status") or {}).get("conditions") or []
                      if c.get("type") == "Ready"), "Unknown")
        out.append({"name": name, "ready": ready == "True",
                    "control_plane": CONTROL_PLANE_LABEL in (node["metadata"].get("labels") or {}),
                    "pods": by_node.get(name, [])})
    return {"nodes": out, "pending": by_node.get("", [])}


def tile(seat: Seat, source=None) -> dict:
    pack = seat.workshop.pack()
    ref = pack.step(seat.current_step)
    progress = StepProgress.objects.filter(seat=seat, step_key=ref.key).first() if ref else None
    checks = progress.checks if progress else {}
    if source is None and seat.cluster_id is not None:
        from cluster.store import DjangoStore

        source = StoreSource(DjangoStore(seat.cluster))
    return {
        "seat": seat.pk,
        "name": seat.display_name,
        "current": seat.current_step,
        "total": len(pack.steps),
        "finished": ref is None,
        "step_key": ref.key if ref else "",
        "step_title": {"ja": ref.step.title.ja, "en": ref.step.title.en} if ref else None,
        "lesson_number": ref.lesson.number if ref else None,
        "step_number": ref.step_number if ref else None,
        "step_started_at": seat.step_started_at.timestamp(),
        "checks": [{"id": c.id, "passed": bool((checks.get(c.id) or {}).get("passed")),
                    "description": {"ja": c.description.ja, "en": c.description.en}}
                   for c in (ref.step.checks if ref else [])],
        "passed_steps": StepProgress.objects.filter(seat=seat, first_passed_at__isnull=False).count(),
        "last_seen": seat.last_seen.timestamp(),
        "cluster": seat.cluster.name if seat.cluster_id else None,
        "reclaimed": seat.reclaimed_at is not None and seat.cluster_id is None,
        "thumbnail": thumbnail(source) if source is not None else None,
    }


def publish_tile(seat: Seat, source=None, outbox: list | None = None) -> None:
    publish(seat.workshop.group(), {"type": "seat.tile", "tile": tile(seat, source)}, outbox)


def dashboard(workshop: Workshop) -> dict:
    seats = list(workshop.seats.select_related("cluster", "workshop"))
    tiles = [tile(seat) for seat in seats]
    # Stuck learners first: unfinished, longest on their current step.
    tiles.sort(key=lambda t: (t["finished"], t["step_started_at"]))
    return {"workshop": workshop.pk, "paused": workshop.clock_paused, "closed": not workshop.is_open,
            "broadcast": workshop.broadcast, "revealed": list(workshop.revealed_steps), "tiles": tiles}


__all__ = ["broadcast", "close", "dashboard", "evaluate_seat", "join", "provision", "reclaim", "reclaim_idle",
           "reset_seat", "reveal", "seat_progress", "set_workshop_clock", "thumbnail", "tile", "InformerSource"]
