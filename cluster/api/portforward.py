"""`pods/<name>/portforward`: what `kubectl port-forward` (pod or `svc/NAME`) connects through.

kubectl 1.32 opens a WebSocket offering `SPDY/3.1+portforward.k8s.io` and runs a SPDY session inside it
(cluster.api.spdy). Each local connection becomes an error stream and a data stream (headers
`streamtype`, `port`, `requestid`); the bytes of the data stream are what the local client sent. The
simulated container answers through engine.network.http, the same model `curl` inside the cluster and the
kubelet's probes use: nginx serves its welcome page, node-hello "Hello Kubernetes!", a port nothing
listens on is refused on the error stream, which kubectl prints as "an error occurred forwarding ...".
An app that does not speak HTTP (redis, mysql) accepts the connection and stays silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formatdate

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from cluster.api import spdy
from engine import errors

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
MAX_REQUEST_BYTES = 1 << 20
REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 403: "Forbidden", 404: "Not Found",
           405: "Not Allowed", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Connection:
    """One forwarded connection: its two streams and what the client has sent so far."""

    port: int
    error: int = 0
    data: int = 0
    pending: bytes = b""
    closed: bool = False


def _pod(key: str, namespace: str, name: str, scope: dict | None = None) -> tuple[dict, float]:
    from cluster.api import auth
    from cluster.api.common import resolve_cluster

    if scope is not None:
        auth.check_scope(scope, key)
    target = resolve_cluster(key)
    pod = target.api().get("Pod", namespace, name)
    if not (pod.get("spec") or {}).get("nodeName"):
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    return pod, target.now()


def _refusal(pod: dict, port: int) -> bytes:
    """containerd's words when nothing in the pod's network namespace accepts on the port."""
    uid = pod["metadata"].get("uid", "")
    return (f"error forwarding port {port} to pod {uid}, uid : failed to execute portforward in network namespace "
            f"\"/var/run/netns/cni-{uid}\": failed to connect to localhost:{port} inside namespace \"{uid}\", "
            f"IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: "
            f"connection refused ").encode()


def http_exchange(pod: dict, port: int, request: bytes, now: float) -> tuple[bytes | None, bytes, bool]:
    """(response or None, bytes left over, close after) for the first complete HTTP request in `request`;
    (None, request, False) while it is incomplete or the app does not speak HTTP."""
    from engine.network import http

    end = request.find(b"\r\n\r\n")
    if end < 0:
        return None, request, False
    head = request[:end].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0) if headers.get("content-length", "0").isdigit() else 0
    if len(request) < end + 4 + length:
        return None, request, False
    rest = request[end + 4 + length:]
    parts = head[0].split()
    method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("GET", "/")
    heard = http.listener(None, pod, port, now)
    if not heard.accepting or not http.speaks_http(heard.image, port):
        return None, rest, False
    answer = http.answer(heard, port, method, path.split("?", 1)[0] or "/", now)
    if answer.status is None:
        return None, rest, False
    body = answer.body.encode()
    close = headers.get("connection", "").lower() == "close"
    lines = [f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, '')}".rstrip()]
    out_headers = {"Date": formatdate(now, usegmt=True), **answer.headers}
    if out_headers.get("Transfer-Encoding") == "chunked":  # Node's http module: one chunk, then the last
        body = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        out_headers["Content-Length"] = str(len(body))
    out_headers["Connection"] = "close" if close else "keep-alive"
    lines += [f"{name}: {value}" for name, value in out_headers.items()]
    response = ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else body)
    return response, rest, close


class PortForwardConsumer(AsyncWebsocketConsumer):
    session: spdy.Session | None = None

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        if PROTOCOL not in (self.scope.get("subprotocols") or []):
            await self.close()
            return
        self.where = (kwargs["key"], kwargs["namespace"], kwargs["name"])
        try:
            await database_sync_to_async(_pod)(*self.where, self.scope)
        except errors.ApiError:
            await self.close()  # kubectl's SPDY retry gets the Status from the HTTP view
            return
        self.session = spdy.Session()
        self.connections: dict[str, Connection] = {}
        self.by_stream: dict[int, Connection] = {}
        await self.accept(subprotocol=PROTOCOL)

    async def receive(self, text_data=None, bytes_data=None):
        if self.session is None or not bytes_data:
            return
        try:
            frames = self.session.feed(bytes_data)
        except spdy.ProtocolError:
            await self.close()
            return
        for frame in frames:
            await self._frame(frame)

    async def _frame(self, frame: spdy.Frame) -> None:
        if frame.type == spdy.PING:
            await self.send(bytes_data=spdy.Session.ping(frame.data))
        elif frame.type == spdy.SYN_STREAM:
            await self._open(frame)
        elif frame.type == 0:
            conn = self.by_stream.get(frame.stream_id)
            if conn is None or conn.closed or frame.stream_id != conn.data:
                return
            conn.pending += frame.data
            if len(conn.pending) > MAX_REQUEST_BYTES:
                conn.pending = b""
            await self._serve(conn)
            if frame.fin and not conn.closed:
                await self._close(conn)  # the local client is done sending: the app closes too
        elif frame.type == spdy.RST_STREAM:
            conn = self.by_stream.get(frame.stream_id)
            if conn is not None:
                conn.closed = True
        elif frame.type == spdy.GOAWAY:
            await self.close()

    async def _open(self, frame: spdy.Frame) -> None:
        await self.send(bytes_data=self.session.syn_reply(frame.stream_id))
        headers = frame.headers
        request_id = headers.get("requestid", str(frame.stream_id))
        port_text = headers.get("port", "")
        conn = self.connections.get(request_id)
        if conn is None:
            conn = Connection(int(port_text) if port_text.isdigit() else 0)
            self.connections[request_id] = conn
        kind = headers.get("streamtype")
        if kind == "error":
            conn.error = frame.stream_id
        elif kind == "data":
            conn.data = frame.stream_id
        self.by_stream[frame.stream_id] = conn
        if conn.error and conn.data:
            await self._connected(conn)

    async def _connected(self, conn: Connection) -> None:
        """Both streams are there: the kubelet dials the port inside the pod."""
        from engine.network import http

        try:
            pod, now = await database_sync_to_async(_pod)(*self.where)
        except errors.ApiError as exc:
            await self._fail(conn, exc.message.encode())
            return
        if not 0 < conn.port < 65536:
            await self._fail(conn, f"invalid port {conn.port}".encode())
            return
        heard = http.listener(None, pod, conn.port, now)
        if not heard.accepting:
            await self._fail(conn, _refusal(pod, conn.port))

    async def _serve(self, conn: Connection) -> None:
        while conn.pending and not conn.closed:
            try:
                pod, now = await database_sync_to_async(_pod)(*self.where)
            except errors.ApiError as exc:
                await self._fail(conn, exc.message.encode())
                return
            response, conn.pending, close = http_exchange(pod, conn.port, conn.pending, now)
            if response is None:
                return
            await self.send(bytes_data=spdy.Session.data(conn.data, response))
            if close:
                await self._close(conn)

    async def _fail(self, conn: Connection, message: bytes) -> None:
        await self.send(bytes_data=spdy.Session.data(conn.error, message))
        await self._close(conn)

    async def _close(self, conn: Connection) -> None:
        conn.closed = True
        await self.send(bytes_data=spdy.Session.data(conn.data, fin=True) + spdy.Session.data(conn.error, fin=True))
