"""The TTL-after-finished controller (pkg/controller/ttlafterfinished): finished Jobs with a TTL are deleted.

A Job with `spec.ttlSecondsAfterFinished` is deleted (foreground cascading,
so its pods go first) that many seconds after its Complete or Failed
condition became True. The wake-up time is derived from the stored condition,
so a takeover simply recomputes it.
"""

from __future__ import annotations

from engine import errors
from engine.controllers.base import Controller, Key
from engine.controllers.job import finished_at


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished-controller"
    primary_kind = "Job"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self._wake: dict[Key, float] = {}

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        job = self.sim.cache.get("Job", namespace, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            self._wake.pop(key, None)
            return
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        finished = finished_at(job)
        if ttl is None or finished is None:
            return
        expire = finished + int(ttl)
        now = self.sim.clock.now()
        if expire > now:
            if self._wake.get(key) != expire:
                self._wake[key] = expire
                self.enqueue_after(key, expire - now)
            return
        self._wake.pop(key, None)
        try:
            self.client.delete("Job", namespace, name, propagation_policy="Foreground", uid=job["metadata"]["uid"])
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise


__all__ = ["TTLAfterFinishedController"]
