"""WebSocket consumers: thin. They join a group, read from the database, and forward.

The map's consumer sends a snapshot built from the database on connect (and on the
page's "resync"), then forwards each "cluster.delta" the simulation loop publishes.
A lost delta costs nothing lasting: the page resyncs when its socket reconnects.

A delta goes to every page of the cluster (a hundred in a classroom), so the pages of a
process share one membership of the cluster's group (frontend.fanout): the delta is received
and encoded once, then written to each page's socket.
"""

import asyncio

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cluster.models import Cluster
from cluster.runtime import cluster_snapshot, current_runner, group_name
from frontend.access import may_view
from frontend.fanout import encode_delta, hub_for

# Close codes (4000-4999 are the application's): the page stops reconnecting on these.
CLOSE_NOT_FOUND = 4404
# Deltas a page holds while it reads its snapshot; past this it reads the snapshot again instead.
MAX_PENDING_DELTAS = 200


class ClusterMapConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    hub = None

    async def connect(self):
        pk = await self.visible_cluster(self.scope["url_route"]["kwargs"]["name"])
        if pk is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.cluster_pk = pk
        self.group = group_name(pk)
        self._pending: list[str] | None = []  # None once the snapshot is sent: deltas go out as they come
        self._stale = False
        self._snapshot_lock = asyncio.Lock()
        self.hub = hub_for(self.channel_layer, self.group)
        await self.hub.add(self)  # before reading the snapshot, so no delta falls between the two
        await self.accept()
        await self.send_snapshot()

    async def disconnect(self, code):
        if self.hub is not None:
            await self.hub.remove(self)
            self.hub = None

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "resync":
            await self.send_snapshot()

    async def deliver(self, text: str) -> None:
        """A delta from the hub, already encoded: sent now, or after the snapshot being read."""
        if self._pending is None:
            await self.send(text_data=text)
        elif len(self._pending) < MAX_PENDING_DELTAS:
            self._pending.append(text)
        else:
            self._pending.clear()
            self._stale = True  # too many to hold: the snapshot is read again once this one is sent

    async def cluster_delta(self, event):
        """A delta sent to this page's own channel (the hub forwards the group's through `deliver`)."""
        await self.deliver(encode_delta(event))

    async def cluster_resync(self, event):
        """The loop (re)started simulating this cluster: changes made meanwhile are only in the database."""
        await self.send_snapshot()

    async def send_snapshot(self):
        async with self._snapshot_lock:
            while True:
                if self._pending is None:
                    self._pending = []
                self._stale = False
                snapshot = await self.snapshot()
                if snapshot is None:  # the cluster was deleted meanwhile
                    await self.close(code=CLOSE_NOT_FOUND)
                    return
                await self.send_json(snapshot)
                # What arrived while the snapshot was read goes after it, in order, as a page's channel kept it
                # (still queued behind these while they are sent).
                while self._pending and not self._stale:
                    await self.send(text_data=self._pending.pop(0))
                if not self._stale:
                    self._pending = None
                    return

    @database_sync_to_async
    def visible_cluster(self, name: str) -> int | None:
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None or not may_view(cluster, self.scope.get("user"), self.scope.get("session")):
            return None
        return cluster.pk

    @database_sync_to_async
    def snapshot(self) -> dict | None:
        cluster = Cluster.objects.filter(pk=self.cluster_pk).first()
        return cluster_snapshot(cluster) if cluster is not None else None


class SimulationChannelConsumer(AsyncConsumer):
    """The `kubedojo.simulation` channel: nudges for this process's simulation runner."""

    async def cluster_nudge(self, message):
        runner = current_runner()
        if runner is not None:
            runner.nudge(message.get("cluster"))
