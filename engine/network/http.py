"""What a simulated application answers, and what a client prints when it cannot connect.

The model is the kubelet's (`engine.kubelet.probes.Subject`, `engine.kubelet.filesystem`), so a
probe and a curl always agree: a container listens on the ports its image's catalog entry lists,
from `start_seconds` after it started (never if its command replaces the image's server), until it
is told to stop: an app that shuts down gracefully on SIGTERM (nginx, httpd) stops accepting at
once; one that ignores SIGTERM (node-hello) serves until it is killed. The declared `containerPort`
is informational, as in Kubernetes: nginx listens on 80 whatever the manifest says.

Answers come from the container's files: nginx serves its welcome page (403 once index.html is
removed, its real 404 page for unknown paths), node-hello answers "Hello Kubernetes!" to every path,
httpd "It works!". Images that listen but do not speak HTTP on that port (redis, mysql, postgres,
php-fpm) make curl report an empty reply.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.clock import format_rfc3339, parse_rfc3339
from engine.kubelet import filesystem, probes
from engine.kubelet import images as catalog

CRLF = "\r\n"


def nginx_error_page(status: int, reason: str, server: str = "nginx") -> str:
    """nginx's built-in error page (ngx_http_special_response), CRLF line ends as nginx sends them."""
    return CRLF.join(["<html>", f"<head><title>{status} {reason}</title></head>", "<body>",
                      f"<center><h1>{status} {reason}</h1></center>", f"<hr><center>{server}</center>",
                      "</body>", "</html>", ""])


APACHE_404 = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
              "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n"
              "</body></html>\n")
GO_404 = "404 page not found\n"
REASONS = {200: "OK", 301: "Moved Permanently", 308: "Permanent Redirect", 404: "Not Found", 405: "Not Allowed",
           502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


@dataclass
class Listener:
    """Whether something in a pod accepts connections on a port, and why not."""

    accepting: bool
    reason: str  # listening | starting | not-running | stopping | no-listener | no-pod
    container: str = ""
    image: catalog.Image | None = None
    image_ref: str = ""
    detail: str = ""
    subject: object = None  # engine.kubelet.probes.Subject of the listening container


@dataclass
class HttpAnswer:
    status: int | None  # None: the server does not speak HTTP (curl: empty reply)
    body: str = ""
    headers: dict = field(default_factory=dict)


# --- containers ---------------------------------------------------------------------------------------
def _controller(sim, name: str):
    """The simulation's controller called `name` (None for a stand-in without controllers)."""
    find = getattr(sim, "find_controller", None)
    return find(name) if find is not None else None


def _statuses(pod: dict) -> dict[str, dict]:
    status = pod.get("status") or {}
    out = {cs.get("name"): cs for cs in status.get("initContainerStatuses") or []}
    out.update({cs.get("name"): cs for cs in status.get("containerStatuses") or []})
    return out


def serving_containers(pod: dict) -> list[dict]:
    """The containers that can serve: app containers and sidecars (init containers that keep running)."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + sidecars


def started_at(sim, pod: dict, cs: dict) -> float | None:
    """When the container's current run started, to the fraction of a second when the kubelet knows it."""
    running = (cs.get("state") or {}).get("running")
    if not running:
        return None
    stamp = running.get("startedAt")
    kubelet = _controller(sim, "kubelet")
    marks = getattr(kubelet, "marks", None) or {}
    exact = marks.get((pod["metadata"].get("uid", ""), f"started/{cs.get('name')}/{cs.get('restartCount', 0)}"))
    if exact is not None and format_rfc3339(exact) == stamp:
        return exact
    return parse_rfc3339(stamp)


def sigterm_at(sim, pod: dict) -> float | None:
    """When the pod's containers were sent SIGTERM (None while not terminating)."""
    meta = pod["metadata"]
    if not meta.get("deletionTimestamp"):
        return None
    kubelet = _controller(sim, "kubelet")
    if kubelet is not None and hasattr(kubelet, "killed"):
        return kubelet.killed.get(meta.get("uid", ""))
    deadline = parse_rfc3339(meta["deletionTimestamp"]) or 0.0
    return deadline - float(meta.get("deletionGracePeriodSeconds") or 0)


def speaks_http(image: catalog.Image | None, port: int) -> bool:
    """The catalog's rule (`Image.speaks_http`): its `http_ports`, else its first port, serve its `http` pages."""
    return image is not None and image.speaks_http(port)


def _candidates(pod: dict, port: int, memo: dict | None) -> list[tuple[dict, catalog.Image, dict]]:
    """(container, catalog entry, status) of the pod's serving containers whose image listens on `port`: the same
    for the same pod object, so kept in `memo`."""
    key = ("candidates", id(pod), port)
    found = memo.get(key) if memo is not None else None
    if found is not None and found[0] is pod:
        return found[1]
    statuses = _statuses(pod)
    candidates = []
    for container in serving_containers(pod):
        image = catalog.lookup(container.get("image") or "")
        if image is not None and port in image.ports:
            candidates.append((container, image, statuses.get(container["name"]) or {}))
    if memo is not None:
        memo[key] = (pod, candidates)  # holding the pod: its id cannot be reused while the entry lives
    return candidates


def listener(sim, pod: dict | None, port: int, now: float, memo: dict | None = None) -> Listener:
    """Who accepts a TCP connection to `pod`:`port` at `now` (the kubelet's probes use the same model:
    `engine.kubelet.probes.Subject`). `memo` keeps the containers' models across a batch of requests."""
    if pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return Listener(False, "no-pod", detail="no pod has this address any more")
    candidates = _candidates(pod, port, memo)
    if not candidates:
        return Listener(False, "no-listener", detail=f"nothing in the pod listens on port {port}")
    killed = sigterm_at(sim, pod)
    best = None
    for container, image, cs in candidates:
        name = container["name"]
        ref = container.get("image") or ""
        start = started_at(sim, pod, cs)
        if start is None:
            found = Listener(False, "not-running", name, image, ref, f"container {name} is not running")
        else:
            key = (pod["metadata"].get("uid"), pod["metadata"].get("resourceVersion"), name, start)
            subject = memo.get(key) if memo is not None else None
            if subject is None:
                cache = getattr(sim, "cache", None)  # configMap files and PersistentVolume data under the docroot
                subject = probes.Subject(pod, container, start, int(cs.get("restartCount") or 0),
                                         cache.get if cache is not None else None)
                if memo is not None:
                    memo[key] = subject
            if subject.serving_from == math.inf:
                found = Listener(False, "no-listener", name, image, ref,
                                 f"container {name} runs its own command, not the image's server")
            elif killed is not None and killed <= now + 1e-9 and image.stop_seconds is not None:
                found = Listener(False, "stopping", name, image, ref,
                                 f"container {name} got SIGTERM and stopped accepting connections")
            elif not subject.listening(port, now):
                found = Listener(False, "starting", name, image, ref,
                                 f"container {name} started {max(0.0, now - start):.2f}s ago; its app listens "
                                 f"{image.start_seconds:g}s after start")
            else:
                found = Listener(True, "listening", name, image, ref)
                found.subject = subject
                return found
        if best is None or found.reason in ("starting", "stopping"):
            best = found
    return best


# --- what the app answers ----------------------------------------------------------------------------------
def answer(heard: Listener, port: int, method: str, path: str, at: float, memo: dict | None = None) -> HttpAnswer:
    """The HTTP response of the app behind `heard` (a listening Listener) to `method path`. `memo` (a batch's) keeps
    the pages a container instance served."""
    image = heard.image
    if not speaks_http(image, port):
        return HttpAnswer(None)
    subject = getattr(heard, "subject", None)
    status, body = _page(subject.fs if subject is not None else None, heard.image_ref, path, at, memo)
    headers: dict = {}
    if image.repository == "docker.io/library/nginx":
        server = f"nginx/{image.version}"
        headers = {"Server": server, "Content-Type": "text/html"}
        if method not in ("GET", "HEAD"):
            return HttpAnswer(405, nginx_error_page(405, "Not Allowed", server), headers)
    elif image.repository == "docker.io/library/httpd":
        headers = {"Server": f"Apache/{image.version} (Unix)", "Content-Type": "text/html"}
    elif image.repository == "gcr.io/google-samples/node-hello":
        # server.js calls writeHead(200) then end(): Node sends no Content-Type and a chunked body.
        headers = {"Transfer-Encoding": "chunked"}
    return HttpAnswer(status, body, headers)


def _change_time(change: filesystem.FileChange) -> float:
    return change.at


def _page(fs: filesystem.ContainerFS | None, image_ref: str, path: str, at: float, memo: dict | None) -> tuple:
    """`filesystem.http_response`, which reads the container's files as they are at `at`: the same for any moment
    with the same changes applied (`ContainerFS.snapshot`), so a page is kept per instance, path and change count."""
    if memo is None or fs is None:
        return filesystem.http_response(fs, image_ref, path, at)
    applied = bisect.bisect_right(fs.changes, at + 1e-9, key=_change_time)
    key = ("page", id(fs), image_ref, path, applied)
    found = memo.get(key)
    if found is not None and found[0] is fs:
        return found[1]
    page = filesystem.http_response(fs, image_ref, path, at)
    memo[key] = (fs, page)  # holding fs: its id cannot be reused while the entry lives
    return page


def access_log_line(image: catalog.Image, client_ip: str, now: float, method: str, path: str, status: int,
                    size: int) -> str | None:
    """The line the app logs for a request (its catalog `request_log`), or None if it logs nothing."""
    if not image.request_log:
        return None
    line = image.request_log.format(client=client_ip, time=_log_time(now), path=path)
    return line.replace('"GET ', f'"{method} ', 1).replace('" 200 615 ', f'" {status} {size} ', 1)


CLF_TIME = "%d/%b/%Y:%H:%M:%S +0000"  # the access log's [time]


def _log_time(now: float) -> str:
    """`now` as the access log writes it. The text of a whole second is formatted once (the traffic generator logs
    several requests a second); a moment within a microsecond of the next second is formatted on its own, since
    the conversion rounds to microseconds and could carry into that second."""
    second = math.floor(now)
    if now - second < 0.999:
        return _second_text(second)
    return datetime.fromtimestamp(now, tz=UTC).strftime(CLF_TIME)


@functools.lru_cache(maxsize=256)
def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, tz=UTC).strftime(CLF_TIME)


# --- what clients print ----------------------------------------------------------------------------------------
def curl_error(response) -> str:
    """curl 8's message for a failed request (empty when the request got an HTTP answer)."""
    flow = response.flow
    req = flow["request"]
    host, port, took = req.get("host", ""), req.get("port", 0), int(round(flow["latency_ms"]))
    outcome = flow["outcome"]
    if outcome == "ok":
        return ""
    if flow.get("reason") == "unresolved":
        return f"curl: (6) Could not resolve host: {host}"
    if outcome in ("refused", "no-endpoints"):
        return f"curl: (7) Failed to connect to {host} port {port} after {took} ms: Couldn't connect to server"
    if outcome == "connection-reset":
        if flow.get("reason") == "empty-reply":
            return "curl: (52) Empty reply from server"
        if flow.get("reason") == "tls-error":
            return "curl: (35) OpenSSL/3.0.13: error:0A00010B:SSL routines::wrong version number"
        return "curl: (56) Recv failure: Connection reset by peer"
    return f"curl: (28) Failed to connect to {host} port {port} after {took} ms: Couldn't connect to server"


def wget_error(response) -> str:
    """busybox wget's message for a failed request or an HTTP error status."""
    flow = response.flow
    req = flow["request"]
    host = req.get("host", "")
    outcome = flow["outcome"]
    if outcome == "ok":
        status = response.status or 0
        if status >= 400:
            return f"wget: server returned error: HTTP/1.1 {status} {REASONS.get(status, '')}".rstrip()
        return ""
    if flow.get("reason") == "unresolved":
        return f"wget: bad address '{host}'"
    ip = flow.get("dest_ip") or host
    if outcome in ("refused", "no-endpoints"):
        return f"wget: can't connect to remote host ({ip}): Connection refused"
    if outcome == "connection-reset":
        return "wget: error getting response: Connection reset by peer"
    return "wget: download timed out"
