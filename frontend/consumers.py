"""WebSocket consumers: thin. They join a group, read from the database, and forward.

The map's consumer sends a snapshot built from the database on connect (and on the
page's "resync"), then forwards each "cluster.delta" the simulation loop publishes.
A lost delta costs nothing lasting: the page resyncs when its socket reconnects.
"""

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cluster.models import Cluster
from cluster.runtime import cluster_snapshot, current_runner, group_name
from frontend.access import may_view

# Close codes (4000-4999 are the application's): the page stops reconnecting on these.
CLOSE_NOT_FOUND = 4404


class ClusterMapConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        pk = await self.visible_cluster(self.scope["url_route"]["kwargs"]["name"])
        if pk is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.cluster_pk = pk
        self.group = group_name(pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_snapshot()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "resync":
            await self.send_snapshot()

    async def cluster_delta(self, event):
        await self.send_json({**event, "type": "delta"})

    async def cluster_resync(self, event):
        """The loop (re)started simulating this cluster: changes made meanwhile are only in the database."""
        await self.send_snapshot()

    async def send_snapshot(self):
        snapshot = await self.snapshot()
        if snapshot is None:  # the cluster was deleted meanwhile
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json(snapshot)

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
