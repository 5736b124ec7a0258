"""exec, attach and port-forward at the protocol level: the WebSocket channel protocols, the SPDY session
kubectl tunnels for port-forward, and the HTTP answers kubectl's SPDY fallback reads.
(tests/kubectl/test_streams.py runs the same through the real kubectl.)"""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from channels.testing import WebsocketCommunicator

from cluster.api import spdy
from tests.api.conftest import status_of

V5 = "v5.channel.k8s.io"


def running_pod(api, name: str, image: str, node: str = "node-1", **container) -> dict:
    """A pod whose container the kubelet has started, without running the simulation."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"nodeName": node, "containers": [{"name": "app", "image": image, **container}]}}
    stored = api.create(pod)
    stored["status"].update({"phase": "Running", "podIP": "10.244.1.9", "containerStatuses": [
        {"name": "app", "image": image, "imageID": "", "ready": True, "restartCount": 0, "started": True,
         "state": {"running": {"startedAt": "2020-01-01T00:00:00Z"}}}]})
    return api.update(stored, subresource="status")


@pytest.fixture
def pods(k8s):
    from cluster.runtime import api_for

    api = api_for(k8s.cluster)
    running_pod(api, "bb", "busybox", command=["sleep", "3600"])
    running_pod(api, "web", "nginx")
    pending = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending", "namespace": "default"},
               "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx"}]}}
    api.create(pending)
    return k8s


def _app():
    from channels.routing import URLRouter

    from cluster.api.routing import websocket_urlpatterns

    return URLRouter(websocket_urlpatterns)


async def _exec(k8s, query: str, protocol: str = V5, sub: str = "exec", pod: str = "bb"):
    path = f"{k8s.prefix}/api/v1/namespaces/default/pods/{pod}/{sub}?{query}"
    communicator = WebsocketCommunicator(_app(), path, subprotocols=[protocol])
    connected, chosen = await communicator.connect()
    return communicator, connected, chosen


async def _frames_until_status(communicator) -> tuple[dict[int, bytes], dict]:
    out: dict[int, bytes] = {}
    while True:
        frame = await communicator.receive_from(timeout=5)
        if frame[0] == 3:
            return out, json.loads(frame[1:])
        out[frame[0]] = out.get(frame[0], b"") + frame[1:]


@pytest.mark.django_db(transaction=True)
async def test_exec_a_command_then_its_status(pods):
    communicator, connected, chosen = await _exec(pods, "command=cat&command=/etc/hostname&stdout=true&stderr=true")
    assert connected and chosen == V5
    out, status = await _frames_until_status(communicator)
    assert out == {1: b"bb\n"} and status == {"metadata": {}, "status": "Success"}
    await communicator.wait()


@pytest.mark.django_db(transaction=True)
async def test_an_instant_command_answers_no_sooner_than_a_runtime_starts_one(pods):
    """kubectl 1.32 reads the socket before it has made its streams and drops what comes first
    (kubernetes/kubernetes#131189): `kubectl cp`'s `test -d` lost its exit status that way."""
    import time

    from cluster.api.routing import COMMAND_START_SECONDS

    started = time.monotonic()
    communicator, connected, _ = await _exec(pods, "command=test&command=-d&command=/etc/hostname&stdout=true"
                                                   "&stderr=true")
    assert connected
    out, status = await _frames_until_status(communicator)
    assert time.monotonic() - started >= COMMAND_START_SECONDS > 0
    assert out == {} and status["reason"] == "NonZeroExitCode"
    await communicator.wait()


@pytest.mark.django_db(transaction=True)
async def test_exec_exit_code_is_a_non_zero_exit_status(pods):
    communicator, connected, _ = await _exec(pods, "command=sh&command=-c&command=exit+3&stdout=true&stderr=true",
                                             protocol="v4.channel.k8s.io")
    assert connected
    out, status = await _frames_until_status(communicator)
    assert out == {}
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert status["message"] == ("command terminated with non-zero exit code: error executing command "
                                 "[sh -c exit 3], exit code 3")
    communicator, _, _ = await _exec(pods, "command=ls&command=/nope&stdout=true&stderr=true")
    out, status = await _frames_until_status(communicator)
    assert list(out) == [2] and b"/nope" in out[2] and status["reason"] == "NonZeroExitCode"


@pytest.mark.django_db(transaction=True)
async def test_exec_reads_stdin_until_it_closes(pods):
    communicator, connected, _ = await _exec(pods, "command=sh&stdin=true&stdout=true&stderr=true")
    assert connected
    await communicator.send_to(bytes_data=b"\x00echo one\nech")
    assert await communicator.receive_from(timeout=5) == b"\x01one\n"
    await communicator.send_to(bytes_data=b"\x00o two")
    await communicator.send_to(bytes_data=b"\xff\x00")  # v5: stdin closed
    out, status = await _frames_until_status(communicator)
    assert out == {1: b"two\n"} and status["status"] == "Success"


@pytest.mark.django_db(transaction=True)
async def test_exec_with_a_tty_echoes_and_edits_the_line(pods):
    communicator, connected, _ = await _exec(pods, "command=sh&stdin=true&stdout=true&tty=true")
    assert connected
    assert await communicator.receive_from(timeout=5) == b"\x01/ # "
    await communicator.send_to(bytes_data=b"\x04" + json.dumps({"Width": 80, "Height": 24}).encode())  # resize
    await communicator.send_to(bytes_data=b"\x00pwx\x7fd\r")
    echoed = b""
    while not echoed.endswith(b"/\r\n/ # "):
        echoed += (await communicator.receive_from(timeout=5))[1:]
    assert echoed == b"pwx\b \bd\r\n/\r\n/ # "
    await communicator.send_to(bytes_data=b"\x00exit 2\r")
    out, status = await _frames_until_status(communicator)
    assert status["details"]["causes"][0]["message"] == "2"


@pytest.mark.django_db(transaction=True)
async def test_refused_requests_fail_the_handshake(pods):
    for pod, query in (("nope", "command=ls"), ("bb", "command=ls&container=other"), ("pending", "command=ls"),
                       ("bb", "")):
        communicator, connected, _ = await _exec(pods, query, pod=pod)
        assert not connected, (pod, query)
    communicator, connected, _ = await _exec(pods, "command=ls", protocol="base64.channel.k8s.io")
    assert not connected


@pytest.mark.django_db
def test_the_spdy_fallback_gets_the_refusal(pods):
    exec_url = "/api/v1/namespaces/default/pods/{}/exec?command=ls"
    body = status_of(pods.post(exec_url.format("nope")))
    assert body["reason"] == "NotFound" and body["message"] == 'pods "nope" not found'
    body = status_of(pods.post(exec_url.format("bb") + "&container=other"))
    assert body["reason"] == "BadRequest" and body["message"] == "container other is not valid for pod bb"
    response = pods.post(exec_url.format("pending"))
    assert response.status_code == 404 and response.content == b'container not found ("app")'
    body = status_of(pods.post(exec_url.format("bb")))
    assert body["code"] == 400 and body["message"] == "Upgrade request required"
    assert status_of(pods.post("/api/v1/namespaces/default/pods/nope/portforward"))["reason"] == "NotFound"


@pytest.mark.django_db(transaction=True)
async def test_attach_to_a_shell_started_with_stdin(k8s):
    from asgiref.sync import sync_to_async

    from cluster.runtime import api_for

    await sync_to_async(lambda: running_pod(api_for(k8s.cluster), "shell", "busybox", args=["sh"], stdin=True,
                                            tty=True))()
    communicator, connected, _ = await _exec(k8s, "stdin=true&stdout=true&tty=true", sub="attach", pod="shell")
    assert connected
    await communicator.send_to(bytes_data=b"\x00\r")  # the prompt was printed before we attached
    assert await communicator.receive_from(timeout=5) == b"\x01\r\n"
    assert await communicator.receive_from(timeout=5) == b"\x01/ # "


# --- port-forward: SPDY/3.1 inside the WebSocket ------------------------------------------------------------

class SpdyClient:
    """kubectl's side of the session, for the test: SYN_STREAM out, frames in."""

    def __init__(self):
        self.deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
        self.server = spdy.Session()  # reused for parsing what the server sends; its inflater reads SYN_REPLYs

    def syn_stream(self, stream_id: int, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
        block = self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">IIH", stream_id, 0, 0) + block
        return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, len(body)) + body


async def _forward(k8s, port: int, request: bytes | None):
    path = f"{k8s.prefix}/api/v1/namespaces/default/pods/web/portforward"
    communicator = WebsocketCommunicator(_app(), path, subprotocols=["SPDY/3.1+portforward.k8s.io"])
    connected, chosen = await communicator.connect()
    assert connected and chosen == "SPDY/3.1+portforward.k8s.io"
    client = SpdyClient()
    await communicator.send_to(bytes_data=client.syn_stream(1, {"streamtype": "error", "port": str(port),
                                                               "requestid": "0"}))
    await communicator.send_to(bytes_data=client.syn_stream(3, {"streamtype": "data", "port": str(port),
                                                               "requestid": "0"}))
    if request is not None:
        await communicator.send_to(bytes_data=spdy.Session.data(3, request))
    frames: list[spdy.Frame] = []
    while not any(f.type == 0 and f.stream_id == 1 and f.fin for f in frames):
        frames += client.server.feed(await communicator.receive_from(timeout=5))
    await communicator.disconnect()
    return frames


@pytest.mark.django_db(transaction=True)
async def test_port_forward_serves_the_apps_page(pods):
    frames = await _forward(pods, 80, b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert [(f.type, f.stream_id) for f in frames[:2]] == [(spdy.SYN_REPLY, 1), (spdy.SYN_REPLY, 3)]
    data = b"".join(f.data for f in frames if f.type == 0 and f.stream_id == 3)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Server: nginx/" in head
    assert b"Welcome to nginx!" in body and f"Content-Length: {len(body)}".encode() in head
    assert b"".join(f.data for f in frames if f.stream_id == 1) == b""


@pytest.mark.django_db(transaction=True)
async def test_port_forward_to_a_closed_port_reports_on_the_error_stream(pods):
    frames = await _forward(pods, 81, None)
    error = b"".join(f.data for f in frames if f.type == 0 and f.stream_id == 1).decode()
    assert error.startswith("error forwarding port 81 to pod ") and "connect: connection refused" in error
    assert any(f.type == 0 and f.stream_id == 3 and f.fin for f in frames)


def test_spdy_frames_round_trip():
    session = spdy.Session()
    reply = session.syn_reply(5, {"a": "b"})
    parsed = spdy.Session().feed(reply[:7])
    assert parsed == []  # an incomplete frame waits for the rest
    big = spdy.Session.data(7, b"x" * 70000, fin=True)
    frames = spdy.Session().feed(big)
    assert [len(f.data) for f in frames] == [0xFFFF, 70000 - 0xFFFF] and [f.fin for f in frames] == [False, True]
    with pytest.raises(spdy.ProtocolError):
        spdy.Session().feed(struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\0\0\0\1")
