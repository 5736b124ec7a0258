"""WebSocket routes under /k8s/: the streaming subresources `kubectl exec`, `attach` and `port-forward` open.

exec and attach speak the channel protocols (`v5.channel.k8s.io`, which kubectl 1.32 offers, and
`v4.channel.k8s.io`, which the official Python client also accepts): binary messages whose first byte
is the stream (0 stdin, 1 stdout, 2 stderr, 3 the error/status channel, 4 resize; v5 adds 255 to close a
stream). The command runs in engine.kubectl.remote's simulated shell. port-forward is in
cluster.api.portforward.

A request the apiserver would refuse (unknown container, pod not running) is refused at the handshake:
kubectl then retries over SPDY with a POST, and the HTTP view answers the same refusal as a Status, which
kubectl prints exactly as it prints the real apiserver's.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from cluster.api import portforward
from engine import errors

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
# How long the last output of a command has to reach the client before its status (see PodExecConsumer._relay).
OUTPUT_DRAIN_SECONDS = 0.05
# How long a command takes to start, as a container runtime's exec does: kubectl 1.32 (client-go) starts reading the
# WebSocket before it has created its streams, and drops what arrives meanwhile ("Unknown stream id 3,
# discarding message", kubernetes/kubernetes#131189). An instant `test -d` then lost its exit status, and
# `kubectl cp` took a file for a directory.
COMMAND_START_SECONDS = 0.05
STDIN, STATUS, RESIZE, CLOSE = 0, 3, 4, 255


def stream_params(query: dict[str, list[str]]) -> dict:
    """The exec/attach query parameters, as PodExecOptions / PodAttachOptions read them."""

    def flag(name: str, default: bool) -> bool:
        values = query.get(name)
        return default if not values else values[-1].lower() in ("1", "true", "t", "yes")

    return {"command": query.get("command", []), "container": (query.get("container") or [""])[-1],
            "stdin": flag("stdin", False), "stdout": flag("stdout", True), "stderr": flag("stderr", True),
            "tty": flag("tty", False)}


def open_remote(key: str, namespace: str, name: str, sub: str, params: dict, scope: dict | None = None):
    """The RemoteCommand for a request, or the ApiError / NotRunning the apiserver and kubelet answer."""
    from cluster.api import auth
    from cluster.api.common import resolve_cluster
    from engine.kubectl.remote import RemoteCommand, locate

    if scope is not None:
        auth.check_scope(scope, key)
    target = resolve_cluster(key)
    api = target.api()
    if sub == "exec" and not params["command"]:
        raise errors.bad_request("you must specify at least one command for the container")
    pod, container = locate(api, namespace, name, params["container"])
    return RemoteCommand(api, pod, container, params["command"], stdin=params["stdin"], tty=params["tty"],
                         now=target.now(), attach=sub == "attach")


class PodExecConsumer(AsyncWebsocketConsumer):
    remote = None

    async def connect(self):
        from engine.kubectl.remote import NotRunning

        kwargs = self.scope["url_route"]["kwargs"]
        offered = self.scope.get("subprotocols") or []
        protocol = next((p for p in CHANNEL_PROTOCOLS if p in offered), None)
        if protocol is None:
            await self.close()
            return
        params = stream_params(parse_qs(self.scope.get("query_string", b"").decode("latin-1")))
        self.want_stdout, self.want_stderr = params["stdout"], params["stderr"]
        try:
            self.remote = await database_sync_to_async(open_remote)(kwargs["key"], kwargs["namespace"],
                                                                   kwargs["name"], kwargs["sub"], params,
                                                                   self.scope)
        except (errors.ApiError, NotRunning):
            await self.close()  # refused at the handshake: kubectl's SPDY retry gets the Status
            return
        await self.accept(subprotocol=protocol)
        await asyncio.sleep(COMMAND_START_SECONDS)
        try:
            frames = await database_sync_to_async(self.remote.start)()
        except errors.ApiError as exc:
            await self._end(exc.status())
            return
        await self._relay(frames)

    async def receive(self, text_data=None, bytes_data=None):
        if self.remote is None or not bytes_data:
            return
        channel, payload = bytes_data[0], bytes_data[1:]
        if channel == STDIN:
            frames = await database_sync_to_async(self.remote.feed)(payload)
        elif channel == CLOSE and payload[:1] == bytes([STDIN]):
            frames = await database_sync_to_async(self.remote.end_input)()
        else:
            return  # resize: the simulated terminal has no size to change
        await self._relay(frames)

    async def _relay(self, frames) -> None:
        sent = False
        for channel, data in frames:
            if (channel == 1 and self.want_stdout) or (channel == 2 and self.want_stderr):
                await self.send(bytes_data=bytes([channel]) + data)
                sent = True
        if self.remote.finished:
            if sent:
                # kubectl may return as soon as the status arrives, before it has copied the output just
                # received (kubernetes/kubernetes#124571): a command's last output then came out empty.
                await asyncio.sleep(OUTPUT_DRAIN_SECONDS)
            await self._end(self.remote.status())

    async def _end(self, status: dict) -> None:
        await self.send(bytes_data=bytes([STATUS]) + json.dumps(status).encode())
        await self.close()
        self.remote = None


class RefuseConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.close()


POD = r"^k8s/(?P<key>[^/]+)/api/v1/namespaces/(?P<namespace>[^/]+)/pods/(?P<name>[^/]+)/"
websocket_urlpatterns = [
    re_path(POD + r"(?P<sub>exec|attach)$", PodExecConsumer.as_asgi()),
    re_path(POD + r"portforward$", portforward.PortForwardConsumer.as_asgi()),
    re_path(r"^k8s/", RefuseConsumer.as_asgi()),
]
