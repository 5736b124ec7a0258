"""kube-proxy: the rules that send a Service's traffic to one of its endpoints, in each proxy mode.

kube-proxy watches Services and EndpointSlices and programs, per Service port, its entry points
(ClusterIP:port, every node's IP:nodePort, externalIPs, load-balancer IPs) and its backends. Here
one logical kube-proxy does that for every node (the rules are the same on each; only "local"
endpoints differ) and keeps them in `NetworkState.tables`; `choose` is what the kernel then does
with a new connection:

- iptables (the default): the KUBE-SVC chain jumps to endpoint n of N with
  `-m statistic --mode random --probability 1/(N-n)`: a uniform random choice.
- nftables: `numgen random mod N`: also uniform.
- ipvs: a virtual server per entry point with one real server per endpoint (weight 1) and the
  cluster's scheduler: rr (round robin, the default), lc (least connections), dh / sh
  (destination / source hashing into a 256-bucket table), sed (shortest expected delay),
  nq (never queue).
- userspace (removed from kube-proxy in v1.26, kept for the notes that describe it): kube-proxy
  itself accepts the connection and dials the endpoints round robin, trying the next one when a
  dial fails, so a dead endpoint costs time instead of an error.

Endpoints used are the ready ones; if none is ready, serving terminating ones (so a draining pod
still gets traffic rather than none). `externalTrafficPolicy: Local` (traffic from outside) and
`internalTrafficPolicy: Local` (traffic from pods) use only the node's own endpoints and drop
the connection if there are none. `sessionAffinity: ClientIP` sends a client back to the same
endpoint until it has been idle for `timeoutSeconds` (the iptables `recent` module / ipvs
persistence). Scheduler state (round-robin positions, open connections, affinity) is per node, as
each node's kernel keeps its own. A Service with no endpoints at all rejects connections (ICMP port unreachable:
"connection refused").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.controllers.base import Controller, Key
from engine.network.config import config_of
from engine.network.endpointslices import SERVICE_NAME_LABEL, slices_of
from engine.network.state import Backend, NetworkState, PortTable, short_hash, state_of
from engine.simulation import Activity
from engine.store import Change

IPVS_TABLE_SIZE = 256


# --- rules --------------------------------------------------------------------------------------------
def _ip_int(ip: str) -> int:
    try:
        a, b, c, d = (int(x) for x in ip.split("."))
    except ValueError:
        return 0
    return (a << 24) | (b << 16) | (c << 8) | d


def build_tables(cache, svc: dict, previous: list[PortTable] | None = None) -> list[PortTable]:
    """kube-proxy's view of one Service: one table per port (none for headless or ExternalName Services)."""
    spec = svc.get("spec") or {}
    meta = svc["metadata"]
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") in (None, "", "None"):
        return []
    namespace, name = meta.get("namespace", ""), meta["name"]
    slices = slices_of(cache, namespace, name, None)
    old_order = {}
    for table in previous or []:
        old_order[table.port_name] = [b.key for b in table.backends]
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        affinity = int(((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds") or 10800)
    lb_ips = tuple(i["ip"] for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                   if i.get("ip"))
    tables = []
    for port in spec.get("ports") or []:
        port_name = port.get("name") or ""
        protocol = port.get("protocol") or "TCP"
        table = PortTable(namespace, name, port_name, protocol, int(port.get("port") or 0),
                          cluster_ip=spec.get("clusterIP") or "",
                          node_port=int(port.get("nodePort") or 0) if spec.get("type") in ("NodePort", "LoadBalancer")
                          else 0,
                          external_ips=tuple(spec.get("externalIPs") or ()),
                          load_balancer_ips=lb_ips if spec.get("type") == "LoadBalancer" else (),
                          session_affinity_seconds=affinity,
                          external_local=spec.get("externalTrafficPolicy") == "Local",
                          internal_local=spec.get("internalTrafficPolicy") == "Local")
        found: dict[str, Backend] = {}
        for es in slices:
            number = next((p.get("port") for p in es.get("ports") or []
                           if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol), None)
            if number is None:
                continue
            for ep in es.get("endpoints") or []:
                conditions = ep.get("conditions") or {}
                ready = conditions.get("ready") is not False
                serving = conditions.get("serving")
                ref = ep.get("targetRef") or {}
                for ip in ep.get("addresses") or []:
                    backend = Backend(ip, int(number), ready, ready if serving is None else bool(serving),
                                      bool(conditions.get("terminating")), ep.get("nodeName") or "",
                                      f"{ref.get('namespace', namespace)}/{ref['name']}" if ref.get("name") else "",
                                      ep.get("zone") or "")
                    found.setdefault(backend.key, backend)
        order = [k for k in old_order.get(port_name, []) if k in found]
        order += sorted((k for k in found if k not in order), key=lambda k: (_ip_int(k.split(":")[0]), k))
        table.backends = [found[k] for k in order]
        tables.append(table)
    return tables


class KubeProxy(Controller):
    name = "kube-proxy"
    component = "kube-proxy"
    primary_kind = "Service"

    def handle(self, change: Change) -> None:
        if change.kind == "Service":
            self._nudge(change.namespace, change.name)
        elif change.kind == "EndpointSlice":
            service = (change.object["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
            if service:
                self._nudge(change.namespace, service)

    def _nudge(self, namespace: str, name: str) -> None:
        delay = config_of(self.sim).proxy_sync_seconds
        if delay > 0:
            self.enqueue_after(("Service", namespace, name), delay)
        else:
            self.enqueue("Service", namespace, name)

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        state = state_of(self.sim)
        svc = self.sim.cache.get("Service", namespace, name)
        previous = state.tables.get((namespace, name))
        tables = build_tables(self.sim.cache, svc, previous) if svc is not None else []
        if not tables:
            if state.tables.pop((namespace, name), None) is not None:
                self.sim.note(Activity(self.component, "sync", "Service", namespace, name, detail="rules removed"))
            return
        before = [[(b.key, b.ready, b.serving) for b in t.backends] for t in previous or []]
        state.tables[(namespace, name)] = tables
        after = [[(b.key, b.ready, b.serving) for b in t.backends] for t in tables]
        if before != after:
            usable = sum(1 for b in tables[0].backends if b.ready)
            self.sim.note(Activity(self.component, "sync", "Service", namespace, name,
                                   detail=f"{usable} ready endpoint(s)"))


def tables_for(sim, namespace: str, name: str) -> list[PortTable]:
    """The rules kube-proxy has programmed for a Service (computed on the spot without a kube-proxy)."""
    state = state_of(sim)
    has_proxy = _runs_kube_proxy(sim)
    if has_proxy and (namespace, name) in state.tables:
        return state.tables[(namespace, name)]
    svc = sim.cache.get("Service", namespace, name)
    if svc is None:
        return []
    tables = build_tables(sim.cache, svc, state.tables.get((namespace, name)))
    if not has_proxy:
        state.tables[(namespace, name)] = tables
    return tables


def _runs_kube_proxy(sim) -> bool:
    """Whether the simulation runs kube-proxy (asked for every connection: Simulation indexes its controllers)."""
    find = getattr(sim, "find_controller", None)
    return find is not None and isinstance(find(KubeProxy.name), KubeProxy)


def all_tables(sim) -> list[PortTable]:
    out = []
    for svc in sim.cache.list("Service"):
        out.extend(tables_for(sim, svc["metadata"].get("namespace", ""), svc["metadata"]["name"]))
    return out


# --- choosing an endpoint ----------------------------------------------------------------------------------
@dataclass
class Choice:
    backend: Backend | None
    outcome: str = "ok"  # ok | no-endpoints (rejected) | dropped (no local endpoint)
    detail: str = ""
    failed: list[Backend] = field(default_factory=list)  # userspace: endpoints tried before this one


def usable(table: PortTable, node: str, local: bool) -> tuple[list[Backend], bool]:
    """(endpoints this node may use, whether the Service has any usable endpoint in the cluster)."""
    ready = [b for b in table.backends if b.ready]
    fallback = [b for b in table.backends if b.serving and b.terminating]
    any_usable = bool(ready or fallback)
    if not local:
        return (ready or fallback), any_usable
    local_ready = [b for b in ready if b.node == node]
    if local_ready:
        return local_ready, any_usable
    return [b for b in fallback if b.node == node], any_usable


def choose(sim, table: PortTable, node: str, client_ip: str, now: float, *, external: bool, dest_ip: str = "",
           accepts: Callable[[Backend], bool] | None = None) -> Choice:
    """The endpoint a new connection from `client_ip`, arriving at `node`, is sent to."""
    cfg = config_of(sim)
    state = state_of(sim)
    local = table.external_local if external else table.internal_local
    candidates, any_usable = usable(table, node, local)
    if not candidates:
        if not any_usable:
            return Choice(None, "no-endpoints", f"service {table.name} has no endpoints: kube-proxy rejects "
                                                f"the connection (icmp port-unreachable)")
        policy = "externalTrafficPolicy" if external else "internalTrafficPolicy"
        return Choice(None, "dropped", f"no local endpoints on {node} ({policy}: Local): kube-proxy drops "
                                       f"the packet")
    affinity_key = (f"{node}/{table.name}", client_ip)  # each node's kernel keeps its own
    if table.session_affinity_seconds:
        remembered = state.affinity.get(affinity_key)
        if remembered is not None and now - remembered[1] <= table.session_affinity_seconds:
            backend = next((b for b in candidates if b.key == remembered[0]), None)
            if backend is not None:
                state.remember_affinity(affinity_key, backend.key, now)
                return Choice(backend, detail=f"sessionAffinity ClientIP: {client_ip} stays on {backend.key}")
    mode = cfg.kube_proxy_mode
    if mode == "userspace":
        choice = _userspace(state, table, node, candidates, accepts)
    elif mode == "ipvs":
        choice = _ipvs(state, table, node, candidates, cfg.ipvs_scheduler, client_ip, dest_ip or table.cluster_ip, now)
    elif mode == "nftables":
        index = state.rng.randrange(len(candidates))
        choice = Choice(candidates[index], detail=f"numgen random mod {len(candidates)} -> {index}: "
                                                  f"endpoint {candidates[index].key}")
    else:
        choice = _iptables(state, table, candidates)
    if table.session_affinity_seconds and choice.backend is not None:
        state.remember_affinity(affinity_key, choice.backend.key, now)
    return choice


def chain_names(table: PortTable, backend: Backend | None = None) -> tuple[str, str]:
    return _chain_names(table.name, table.protocol, backend.key if backend else "")


def _chain_names(port_name: str, protocol: str, key: str) -> tuple[str, str]:
    return ("KUBE-SVC-" + short_hash(port_name + protocol.lower()),
            "KUBE-SEP-" + short_hash(port_name + protocol.lower() + key))


def _iptables(state: NetworkState, table: PortTable, candidates: list[Backend]) -> Choice:
    n = len(candidates)
    for i, backend in enumerate(candidates):
        if i == n - 1 or state.rng.random() < 1.0 / (n - i):
            return Choice(backend, detail=_iptables_detail(table.name, table.protocol, backend.key, i, n))
    raise AssertionError("unreachable")


@functools.lru_cache(maxsize=4096)  # the same few rules match connection after connection
def _iptables_detail(port_name: str, protocol: str, key: str, i: int, n: int) -> str:
    """The rules a connection to endpoint `key`, rule i of n in the Service port's chain, went through."""
    svc_chain, sep_chain = _chain_names(port_name, protocol, key)
    probability = 1.0 / (n - i)
    rule = ("last rule, no match needed" if i == n - 1 and n > 1 else
            "only endpoint" if n == 1 else f"-m statistic --mode random --probability {probability:0.10f}")
    return f"{svc_chain} -> {sep_chain} ({rule}) -> DNAT {key}"


def _userspace(state: NetworkState, table: PortTable, node: str, candidates: list[Backend],
               accepts: Callable[[Backend], bool] | None) -> Choice:
    keys = [b.key for b in candidates]
    cursor = f"{node}/{table.name}"  # each node's kube-proxy balances on its own
    last = state.rr_cursor.get(cursor)
    start = (keys.index(last) + 1) % len(keys) if last in keys else 0
    failed = []
    for step in range(len(candidates)):
        backend = candidates[(start + step) % len(candidates)]
        state.rr_cursor[cursor] = backend.key
        if accepts is None or accepts(backend):
            detail = f"kube-proxy (userspace) proxied the connection to {backend.key} (round robin)"
            if failed:
                detail += f" after {len(failed)} failed dial(s) to " + ", ".join(b.key for b in failed)
            return Choice(backend, detail=detail, failed=failed)
        failed.append(backend)
    backend = failed[-1]
    return Choice(backend, detail="kube-proxy (userspace) could not dial any endpoint: "
                                  + ", ".join(b.key for b in failed), failed=failed[:-1])


def _hash_table(candidates: list[Backend]) -> list[Backend]:
    return [candidates[i % len(candidates)] for i in range(IPVS_TABLE_SIZE)]


def _ipvs(state: NetworkState, table: PortTable, node: str, candidates: list[Backend], scheduler: str,
          client_ip: str, dest_ip: str, now: float) -> Choice:
    vs = f"{dest_ip}:{table.port}"
    local = f"{node}/{vs}"  # each node's IPVS has its own scheduler state and connection table
    if scheduler == "rr":
        keys = [b.key for b in candidates]
        last = state.rr_cursor.get(local)
        index = (keys.index(last) + 1) % len(keys) if last in keys else 0
        backend = candidates[index]
        state.rr_cursor[local] = backend.key
        why = "round robin"
    elif scheduler in ("lc", "sed", "nq"):
        active = [state.open_connections(f"{node}/{b.key}", now) for b in candidates]
        index = None
        if scheduler == "nq":
            index = next((i for i, a in enumerate(active) if a == 0), None)
        if index is None:
            # With every weight 1, least connections and shortest expected delay ((C+1)/W) pick alike.
            index = min(range(len(candidates)), key=lambda i: (active[i], i))
        backend = candidates[index]
        why = {"lc": "least connections", "sed": "shortest expected delay", "nq": "never queue"}[scheduler] + \
            f" ({active[index]} active)"
    elif scheduler == "dh":
        bucket = (_ip_int(dest_ip) * 2654435761) & (IPVS_TABLE_SIZE - 1)
        backend = _hash_table(candidates)[bucket]
        why = f"destination hash of {dest_ip} -> bucket {bucket}"
    else:  # sh
        bucket = ((_ip_int(client_ip) * 0x61C88647) & 0xFFFFFFFF) >> (32 - 8)
        backend = _hash_table(candidates)[bucket]
        why = f"source hash of {client_ip} -> bucket {bucket}"
    return Choice(backend, detail=f"IPVS virtual server {vs} ({scheduler}): {why} -> real server {backend.key}")
