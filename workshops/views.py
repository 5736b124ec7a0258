"""Workshop pages: the learner's (join, lesson beside the cluster map, progress, kubeconfig) and the instructor's
(workshops, dashboard, actions, a seat read-only, CSV, QR code).

    GET/POST /join/[<code>/]                        join with a code and a display name (no account)
    GET      /w/<code>/                             the learner's page (the seat's cookie)
    GET      /w/<code>/progress                     JSON: checks evaluated now, step, broadcast, revealed solutions
    GET      /w/<code>/kubeconfig                   the seat cluster's kubeconfig
    GET/POST /workshops/                            the instructor's workshops; POST creates one
    GET      /workshops/<pk>/                       the dashboard (tiles pushed over ws/workshops/<pk>/)
    POST     /workshops/<pk>/broadcast|clock|reveal|close
    GET      /workshops/<pk>/seats/<seat>/          a seat, read-only: progress, terminal history, live map
    POST     /workshops/<pk>/seats/<seat>/reset     reset the seat's cluster to the start of a step
    GET      /workshops/<pk>/export.csv, qr.svg

A learner's cookie (per workshop, only its hash stored) reaches only that seat; its cluster is added to the
browser session's list (frontend.access), which is what lets the map and the kubeconfig download open it.
Instructors (staff) reach their own workshops, superusers every workshop; anyone else gets 403.
"""

from __future__ import annotations

import csv
import functools
import io

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engine import errors
from frontend.http import json_response
from workshops import history, services
from workshops.forms import JoinForm, WorkshopForm
from workshops.labels import labels
from workshops.models import Seat, SeatEvent, StepProgress, Workshop, normalise_code
from workshops.text import language_for, markdown, pick

# Commands whose output the read-only seat view shows, as the learner's kubectl would print it.
SEAT_VIEW_COMMANDS = ("get nodes -o wide", "get all -o wide", "get events")
MAX_BROADCAST = 500
# How often the learner's page and the dashboard poll (milliseconds) while their WebSocket is down (it pushes
# every change while it is up: workshops.consumers).
POLL_MS = 10000


def _status(code: int, reason: str, message: str) -> HttpResponse:
    return json_response(errors.ApiError(code, reason, message).status(), status=code)


# --- the learner ----------------------------------------------------------------------------------------------

def _open_workshop(code: str) -> Workshop:
    workshop = Workshop.objects.filter(join_code=normalise_code(code)).first()
    if workshop is None:
        raise Http404("no workshop has this code")
    return workshop


@require_http_methods(["GET", "POST"])
def join(request, code: str = ""):
    workshop = Workshop.objects.filter(join_code=normalise_code(code)).first() if code else None
    if workshop is not None and request.method == "GET":
        seat = services.seat_from_request(request, workshop)
        if seat is not None:  # came back: the cookie is the seat
            return redirect("workshops:learner", code=workshop.join_code)
    form = JoinForm(request.POST or None, initial={"code": workshop.display_code if workshop else code})
    error = ""
    if request.method == "POST" and form.is_valid():
        workshop = Workshop.objects.filter(join_code=form.cleaned_data["code"]).first()
        if workshop is None:
            error = "no-workshop"
        else:
            try:
                seat, token = services.join(workshop, form.cleaned_data["display_name"])
            except services.WorkshopClosed:
                error = "closed"
            except services.WorkshopFull:
                error = "full"
            else:
                services.admit_to_cluster(request.session, seat.cluster)
                response = redirect("workshops:learner", code=workshop.join_code)
                response.set_cookie(services.cookie_name(workshop), token, max_age=services.SEAT_COOKIE_MAX_AGE,
                                    httponly=True, samesite="Lax", secure=request.is_secure())
                return response
    status = 200 if request.method == "GET" or not error else 409 if error in ("closed", "full") else 404
    ui = labels(language_for(request, workshop))
    return render(request, "workshops/join.html", {"form": form, "workshop": workshop, "error": error, "ui": ui,
                                                   "error_text": ui.get(error, "")}, status=status)


def _seat_or_redirect(request, code: str):
    workshop = _open_workshop(code)
    seat = services.seat_from_request(request, workshop)
    return workshop, seat


def _step_context(ref, language: str) -> dict:
    return {
        "index": ref.index,
        "key": ref.key,
        "lesson_number": ref.lesson.number,
        "lesson_title": ref.lesson.title.get(language),
        "lesson_intro": markdown(ref.lesson.intro.get(language)) if ref.step_number == 1 else "",
        "step_number": ref.step_number,
        "title": ref.step.title.get(language),
        "text": markdown(ref.step.text.get(language)),
        "checks": [{"id": c.id, "description": c.description.get(language)} for c in ref.step.checks],
    }


@ensure_csrf_cookie
@require_GET
def learner(request, code: str):
    workshop, seat = _seat_or_redirect(request, code)
    if seat is None:
        return redirect("workshops:join-code", code=workshop.join_code)
    services.touch(seat)
    if seat.cluster_id is None and workshop.is_open:
        services.provision(seat)  # reclaimed while away: a fresh cluster at the start of the current step
    services.admit_to_cluster(request.session, seat.cluster)
    language = language_for(request, workshop)
    pack = workshop.pack()
    return render(request, "workshops/learner.html", {
        "workshop": workshop, "seat": seat, "language": language, "ui": labels(language),
        "config": {"progressUrl": reverse("workshops:progress", kwargs={"code": workshop.join_code}),
                   "current": seat.current_step, "pollMs": POLL_MS,
                   "socketPath": f"/ws/w/{workshop.join_code}/?lang={language}"},
        "steps": [_step_context(ref, language) for ref in pack.steps],
        "progress_url": reverse("workshops:progress", kwargs={"code": workshop.join_code}),
        "kubeconfig_url": reverse("workshops:kubeconfig", kwargs={"code": workshop.join_code}),
        "map_url": reverse("frontend:cluster-map", kwargs={"name": seat.cluster.name}) if seat.cluster else "",
    })


def _solution_context(ref, language: str) -> dict:
    solution = ref.step.solution
    return {"commands": solution.commands, "files": solution.files,
            "note": solution.note.get(language) if solution.note else ""}


def progress_payload(seat: Seat, language: str) -> dict:
    workshop = seat.workshop
    pack = workshop.pack()
    data = services.seat_progress(seat)
    for step in data["steps"]:
        step["checks"] = {cid: {"passed": bool(r.get("passed")), "detail": pick(r.get("detail"), language)}
                          for cid, r in step["checks"].items()}
    data["solutions"] = {ref.key: _solution_context(ref, language) for ref in pack.steps
                         if ref.key in workshop.revealed_steps}
    data["broadcast"] = workshop.broadcast
    data["broadcast_at"] = workshop.broadcast_at.isoformat() if workshop.broadcast_at else None
    data["map_url"] = reverse("frontend:cluster-map", kwargs={"name": seat.cluster.name}) if seat.cluster else ""
    data["cluster_id"] = seat.cluster_id
    return data


@require_GET
def progress(request, code: str):
    workshop, seat = _seat_or_redirect(request, code)
    if seat is None:
        return _status(403, "Forbidden", "this browser has no seat in the workshop: join it first")
    services.touch(seat)
    # Only read: the simulation loop's checker evaluates the seat's checks every second (workshops.checker), so a
    # class polling its pages adds no write to the database the loop writes to.
    services.admit_to_cluster(request.session, seat.cluster)  # a reset gives the seat a new cluster
    return json_response(progress_payload(seat, language_for(request, workshop)))


@require_GET
def kubeconfig(request, code: str):
    from cluster.api.kubeconfig import kubeconfig_yaml, server_url

    workshop, seat = _seat_or_redirect(request, code)
    if seat is None or seat.cluster is None:
        return _status(403, "Forbidden", "this browser has no seat with a cluster in the workshop")
    cluster = seat.cluster
    base = request.build_absolute_uri("/").rstrip("/")
    text = kubeconfig_yaml(cluster, server_url(cluster, base), cluster.issue_token())
    response = HttpResponse(text.encode(), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kubeconfig-{cluster.name}.yaml"'
    response["Cache-Control"] = "no-store"
    return response


# --- the instructor -------------------------------------------------------------------------------------------

def instructor(view):
    """Staff only (others go to the admin's login); the workshop's owner or a superuser, else 403."""
    @staff_member_required
    @functools.wraps(view)
    def wrapped(request, pk: int, *args, **kwargs):
        workshop = get_object_or_404(Workshop, pk=pk)
        if not workshop.owned_by(request.user):
            return HttpResponseForbidden("This workshop is another instructor's.")
        return view(request, workshop, *args, **kwargs)
    return wrapped


@staff_member_required
@require_http_methods(["GET", "POST"])
def index(request):
    language = language_for(request)
    form = WorkshopForm(request.POST or None, language=language)
    if request.method == "POST" and form.is_valid():
        workshop = form.save(commit=False)
        workshop.owner = request.user
        workshop.save()
        return redirect("workshops:dashboard", pk=workshop.pk)
    workshops = Workshop.objects.all() if request.user.is_superuser else Workshop.objects.filter(owner=request.user)
    return render(request, "workshops/index.html", {"form": form, "workshops": workshops.select_related("owner")},
                  status=400 if request.method == "POST" else 200)


def _join_url(request, workshop: Workshop) -> str:
    return request.build_absolute_uri(reverse("workshops:join-code", kwargs={"code": workshop.join_code}))


@ensure_csrf_cookie
@instructor
def dashboard(request, workshop: Workshop):
    language = language_for(request, workshop)
    pack = workshop.pack()
    return render(request, "workshops/dashboard.html", {
        "workshop": workshop, "join_url": _join_url(request, workshop), "pack": pack.pack, "language": language,
        "config": {"url": reverse("workshops:dashboard-json", kwargs={"pk": workshop.pk}), "pollMs": POLL_MS,
                   "socketPath": f"/ws/workshops/{workshop.pk}/?lang={language}",
                   "steps": [f"{ref.lesson.number}.{ref.step_number}" for ref in pack.steps]},
        "steps": [{"index": ref.index, "key": ref.key, "label": f"{ref.lesson.number}.{ref.step_number}",
                   "title": ref.step.title.get(language), "revealed": ref.key in workshop.revealed_steps}
                  for ref in pack.steps],
    })


def localise_tile(tile: dict, workshop_pk: int, language: str) -> dict:
    """A seat's tile (services.tile) as the dashboard shows it: one language, and the seat's links."""
    tile["step_title"] = pick(tile["step_title"], language)
    tile["checks"] = [{**check, "description": pick(check["description"], language)} for check in tile["checks"]]
    tile["url"] = reverse("workshops:seat", kwargs={"pk": workshop_pk, "seat": tile["seat"]})
    tile["reset_url"] = reverse("workshops:seat-reset", kwargs={"pk": workshop_pk, "seat": tile["seat"]})
    return tile


def dashboard_payload(workshop: Workshop, language: str) -> dict:
    data = services.dashboard(workshop)
    data["tiles"] = [localise_tile(tile, workshop.pk, language) for tile in data["tiles"]]
    return data


@instructor
def dashboard_json(request, workshop: Workshop):
    return json_response(dashboard_payload(workshop, language_for(request, workshop)))


@require_POST
@instructor
def act(request, workshop: Workshop, action: str):
    if action == "broadcast":
        services.broadcast(workshop, request.POST.get("text", "").strip()[:MAX_BROADCAST])
    elif action == "clock":
        services.set_workshop_clock(workshop, paused=request.POST.get("paused") == "true")
    elif action == "reveal":
        key = request.POST.get("step", "")
        if workshop.pack().index_of(key) is None:
            return _status(400, "BadRequest", f"the lesson pack has no step {key!r}")
        services.reveal(workshop, key, shown=request.POST.get("shown", "true") == "true")
    elif action == "close":
        services.close(workshop)
    else:
        raise Http404("no such action")
    return redirect("workshops:dashboard", pk=workshop.pk)


def _seat_of(workshop: Workshop, seat_pk: int) -> Seat:
    return get_object_or_404(Seat.objects.select_related("workshop", "cluster"), pk=seat_pk, workshop=workshop)


@instructor
def seat_view(request, workshop: Workshop, seat: int):
    from cluster.runtime import api_for, virtual_now
    from engine import kubectl

    seat_obj = _seat_of(workshop, seat)
    language = language_for(request, workshop)
    outputs = []
    if seat_obj.cluster is not None:
        api = api_for(seat_obj.cluster)
        for command in SEAT_VIEW_COMMANDS:
            # Only `get`: the instructor watches, the seat's cluster stays as the learner left it.
            result = kubectl.run(command, api, virtual_now(seat_obj.cluster), kubectl.Context())
            outputs.append({"command": f"kubectl {command}", "text": result.stdout + result.stderr})
    pack = workshop.pack()
    rows = {p.step_key: p for p in StepProgress.objects.filter(seat=seat_obj)}
    steps = []
    for ref in pack.steps:
        row = rows.get(ref.key)
        steps.append({"index": ref.index, "label": f"{ref.lesson.number}.{ref.step_number}",
                      "title": ref.step.title.get(language), "passed_at": row.first_passed_at if row else None,
                      "current": ref.index == seat_obj.current_step,
                      "checks": [{"description": c.description.get(language),
                                  "passed": bool(((row.checks if row else {}).get(c.id) or {}).get("passed")),
                                  "detail": pick(((row.checks if row else {}).get(c.id) or {}).get("detail"),
                                                 language)} for c in ref.step.checks]})
    return render(request, "workshops/seat.html", {
        "workshop": workshop, "seat": seat_obj, "steps": steps, "outputs": outputs,
        "events": SeatEvent.objects.filter(seat=seat_obj).order_by("-at", "-pk")[:100],
        "commands": history.recent_commands(seat_obj),
        # The seat's map, read-only: the map's own WebSocket only sends (snapshot, deltas), and the seat page draws
        # it without the map page's controls (terminal, editor, node actions), which would change the cluster.
        "config": {"socketPath": f"/ws/clusters/{seat_obj.cluster.name}/" if seat_obj.cluster else "",
                   "watchPath": f"/ws/workshops/{workshop.pk}/seats/{seat_obj.pk}/"},
    })


@require_POST
@instructor
def seat_reset(request, workshop: Workshop, seat: int):
    seat_obj = _seat_of(workshop, seat)
    try:
        step = int(request.POST.get("step", seat_obj.current_step))
    except ValueError:
        return _status(400, "BadRequest", "step must be a step number")
    if not 0 <= step < len(workshop.pack().steps):
        return _status(400, "BadRequest", f"the lesson pack has no step {step}")
    services.reset_seat(seat_obj, step)
    return redirect(request.POST.get("next") or reverse("workshops:dashboard", kwargs={"pk": workshop.pk}))


@instructor
def export_csv(request, workshop: Workshop):
    pack = workshop.pack()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seat", "display_name", "joined", "last_seen", "current_step", "steps_passed",
                     *[f"{ref.key} passed_at" for ref in pack.steps]])
    passed = {}
    for row in StepProgress.objects.filter(seat__workshop=workshop, first_passed_at__isnull=False):
        passed[(row.seat_id, row.step_key)] = row.first_passed_at
    for seat in workshop.seats.all():
        current = pack.step(seat.current_step)
        times = [passed.get((seat.pk, ref.key)) for ref in pack.steps]
        writer.writerow([seat.pk, seat.display_name, seat.created.isoformat(), seat.last_seen.isoformat(),
                         current.key if current else "finished", sum(1 for t in times if t),
                         *[t.isoformat() if t else "" for t in times]])
    response = HttpResponse(out.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="workshop-{workshop.join_code}-{stamp}.csv"'
    return response


@instructor
def qr_svg(request, workshop: Workshop):
    import segno

    out = io.BytesIO()
    segno.make(_join_url(request, workshop), error="m").save(out, kind="svg", scale=8, border=2)
    return HttpResponse(out.getvalue(), content_type="image/svg+xml")
