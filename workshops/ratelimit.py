"""The per-seat request rate limit on the Kubernetes HTTP API: one learner's script must not starve the class.

Every request to a seat's cluster under /k8s/<key>/ takes a token from the seat's bucket (refilled at
KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND, holding at most KUBEDOJO_SEAT_REQUEST_BURST); an empty bucket answers
429 TooManyRequests with Retry-After, as kube-apiserver's max-in-flight filter does, and kubectl (client-go)
waits that long and retries by itself. Watches, `logs -f` and exec/attach/port-forward are long-lived streams,
not a rate: they are not counted. Clusters that belong to no seat (the demo, the admin's) are not limited.

Buckets live in the serving process: with several daphne processes a seat may get that rate from each.
The limiter registers through cluster.api.common.REQUEST_HOOKS (WorkshopsConfig.ready).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time

from django.conf import settings

from engine import errors

log = logging.getLogger(__name__)

DEFAULT_RATE = 20.0  # requests per second, per seat
DEFAULT_BURST = 60  # what a seat may send at once (kubectl apply -f of a directory, discovery)
RATE_ENV = "KUBEDOJO_SEAT_MAX_REQUESTS_PER_SECOND"
BURST_ENV = "KUBEDOJO_SEAT_REQUEST_BURST"
SEAT_CACHE_SECONDS = 30.0  # how long "this key is seat N's cluster" (or nobody's) is remembered
STREAM_SUBRESOURCES = ("exec", "attach", "portforward")


def _number(name: str, default: float) -> float:
    """A setting (Django settings first, then the environment) as a number >= 0; a bad value is logged and ignored."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not math.isfinite(number) or number < 0:
        log.warning("%s=%r is not a number >= 0: using %s", name, value, default)
        return default
    return number


def configured() -> tuple[float, float]:
    """(rate per second, burst); a rate of 0 turns the limit off. The burst is at least one request."""
    rate = _number(RATE_ENV, DEFAULT_RATE)
    burst = _number(BURST_ENV, max(DEFAULT_BURST, rate))
    return rate, max(1.0, burst)


def is_stream(request) -> bool:
    """Watches (?watch=true or the /watch/ path), followed logs and exec/attach/port-forward."""
    query = request.GET
    if query.get("watch", "").lower() in ("true", "1") or query.get("follow", "").lower() in ("true", "1"):
        return True
    parts = [p for p in request.path.split("/") if p]  # k8s, <key>, api, v1, ... or k8s, <key>, apis, <g>, <v>, ...
    rest = parts[4:] if parts[2:3] == ["api"] else parts[5:] if parts[2:3] == ["apis"] else []
    if rest[:1] == ["watch"]:
        return True
    return len(rest) >= 3 and rest[-3] == "pods" and rest[-1] in STREAM_SUBRESOURCES


class SeatRateLimiter:
    """Token buckets, one per seat, refilled by `clock` (monotonic seconds)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.buckets: dict[int, tuple[float, float]] = {}  # seat pk -> (tokens, when counted)
        self.seats: dict[str, tuple[int | None, float]] = {}  # access key -> (seat pk or None, until)

    def seat_for(self, key: str, now: float) -> int | None:
        cached = self.seats.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        from workshops.models import Seat

        seat_pk = Seat.objects.filter(cluster__access_key=key).values_list("pk", flat=True).first()
        if len(self.seats) > 10_000:  # keys of deleted clusters: start again
            self.seats.clear()
        self.seats[key] = (seat_pk, now + SEAT_CACHE_SECONDS)
        return seat_pk

    def take(self, seat_pk: int, rate: float, burst: float, now: float) -> float:
        """Take a token from the seat's bucket: 0 when there was one, else the seconds until there is one."""
        with self.lock:
            tokens, then = self.buckets.get(seat_pk, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - then) * rate)
            if tokens >= 1.0:
                self.buckets[seat_pk] = (tokens - 1.0, now)
                return 0.0
            self.buckets[seat_pk] = (tokens, now)
            return (1.0 - tokens) / rate

    def __call__(self, request, key: str) -> None:
        rate, burst = configured()
        if rate <= 0 or is_stream(request):
            return
        now = self.clock()
        seat_pk = self.seat_for(key, now)
        if seat_pk is None:
            return
        wait = self.take(seat_pk, rate, burst, now)
        if wait > 0:
            raise errors.too_many_requests(
                f"Too many requests, please try again later: a workshop seat's cluster takes at most {rate:g} "
                f"requests per second (bursts of {burst:g})", retry_after=max(1, math.ceil(wait)))


limiter = SeatRateLimiter()


def register() -> None:
    """Hook into the Kubernetes HTTP API (once per process; called from WorkshopsConfig.ready)."""
    from cluster.api import common

    if limiter not in common.REQUEST_HOOKS:
        common.REQUEST_HOOKS.append(limiter)
