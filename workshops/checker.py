"""The lesson checker in the simulation loop, and the per-seat quota, through cluster.runtime's hooks.

`SeatChecker` runs after every tick of every cluster the runner simulates (in the loop's database
thread). For a cluster that belongs to a seat it evaluates the seat's current step at most once per
second, against the simulation's informer cache (the stored state, without reading it again), stores
what changed and publishes to the seat's and the workshop's groups. Other clusters cost a dict
lookup per tick and one query every half minute.

`seat_quota_hook` adds `engine.apiserver.quota.ClusterQuota` to every ApiServer built for a seat's
cluster: the HTTP API, the web terminal, and the simulation's own controllers.

`reclaim_hook` runs every few minutes and reclaims idle seats' clusters (see services.reclaim_idle).
"""

from __future__ import annotations

import logging
import time

from workshops import limits

log = logging.getLogger(__name__)

EVALUATE_SECONDS = 1.0
NOT_A_SEAT_RECHECK_SECONDS = 30.0
RECLAIM_SECONDS = 300.0


class SeatChecker:
    def __init__(self, interval: float = EVALUATE_SECONDS, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.next_at: dict[int, float] = {}
        self.thumbnails: dict[int, dict] = {}  # the last one each workshop's dashboard was sent

    def __call__(self, state, result):
        now = self.clock()
        pk = state.pk
        if now < self.next_at.get(pk, 0.0):
            return None
        from workshops.models import Seat

        seat = Seat.objects.select_related("workshop", "cluster").filter(cluster_id=pk).first()
        if seat is None:
            self.next_at[pk] = now + NOT_A_SEAT_RECHECK_SECONDS
            return None
        self.next_at[pk] = now + self.interval
        if not seat.workshop.is_open or state.sim is None:
            return None
        from workshops import services
        from workshops.lessons.checks import InformerSource

        outbox: list = []
        source = InformerSource(state.sim.cache)
        changed = services.evaluate_seat(seat, source, sim=state.sim, outbox=outbox)
        thumbnail = services.thumbnail(source)
        if not changed and thumbnail != self.thumbnails.get(pk):
            services.publish_tile(seat, source, outbox)  # the map changed though the checks did not
        self.thumbnails[pk] = thumbnail
        return outbox


checker = SeatChecker()


def seat_quota_hook(cluster, api) -> None:
    if cluster is None or cluster.pk is None:
        return
    quota = limits.quota_for(cluster)
    if quota is not None:
        api.admission.append(quota)


class _Every:
    def __init__(self, seconds: float, fn, clock=time.monotonic):
        self.seconds, self.fn, self.clock = seconds, fn, clock
        self.next_at = 0.0

    def __call__(self):
        now = self.clock()
        if now < self.next_at:
            return None
        self.next_at = now + self.seconds
        return self.fn()


def _reclaim() -> list:
    from workshops import services

    outbox: list = []
    reclaimed = services.reclaim_idle(outbox=outbox)
    if reclaimed:
        log.info("reclaimed the clusters of %d idle seat(s)", len(reclaimed))
    return outbox


reclaim_hook = _Every(RECLAIM_SECONDS, _reclaim)


def register() -> None:
    """Hook into cluster.runtime (once per process; called from WorkshopsConfig.ready)."""
    from cluster import runtime

    for hooks, hook in ((runtime.TICK_HOOKS, checker), (runtime.API_HOOKS, seat_quota_hook),
                        (runtime.PERIODIC_HOOKS, reclaim_hook)):
        if hook not in hooks:
            hooks.append(hook)
