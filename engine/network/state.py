"""What the network keeps in memory per simulation: kube-proxy's tables, conntrack-like state, DNS
round-robin counters, recent flows and per-Service counters.

All of it is state a real cluster also keeps only in memory (iptables/ipvs rules are rebuilt by
kube-proxy after a restart, the `recent` module and ipvs connection tables are kernel memory) or is
telemetry; after a worker takeover it starts afresh. Every container here is bounded.
"""

from __future__ import annotations

import functools
import hashlib
import random
import weakref
from collections import Counter, deque
from dataclasses import dataclass, field

MAX_FLOWS = 1000  # recent flows kept for the UI
MAX_PENDING_FLOWS = 5000  # flows not yet handed to the runtime (drain_flows)
MAX_LATENCIES = 2048  # latency samples per Service for the percentiles
MAX_PODS_PER_SERVICE = 256  # per-pod counters per Service
MAX_AFFINITY = 10000  # sessionAffinity entries (client IP, service port)
MAX_ACCESS_LOG = 200  # lines per pod


@dataclass
class ServiceStats:
    """Counters for one Service (or one entry point without a Service, keyed by its name)."""

    requests: int = 0
    errors: int = 0
    outcomes: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    pods: Counter = field(default_factory=Counter)
    latencies: deque = field(default_factory=lambda: deque(maxlen=MAX_LATENCIES))

    def add(self, flow: dict) -> None:
        self.requests += 1
        if is_error(flow):
            self.errors += 1
        self.outcomes[flow["outcome"]] += 1
        if flow.get("status"):
            self.statuses[flow["status"]] += 1
        if flow.get("pod"):
            self.pods[flow["pod"]] += 1
            if len(self.pods) > MAX_PODS_PER_SERVICE:
                del self.pods[min(self.pods, key=self.pods.__getitem__)]
        self.latencies.append(flow["latency_ms"])

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return round(ordered[index], 3)

    def snapshot(self) -> dict:
        return {"requests": self.requests, "errors": self.errors, "outcomes": dict(self.outcomes),
                "statuses": {str(k): v for k, v in self.statuses.items()}, "pods": dict(self.pods),
                "p50_ms": self.percentile(50), "p95_ms": self.percentile(95), "p99_ms": self.percentile(99)}


def is_error(flow: dict) -> bool:
    """A failed request: the connection did not complete, or the server answered 5xx."""
    return flow["outcome"] != "ok" or (flow.get("status") or 0) >= 500


@dataclass
class Backend:
    """One endpoint of one Service port, as kube-proxy programs it."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node: str = ""
    pod: str = ""  # namespace/name, or "" for a hand-made endpoint
    zone: str = ""

    @property
    def key(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass
class PortTable:
    """kube-proxy's rules for one Service port: its entry points and its backends in insertion order."""

    namespace: str
    service: str
    port_name: str
    protocol: str
    port: int
    cluster_ip: str = ""
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    backends: list[Backend] = field(default_factory=list)
    session_affinity_seconds: int = 0  # 0: no ClientIP affinity
    external_local: bool = False  # externalTrafficPolicy: Local
    internal_local: bool = False  # internalTrafficPolicy: Local

    @property
    def name(self) -> str:
        """The ServicePortName kube-proxy logs: `default/web:http` (`default/web` for an unnamed port)."""
        base = f"{self.namespace}/{self.service}"
        return f"{base}:{self.port_name}" if self.port_name else base


class NetworkState:
    def __init__(self, seed: int | str = 0):
        self.rng = random.Random(f"kubedojo-network/{seed}")
        self.tables: dict[tuple[str, str], list[PortTable]] = {}  # (namespace, service) -> one per port
        self.rr_cursor: dict[str, str] = {}  # service port name -> last backend key chosen (ipvs rr, userspace)
        self.connections: dict[str, list[float]] = {}  # backend key -> end times of open connections (ipvs lc...)
        self.affinity: dict[tuple[str, str], tuple[str, float]] = {}  # (port name, client ip) -> (backend, last)
        self.dns_rotation: Counter = Counter()  # name -> queries answered (headless round robin)
        self.dns_rotations = 0  # answers rotated so far: a resolution that rotated one must not be reused
        self.ingress_rr: dict[str, int] = {}  # ingress backend -> next endpoint index
        self.flows: deque = deque(maxlen=MAX_FLOWS)
        self.pending: deque = deque(maxlen=MAX_PENDING_FLOWS)
        self.stats: dict[str, ServiceStats] = {}
        self.access_logs: dict[str, deque] = {}  # pod uid -> lines its app logged
        self.next_flow_id = 1
        self.shed = 0  # generated requests dropped because a tick had too many

    # --- flows and counters ---------------------------------------------------------------------
    def record(self, flow: dict) -> None:
        self.flows.append(flow)
        self.pending.append(flow)
        key = flow.get("service") or flow.get("entry") or "-"
        stats = self.stats.get(key)
        if stats is None:  # not setdefault: a ServiceStats is four containers, too dear to build for every flow
            stats = self.stats[key] = ServiceStats()
        stats.add(flow)

    def drain_flows(self) -> list[dict]:
        """Flows recorded since the last drain (the runtime publishes them once per tick)."""
        out = list(self.pending)
        self.pending.clear()
        return out

    def service_stats(self, namespace: str, name: str) -> dict:
        stats = self.stats.get(f"{namespace}/{name}")
        return (stats or ServiceStats()).snapshot()

    def log_access(self, uid: str, line: str) -> None:
        log = self.access_logs.get(uid)
        if log is None:
            log = self.access_logs[uid] = deque(maxlen=MAX_ACCESS_LOG)
        log.append(line)

    def remember_affinity(self, key: tuple[str, str], backend: str, now: float) -> None:
        self.affinity[key] = (backend, now)
        if len(self.affinity) > MAX_AFFINITY:
            oldest = min(self.affinity, key=lambda k: self.affinity[k][1])
            del self.affinity[oldest]

    def open_connections(self, backend: str, now: float) -> int:
        ends = self.connections.get(backend)
        if not ends:
            return 0
        live = [t for t in ends if t > now]
        if live:
            self.connections[backend] = live
        else:
            del self.connections[backend]
        return len(live)

    def open_connection(self, backend: str, until: float) -> None:
        self.connections.setdefault(backend, []).append(until)


_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def state_of(sim) -> NetworkState:
    """The simulation's network state (created on first use, seeded from the simulation's seed)."""
    state = _STATES.get(sim)
    if state is None:
        state = NetworkState(getattr(sim, "seed", 0))
        _STATES[sim] = state
    return state


@functools.lru_cache(maxsize=4096)
def short_hash(text: str, length: int = 16) -> str:
    """What kube-proxy puts after KUBE-SVC-/KUBE-SEP-: the base32 of a sha256, upper case."""
    import base64

    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:length]
