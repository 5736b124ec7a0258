"""One subscription per process to a cluster's messages, handed to all of the process's map pages.

The simulation loop publishes each delta to the channel-layer group `cluster_<pk>`. With every page a member
of its own, a classroom of a hundred pages costs a hundred copies of every delta in the layer (deep copies in
memory; scaled out, a hundred Redis writes and a hundred reads back) and a hundred JSON encodings, all before
the first page gets it. A `Hub` per cluster is instead the group's one member in this process: it receives a
message once, encodes a delta once, and hands the text to each page (`Page`, the map's consumer).

Pages keep today's order: a page that is (re)reading its snapshot queues the deltas that arrive meanwhile and
sends them after the snapshot, as its channel used to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Protocol

log = logging.getLogger("frontend")

# channels_redis forgets a group's members after a day (group_expiry); a hub can outlive that (a demo cluster
# with visitors around the clock), so it joins again this often.
REJOIN_SECONDS = 3600.0


class Page(Protocol):
    async def deliver(self, text: str) -> None: ...
    async def send_snapshot(self) -> None: ...


def encode_delta(event: dict) -> str:
    """The page's "delta" message for a "cluster.delta" event."""
    return json.dumps({**event, "type": "delta"})


class Hub:
    def __init__(self, layer, group: str):
        self.layer, self.group = layer, group
        self.pages: set[Page] = set()
        self.channel: str | None = None
        self._reader: asyncio.Task | None = None
        self._snapshots: set[asyncio.Task] = set()  # pages rereading the database after a resync
        self._lock = asyncio.Lock()  # joining and leaving the group, one at a time

    async def add(self, page: Page) -> None:
        async with self._lock:
            self.pages.add(page)
            if self.channel is None:
                # The default prefix: channels_redis reads all of a process's channels of one prefix in one loop,
                # and a second prefix would wait behind the first one's blocking read.
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self.channel)
                self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"fanout-{self.group}")

    async def remove(self, page: Page) -> None:
        async with self._lock:
            self.pages.discard(page)
            if self.pages or self.channel is None:
                return
            channel, reader, self.channel, self._reader = self.channel, self._reader, None, None
            if reader is not None:
                reader.cancel()  # not awaited: channels_redis may finish a cancelled receive only later
            with contextlib.suppress(Exception):
                await self.layer.group_discard(self.group, channel)

    async def _read(self) -> None:
        channel = self.channel
        rejoin_at = asyncio.get_running_loop().time() + REJOIN_SECONDS
        while True:
            if asyncio.get_running_loop().time() >= rejoin_at:
                rejoin_at += REJOIN_SECONDS
                with contextlib.suppress(Exception):
                    await self.layer.group_add(self.group, channel)
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("fan-out of %s: receiving failed; retrying", self.group, exc_info=True)
                await asyncio.sleep(1.0)
                continue
            await self.dispatch(message)

    async def dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "cluster.delta":
            text = encode_delta(message)
            for page in list(self.pages):
                try:
                    await page.deliver(text)
                except Exception:  # one page's socket failing must not keep the delta from the others
                    log.debug("fan-out of %s: a page failed", self.group, exc_info=True)
        elif kind == "cluster.resync":
            # The loop (re)started simulating the cluster: every page rereads the database, each on its own.
            for page in list(self.pages):
                task = asyncio.get_running_loop().create_task(self._resync(page))
                self._snapshots.add(task)  # referenced until done: the loop keeps only weak references
                task.add_done_callback(self._snapshots.discard)

    async def _resync(self, page: Page) -> None:
        try:
            await page.send_snapshot()
        except Exception:  # the page went away meanwhile
            log.debug("fan-out of %s: a page's snapshot failed", self.group, exc_info=True)


_hubs: dict[str, Hub] = {}
_hubs_loop: asyncio.AbstractEventLoop | None = None


def hub_for(layer, group: str) -> Hub:
    """This process's hub for a group (hubs belong to the event loop they were made on: a new loop, new hubs)."""
    global _hubs_loop
    loop = asyncio.get_running_loop()
    if loop is not _hubs_loop:
        _hubs.clear()
        _hubs_loop = loop
    hub = _hubs.get(group)
    if hub is None or hub.layer is not layer:
        hub = _hubs[group] = Hub(layer, group)
    return hub
