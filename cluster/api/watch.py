"""Watch streams: `?watch=true` answered as a stream of `{"type": ..., "object": ...}` lines.

The stream reads `ApiServer.watch` (the store's change log) when the cluster has a
new revision: `cluster.changefeed` wakes it as soon as a write is committed (by a
request in this process or another, or by the simulation loop), and it reads
anyway every POLL_SECONDS in case a notification went missing. A watch costs one
indexed query per wake-up and no thread while it waits; the reads run on a small
pool of their own, so watchers neither queue behind the sync views nor hold them
up. It starts from the requested resourceVersion; without
one (or "0") it first sends the current objects as ADDED, as kube-apiserver
does. A resourceVersion the change log no longer holds ends the stream with an
ERROR event carrying the 410 Expired Status, which is how clients learn to
relist. BOOKMARK events come every BOOKMARK_SECONDS when asked for; the stream
closes after `timeoutSeconds` (default DEFAULT_TIMEOUT_SECONDS) and otherwise
stays open: `kubectl get -w` exits when the server closes it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging

from asgiref.sync import sync_to_async
from django.db import OperationalError, close_old_connections, connections
from django.http import StreamingHttpResponse

from cluster.api import watchcache
from cluster.api.common import Rendering
from cluster.api.watchcache import TailStore
from cluster.changefeed import FEED
from engine import errors
from engine.apiserver import ApiServer
from engine.resources import versions

log = logging.getLogger("cluster.api")

# The fallback: a stream reads the change log this often even when no notification came.
POLL_SECONDS = 1.0
# Threads reading change logs for watch streams (each keeps its own database connection).
READ_THREADS = 2
BOOKMARK_SECONDS = 10.0
DEFAULT_TIMEOUT_SECONDS = 1800
MAX_TIMEOUT_SECONDS = 3600
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _parse_rv(value: str) -> int:
    try:
        rv = int(value)
    except ValueError:
        raise errors.bad_request(f'resourceVersion: Invalid value: "{value}": strconv.ParseUint: parsing '
                                 f'"{value}": invalid syntax') from None
    if rv < 0:
        raise errors.bad_request(f'resourceVersion: Invalid value: "{value}": must be a non-negative integer')
    return rv


def stream(req, rendering: Rendering, *, resource_version: str, label_selector: str | None,
           field_selector: str | None, bookmarks: bool, timeout: int | None, send_initial_events: bool,
           include_object: str) -> StreamingHttpResponse:
    """Check the request now (a bad selector is a 400, not a stream), then stream."""
    info = req.info
    api = req.target.api()
    api.filter(info, [], label_selector, field_selector)  # compiles both selectors: 400 when malformed
    if include_object not in ("None", "Metadata", "Object"):
        raise errors.bad_request(f'includeObject: Unsupported value: "{include_object}"')
    initial: list[dict] | None = None
    if send_initial_events or resource_version in ("", "0"):
        listed = api.list(info.kind, req.namespace or None, label_selector, field_selector)
        initial, since = listed["items"], int(listed["metadata"]["resourceVersion"])
    else:
        since = _parse_rv(resource_version)
    if timeout is None or timeout <= 0:
        timeout = DEFAULT_TIMEOUT_SECONDS
    timeout = min(timeout, MAX_TIMEOUT_SECONDS)
    events = _events(req, rendering, initial, since, label_selector, field_selector, bookmarks, float(timeout),
                     send_initial_events, include_object)
    response = StreamingHttpResponse(events, content_type="application/json")
    response["Cache-Control"] = "no-cache, private"
    response["X-Accel-Buffering"] = "no"
    return response


async def _events(req, rendering: Rendering, initial, since: int, label_selector, field_selector, bookmarks: bool,
                  timeout: float, send_initial_events: bool, include_object: str):
    from cluster.api.resources import partial_metadata, table_of

    info = req.info
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    # Bookmarks carry bare objects; a Table watch (kubectl get -w) neither asks for them nor could decode them.
    bookmarks = bookmarks and not rendering.table

    def line(event_type: str, obj: dict) -> bytes:
        if event_type in ("ADDED", "MODIFIED", "DELETED"):
            if rendering.table:
                obj = table_of(rendering, req, [obj], include_object)
            elif rendering.as_ == "PartialObjectMetadata":
                obj = partial_metadata(obj, rendering.version)
            else:
                obj = versions.from_storage(info, obj)  # an older served version (autoscaling/v1) converts
        return (json.dumps({"type": event_type, "object": obj}, separators=(",", ":")) + "\n").encode()

    def bookmark(revision: int, initial_end: bool = False) -> bytes:
        meta: dict = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return line("BOOKMARK", {"kind": info.kind, "apiVersion": info.api_version, "metadata": meta})

    api = req.target.api()
    cluster_pk = req.target.cluster.pk
    using = getattr(api.store, "using", "default")
    read = _reader(using)
    # The change log is read through the cluster's shared tail (cluster.api.watchcache): streams woken by the
    # same commit read the database once between them.
    changes = TailStore(api.store, watchcache.acquire(using, cluster_pk))
    watch_api = ApiServer(changes, api.now, api.rng)

    def poll(after: int):
        return watch_api.watch(info.kind, req.namespace or None, after, label_selector, field_selector)

    following = False
    try:
        await FEED.follow(cluster_pk)
        following = True
        # An empty first chunk makes the server send the status line and headers now, as kube-apiserver
        # does: a client waiting on a quiet watch (`kubectl run -i` waiting for its pod) must not wait for
        # the first event to learn the watch has started.
        yield b""
        for obj in initial or ():
            yield line("ADDED", obj)
        if send_initial_events and bookmarks:
            yield bookmark(since, initial_end=True)
        last_bookmark = loop.time()
        # The newest revision a notification announced that has been read for: a later wait returns at
        # once only for a newer one, so an announced revision that is somehow not readable cannot spin.
        tried = since
        while True:
            changes.wanted = tried
            try:
                events, since = await read(poll, since)
            except errors.ApiError as exc:
                yield line("ERROR", exc.status())
                return
            except OperationalError as exc:  # the database is busy: the next poll catches up
                log.warning("watch of %s: database busy: %s", info.plural, exc)
                events = []
            for event in events:
                yield line(event.type, event.object)
            now = loop.time()
            if bookmarks and now - last_bookmark >= BOOKMARK_SECONDS:
                last_bookmark = now
                yield bookmark(since)
            if now >= deadline:
                return
            wait = min(POLL_SECONDS, deadline - now)
            if bookmarks:
                wait = min(wait, last_bookmark + BOOKMARK_SECONDS - now)
            tried = await FEED.wait(cluster_pk, max(since, tried), max(0.0, wait))
    except asyncio.CancelledError:
        raise  # the client went away
    except Exception as exc:  # noqa: BLE001 - a stream cannot change its status code: end it with an ERROR event
        log.error("watch of %s failed", info.plural, exc_info=exc)
        yield line("ERROR", errors.internal("the watch failed; the server log has the details").status())
    finally:
        watchcache.release(using, cluster_pk)
        if following:
            await FEED.unfollow(cluster_pk)


_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _reader(using: str):
    """How a stream runs its change-log reads: on the watch pool, with connections handled as around a
    request; on the sync views' thread for an in-memory SQLite database (the tests'), which one
    connection shared between threads cannot serve concurrently."""
    in_memory = getattr(connections[using], "is_in_memory_db", lambda: False)()
    if in_memory:
        return lambda fn, *args: sync_to_async(fn)(*args)

    async def read(fn, *args):
        global _pool
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="kubedojo-watch")
        return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(_in_thread, fn, *args))

    return read


def _in_thread(fn, *args):
    close_old_connections()
    try:
        return fn(*args)
    finally:
        close_old_connections()
