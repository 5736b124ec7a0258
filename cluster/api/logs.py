"""`pods/<name>/log`: a container's output as plain text, worded errors as the kubelet gives them.

The text is what the web terminal's `kubectl logs` shows (engine.kubectl.containers):
the image catalog's start-up lines or what the container's own script echoes;
otherwise the log is empty, which is what a container that printed nothing shows. `follow=true` keeps the stream open
until the pod is gone or has stopped, sending what appears meanwhile.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.http import HttpResponse, StreamingHttpResponse

from cluster.api.common import query_bool, query_int
from engine import errors
from engine.kubectl import containers as cinfo

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
    spec = next((c for c in _containers(pod) if c.get("name") == container), None)
    problem = cinfo.waiting_error(pod, spec) if spec is not None else None
    if problem is not None:
        raise problem


def log_lines(pod: dict, container: str, now: float, previous: bool = False) -> list[tuple[float, str]]:
    """(time, line) of what the container has printed so far, as the web terminal's `kubectl logs` shows it:
    the image's start-up lines, or what the container's own script echoes, then its last words."""
    spec = next((c for c in _containers(pod) if c.get("name") == container), None)
    if spec is None:
        return []
    return cinfo.log_lines(pod, spec, now, previous=previous)


def _stamped(lines: list[tuple[float, str]], timestamps: bool) -> list[str]:
    if not timestamps:
        return [text for _, text in lines]
    return [datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z " + text
            for when, text in lines]


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
    since = query_int(request, "sinceSeconds")
    timestamps = query_bool(request, "timestamps")
    now = req.target.now()
    timed = log_lines(pod, container, now, previous)
    seen = len(timed)
    if since is not None:
        timed = [(when, text) for when, text in timed if when >= now - since]
    shown = _select(_stamped(timed, timestamps), tail, limit_bytes)
    if not query_bool(request, "follow") or previous:
        return HttpResponse(_text(shown), content_type="text/plain")
    return StreamingHttpResponse(_follow(req, container, shown, seen, timestamps), content_type="text/plain")


async def _follow(req, container: str, first: list[str], seen: int, timestamps: bool):
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
        if lines is not None and len(lines) < seen:
            seen = 0  # the container restarted: its new run's log
        if lines is not None and len(lines) > seen:
            yield _text(_stamped(lines[seen:], timestamps))
            seen = len(lines)
        if stopped:
            return
