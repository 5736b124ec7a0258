"""One cluster's simulation: the clock, the informer cache, and every control loop.

`tick()` is one step of the loop: advance virtual time, take in committed
changes, fire due timers, and let controllers, the scheduler and the kubelets
work until the cluster is quiet, all inside one store transaction. It returns
what changed, for the runtime to publish (coalesced, once per tick).

Nothing here imports Django: the same Simulation runs on a MemoryStore in tests
and benchmarks and on cluster.store.DjangoStore in the product.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from engine.apiserver import ApiServer, RequestContext
from engine.clock import VirtualClock
from engine.controllers.base import Controller
from engine.events import EventRecorder
from engine.informer import Informer
from engine.network.config import NetworkConfig
from engine.store import Change, Store

log = logging.getLogger(__name__)

# A controller pass re-reads everything this often (virtual seconds): lost nudges do no harm.
RESYNC_SECONDS = 30.0
# Most keys a periodic resync hands each controller per tick: a big cluster's resync (hundreds of Deployments,
# a thousand nodes) is worked through over a few ticks instead of stalling one; a small cluster's fits in one.
RESYNC_KEYS_PER_TICK = 50
# Rounds of (take in changes, run queues) per tick before the rest waits for the next tick.
MAX_ROUNDS_PER_TICK = 20


@dataclass
class Activity:
    """One thing a component did this tick, for the UI to light it up."""

    component: str  # kube-apiserver, etcd, kube-scheduler, kube-controller-manager, kubelet, ...
    action: str  # create, update, delete, bind, status ...
    kind: str
    namespace: str
    name: str
    node: str = ""
    detail: str = ""

    def as_dict(self) -> dict:
        return {"component": self.component, "action": self.action, "kind": self.kind, "namespace": self.namespace,
                "name": self.name, "node": self.node, "detail": self.detail}


@dataclass
class TickResult:
    time: float
    changes: list[Change] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    syncs: int = 0


class Client:
    """A controller's way to write: through the apiserver, seen at once by the cache, recorded as activity."""

    def __init__(self, sim: Simulation, component: str, node: str = ""):
        self.sim = sim
        self.component = component
        self.node = node
        self.ctx = RequestContext(user=f"system:{component}", field_manager=component, typed=True)

    def _note(self, action: str, obj: dict, detail: str = "") -> None:
        meta = obj["metadata"]
        self.sim.note(Activity(self.component, action, obj["kind"], meta.get("namespace", ""), meta["name"],
                               self.node, detail))

    def create(self, obj: dict) -> dict:
        stored = self.sim.api.create(obj, ctx=self.ctx)
        self.sim.cache.observe(stored)
        self._note("create", stored)
        return stored

    def update(self, obj: dict) -> dict:
        stored = self.sim.api.update(obj, ctx=self.ctx)
        self.sim.cache.observe(stored)
        self._note("update", stored)
        return stored

    def update_status(self, obj: dict) -> dict:
        stored = self.sim.api.update(obj, subresource="status", ctx=self.ctx)
        self.sim.cache.observe(stored)
        self._note("status", stored)
        return stored

    def patch(self, kind: str, namespace: str, name: str, body, patch_type: str, subresource: str | None = None) -> dict:
        stored = self.sim.api.patch(kind, namespace, name, body, patch_type, subresource, ctx=self.ctx)
        self.sim.cache.observe(stored)
        self._note("patch", stored)
        return stored

    def delete(self, kind: str, namespace: str, name: str, *, grace_period_seconds: int | None = None,
               propagation_policy: str | None = None, uid: str | None = None) -> dict:
        result = self.sim.api.delete(kind, namespace, name, propagation_policy=propagation_policy,
                                     grace_period_seconds=grace_period_seconds,
                                     preconditions={"uid": uid} if uid else None, ctx=self.ctx)
        self.sim.cache.observe(result.object, deleted=result.finished)
        self._note("delete", result.object)
        return result.object

    def bind(self, namespace: str, name: str, node: str) -> dict:
        stored = self.sim.api.bind(namespace, name, node)
        self.sim.cache.observe(stored)
        self._note("bind", stored, node)
        return stored


class Simulation:
    def __init__(self, store: Store, clock: VirtualClock | None = None, seed: int = 0,
                 controllers: list[type[Controller]] | None = None, profile: str = "realistic",
                 network_config: NetworkConfig | None = None):
        self.store = store
        self.clock = clock or VirtualClock()
        self.seed = seed
        self.rng = random.Random(seed)
        # kube-proxy mode, traffic sources...: the runtime passes the Cluster's settings.
        self.network_config = network_config or NetworkConfig()
        self.profile = profile
        self.api = ApiServer(store, self.clock.now, self.rng)
        self.cache = Informer(store)
        self.events = EventRecorder(self)
        self._activities: list[Activity] = []
        self._started = False
        self._polled_writes = 0  # store.writes when the change log was last read
        self._controller_index: tuple[list, dict] | None = None  # see find_controller
        if controllers is None:
            from engine.controllers import default_controllers

            controllers = default_controllers()
        self.controllers: list[Controller] = [cls(self) for cls in controllers]
        self._last_resync = self.clock.now()

    def controller(self, name: str) -> Controller:
        found = self.find_controller(name)
        if found is None:
            raise LookupError(f"no controller named {name!r}")
        return found

    def find_controller(self, name: str) -> Controller | None:
        """The first controller called `name`, or None. The network model asks for every connection, so the
        names are indexed once per controllers list (a test may replace the list)."""
        index = self._controller_index
        if index is None or index[0] is not self.controllers:
            index = self._controller_index = (self.controllers, {c.name: c for c in reversed(self.controllers)})
        return index[1].get(name)

    def client(self, component: str, node: str = "") -> Client:
        return Client(self, component, node)

    def note(self, activity: Activity) -> None:
        self._activities.append(activity)

    # --- the loop -----------------------------------------------------------------------
    def start(self) -> list[Change]:
        """Load the cache and let every controller look at everything once (also after a takeover)."""
        with self.store.atomic():
            self._polled_writes = self.store.writes
            changes = self.cache.resync()
            for c in self.controllers:
                c.resync()
        self._started = True
        self._last_resync = self.clock.now()
        return changes

    def tick(self, virtual_seconds: float = 0.0, *, news: bool = True) -> TickResult:
        """Advance the clock and let every component work until nothing is left for this moment.

        The change log is polled at the start when `news` (others may have committed since the last tick: the
        runtime passes False when its change feed announced nothing), and again after this tick's own writes,
        which the tick's changes include."""
        if not self._started:
            self.start()
        if virtual_seconds:
            self.clock.advance(virtual_seconds)
        result = TickResult(time=self.clock.now())
        with self.store.atomic():
            if self.clock.now() - self._last_resync >= RESYNC_SECONDS:
                self._last_resync = self.clock.now()
                for c in self.controllers:
                    # What the resync enqueues waits in the queue's resync backlog, released a batch per tick.
                    with c.queue.deferring():
                        c.resync()
            for c in self.controllers:
                c.queue.release_deferred(RESYNC_KEYS_PER_TICK)
            for callback in self.clock.pop_due():
                callback()
            for round_ in range(MAX_ROUNDS_PER_TICK):
                # A round reads the log when someone may have written since it was last read: a poll finding
                # nothing was a query per round of every quiet tick.
                fresh = self._poll() if (news and not round_) or self._unread_writes() else []
                result.changes.extend(fresh)
                for change in fresh:
                    for c in self.controllers:
                        c.handle(change)
                ran = sum(c.process() for c in self.controllers)
                result.syncs += ran
                # Timers set for "now" by this round's syncs fire within the same tick.
                for callback in self.clock.pop_due():
                    callback()
                    ran += 1
                if not ran:
                    break
            if self._unread_writes():
                result.changes.extend(self._poll())  # this tick's own last writes, for its delta
        result.activities, self._activities = self._activities, []
        return result

    def _poll(self) -> list[Change]:
        self._polled_writes = self.store.writes
        return self.cache.poll()

    def _unread_writes(self) -> bool:
        """Whether this store object wrote since the change log was last read (the informer reads its own
        writes back from the log)."""
        return self.store.writes != self._polled_writes

    def run(self, seconds: float, step: float = 0.5) -> list[TickResult]:
        """Advance `seconds` of virtual time in steps of `step`, ticking each time (tests, benchmarks)."""
        results = [self.tick()]
        remaining = seconds
        while remaining > 1e-9:
            delta = min(step, remaining)
            remaining -= delta
            results.append(self.tick(delta))
        return results

    def run_until(self, predicate, timeout: float = 300.0, step: float = 0.5) -> bool:
        """Tick until `predicate(sim)` holds or `timeout` virtual seconds pass; returns whether it held."""
        self.tick()
        waited = 0.0
        while not predicate(self):
            if waited >= timeout:
                return False
            self.tick(step)
            waited += step
        return True
