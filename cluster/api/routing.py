"""WebSocket routes under /k8s/: what `kubectl exec`, `attach` and `port-forward` open first.

Streaming a simulated shell to the real kubectl is not done yet (the web terminal
has it). Until then these handshakes end cleanly instead of in a routing error:
exec and attach accept the channel protocol kubectl offers and answer, on the
status channel, a Failure Status saying so, which kubectl prints as its error;
anything else is refused at the handshake, and kubectl's SPDY fallback then gets
a 400 Status from the HTTP view.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from engine import errors

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STATUS_CHANNEL = 3
NOT_YET = ("KubeDojo does not stream `kubectl {verb}` to the real kubectl yet; use the web terminal, "
           "which runs it against the same cluster")


def _check(key: str, namespace: str, name: str, sub: str) -> dict:
    """The Status to answer: NotFound for a missing cluster or pod, else the not-simulated Failure."""
    from cluster.api.common import resolve_cluster

    try:
        target = resolve_cluster(key)
        target.api().get("Pod", namespace, name)
    except errors.ApiError as exc:
        return exc.status()
    return {"metadata": {}, "status": "Failure", "reason": "BadRequest", "code": 400,
            "message": NOT_YET.format(verb=sub)}


class PodStreamConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        offered = self.scope.get("subprotocols") or []
        protocol = next((p for p in CHANNEL_PROTOCOLS if p in offered), None)
        if kwargs["sub"] not in ("exec", "attach") or protocol is None:
            await self.close()
            return
        status = await database_sync_to_async(_check)(kwargs["key"], kwargs["namespace"], kwargs["name"],
                                                      kwargs["sub"])
        await self.accept(subprotocol=protocol)
        await self.send(bytes_data=bytes([STATUS_CHANNEL]) + json.dumps(status).encode())
        await self.close()

    async def receive(self, text_data=None, bytes_data=None):
        pass  # stdin and resize frames: nothing runs to read them


class RefuseConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.close()


websocket_urlpatterns = [
    re_path(r"^k8s/(?P<key>[^/]+)/api/v1/namespaces/(?P<namespace>[^/]+)/pods/(?P<name>[^/]+)/"
            r"(?P<sub>exec|attach|portforward)$", PodStreamConsumer.as_asgi()),
    re_path(r"^k8s/", RefuseConsumer.as_asgi()),
]
