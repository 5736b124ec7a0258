"""`pods/<name>/log`: a container's output as plain text, worded errors as the kubelet gives them.

The text comes from the simulated image catalog (`engine.kubelet.images`) when it
can tell what a container has printed; otherwise the log is empty, which is what
a container that printed nothing shows. `follow=true` keeps the stream open
until the pod is gone or has stopped, sending what appears meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.http import HttpResponse, StreamingHttpResponse

from cluster.api.common import query_bool, query_int
from engine import errors

log = logging.getLogger("cluster.api")

FOLLOW_POLL_SECONDS = 0.5
FOLLOW_MAX_SECONDS = 3600.0


def _containers(pod: dict, init: bool = True) -> list[dict]:
    spec = pod.get("spec") or {}
    out = list(spec.get("containers") or [])
    if init:
        out += list(spec.get("initContainers") or []) + list(spec.get("ephemeralContainers") or [])
    return out


def pick_container(pod: dict, wanted: str) -> str:
    name = pod["metadata"]["name"]
    if not wanted:
        containers = _containers(pod, init=False)
        if len(containers) == 1:
            return containers[0].get("name", "")
        default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        if default:
            return default
        names = " ".join(c.get("name", "") for c in containers)
        init_names = " ".join(c.get("name", "") for c in (pod.get("spec") or {}).get("initContainers") or [])
        message = f"a container name must be specified for pod {name}, choose one of: [{names}]"
        if init_names:
            message += f" or one of the init containers: [{init_names}]"
        raise errors.bad_request(message)
    if not any(c.get("name") == wanted for c in _containers(pod)):
        raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def _container_status(pod: dict, container: str) -> dict | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return cs
    return None


def check_started(pod: dict, container: str, previous: bool) -> None:
    name = pod["metadata"]["name"]
    cs = _container_status(pod, container)
    if previous:
        if not cs or not (cs.get("lastState") or {}).get("terminated"):
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return
    state = (cs or {}).get("state") or {}
    if cs is None or ("waiting" in state and not (cs.get("lastState") or {}).get("terminated")):
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')


def log_lines(pod: dict, container: str, now: float, previous: bool = False) -> list[str]:
    """What the container has printed so far, one line each, from the simulated image catalog.

    A log function of the catalog (`container_log(pod, container, now, previous=...)`) wins when there is
    one; otherwise the image's start-up lines are shown once the container has started, then the message
    it printed before exiting, if it did.
    """
    try:
        from engine.kubelet import images
    except ImportError:
        return []
    try:
        fn = getattr(images, "container_log", None)
        if fn is not None:
            result = fn(pod, container, now, previous=previous)
            return result.splitlines() if isinstance(result, str) else [str(line) for line in result or []]
        return _catalog_lines(images, pod, container, previous)
    except Exception:  # noqa: BLE001 - the catalog's trouble must not break the API
        log.exception("image catalog: reading the log of %s/%s failed", pod["metadata"]["name"], container)
        return []


# The `{time}` each image writes in its start-up lines, as strftime formats.
TIME_FORMATS = {"nginx": "%Y/%m/%d %H:%M:%S", "httpd": "%a %b %d %H:%M:%S.000000 %Y", "redis": "%d %b %Y %H:%M:%S.000",
                "mysql": "%Y-%m-%dT%H:%M:%S.000000Z", "postgres": "%Y-%m-%d %H:%M:%S.000", "php": "%d-%b-%Y %H:%M:%S"}


def _catalog_lines(images, pod: dict, container: str, previous: bool) -> list[str]:
    spec = next((c for c in _containers(pod) if c.get("name") == container), None)
    image = images.lookup(spec.get("image", "")) if spec else None
    cs = _container_status(pod, container) or {}
    state = (cs.get("lastState") if previous else cs.get("state")) or {}
    run = state.get("running") or state.get("terminated")
    if image is None or not run:
        return []
    started = _parse_time(run.get("startedAt"))
    stamp = started.strftime(TIME_FORMATS.get(image.name, "%Y-%m-%dT%H:%M:%SZ")) if started else ""
    values = {"time": stamp, "version": image.version, "ip": (pod.get("status") or {}).get("podIP", "")}
    lines = [_fill(line, values) for line in image.logs]
    if "terminated" in state:
        behaviour = images.behaviour_of(spec, image)
        if behaviour.message:
            lines += _fill(behaviour.message, values).splitlines()
    return lines


def _fill(text: str, values: dict) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _parse_time(value):
    from datetime import datetime

    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _select(lines: list[str], tail: int | None, limit_bytes: int | None) -> list[str]:
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    if limit_bytes is not None:
        out, size = [], 0
        for line in lines:
            size += len(line.encode()) + 1
            if size > limit_bytes:
                break
            out.append(line)
        lines = out
    return lines


def _text(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def handle(request, req):
    api = req.target.api()
    pod = api.get("Pod", req.namespace, req.name)
    container = pick_container(pod, request.GET.get("container", ""))
    previous = query_bool(request, "previous")
    check_started(pod, container, previous)
    tail = query_int(request, "tailLines")
    limit_bytes = query_int(request, "limitBytes")
    if limit_bytes is not None and limit_bytes <= 0:
        raise errors.bad_request("limitBytes: Invalid value: must be greater than 0")
    now = req.target.now()
    lines = log_lines(pod, container, now, previous)
    shown = _select(lines, tail, limit_bytes)
    if not query_bool(request, "follow") or previous:
        return HttpResponse(_text(shown), content_type="text/plain")
    return StreamingHttpResponse(_follow(req, container, shown, len(lines)), content_type="text/plain")


async def _follow(req, container: str, first: list[str], seen: int):
    """Send the log so far, then new lines as they appear, until the pod stops or goes."""
    yield _text(first)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FOLLOW_MAX_SECONDS

    def poll():
        api = req.target.api()
        pod = api.store.get("Pod", req.namespace, req.name)
        if pod is None:
            return None, True
        lines = log_lines(pod, container, req.target.now())
        cs = _container_status(pod, container) or {}
        stopped = "terminated" in (cs.get("state") or {}) or bool(pod["metadata"].get("deletionTimestamp"))
        return lines, stopped

    while loop.time() < deadline:
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
        lines, stopped = await sync_to_async(poll)()
        if lines is not None and len(lines) > seen:
            yield _text(lines[seen:])
            seen = len(lines)
        if stopped:
            return
