"""The learner's page and the JSON endpoints its panels call.

Every write goes through the apiserver (`cluster.runtime.api_for`), exactly as kubectl's would; what
only the running simulation knows (scheduler verdicts, traffic counters) comes through
`frontend.bridge`. Every endpoint answers a failure with a Kubernetes `Status` (`frontend.http`).

    GET  /clusters/<name>/                       the page
    POST /clusters/<name>/clock                  {"paused": bool, "speed": n, "step": seconds}
    POST /clusters/<name>/nodes                  {"size": "small"|"standard"|"large"}: add a worker
    POST /clusters/<name>/nodes/<node>/<action>  cordon, uncordon, drain, fail, recover
    GET  /clusters/<name>/tree                   the resource tree
    GET  /clusters/<name>/events                 the Events timeline
    GET  /clusters/<name>/object?kind=&namespace=&name=   YAML, describe, events (+ scheduling for a pod)
    POST /clusters/<name>/object/delete          {"kind", "namespace", "name"}
    POST /clusters/<name>/manifests/<mode>       {"yaml": "..."}; mode: validate (dryRun=All), apply, delete
    POST /clusters/<name>/traffic                {"kind": "Service"|"Ingress", "namespace", "name", "rate"}
    GET  /clusters/<name>/traffic                per-Service counters and the page's traffic sources
"""

from __future__ import annotations

import math

from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import ensure_csrf_cookie

from cluster.runtime import SPEEDS, api_for, set_clock, step_clock, virtual_now
from engine import errors
from frontend import bridge, examples, inspect, manifests, nodes
from frontend.http import BadInput, endpoint, json_body, not_found, text_field
from frontend.labels import page_labels

# Speeds the control endpoint accepts (the buttons offer SPEEDS).
MIN_SPEED, MAX_SPEED = 0.1, 100.0
MAX_STEP_SECONDS = 600.0
COMPONENTS = ("kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager")


def index(request):
    return redirect("frontend:cluster-map", name=settings.KUBEDOJO_DEMO_CLUSTER)


def _urls(name: str) -> dict:
    def url(view: str, **kwargs) -> str:
        return reverse(f"frontend:{view}", kwargs={"name": name, **kwargs})

    return {
        "ws": f"/ws/clusters/{name}/",
        "terminal": f"/ws/clusters/{name}/terminal/",
        "control": url("cluster-control"),
        "nodes": url("cluster-nodes"),
        "tree": url("cluster-tree"),
        "events": url("cluster-events"),
        "object": url("cluster-object"),
        "objectDelete": url("cluster-object-delete"),
        "manifests": url("cluster-manifests", mode="MODE").replace("MODE", "{mode}"),
        "nodeAction": url("cluster-node-action", node="NODE", action="ACTION").replace("NODE", "{node}")
        .replace("ACTION", "{action}"),
        "traffic": url("cluster-traffic"),
        "kubeconfig": f"/clusters/{name}/kubeconfig",
        "setLanguage": reverse("frontend:set-language"),
    }


@ensure_csrf_cookie
def cluster_map(request, name: str):
    from frontend.http import cluster_for

    try:
        cluster = cluster_for(request, name)
    except errors.ApiError:
        from django.http import Http404

        raise Http404("No such cluster") from None
    config = {
        "cluster": cluster.name,
        "time": virtual_now(cluster),
        "speed": cluster.speed,
        "paused": cluster.paused,
        "speeds": list(SPEEDS),
        "language": translation.get_language(),
        "labels": page_labels(),
        "examples": examples.examples(),
        "nodeSizes": list(nodes.NODE_SIZES),
        **_urls(cluster.name),
    }
    return render(request, "frontend/cluster_map.html", {
        "cluster": cluster, "config": config, "speeds": [int(s) for s in SPEEDS], "components": COMPONENTS,
        "kubeconfig_command": f".venv/bin/python manage.py kubeconfig --cluster {cluster.name} > "
                              f"{cluster.name}.kubeconfig",
    })


def _clock_state(cluster) -> dict:
    return {"cluster": cluster.name, "time": virtual_now(cluster), "speed": cluster.speed, "paused": cluster.paused}


@endpoint(("POST",))
def cluster_control(request, cluster):
    """Pause, resume, change the speed, or step a paused clock: `{"paused": true}`, `{"speed": 5}`, `{"step": 1}`."""
    body = json_body(request)
    paused, speed, step = body.get("paused"), body.get("speed"), body.get("step")
    if paused is not None and not isinstance(paused, bool):
        raise BadInput("paused must be true or false")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed)
                              or not MIN_SPEED <= speed <= MAX_SPEED):
        raise BadInput(f"speed must be a number from {MIN_SPEED} to {MAX_SPEED}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | float) or not math.isfinite(step)
                             or not 0 < step <= MAX_STEP_SECONDS):
        raise BadInput(f"step must be a number of seconds above 0 and at most {MAX_STEP_SECONDS:g}")
    if paused is not None or speed is not None:
        cluster = set_clock(cluster, speed=speed, paused=paused)
    if step is not None:
        if not cluster.paused:
            cluster = set_clock(cluster, paused=True)
        cluster = step_clock(cluster, float(step))
    return _clock_state(cluster)


@endpoint(("POST",))
def cluster_nodes(request, cluster):
    body = json_body(request)
    size = text_field(body, "size", required=False, default="standard", max_length=20)
    node = nodes.add_node(api_for(cluster), size)
    return {"node": node["metadata"]["name"], "action": "add"}


@endpoint(("POST",))
def cluster_node_action(request, cluster, node: str, action: str):
    if action not in nodes.ACTIONS:
        raise not_found(f'unknown node action "{action}": one of {", ".join(nodes.ACTIONS)}')
    api = api_for(cluster)
    result: dict = {"node": node, "action": action}
    if action in ("cordon", "uncordon"):
        nodes.set_unschedulable(api, node, action == "cordon")
    elif action == "drain":
        result.update(nodes.drain(api, node))
    else:
        current = api.get("Node", "", node)
        stopping = action == "fail"
        if stopping:
            nodes.check_may_fail(current)
        done = bridge.in_simulation(cluster, lambda sim: _kubelet_action(sim, node, stopping), default=None)
        if done is None:  # the simulation runs elsewhere: the annotation reaches its kubelet through the store
            nodes.set_stopped(api, node, stopping)
    return result


def _kubelet_action(sim, node: str, stopping: bool) -> bool:
    kubelet = sim.controller("kubelet")
    (kubelet.fail_node if stopping else kubelet.recover_node)(node)
    return True


@endpoint(("GET",))
def cluster_tree(request, cluster):
    return inspect.resource_tree(api_for(cluster))


@endpoint(("GET",))
def cluster_events(request, cluster):
    namespace = request.GET.get("namespace") or None
    return {"events": inspect.events(api_for(cluster), namespace), "time": virtual_now(cluster)}


@endpoint(("GET",))
def cluster_object(request, cluster):
    kind = text_field(request.GET, "kind", max_length=100)
    name = text_field(request.GET, "name")
    namespace = text_field(request.GET, "namespace", required=False, max_length=63)
    api = api_for(cluster)
    view = inspect.object_view(api, virtual_now(cluster), kind, namespace, name)
    if view["kind"] == "Pod":
        pod = api.get("Pod", view["namespace"], name)
        view["scheduling"] = {
            "node": (pod.get("spec") or {}).get("nodeName") or "",
            "waiting": inspect.scheduling_reason(api, pod),
            "explanation": bridge.explain(cluster, view["namespace"], name),
        }
    return view


@endpoint(("POST",))
def cluster_object_delete(request, cluster):
    body = json_body(request)
    info = inspect.resolve_kind(text_field(body, "kind", max_length=100))
    name = text_field(body, "name")
    namespace = text_field(body, "namespace", required=False, default="default", max_length=63)
    api = api_for(cluster)
    with api.store.atomic():
        api.delete(info.kind, namespace if info.namespaced else "", name)
    group = f".{info.group}" if info.group else ""
    return {"output": f'{info.kind.lower()}{group} "{name}" deleted\n'}


@endpoint(("POST",))
def cluster_manifests(request, cluster, mode: str):
    if mode not in manifests.MODES:
        raise not_found(f'unknown manifest operation "{mode}": one of {", ".join(manifests.MODES)}')
    body = json_body(request)
    text = body.get("yaml")
    if not isinstance(text, str):
        raise BadInput("yaml is required: the manifests' text")
    namespace = text_field(body, "namespace", required=False, default="default", max_length=63)
    return manifests.run(api_for(cluster), text, mode, namespace)


@endpoint(("GET", "POST"))
def cluster_traffic(request, cluster):
    if request.method == "GET":
        return {"services": bridge.service_stats(cluster) or {}, "sources": bridge.traffic_sources(cluster) or []}
    body = json_body(request)
    kind = text_field(body, "kind", required=False, default="Service", max_length=20)
    if kind not in ("Service", "Ingress"):
        raise BadInput('kind must be "Service" or "Ingress"')
    name = text_field(body, "name")
    namespace = text_field(body, "namespace", required=False, default="default", max_length=63)
    rate = body.get("rate", 5)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or not 0 <= rate <= 50:
        raise BadInput("rate must be a number of requests per second from 0 to 50")
    return bridge.set_traffic(cluster, kind, namespace, name, float(rate))
