"""The learner's pages: the live cluster map, and the small endpoint its clock buttons call."""

import json

from django.conf import settings
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from cluster.models import Cluster
from cluster.runtime import SPEEDS, set_clock, virtual_now
from frontend.access import may_view

# Speeds the control endpoint accepts (the buttons offer SPEEDS).
MIN_SPEED, MAX_SPEED = 0.1, 100.0


def _cluster_for(request, name: str) -> Cluster:
    cluster = get_object_or_404(Cluster, name=name)
    if not may_view(cluster, request.user, request.session):
        raise Http404("No such cluster")
    return cluster


def index(request):
    return redirect("frontend:cluster-map", name=settings.KUBEDOJO_DEMO_CLUSTER)


def map_labels() -> dict:
    """Words the map's script shows, translated on the server."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "pause": _("Pause"),
        "resume": _("Resume"),
        "paused": _("Paused"),
        "noPods": _("No pods"),
        "noPending": _("No pods are waiting"),
        "noActivity": _("Nothing has happened yet"),
        "noObjects": _("No objects"),
        "requests": _("requests"),
        "pods": _("Pods"),
        "node": _("Node"),
        "ready": _("Ready"),
        "restarts": _("Restarts"),
        "ip": _("IP"),
        "owner": _("Owner"),
        "status": _("Status"),
        "unknownNode": _("Unknown node"),
        "controlPlane": _("control plane"),
        "requestsCaption": _("Requested / allocatable"),
        # What a component did, as the activity panel words it ("kube-scheduler bound Pod …").
        "verbs": {
            "create": _("created"),
            "update": _("updated"),
            "status": _("updated the status of"),
            "patch": _("patched"),
            "delete": _("deleted"),
            "bind": _("bound"),
        },
    }


@ensure_csrf_cookie
def cluster_map(request, name: str):
    cluster = _cluster_for(request, name)
    config = {
        "cluster": cluster.name,
        "ws": f"/ws/clusters/{cluster.name}/",
        "control": reverse("frontend:cluster-control", kwargs={"name": cluster.name}),
        "time": virtual_now(cluster),
        "speed": cluster.speed,
        "paused": cluster.paused,
        "speeds": list(SPEEDS),
        "labels": map_labels(),
    }
    return render(request, "frontend/cluster_map.html", {
        "cluster": cluster, "config": config, "speeds": [int(s) for s in SPEEDS],
        "components": ["kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager"],
    })


@require_POST
def cluster_control(request, name: str):
    """Pause, resume or change the speed: `{"paused": true}`, `{"speed": 5}`. CSRF-protected like any POST."""
    cluster = _cluster_for(request, name)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return HttpResponseBadRequest("the body must be JSON")
    if not isinstance(body, dict):
        return HttpResponseBadRequest("the body must be a JSON object")
    paused, speed = body.get("paused"), body.get("speed")
    if paused is not None and not isinstance(paused, bool):
        return HttpResponseBadRequest("paused must be true or false")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float)
                              or not MIN_SPEED <= speed <= MAX_SPEED):
        return HttpResponseBadRequest(f"speed must be a number from {MIN_SPEED} to {MAX_SPEED}")
    cluster = set_clock(cluster, speed=speed, paused=paused)
    return JsonResponse({"cluster": cluster.name, "time": virtual_now(cluster), "speed": cluster.speed,
                         "paused": cluster.paused})
