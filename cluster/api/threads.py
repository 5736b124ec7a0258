"""The Kubernetes API's HTTP requests, each served in one hop to a few long-lived threads.

Under ASGI (daphne), Django runs a sync view through its async middleware chain: every middleware
method and the view hop to a thread made for that request (asgiref's ThreadSensitiveContext), some
fifteen hops a request, each a GIL handoff that waits behind whatever else runs (the simulation's tick,
another request's list); and as database connections belong to threads, every request also opened a
new connection (on PostgreSQL a new server session). kubectl's requests queued on all that.

`ApiThreadsMiddleware`, first in MIDDLEWARE, sends each HTTP request under /k8s/ whole to a small pool
of long-lived threads (KUBEDOJO_API_THREADS) and runs Django's ordinary *sync* request handling there:
the same middleware (so the same headers), URL resolution and views as before, in one hop, on a thread
whose database connection lives as long as it does (CONN_MAX_AGE). Everything else (pages, admin) takes
the usual path. Under WSGI and in the test client (sync) it only passes requests on.
"""

from __future__ import annotations

import concurrent.futures
import threading

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections

API_PREFIX = "/k8s/"

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_guard = threading.Lock()


def pool() -> concurrent.futures.ThreadPoolExecutor:
    """The API's threads, made on first use (one per process)."""
    global _pool
    with _pool_guard:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, settings.KUBEDOJO_API_THREADS),
                                                          thread_name_prefix="kubedojo-api")
        return _pool


class _SyncHandler(BaseHandler):
    """Django's sync request handling (the WSGI handler's middleware chain), without the WSGI parts."""

    def __init__(self):
        super().__init__()
        self.load_middleware(is_async=False)


class ApiThreadsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        self._sync_handler: _SyncHandler | None = None
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.get_response(request)  # already sync: the chain runs in the caller's thread

    async def __acall__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return await self.get_response(request)
        if self._sync_handler is None:
            # Built lazily: its own instance of this middleware (sync, so it passes requests on) is in it.
            self._sync_handler = _SyncHandler()
        return await sync_to_async(_serve, thread_sensitive=False, executor=pool())(self._sync_handler, request)


def _serve(handler: _SyncHandler, request):
    """One request on an API thread, its connections handled as around a request (Django's request_started
    and request_finished signals run on the request's own thread, not on this one)."""
    close_old_connections()
    try:
        return handler.get_response(request)
    finally:
        close_old_connections()
