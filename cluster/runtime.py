"""The runtime: virtual time for requests, the simulation loop, and what it publishes.

- `virtual_now(cluster)`: the virtual time an API request served outside the loop
  stamps on what it writes (stored time plus the wall time since, scaled by speed).
- `api_for(cluster)`: the apiserver that HTTP views and the web terminal call.
- `SimulationRunner`: an asyncio task owning, through leases, the clusters it
  simulates. Every tick it advances each owned cluster's clock by the wall time
  that passed times the cluster's speed, runs `Simulation.tick` in one dedicated
  worker thread (all database access of the loop happens there), stores the
  virtual time, and publishes one coalesced "cluster.delta" per cluster to the
  channel-layer group `cluster_<pk>`. A write committed by anyone else (a request,
  in this process or another: cluster.changefeed) makes its cluster tick at once,
  between the regular passes, so pages see it without waiting for the next tick
  and the controllers react as soon as their informers would; the loop's own
  commits are announced to watch streams the same way.
- `cluster_snapshot(cluster)`: the same summaries, read from the database, for a
  page that just connected.
- `ensure_demo_cluster()`: the demo cluster of a first run.

Messages only nudge: everything a message says can be read again from the
database, which holds the truth, so a lost delta costs a page one resync.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import logging
import os
import random
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Q
from django.utils import timezone

from cluster.changefeed import FEED, NotifyingStore
from cluster.models import Cluster, SimulationLease
from cluster.store import DjangoStore
from engine.apiserver import ApiServer
from engine.clock import VirtualClock
from engine.kubelet import usage
from engine.kubelet.nodes import STOPPED_ANNOTATION
from engine.network.config import NetworkConfig
from engine.resources import quantity
from engine.resources.tables import pod_ready, pod_restarts, pod_status
from engine.simulation import Simulation, TickResult
from engine.store import DELETED

log = logging.getLogger(__name__)

# How long a lease lasts without renewal, and how often the holder renews it.
LEASE_SECONDS = 15.0
RENEW_SECONDS = 5.0
# How often the runner looks for clusters nobody simulates.
DISCOVER_SECONDS = 2.0
# A tick after a stall (a slow disk, a suspended laptop) advances at most this much wall time.
MAX_WALL_STEP_SECONDS = 2.0
# A cluster whose tick crashed is retried after this back-off (doubling up to the maximum).
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
# The loop stores a running cluster's virtual time when requests' extrapolation of it strays by more than
# this many virtual seconds per 1x of speed, and at least every STAMP_MAX_SECONDS of wall time.
STAMP_TOLERANCE_SECONDS = 0.02
STAMP_MAX_SECONDS = 2.0
# A quiet cluster still publishes its clock this often, so pages see time move.
IDLE_PUBLISH_SECONDS = 1.0
# Most activities one delta carries; the rest are counted.
MAX_ACTIVITIES_PER_DELTA = 60
# Kinds whose churn the map does not show (node heartbeats, events).
QUIET_KINDS = frozenset({"Event", "Lease"})
# Most traffic flows one delta carries for the map to animate; the rest are counted (the counters see all).
MAX_FLOWS_PER_DELTA = 200
# Most flows from outside the loop (web terminal, remote exec) waiting for a cluster's next tick.
MAX_INBOX_FLOWS = 1000
# A commit from outside the loop ticks its cluster at once, but no sooner than this after its last tick: a burst
# of writes (kubectl apply of many objects) costs a few ticks and deltas, not one each.
PROMPT_GAP_SECONDS = 0.05
# A tick reads the change log for others' commits when the change feed announced one (cluster.changefeed: the
# requests of every process announce theirs), and at least this often: a writer that announces nothing (a
# management command) is read within this time.
POLL_MAX_SECONDS = 1.0

CONTROL_PLANE_ROLES = ("control-plane", "master")
SPEEDS = (1.0, 5.0, 20.0)


def group_name(cluster_pk: int) -> str:
    """The channel-layer group a cluster's pages (and watchers) listen on."""
    return f"cluster_{cluster_pk}"


def simulation_profile() -> str:
    """The kubelet profile (stage timings) clusters run with (KUBEDOJO_PROFILE: realistic, fast...)."""
    return getattr(settings, "KUBEDOJO_PROFILE", "") or "realistic"


# --- hooks: other apps following the loop (the workshops app's lesson checks and quota) ---------------
# API_HOOKS: hook(cluster, api) for every ApiServer built for a cluster, by `api_for` (HTTP API, web terminal)
#   and for a simulation (its controllers' writes); e.g. append an admission plugin to `api.admission`.
# TICK_HOOKS: hook(state: ClusterLoop, result: TickResult) in the loop's database thread after each tick of
#   each cluster; it returns None or a list of (group, message) that the loop publishes after the tick's delta.
#   Called every tick for every cluster: keep them cheap.
# PERIODIC_HOOKS: hook() in the loop's database thread every PERIODIC_SECONDS; returns the same as a tick hook.
# A hook that raises is logged and skipped; the loop goes on.
API_HOOKS: list = []
TICK_HOOKS: list = []
PERIODIC_HOOKS: list = []
PERIODIC_SECONDS = 30.0


def _run_hooks(hooks: list, *args) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    for hook in list(hooks):
        try:
            out.extend(hook(*args) or ())
        except Exception:
            log.exception("runtime hook %r failed", hook)
    return out


# --- virtual time outside the loop ------------------------------------------------------------

def virtual_now(cluster: Cluster, wall_now: float | None = None) -> float:
    """The cluster's virtual time now, extrapolated from what the loop last stored (see Cluster.virtual_now)."""
    return cluster.virtual_now(wall_now)


def stamp_clock(cluster_pk: int, virtual_time: float, **fields) -> float:
    """Store a cluster's virtual time, and when it was stored (the origin `virtual_now` extrapolates from);
    returns that wall time.

    A queryset update of these columns only, so it never overwrites the revision the store bumps.
    """
    saved_at = time.time()
    Cluster.objects.filter(pk=cluster_pk).update(virtual_time=virtual_time, virtual_time_saved_at=saved_at, **fields)
    return saved_at


_TICK_SETTINGS = ("name", "speed", "paused", "seed", "virtual_time", "kube_proxy_mode", "ipvs_scheduler")


# Clusters whose settings one statement reads (SQLite allows 32,766 parameters, older builds 999), and how
# old a pass lets what it read be.
SETTINGS_BATCH = 500
SETTINGS_MAX_AGE_SECONDS = 0.05


@functools.cache
def _tick_settings_select() -> str:
    """The statement's start, up to the list of cluster pks: "SELECT id, <settings> FROM ... WHERE id IN "."""
    qn = connections["default"].ops.quote_name
    columns = ", ".join(qn(Cluster._meta.get_field(name).column) for name in ("id", *_TICK_SETTINGS))
    return f"SELECT {columns} FROM {qn(Cluster._meta.db_table)} WHERE {qn(Cluster._meta.pk.column)} IN "


def _tick_settings_of(cluster_pks: list[int]) -> dict[int, dict]:
    """What a tick reads of its cluster's row (speed, pause, a step asked for, the proxy mode), for many
    clusters by pk, in one plain statement per SETTINGS_BATCH: a pass of the loop reads them first (built with
    the ORM every tick, the read cost a fifth of a workshop cluster's tick; one per tick was the most frequent
    query of a PostgreSQL workshop). A cluster that is not there is left out."""
    found = {}
    with connections["default"].cursor() as cursor:
        for start in range(0, len(cluster_pks), SETTINGS_BATCH):
            chunk = cluster_pks[start:start + SETTINGS_BATCH]
            cursor.execute(f"{_tick_settings_select()}({', '.join(['%s'] * len(chunk))})", chunk)
            for pk, *values in cursor.fetchall():
                found[pk] = dict(zip(_TICK_SETTINGS, values, strict=True))
    return found


def _tick_settings(cluster_pk: int) -> dict | None:
    """`_tick_settings_of` one cluster (a tick outside a pass); None when its row is gone."""
    return _tick_settings_of([cluster_pk]).get(cluster_pk)


def api_for(cluster: Cluster) -> ApiServer:
    """The apiserver for requests served outside the loop (HTTP API, web terminal, lesson checks).

    Its writes announce their revision once committed (cluster.changefeed): watch streams wake, and the
    runner simulating the cluster ticks now, so pages see the write without waiting for the next tick.
    """
    now = functools.partial(virtual_now, cluster)
    # Requests from outside the loop need no reproducibility, and generated names must not repeat between them.
    api = ApiServer(NotifyingStore(cluster, now=now), now, random.Random(secrets.randbits(64)))
    _run_hooks(API_HOOKS, cluster, api)
    return api


def step_clock(cluster: Cluster, seconds: float) -> Cluster:
    """Advance a paused cluster's clock by `seconds`: the loop ticks that far once it reads the stored time."""
    with transaction.atomic():
        row = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if row.paused:
            stamp_clock(row.pk, float(row.virtual_time) + float(seconds))
    return Cluster.objects.get(pk=cluster.pk)


def set_clock(cluster: Cluster, *, speed: float | None = None, paused: bool | None = None) -> Cluster:
    """Change a cluster's speed or pause it, keeping `virtual_now` continuous; returns the fresh row.

    The loop reads speed and paused from the row every tick, so the change takes effect within one tick.
    """
    with transaction.atomic():
        row = Cluster.objects.select_for_update().get(pk=cluster.pk)
        fields = {}
        if speed is not None:
            fields["speed"] = float(speed)
        if paused is not None:
            fields["paused"] = bool(paused)
        stamp_clock(row.pk, virtual_now(row), **fields)
    return Cluster.objects.get(pk=cluster.pk)


# --- what the map shows -----------------------------------------------------------------------

def _rv(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _owner(obj: dict) -> str:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


def pod_summary(pod: dict) -> dict:
    """A pod as the map draws it: where it runs and its STATUS column as kubectl prints it."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    ready, total = pod_ready(pod)
    return {
        "key": _key(meta.get("namespace", ""), meta["name"]),
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
        "rv": _rv(pod),
        "node": spec.get("nodeName") or "",
        "status": pod_status(pod),
        "ready": f"{ready}/{total}",
        "restarts": int(pod_restarts(pod)),
        "phase": status.get("phase") or "Pending",
        "ip": status.get("podIP") or "",
        "owner": _owner(pod),
        "deleting": bool(meta.get("deletionTimestamp")),
        "created": meta.get("creationTimestamp") or "",
        "waiting": _unschedulable_message(pod),
    }


def _unschedulable_message(pod: dict) -> str:
    """Why kube-scheduler has not placed the pod (its PodScheduled=False condition), for the map's queue."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return cond.get("message") or cond.get("reason") or ""
    return ""


def pod_requests(pod: dict) -> tuple[int, int]:
    """A pod's effective requests (millicores, bytes): its containers' sum, or its largest init container's."""
    spec = pod.get("spec") or {}

    def requests(container: dict) -> tuple[int, int]:
        req = (container.get("resources") or {}).get("requests") or {}
        try:
            return quantity.cpu_millis(req.get("cpu", 0)), quantity.memory_bytes(req.get("memory", 0))
        except ValueError:
            return 0, 0

    cpu = mem = 0
    for c in spec.get("containers") or []:
        c_cpu, c_mem = requests(c)
        cpu, mem = cpu + c_cpu, mem + c_mem
    for c in spec.get("initContainers") or []:
        c_cpu, c_mem = requests(c)
        cpu, mem = max(cpu, c_cpu), max(mem, c_mem)
    overhead = spec.get("overhead") or {}
    if overhead:
        cpu += quantity.cpu_millis(overhead.get("cpu", 0))
        mem += quantity.memory_bytes(overhead.get("memory", 0))
    return cpu, mem


def _node_ready(node: dict) -> str:
    # As kubectl prints STATUS: a Ready condition that is False or Unknown (no heartbeats) is "NotReady".
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return "Ready" if cond.get("status") == "True" else "NotReady"
    return "Unknown"


def node_roles(node: dict) -> list[str]:
    labels = node["metadata"].get("labels") or {}
    prefix = "node-role.kubernetes.io/"
    return sorted(k[len(prefix):] for k in labels if k.startswith(prefix) and k[len(prefix):])


# A pod's figures for its node's bars, by (uid, resourceVersion): a tick summarises every node one of its changes
# touched, and re-parsing the requests and images of each pod on them was most of the delta's cost.
_POD_FIGURES: dict[tuple[str, str], tuple[int, int, int, int]] = {}
MAX_POD_FIGURES = 100_000


def _pod_figures(pod: dict) -> tuple[int, int, int, int]:
    """(requested CPU millis, requested memory bytes, used CPU millis, used memory bytes) of a pod; used is what
    metrics-server would report (engine.kubelet.usage), which the bars show next to the requests."""
    meta = pod["metadata"]
    key = (meta.get("uid") or "", meta.get("resourceVersion") or "")
    figures = _POD_FIGURES.get(key) if key[0] and key[1] else None
    if figures is None:
        figures = (*pod_requests(pod), usage.pod_cpu_usage_millis(pod) or 0, usage.pod_memory_usage_bytes(pod) or 0)
        if key[0] and key[1]:
            if len(_POD_FIGURES) >= MAX_POD_FIGURES:
                _POD_FIGURES.clear()
            _POD_FIGURES[key] = figures
    return figures


def node_summary(node: dict, pods: list[dict]) -> dict:
    """A node as the map draws it: STATUS and ROLES as kubectl prints them, and its allocated resources."""
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    text = _node_ready(node)
    if (node.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    cpu = mem = count = used_cpu = used_mem = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        p_cpu, p_mem, p_used_cpu, p_used_mem = _pod_figures(pod)
        cpu, mem, count = cpu + p_cpu, mem + p_mem, count + 1
        used_cpu, used_mem = used_cpu + p_used_cpu, used_mem + p_used_mem
    roles = node_roles(node)
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}

    def amount(fn, name: str) -> int:
        try:
            return fn(allocatable.get(name, 0))
        except ValueError:
            return 0

    return {
        "key": node["metadata"]["name"],
        "name": node["metadata"]["name"],
        "rv": _rv(node),
        "status": text,
        "ready": text.startswith("Ready"),
        "roles": roles,
        "control_plane": any(r in CONTROL_PLANE_ROLES for r in roles),
        "ip": addresses.get("InternalIP", ""),
        "cpu": {"allocatable": amount(quantity.cpu_millis, "cpu"), "requested": cpu, "used": used_cpu},
        "memory": {"allocatable": amount(quantity.memory_bytes, "memory"), "requested": mem, "used": used_mem},
        "stopped": STOPPED_ANNOTATION in (node["metadata"].get("annotations") or {}),
        "pods": {"allocatable": amount(quantity.memory_bytes, "pods"), "count": count},
        "taints": [f"{t.get('key')}:{t.get('effect')}" for t in (node.get("spec") or {}).get("taints") or []],
    }


def object_ref(obj: dict) -> dict:
    meta = obj["metadata"]
    return {"kind": obj["kind"], "namespace": meta.get("namespace", ""), "name": meta["name"], "rv": _rv(obj)}


def clock_summary(name: str, virtual_time: float, speed: float, paused: bool) -> dict:
    return {"cluster": name, "time": virtual_time, "speed": speed, "paused": paused}


def cluster_snapshot(cluster: Cluster) -> dict:
    """Everything the map shows, read from the database at one revision (for a page that connects)."""
    store = DjangoStore(cluster, now=functools.partial(virtual_now, cluster))
    objects, revision = store.list()
    nodes, pods, others = [], [], []
    for obj in objects:
        kind = obj["kind"]
        if kind == "Node":
            nodes.append(obj)
        elif kind == "Pod":
            pods.append(obj)
        elif kind not in QUIET_KINDS:
            others.append(object_ref(obj))
    pods_by_node: dict[str, list[dict]] = {}
    for pod in pods:
        pods_by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
    return {
        "type": "snapshot",
        **clock_summary(cluster.name, virtual_now(cluster), float(cluster.speed), bool(cluster.paused)),
        "revision": revision,
        "nodes": [node_summary(n, pods_by_node.get(n["metadata"]["name"], [])) for n in nodes],
        "pods": [pod_summary(p) for p in pods],
        "objects": others,
    }


def flow_summary(flow: dict) -> dict:
    """A traffic flow as the map animates it: its hops (kind, name, node) and how it ended."""
    return {
        "id": flow.get("id"),
        "client": (flow.get("client") or {}).get("kind", ""),
        "hops": [{"kind": h.get("kind", ""), "name": h.get("name", ""), "namespace": h.get("namespace", ""),
                  "node": h.get("node", "")} for h in flow.get("hops") or []],
        "entry": flow.get("entry") or "",
        "service": flow.get("service") or "",
        "pod": flow.get("pod") or "",
        "node": flow.get("node") or "",
        "outcome": flow.get("outcome") or "",
        "status": flow.get("status"),
        "latency_ms": flow.get("latency_ms"),
    }


def traffic_summary(sim: Simulation, flows: list[dict]) -> dict:
    """This tick's flows (at most MAX_FLOWS_PER_DELTA) and, when there were any, every Service's counters."""
    if not flows:
        return {}
    from engine.network import traffic

    services = {key: {"requests": s["requests"], "errors": s["errors"], "p50_ms": s["p50_ms"], "p95_ms": s["p95_ms"]}
                for key, s in traffic.all_stats(sim).items()}
    return {"flows": [flow_summary(f) for f in flows[-MAX_FLOWS_PER_DELTA:]],
            "more_flows": max(0, len(flows) - MAX_FLOWS_PER_DELTA), "services": services}


def drain_flows(sim: Simulation) -> list[dict]:
    try:
        from engine.network import traffic
    except ImportError:  # pragma: no cover - the network engine is optional
        return []
    return traffic.drain_flows(sim)


def tick_delta(name: str, sim: Simulation, result: TickResult, flows: list[dict] | None = None) -> dict:
    """One tick's changes, coalesced to the last state of each object, as the "cluster.delta" message.

    `flows`: the tick's traffic flows (drained from the simulation when not given)."""
    if flows is None:
        flows = drain_flows(sim)
    last: dict[tuple[str, str, str], object] = {}
    for change in result.changes:
        last[(change.kind, change.namespace, change.name)] = change
    pods, objects, deleted = [], [], []
    touched_nodes: set[str] = set()
    for (kind, namespace, obj_name), change in last.items():
        obj = change.object
        if kind in QUIET_KINDS:
            continue
        if kind == "Pod":
            touched_nodes.add((obj.get("spec") or {}).get("nodeName") or "")
        elif kind == "Node":
            touched_nodes.add(obj_name)
        if change.type == DELETED:
            deleted.append({"kind": kind, "namespace": namespace, "name": obj_name,
                            "key": _key(namespace, obj_name), "rv": change.revision})
        elif kind == "Pod":
            pods.append(pod_summary(obj))
        elif kind != "Node":
            objects.append(object_ref(obj))
    nodes = []
    for node_name in sorted(n for n in touched_nodes if n):
        node = sim.cache.get("Node", "", node_name)
        if node is not None:
            nodes.append(node_summary(node, sim.cache.pods_on_node(node_name)))
    shown = [a for a in result.activities if a.kind not in QUIET_KINDS]
    activities = [a.as_dict() for a in shown[:MAX_ACTIVITIES_PER_DELTA]]
    return {
        "type": "cluster.delta",
        **clock_summary(name, sim.clock.now(), sim.clock.speed, sim.clock.paused),
        "revision": sim.cache.revision,
        "pods": pods,
        "nodes": nodes,
        "objects": objects,
        "deleted": deleted,
        "activities": activities,
        "more_activities": max(0, len(shown) - MAX_ACTIVITIES_PER_DELTA),
        **traffic_summary(sim, flows),
    }


# --- the demo cluster ------------------------------------------------------------------------

def ensure_demo_cluster(name: str | None = None) -> Cluster:
    """Create and bootstrap the demo cluster (3 workers, a control plane, the bootcamp Deployment) once."""
    from engine.bootstrap import bootstrap_cluster, demo_workload

    name = name or settings.KUBEDOJO_DEMO_CLUSTER
    cluster, _created = Cluster.objects.get_or_create(name=name)
    api = api_for(cluster)
    with transaction.atomic():
        # Bootstrapped already (nodes exist): leave it as the learners left it, even without the demo app.
        if api.store.list("Node")[0]:
            return cluster
        bootstrap_cluster(api, nodes=3)
        demo_workload(api)
    log.info("created the demo cluster %r", name)
    return cluster


# --- the loop --------------------------------------------------------------------------------

def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClusterGone(Exception):
    """The cluster's row was deleted while we held it."""


@dataclass
class ClusterLoop:
    """What the runner keeps for one cluster it owns (rebuilt from the database after any crash)."""

    cluster: Cluster  # the row as found (its pk and name; the loop re-reads speed and paused every tick)
    sim: Simulation | None = None
    last_wall: float = 0.0
    last_published: float = 0.0
    # What the loop last stored of the clock: (wall time it was stored at, virtual time, speed, paused); the
    # first tick stores it.
    stamp: tuple[float, float, float, bool] = (0.0, 0.0, 0.0, True)
    published_clock: tuple[float, bool] | None = None
    failures: int = 0
    retry_at: float = 0.0
    ticks: int = 0
    polled_wall: float = 0.0  # when a tick last read the change log for others' commits (monotonic)
    outbox: list = field(default_factory=list)  # (group, message) from TICK_HOOKS, published after the delta
    # The newest revision others committed (cluster.changefeed): the cluster ticks early until its cache has it.
    wanted: int = 0
    # Flows of requests made outside the loop (pod shells of the web terminal and of remote exec): appended from
    # other threads (a deque's append is atomic), taken into the Simulation at the next tick (`submit_flow`).
    inbox: collections.deque = field(default_factory=lambda: collections.deque(maxlen=MAX_INBOX_FLOWS))

    @property
    def pk(self) -> int:
        return self.cluster.pk

    @property
    def name(self) -> str:
        return self.cluster.name

    def behind(self) -> bool:
        """Whether someone else committed a revision the simulation has not read yet."""
        return self.sim is not None and self.wanted > self.sim.cache.revision


_current: SimulationRunner | None = None


def current_runner() -> SimulationRunner | None:
    """The runner of this process, if one runs (a channel message may nudge it)."""
    return _current


SIMULATION_CHANNEL = "kubedojo.simulation"


async def nudge_simulation(cluster_pk: int | None = None) -> None:
    """Ask a runner to look for new clusters now (say, after a seat's cluster was created).

    Only a nudge: runners also look every few seconds. In-process when this process runs the loop;
    otherwise through the worker channel (never with the in-memory layer, whose channels nobody reads).
    """
    runner = current_runner()
    if runner is not None:
        runner.nudge(cluster_pk)
        return
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    if layer is not None and not isinstance(layer, InMemoryChannelLayer):
        await layer.send(SIMULATION_CHANNEL, {"type": "cluster.nudge", "cluster": cluster_pk})


class SimulationRunner:
    """Simulates every cluster this process holds a lease for; see the module docstring."""

    def __init__(self, tick_seconds: float | None = None, holder: str | None = None, channel_layer=None,
                 lease_seconds: float | None = None, renew_seconds: float | None = None,
                 discover_seconds: float = DISCOVER_SECONDS, cluster_names: list[str] | None = None):
        self.tick_seconds = float(tick_seconds if tick_seconds is not None else settings.KUBEDOJO_TICK_SECONDS)
        self.holder = holder or default_holder()
        # KUBEDOJO_LEASE_SECONDS: how soon another worker takes a dead worker's clusters over (plus one discovery).
        if lease_seconds is None:
            lease_seconds = float(getattr(settings, "KUBEDOJO_LEASE_SECONDS", LEASE_SECONDS))
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds if renew_seconds is not None else min(RENEW_SECONDS, lease_seconds / 3)
        self.discover_seconds = discover_seconds
        self.cluster_names = cluster_names  # only these clusters (tests); None: all
        self._channel_layer = channel_layer
        self.clusters: dict[int, ClusterLoop] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._pass_now = False
        self._due: set[int] = set()  # clusters with a commit from outside the loop to tick for
        self._next_discover = 0.0
        self._next_renew = 0.0
        self._next_periodic = 0.0

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> asyncio.Task:
        """Run the loop as a task on the running event loop."""
        global _current
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="kubedojo-simulation")
            _current = self
        return self._task

    async def stop(self) -> None:
        """Stop ticking, release every lease, close the thread's database connections.

        Also for a runner whose steps were called directly (tests): it then only shuts down.
        """
        global _current
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            if not self._task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(self._task), timeout=30)
                except TimeoutError:
                    self._task.cancel()
        elif self._executor is not None:
            await self._shutdown()
        if _current is self:
            _current = None

    def nudge(self, cluster_pk: int | None = None) -> None:
        """Look for new clusters now (a channel message says something changed)."""
        self._next_discover = 0.0
        self._pass_now = True
        if self._wake is not None:
            self._wake.set()

    def _on_commit(self, cluster_pk: int, revision: int) -> None:
        """cluster.changefeed: a revision of an owned cluster was committed. Not the loop's own (its cache has
        those already): tick that cluster now (`prompt`)."""
        state = self.clusters.get(cluster_pk)
        if state is None or state.sim is None or revision <= state.sim.cache.revision:
            return
        state.wanted = max(state.wanted, revision)
        self._due.add(cluster_pk)
        if self._wake is not None:
            self._wake.set()

    def _on_flow(self, cluster_pk: int, flow: dict) -> None:
        """cluster.changefeed: a flow recorded in another process (a web terminal's `curl` served by a daphne
        process) for an owned cluster: taken in at its next tick, as one recorded here."""
        state = self.clusters.get(cluster_pk)
        if state is not None:
            state.inbox.append(flow)

    @property
    def channel_layer(self):
        if self._channel_layer is None:
            from channels.layers import get_channel_layer

            self._channel_layer = get_channel_layer()
        return self._channel_layer

    async def run(self) -> None:
        self._wake = asyncio.Event()
        FEED.bind()
        log.info("simulation runner %s started (tick %.2fs)", self.holder, self.tick_seconds)
        next_pass = time.monotonic()
        try:
            while not self._stopping:
                if self._pass_now or time.monotonic() >= next_pass:
                    self._pass_now = False
                    started = time.monotonic()
                    try:
                        await self.step()
                    except Exception:  # never let one bad pass end the loop
                        log.exception("simulation runner: a pass of the loop failed")
                    next_pass = started + self.tick_seconds
                try:
                    await self.prompt()
                except Exception:
                    log.exception("simulation runner: an early tick failed")
                if self._stopping:
                    break
                # Cleared before looking at what is due: a commit announced from here on sets it again.
                self._wake.clear()
                if self._pass_now:
                    continue
                ready_at = self._prompt_ready_at()
                timeout = (next_pass if ready_at is None else min(next_pass, ready_at)) - time.monotonic()
                if timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        finally:
            await self._shutdown()

    async def prompt(self) -> None:
        """Tick now each cluster that others committed to since its last tick (see PROMPT_GAP_SECONDS)."""
        now = time.monotonic()
        for pk in list(self._due):
            state = self.clusters.get(pk)
            if state is None or not state.behind():
                self._due.discard(pk)  # gone, rebuilding (it reads everything then), or caught up by a tick
                continue
            if now < max(state.last_wall + PROMPT_GAP_SECONDS, state.retry_at):
                continue
            self._due.discard(pk)
            await self.tick_cluster(state)
            now = time.monotonic()

    def _prompt_ready_at(self) -> float | None:
        """When the soonest cluster waiting for an early tick may have it (None: none waits)."""
        ready = None
        for pk in list(self._due):
            state = self.clusters.get(pk)
            if state is None or not state.behind():
                self._due.discard(pk)
                continue
            at = max(state.last_wall + PROMPT_GAP_SECONDS, state.retry_at)
            ready = at if ready is None else min(ready, at)
        return ready

    async def step(self) -> None:
        """One pass of the loop: find and renew leases when due, then tick every owned cluster once."""
        now = time.monotonic()
        if now >= self._next_discover:
            self._next_discover = now + self.discover_seconds
            await self.discover()
        if now >= self._next_renew:
            self._next_renew = now + self.renew_seconds
            await self.renew()
        if PERIODIC_HOOKS and now >= self._next_periodic:
            self._next_periodic = now + PERIODIC_SECONDS
            await self.publish_all(await self.call(_run_hooks, PERIODIC_HOOKS))
        states = list(self.clusters.values())
        asked: set[int] = set()
        settings: dict[int, dict] = {}
        read_at = 0.0
        for i, state in enumerate(states):
            if self._stopping:
                break
            # The settings of the next clusters in one statement, read again once older than a tick's own
            # reading of them could be (a pause or a speed asked for meanwhile waits at most that long).
            if state.pk not in asked or time.monotonic() - read_at > SETTINGS_MAX_AGE_SECONDS:
                read_at = time.monotonic()
                chunk = [s.pk for s in states[i:i + SETTINGS_BATCH]]
                asked = set(chunk)
                try:
                    settings = await self.call(_tick_settings_of, chunk)
                except Exception:  # each tick reads its own
                    settings = {}
                    log.exception("simulation runner: reading the clusters' settings failed")
            await self.tick_cluster(state, settings.get(state.pk))

    async def _shutdown(self) -> None:
        try:
            if self.clusters:
                await self.call(self._release_all)
            await self.call(connections.close_all)
        except Exception:
            log.exception("simulation runner: shutdown failed")
        finally:
            for pk in list(self.clusters):
                await self._unfollow(pk)
            self.clusters.clear()
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            log.info("simulation runner %s stopped", self.holder)

    async def call(self, fn, *args, **kwargs):
        """Run `fn(*args, **kwargs)` in the loop's one database thread (tests read through it too)."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubedojo-sim")
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(_in_thread, fn, *args, **kwargs))

    # --- leases -----------------------------------------------------------------------
    async def discover(self) -> None:
        try:
            acquired = await self.call(self._acquire_new)
        except Exception:
            log.exception("simulation runner: looking for clusters failed")
            return
        for cluster in acquired:
            self.clusters[cluster.pk] = ClusterLoop(cluster=cluster)
            await self._follow(cluster.pk)
            log.info("simulation runner %s now simulates cluster %r", self.holder, cluster.name)

    def _acquire_new(self) -> list[Cluster]:
        # Only clusters nobody holds (no lease, or an expired one) or that we hold already.
        free = Q(lease__isnull=True) | Q(lease__renew_deadline__lt=timezone.now()) | Q(lease__holder=self.holder)
        rows = Cluster.objects.filter(free).only("pk", "name", "virtual_time")
        if self.cluster_names is not None:
            rows = rows.filter(name__in=self.cluster_names)
        acquired = []
        for cluster in rows:
            if cluster.pk in self.clusters:
                continue
            if SimulationLease.acquire(cluster, self.holder, self.lease_seconds):
                # The clock restarts from the stored time: keep `virtual_now` continuous from here.
                stamp_clock(cluster.pk, cluster.virtual_time)
                acquired.append(cluster)
        return acquired

    async def renew(self) -> None:
        if not self.clusters:
            return
        try:
            lost = await self.call(self._renew_all, [s.cluster for s in self.clusters.values()])
        except Exception:
            log.exception("simulation runner: renewing leases failed")
            return
        for pk in lost:
            state = self.clusters.pop(pk, None)
            if state is not None:
                await self._unfollow(pk)
                log.warning("simulation runner %s lost the lease of cluster %r", self.holder, state.name)

    async def _follow(self, cluster_pk: int) -> None:
        """Hear of commits to an owned cluster from anywhere (cluster.changefeed)."""
        FEED.bind()
        FEED.listen(cluster_pk, self._on_commit)
        FEED.listen_flows(cluster_pk, self._on_flow)
        await FEED.follow(cluster_pk, self.channel_layer)

    async def _unfollow(self, cluster_pk: int) -> None:
        self._due.discard(cluster_pk)
        FEED.unlisten(cluster_pk, self._on_commit)
        FEED.unlisten_flows(cluster_pk, self._on_flow)
        try:
            await FEED.unfollow(cluster_pk)
        except Exception:
            log.exception("simulation runner: leaving the change feed of cluster %s failed", cluster_pk)

    def _renew_all(self, clusters: list[Cluster]) -> list[int]:
        return [c.pk for c in clusters if not SimulationLease.renew(c, self.holder, self.lease_seconds)]

    def _release_all(self) -> None:
        for state in list(self.clusters.values()):
            SimulationLease.release(state.cluster, self.holder)

    # --- ticks ------------------------------------------------------------------------
    async def _drop_deleted(self, state: ClusterLoop) -> None:
        self.clusters.pop(state.pk, None)
        await self._unfollow(state.pk)
        await self.call(SimulationLease.release, state.cluster, self.holder)
        log.info("cluster %r was deleted; no longer simulated", state.name)

    async def tick_cluster(self, state: ClusterLoop, settings: dict | None = None) -> None:
        """Tick one cluster, with its row's settings as the pass read them (None: the tick reads them)."""
        now = time.monotonic()
        if now < state.retry_at:
            return
        fresh = state.sim is None
        try:
            message = await self.call(self._tick, state, now, settings)
        except Exception as exc:
            # Deleted before the tick (ClusterGone) or during it (the store's reads raise DoesNotExist).
            if isinstance(exc, ClusterGone) or (isinstance(exc, Cluster.DoesNotExist)
                                                and not await self.call(Cluster.objects.filter(pk=state.pk).exists)):
                await self._drop_deleted(state)
                return
            state.failures += 1
            delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (state.failures - 1))
            state.retry_at = time.monotonic() + delay
            state.sim = None  # rebuilt from the stored state on the retry
            log.exception("cluster %r: tick failed (retry in %.0fs)", state.name, delay)
            return
        state.failures = 0
        if state.sim is not None:
            FEED.committed(state.pk, state.sim.cache.revision)  # watch streams read what this tick wrote
        try:
            if fresh:
                # Taken over or rebuilt: what changed meanwhile is in no delta, so pages reread the database.
                await self.channel_layer.group_send(group_name(state.pk), {"type": "cluster.resync"})
            if message is not None:
                await self.channel_layer.group_send(group_name(state.pk), message)
        except Exception:
            log.exception("cluster %r: publishing the delta failed", state.name)
        if state.outbox:
            outbox, state.outbox = state.outbox, []
            await self.publish_all(outbox)

    async def publish_all(self, messages: list[tuple[str, dict]]) -> None:
        """Send what hooks left to publish (group, message), each on its own: one failure loses one message."""
        for group, message in messages:
            try:
                await self.channel_layer.group_send(group, message)
            except Exception:
                log.exception("publishing a hook's message to %s failed", group)

    def _tick(self, state: ClusterLoop, now: float, settings: dict | None = None) -> dict | None:
        row = settings or _tick_settings(state.pk)
        if row is None:
            raise ClusterGone(state.pk)
        state.cluster.name = row["name"]
        if state.sim is None:
            self._build(state)
        sim = state.sim
        clock = sim.clock
        clock.speed, clock.paused = float(row["speed"]), bool(row["paused"])
        # A mode changed in the admin takes effect at the next tick, as restarting kube-proxy with it would.
        sim.network_config.kube_proxy_mode = row["kube_proxy_mode"]
        sim.network_config.ipvs_scheduler = row["ipvs_scheduler"]
        wall_step = min(MAX_WALL_STEP_SECONDS, max(0.0, now - state.last_wall))
        state.last_wall = now
        virtual_step = 0.0 if clock.paused else wall_step * clock.speed
        if clock.paused and float(row["virtual_time"]) > clock.now() + 1e-6:
            virtual_step = float(row["virtual_time"]) - clock.now()  # a step asked for while paused (step_clock)
        news = state.behind() or now - state.polled_wall >= POLL_MAX_SECONDS
        if news:
            state.polled_wall = now
        result = sim.tick(virtual_step, news=news)
        state.ticks += 1
        if TICK_HOOKS:
            state.outbox.extend(_run_hooks(TICK_HOOKS, state, result))
        # Paused, the stored time stays as step_clock may have moved it. Running, requests extrapolate the stored
        # time by wall time times speed, which is exact while the loop keeps pace: it is stored again when that
        # extrapolation strays from the clock (a slow tick, a stall), when speed or pause changed, and at least
        # every STAMP_MAX_SECONDS. Stored every tick, it was a write transaction per cluster per tick.
        if clock.paused:
            if virtual_step:
                state.stamp = (stamp_clock(state.pk, clock.now()), clock.now(), clock.speed, True)
        else:
            # The clock stands at the tick's start until the next tick advances it by the wall time since: what
            # it reads now is that plus this tick's own duration.
            current = clock.now() + max(0.0, time.monotonic() - now) * clock.speed
            saved_at, stored, speed, paused = state.stamp
            strayed = abs(stored + (time.time() - saved_at) * clock.speed - current)
            if (paused or speed != clock.speed or strayed > STAMP_TOLERANCE_SECONDS * max(1.0, clock.speed)
                    or time.time() - saved_at >= STAMP_MAX_SECONDS):
                state.stamp = (stamp_clock(state.pk, current), current, clock.speed, False)
        clock_state = (clock.speed, clock.paused)
        _take_inbox(state)
        flows = drain_flows(sim)
        quiet = not result.changes and not result.activities and not flows
        if quiet and clock_state == state.published_clock and now - state.last_published < IDLE_PUBLISH_SECONDS:
            return None
        state.last_published = now
        state.published_clock = clock_state
        return tick_delta(state.name, sim, result, flows)

    def _build(self, state: ClusterLoop) -> None:
        cluster = Cluster.objects.get(pk=state.pk)
        clock = VirtualClock(start=float(cluster.virtual_time), speed=float(cluster.speed), paused=bool(cluster.paused))
        store = DjangoStore(cluster, now=clock.now, mirror=True)
        state.sim = Simulation(store, clock, seed=int(cluster.seed or 0), profile=simulation_profile(),
                               network_config=NetworkConfig(kube_proxy_mode=cluster.kube_proxy_mode,
                                                            ipvs_scheduler=cluster.ipvs_scheduler))
        _run_hooks(API_HOOKS, cluster, state.sim.api)
        state.sim.start()
        state.last_wall = time.monotonic()
        state.published_clock = None


def _take_inbox(state: ClusterLoop) -> None:
    """Record in the Simulation the flows other threads left in the cluster's inbox (in the loop's thread)."""
    if not state.inbox or state.sim is None:
        return
    taken = []
    while state.inbox:
        try:
            taken.append(state.inbox.popleft())
        except IndexError:
            break
    from engine.network import traffic

    traffic.take_in(state.sim, taken)


def submit_flow(cluster_pk: int, flow: dict) -> bool:
    """Hand a flow recorded outside the loop to the cluster's Simulation: queued on its inbox (from any thread)
    when this process runs it, taken in at the next tick; relayed through the change feed to the process that
    runs it otherwise. False when nobody could take it in."""
    runner = current_runner()
    state = runner.clusters.get(cluster_pk) if runner is not None else None
    if state is None:
        return FEED.flow(cluster_pk, flow)
    state.inbox.append(flow)
    return True


def _flow_sink(view, flow: dict) -> None:
    """engine.network.traffic's FLOW_SINKS entry: a flow on a NetworkView of a cluster's DjangoStore."""
    cluster_pk = getattr(getattr(view, "store", None), "cluster_id", None)
    if cluster_pk is not None:
        submit_flow(cluster_pk, flow)


def _register_flow_sink() -> None:
    from engine.network import traffic

    if _flow_sink not in traffic.FLOW_SINKS:
        traffic.FLOW_SINKS.append(_flow_sink)


_register_flow_sink()


def _in_thread(fn, *args, **kwargs):
    """Run one unit of the loop's database work, with connections handled as around a request."""
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


__all__ = [
    "SIMULATION_CHANNEL", "SimulationRunner", "api_for", "cluster_snapshot", "current_runner", "ensure_demo_cluster",
    "group_name", "node_summary", "nudge_simulation", "pod_summary", "set_clock", "step_clock", "tick_delta",
    "virtual_now",
]
