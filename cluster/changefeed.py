"""Commit notifications: who learns at once that a cluster's store has a new revision.

kube-apiserver hands every committed change to its watchers as it happens (its watch cache is fed by
etcd's watch). Our change log is a table, so without help watch streams and the simulation loop only
find a change by polling it. This module turns "revision R of cluster C is committed" into wake-ups:

- In this process: `FEED` (a `ChangeFeed`, one per process) keeps, per cluster, the newest revision
  known to be committed and an asyncio event that watch streams wait on; listeners (the
  SimulationRunner, for the clusters it simulates) are called on the event loop.
- Across processes: each process that has watchers or a simulation for a cluster joins, with one
  channel of its own, the channel-layer group `changes_<pk>`; a commit is relayed to the group. Not
  with the in-memory layer: one process needs no relay.

Who announces: writes made through `api_for` (`NotifyingStore`, after the transaction commits) and
the simulation loop (after each tick's transaction). The same groups carry traffic flows recorded in a
process that does not simulate the cluster (a web terminal's `curl` served by a daphne process) to the
runner that does, which takes them in as its own (`listen_flows`). A notification only wakes: the woken reads the
change log, which holds the truth, so a lost notification costs a fallback poll and a duplicate one
costs a query. Writes made elsewhere (a management command's, with no event loop) are found by those
fallback polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from django.db import transaction

from cluster.store import DjangoStore

log = logging.getLogger(__name__)

# channels_redis forgets a group's members after a day (group_expiry): a long-lived process re-joins.
REJOIN_SECONDS = 3600.0
MESSAGE_TYPE = "changefeed.commit"
FLOW_MESSAGE_TYPE = "changefeed.flow"


def group_name(cluster_pk: int) -> str:
    """The channel-layer group relaying a cluster's commits between processes."""
    return f"changes_{cluster_pk}"


class ChangeFeed:
    """This process's commit notifications; the methods marked "loop" run on the bound event loop only."""

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.revisions: dict[int, int] = {}  # cluster pk -> newest revision known committed
        self._events: dict[int, asyncio.Event] = {}  # set (and replaced) when a cluster's revision moves
        self._listeners: dict[int, list[Callable[[int, int], None]]] = {}
        self._flow_listeners: dict[int, Callable[[int, dict], None]] = {}  # the runner simulating the cluster here
        self._interest: dict[int, int] = {}  # cluster pk -> watchers and runners here that follow it
        self._scheduled: dict[int, int] = {}  # the newest revision handed to the loop, per cluster (any thread)
        self._relay: _Relay | None = None
        self._single_process = False  # the in-memory channel layer: no relay
        self._lock = threading.Lock()

    # --- the event loop ---------------------------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Follow commits on `loop` (default: the running one): the ASGI app, watch streams and the runner
        call this. A new loop (each test has its own) starts from nothing: events belong to their loop."""
        loop = loop or asyncio.get_running_loop()
        if loop is self.loop:
            return
        with self._lock:
            self.loop = loop
            self.revisions.clear()
            self._events.clear()
            self._scheduled.clear()
            self._interest.clear()
            self._listeners.clear()
            self._flow_listeners.clear()
            self._relay = None
            self._single_process = False

    # --- announcing -------------------------------------------------------------------------------
    def committed(self, cluster_pk: int, revision: int, *, relay: bool = True) -> None:
        """Revision `revision` of the cluster is committed: wake who waits for it. From any thread; a no-op
        in a process with no event loop bound (a management command: fallback polls find its writes)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with self._lock:
            if revision <= self._scheduled.get(cluster_pk, 0):
                return  # a newer revision is on its way already: one wake-up covers both
            self._scheduled[cluster_pk] = revision
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(cluster_pk, revision, relay)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
                loop.call_soon_threadsafe(self._deliver, cluster_pk, revision, relay)

    def _deliver(self, cluster_pk: int, revision: int, relay: bool) -> None:  # loop
        if revision <= self.revisions.get(cluster_pk, 0):
            return
        self.revisions[cluster_pk] = revision
        with self._lock:
            self._scheduled[cluster_pk] = max(self._scheduled.get(cluster_pk, 0), revision)
        event = self._events.pop(cluster_pk, None)
        if event is not None:
            event.set()
        for listener in list(self._listeners.get(cluster_pk, ())):
            try:
                listener(cluster_pk, revision)
            except Exception:
                log.exception("change feed listener %r failed", listener)
        if relay:
            relayed = self._relay_for(None)
            if relayed is not None:
                relayed.publish(cluster_pk, revision)

    def flow(self, cluster_pk: int, flow: dict) -> bool:
        """A traffic flow recorded in this process for a cluster simulated in another: relayed to the cluster's
        group, where its runner takes it in. From any thread; False when nobody could hear it (no event loop
        bound, or a single process, whose runner `cluster.runtime.submit_flow` reaches directly)."""
        loop = self.loop
        if loop is None or loop.is_closed() or self._single_process:
            return False
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
            loop.call_soon_threadsafe(self._relay_flow, cluster_pk, flow)
            return True
        return False

    def _relay_flow(self, cluster_pk: int, flow: dict) -> None:  # loop
        relay = self._relay_for(None)
        if relay is not None:
            relay.publish_flow(cluster_pk, flow)

    def listen_flows(self, cluster_pk: int, listener: Callable[[int, dict], None]) -> None:  # loop
        """Call `listener(cluster_pk, flow)` on the loop for each flow relayed from another process."""
        self._flow_listeners[cluster_pk] = listener

    def unlisten_flows(self, cluster_pk: int, listener: Callable[[int, dict], None]) -> None:  # loop
        if self._flow_listeners.get(cluster_pk) == listener:
            del self._flow_listeners[cluster_pk]

    def _deliver_flow(self, cluster_pk: int, flow) -> None:  # loop
        listener = self._flow_listeners.get(cluster_pk)
        if listener is not None and isinstance(flow, dict):
            try:
                listener(cluster_pk, flow)
            except Exception:
                log.exception("change feed flow listener %r failed", listener)

    # --- following --------------------------------------------------------------------------------
    async def wait(self, cluster_pk: int, after: int, timeout: float) -> int:  # loop
        """Until a revision newer than `after` is known committed, or `timeout` seconds; the newest known."""
        self.bind()
        known = self.revisions.get(cluster_pk, 0)
        if known > after or timeout <= 0:
            return known
        event = self._events.get(cluster_pk)
        if event is None:
            event = self._events[cluster_pk] = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return self.revisions.get(cluster_pk, 0)

    def listen(self, cluster_pk: int, listener: Callable[[int, int], None]) -> None:  # loop
        """Call `listener(cluster_pk, revision)` on the loop for each newer revision of the cluster."""
        self._listeners.setdefault(cluster_pk, []).append(listener)

    def unlisten(self, cluster_pk: int, listener: Callable[[int, int], None]) -> None:  # loop
        listeners = self._listeners.get(cluster_pk, [])
        if listener in listeners:
            listeners.remove(listener)
        if not listeners:
            self._listeners.pop(cluster_pk, None)

    async def follow(self, cluster_pk: int, channel_layer=None) -> None:  # loop
        """Hear this cluster's commits made in other processes too (until `unfollow`): joins its group."""
        self.bind()
        self._interest[cluster_pk] = self._interest.get(cluster_pk, 0) + 1
        if self._interest[cluster_pk] > 1:
            return
        relay = self._relay_for(channel_layer)
        if relay is not None:
            await relay.join(cluster_pk)

    async def unfollow(self, cluster_pk: int) -> None:  # loop
        count = self._interest.get(cluster_pk, 0) - 1
        if count > 0:
            self._interest[cluster_pk] = count
            return
        self._interest.pop(cluster_pk, None)
        if self._relay is not None:
            await self._relay.leave(cluster_pk)

    def _relay_for(self, channel_layer) -> _Relay | None:
        if self._relay is None and not self._single_process:
            from channels.layers import InMemoryChannelLayer, get_channel_layer

            layer = channel_layer if channel_layer is not None else get_channel_layer()
            if layer is None or isinstance(layer, InMemoryChannelLayer):
                self._single_process = True  # one process: nobody else to tell or to hear from
                return None
            self._relay = _Relay(self, layer)
        return self._relay


class _Relay:
    """The cross-process half: one channel of this process in the groups of the clusters it follows."""

    def __init__(self, feed: ChangeFeed, layer):
        self.feed, self.layer = feed, layer
        self.channel: str | None = None
        self.groups: set[int] = set()
        self._tasks: set[asyncio.Task] = set()  # relays in flight
        self._listening: list[asyncio.Task] = []  # the reader and the re-joiner, while it follows any cluster
        self._lock = asyncio.Lock()  # joins and leaves one at a time (each may make or drop the channel)

    async def join(self, cluster_pk: int) -> None:
        async with self._lock:
            await self._join(cluster_pk)

    async def _join(self, cluster_pk: int) -> None:
        try:
            if self.channel is None:
                # The default prefix: channels_redis reads all of a process's channels of one prefix in one loop,
                # and a second prefix would wait behind the first one's blocking read.
                self.channel = await self.layer.new_channel()
                loop = asyncio.get_running_loop()
                self._listening = [loop.create_task(self._read(self.channel)), loop.create_task(self._rejoin())]
            self.groups.add(cluster_pk)
            await self.layer.group_add(group_name(cluster_pk), self.channel)
        except Exception:
            log.exception("change feed: joining the group of cluster %s failed (fallback polls still run)",
                          cluster_pk)

    async def leave(self, cluster_pk: int) -> None:
        async with self._lock:
            await self._leave(cluster_pk)

    async def _leave(self, cluster_pk: int) -> None:
        self.groups.discard(cluster_pk)
        if self.channel is None:
            return
        with contextlib.suppress(Exception):
            await self.layer.group_discard(group_name(cluster_pk), self.channel)
        if not self.groups:  # following nothing: stop listening (relaying this process's commits goes on)
            listening, self._listening, self.channel = self._listening, [], None
            for task in listening:
                task.cancel()  # not awaited: channels_redis may finish a cancelled receive only later

    def publish(self, cluster_pk: int, revision: int) -> None:
        """Relay a commit made here, without making the committer wait for the channel layer."""
        self._spawn(self._send(cluster_pk, revision))

    def publish_flow(self, cluster_pk: int, flow: dict) -> None:
        self._spawn(self._send_flow(cluster_pk, flow))

    async def _send_flow(self, cluster_pk: int, flow: dict) -> None:
        try:
            await self.layer.group_send(group_name(cluster_pk), {"type": FLOW_MESSAGE_TYPE, "cluster": cluster_pk,
                                                                 "flow": flow})
        except Exception:
            log.warning("change feed: relaying a flow of cluster %s failed", cluster_pk, exc_info=True)

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)  # a task nobody references may be collected before it ends
        task.add_done_callback(self._tasks.discard)

    async def _send(self, cluster_pk: int, revision: int) -> None:
        try:
            await self.layer.group_send(group_name(cluster_pk), {"type": MESSAGE_TYPE, "cluster": cluster_pk,
                                                                 "revision": revision})
        except Exception:
            log.warning("change feed: relaying revision %s of cluster %s failed", revision, cluster_pk,
                        exc_info=True)

    async def _read(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("change feed: receiving failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == MESSAGE_TYPE:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self.feed._deliver(int(message["cluster"]), int(message["revision"]), False)
            elif message.get("type") == FLOW_MESSAGE_TYPE:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self.feed._deliver_flow(int(message["cluster"]), message["flow"])

    async def _rejoin(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            for pk in list(self.groups):
                with contextlib.suppress(Exception):
                    await self.layer.group_add(group_name(pk), self.channel)


FEED = ChangeFeed()


class NotifyingStore(DjangoStore):
    """A DjangoStore whose writes announce their revision to `FEED` once their transaction commits (the
    store `api_for` gives to requests served outside the loop). Rolled back, nothing is announced."""

    def _next_revision(self) -> int:
        revision = super()._next_revision()
        cluster_pk = self.cluster_id
        transaction.on_commit(lambda: FEED.committed(cluster_pk, revision), using=self.using)
        return revision


__all__ = ["FEED", "ChangeFeed", "NotifyingStore", "group_name"]
