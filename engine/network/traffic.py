"""Requests through the simulated network, hop by hop, and the per-cluster traffic generator.

`request(sim, client, url)` is what curl and wget in the web terminal call (and what the generator
sends many of): the client resolves the host through its resolv.conf and CoreDNS, the packet goes
to an entry point - a ClusterIP (kube-proxy on the client's node picks an endpoint), a node's
IP:nodePort (kube-proxy on that node), a LoadBalancer IP (the simulated cloud load balancer picks a
node first), an externalIP, the ingress controller on port 80/443, or a pod IP directly - and ends
at a pod, where NetworkPolicy decides whether the connection is let in and the container listening
on the port (if any) answers. Every request becomes a flow event:

    {"id", "time", "source", "client": {...}, "request": {"method", "url", "host", "port", "path"},
     "hops": [{"kind": "client"|"dns"|"load-balancer"|"node"|"ingress"|"service"|"kube-proxy"|"pod"|
               "container", "name", "namespace", "ip", "port", "node", "detail"}, ...],
     "entry", "service", "pod", "node", "dest_ip", "outcome", "reason", "detail", "status", "latency_ms"}

outcome is what the client experiences: ok (an HTTP answer, whatever its status), refused,
timeout, dropped-by-policy (a NetworkPolicy dropped the SYN: the client times out),
no-endpoints (the Service has none: kube-proxy rejects), connection-reset (no HTTP answer:
empty reply, TLS mismatch), unresolved (DNS failed). Flows are kept (bounded) in
`state_of(sim).flows`, handed to the runtime by `drain_flows(sim)`, and counted per Service
(`service_stats`).

The generator (`TrafficGenerator`, a controller driven by the virtual clock) sends the requests of
`NetworkConfig.traffic` each tick, at their own virtual times, against the cluster as it is at that
tick. `port_forward` and `service_proxy` are what `kubectl port-forward` and the apiserver's
`/api/v1/namespaces/<ns>/services/<svc>/proxy/` reach the application through.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from engine import errors, labels
from engine.controllers.base import Controller
from engine.kubelet.nodes import CONTROL_PLANE_LABEL, internal_ip
from engine.network import dns, http, ingress, kubeproxy, networkpolicy
from engine.network.config import NetworkConfig, TrafficSource, config_of
from engine.network.endpoints import find_port, is_pod_ready, selector_of
from engine.network.state import Backend, NetworkState, PortTable, state_of
from engine.network.view import NetworkView

# Simulated one-way costs (milliseconds) and server think times.
HOP_MS = {"pod-local": 0.03, "same-node": 0.06, "cross-node": 0.25, "external": 0.9, "load-balancer": 0.5,
          "ingress": 0.4, "userspace": 0.35, "dns": 0.35, "apiserver": 0.3}
APP_MS = {"docker.io/library/nginx": 0.3, "docker.io/library/httpd": 0.5, "gcr.io/google-samples/node-hello": 1.2}
DEFAULT_APP_MS = 1.0
USERSPACE_DIAL_TIMEOUT_MS = 250.0
DEFAULT_TIMEOUT_MS = 130_000.0  # curl without --connect-timeout: the kernel gives up on the SYNs after ~130 s
APISERVER_PORT = 8443
OUTCOMES = ("ok", "refused", "timeout", "dropped-by-policy", "no-endpoints", "connection-reset", "unresolved")


@dataclass
class Response:
    flow: dict
    status: int | None = None
    body: str = ""
    headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.flow["outcome"] == "ok"


@dataclass
class Client:
    kind: str  # external | pod | node | apiserver | port-forward
    ip: str
    name: str = ""
    namespace: str = ""
    node: str = ""
    pod: dict | None = None

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "name": self.name, "ip": self.ip}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.node:
            out["node"] = self.node
        return out


def client_for(sim, spec) -> Client:
    """A client from "external"/None, a pod object, "namespace/name" or ("namespace", "name") of a pod,
    or "node:<name>"."""
    if spec is None or spec == "external":
        return Client("external", config_of(sim).external_client_ip, "your machine")
    if isinstance(spec, Client):
        return spec
    if isinstance(spec, str) and spec.startswith("node:"):
        node = sim.cache.get("Node", "", spec[5:])
        if node is None:
            raise errors.not_found("nodes", spec[5:])
        return Client("node", internal_ip(node), spec[5:], node=spec[5:])
    pod = spec
    if isinstance(spec, dict):
        meta = spec.get("metadata") or {}
        pod = sim.cache.get("Pod", meta.get("namespace", ""), meta.get("name", "")) or spec  # its current status
    elif isinstance(spec, str):
        namespace, _, name = spec.rpartition("/")
        pod = sim.cache.get("Pod", namespace or "default", name)
        if pod is None:
            raise errors.not_found("pods", name)
    elif isinstance(spec, tuple):
        pod = sim.cache.get("Pod", spec[0], spec[1])
        if pod is None:
            raise errors.not_found("pods", spec[1])
    meta = pod["metadata"]
    return Client("pod", (pod.get("status") or {}).get("podIP", ""), meta["name"], meta.get("namespace", ""),
                  (pod.get("spec") or {}).get("nodeName") or "", pod)


# --- the cluster as the network sees it at one moment ------------------------------------------------------
class Topology:
    """Lookups for one batch of requests: addresses of nodes, pods and Services' entry points. The traffic
    generator keeps using one for the next batches while nothing it was computed from changes (`topology_basis`)."""

    def __init__(self, sim):
        self.sim = sim
        cache = sim.cache
        self.nodes = {n["metadata"]["name"]: n for n in cache.list("Node")}
        self.node_by_ip = {internal_ip(n): name for name, n in self.nodes.items() if internal_ip(n)}
        self.pod_by_ip: dict[str, dict] = {}
        for pod in cache.list("Pod"):
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or (pod.get("spec") or {}).get("hostNetwork"):
                continue
            current = self.pod_by_ip.get(ip)
            if current is None or (current.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                self.pod_by_ip[ip] = pod
        self.cluster: dict[tuple[str, int, str], PortTable] = {}
        self.node_ports: dict[tuple[int, str], PortTable] = {}
        self.external: dict[tuple[str, int, str], PortTable] = {}
        self.balancers: dict[tuple[str, int, str], PortTable] = {}
        self.cluster_ips: set[str] = set()
        for table in kubeproxy.all_tables(sim):
            self.cluster[(table.cluster_ip, table.port, table.protocol)] = table
            self.cluster_ips.add(table.cluster_ip)
            if table.node_port:
                self.node_ports[(table.node_port, table.protocol)] = table
            for ip in table.external_ips:
                self.external[(ip, table.port, table.protocol)] = table
            for ip in table.load_balancer_ips:
                self.balancers[(ip, table.port, table.protocol)] = table
        self.ingress_ip = ingress.controller_address(cache) if ingress.installed(cache) else ""
        # Valid as long as this Topology: one batch, or as long as the generator reuses it (`topology_basis`).
        self.memo: dict = {}  # containers' models and the pages they served
        self.dns_memo: dict = {}  # pods' DNS answers and reachability of CoreDNS (the generator may carry it on)
        self.ready_nodes = sorted(name for name, n in self.nodes.items() if _node_ready(n))

    def node_ip(self, name: str) -> str:
        node = self.nodes.get(name)
        return internal_ip(node) if node else ""


# What a Topology and the memo of its batches are computed from: the objects of these kinds (the memo holds
# containers' models, which read ConfigMaps, Secrets, volumes and Nodes, DNS answers and reachability, which read
# Services, EndpointSlices, Namespaces and NetworkPolicies), the network settings and kube-proxy's programmed rules.
TOPOLOGY_KINDS = ("Node", "Pod", "Service", "EndpointSlice", "Endpoints", "NetworkPolicy", "Namespace", "Ingress",
                  "IngressClass", "ConfigMap", "Secret", "PersistentVolumeClaim", "PersistentVolume")
# Every setting but the generator's own (read afresh each tick): a setting added later counts without a change here.
_TOPOLOGY_SETTINGS = operator.attrgetter(*(f.name for f in fields(NetworkConfig)
                                           if f.name not in ("traffic", "max_requests_per_tick")))
MAX_MEMO = 20_000  # entries a reused Topology's memo may grow to before it starts afresh
# What pods' DNS answers and their reachability of CoreDNS read: not Nodes, volumes or Ingresses, and Pods only
# through NetworkPolicies (a pod's own resolv.conf, hosts file and node are keyed by the pod object or its uid).
_DNS_KINDS = tuple(TOPOLOGY_KINDS.index(kind) for kind in ("Service", "EndpointSlice", "NetworkPolicy", "Namespace"))


def topology_basis(sim) -> tuple | None:
    """What a Topology and its memo are computed from, as a value to compare from one tick to the next (None when
    the cache keeps no versions: nothing can be reused then).

    The informer's per-kind versions change with every object put or dropped, its own controllers' writes included;
    the settings are copied (a dict or list may be changed in place); kube-proxy's tables are held and compared by
    value: its sync replaces a Service's list rather than changing it, possibly on a timer with no object changing
    (an unreplaced list compares equal at once, by identity)."""
    version = getattr(sim.cache, "version", None)
    if version is None:
        return None
    settings = tuple([tuple(v.items()) if isinstance(v, dict) else tuple(v) if isinstance(v, list) else v
                      for v in _TOPOLOGY_SETTINGS(config_of(sim))])
    return (sim.cache, getattr(sim, "controllers", None), tuple(map(version, TOPOLOGY_KINDS)), settings,
            list(state_of(sim).tables.items()))


def dns_basis(sim, basis: tuple) -> tuple:
    """The part of a `topology_basis` that DNS answers depend on: while it holds, a Topology rebuilt for another
    change (a pod's status, a Node's heartbeat) can keep the previous one's `dns_memo`."""
    cache, controllers, versions, settings, tables = basis
    pods = cache.version("Pod") if cache.count("NetworkPolicy") else None  # labels only matter to a policy
    return cache, controllers, tuple(versions[i] for i in _DNS_KINDS), pods, settings, tables


def _node_ready(node: dict) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


# --- one request ------------------------------------------------------------------------------------------------
@dataclass
class _Trip:
    """A request being routed: the hops so far and what happened."""

    sim: object
    topo: Topology
    client: Client
    method: str
    scheme: str
    host: str
    port: int
    path: str
    headers: dict
    timeout_ms: float
    at: float
    hops: list = field(default_factory=list)
    latency: float = 0.0
    outcome: str = "ok"
    reason: str = ""
    detail: str = ""
    status: int | None = None
    body: str = ""
    answer_headers: dict = field(default_factory=dict)
    entry: str = ""
    service: str = ""
    pod: str = ""
    node: str = ""
    dest_ip: str = ""
    connect_only: bool = False  # a TCP connect without a request (nc -z)
    state: NetworkState = field(init=False, repr=False)  # the simulation's, looked up once per request

    def __post_init__(self) -> None:
        self.state = state_of(self.sim)

    def hop(self, kind: str, name: str = "", ip: str = "", port: int | None = None, **extra) -> None:
        hop = {"kind": kind, "name": name, "ip": ip}
        if port:
            hop["port"] = port
        for key, value in extra.items():
            if value is not None and value != "":
                hop[key] = value
        self.hops.append(hop)

    def cost(self, key: str, times: float = 1.0) -> None:
        rng = self.state.rng
        self.latency += HOP_MS[key] * times * math.exp(rng.gauss(0.0, 0.2))

    def fail(self, outcome: str, reason: str, detail: str) -> None:
        self.outcome, self.reason, self.detail = outcome, reason, detail
        if outcome in ("timeout", "dropped-by-policy"):
            self.latency = max(self.latency, self.timeout_ms)


@functools.lru_cache(maxsize=1024)  # the generator sends the same few URLs over and over
def _parse(url: str, port: int | None, path: str | None) -> tuple[str, str, int, str]:
    text = url if "://" in url else f"http://{url}"
    parts = urlsplit(text)
    scheme = parts.scheme or "http"
    host = parts.hostname or ""
    default = 443 if scheme == "https" else 80
    try:
        explicit = parts.port
    except ValueError:
        explicit = None
    chosen = port if port is not None else (explicit if explicit is not None else default)
    full = parts.path or "/"
    if parts.query:
        full += "?" + parts.query
    return scheme, host, int(chosen), path if path is not None else full


def request(sim, client=None, url_or_host: str = "", port: int | None = None, path: str | None = None,
            method: str = "GET", headers: dict | None = None, timeout_ms: float | None = None, *,
            record: bool = True, source: str = "exec", at: float | None = None,
            topology: Topology | None = None, connect_only: bool = False) -> Response:
    """Send one HTTP request through the simulated network and return what the client gets.

    client: "external"/None (the learner's machine), a pod (object, "namespace/name"), "node:<name>".
    url_or_host: "http://bootcamp-svc/", "bootcamp-svc", "10.96.3.4:80", "https://shop.example.com/x"...;
    `port` and `path` override the URL's. The Host header (`headers["Host"]`) picks the Ingress rule.
    connect_only: only open the TCP connection (`nc -z`): the flow ends at the accepting container (or the
    ingress controller) with no HTTP exchange and nothing in the app's access log.
    """
    who = client_for(sim, client)
    scheme, host, port_no, req_path = _parse(url_or_host, port, path)
    headers = dict(headers or {})
    trip = _Trip(sim, topology or Topology(sim), who, method.upper(), scheme, host, port_no, req_path or "/",
                 headers, DEFAULT_TIMEOUT_MS if timeout_ms is None else float(timeout_ms),
                 sim.clock.now() if at is None else at, connect_only=connect_only)
    trip.hop("client", who.name, who.ip, namespace=who.namespace, node=who.node)
    _route(trip)
    flow = _flow(trip, source, url_or_host)
    if record:
        _record(sim, flow)
    return Response(flow, trip.status, trip.body, trip.answer_headers)


# FLOW_SINKS: sink(view, flow) for every flow recorded on a NetworkView (a pod shell's curl, wget or nc in the web
# terminal or behind a remote `kubectl exec`, which see the network through a view of the store): the runtime
# hands it to the cluster's running Simulation (`take_in`), so it is animated and counted like any other.
# A sink that raises is skipped: the request itself already happened.
FLOW_SINKS: list = []


def _record(sim, flow: dict) -> None:
    state_of(sim).record(flow)
    if FLOW_SINKS and isinstance(sim, NetworkView):
        for sink in list(FLOW_SINKS):
            try:
                sink(sim, flow)
            except Exception:  # noqa: BLE001 - telemetry must never fail the request
                continue


def take_in(sim, flows: list[dict]) -> int:
    """Record flows that happened outside this Simulation (see FLOW_SINKS): numbered in its own sequence, kept
    with its recent flows, handed out by the next `drain_flows` and counted per Service. Returns how many."""
    state = state_of(sim)
    count = 0
    for flow in flows:
        if not isinstance(flow, dict) or flow.get("outcome") not in OUTCOMES or "latency_ms" not in flow:
            continue
        taken = {**flow, "id": state.next_flow_id}
        state.next_flow_id += 1
        state.record(taken)
        count += 1
    return count


def _flow(trip: _Trip, source: str, url: str) -> dict:
    state = trip.state
    flow = {"id": state.next_flow_id, "time": trip.at, "source": source, "client": trip.client.as_dict(),
            "request": {"method": trip.method, "url": url, "scheme": trip.scheme, "host": trip.host,
                        "port": trip.port, "path": trip.path},
            "hops": trip.hops, "entry": trip.entry, "service": trip.service, "pod": trip.pod, "node": trip.node,
            "dest_ip": trip.dest_ip, "outcome": trip.outcome, "reason": trip.reason, "detail": trip.detail,
            "status": trip.status, "latency_ms": round(trip.latency, 3)}
    state.next_flow_id += 1
    return flow


def _route(trip: _Trip) -> None:
    client, topo = trip.client, trip.topo
    if client.kind == "pod" and trip.host in ("localhost", "127.0.0.1"):
        trip.dest_ip = "127.0.0.1"
        trip.entry = "localhost"
        _deliver(trip, client.pod, trip.port, local=True)
        return
    resolution = dns.resolve(trip.sim, client.pod if client.kind == "pod" else None, trip.host, memo=topo.dns_memo)
    if client.kind == "node" and not resolution.ok:
        resolution = dns.resolve(trip.sim, None, trip.host)
    if resolution.source == "dns" and resolution.nameserver:
        trip.cost("dns", max(1, len(resolution.tried)))
        trip.hop("dns", "kube-dns" if resolution.nameserver == config_of(trip.sim).dns_service_ip else "resolver",
                 resolution.nameserver, 53, detail=f"{trip.host} -> {resolution.fqdn} = "
                 f"{', '.join(resolution.addresses)} ({len(resolution.tried)} quer{'y' if len(resolution.tried) == 1 else 'ies'})")
    if not resolution.ok:
        tried = ", ".join(n for n, _ in resolution.tried)
        if resolution.error in ("timeout", "refused"):
            trip.latency += 5000.0 if resolution.error == "timeout" else 1.0
            trip.fail("unresolved", "unresolved", f"DNS server {resolution.nameserver} unreachable "
                                                  f"({resolution.error}): could not resolve {trip.host}")
        else:
            trip.fail("unresolved", "unresolved", f"could not resolve host {trip.host}"
                                                  + (f" (tried {tried})" if tried else ""))
        return
    ip = resolution.addresses[0]
    trip.dest_ip = ip
    if client.kind == "pod" and ip == client.ip:
        trip.entry = "pod"
        _deliver(trip, client.pod, trip.port, local=True)
        return
    external = client.kind == "external"
    key = (ip, trip.port, "TCP")
    if external:
        trip.cost("external")
    if key in topo.balancers:
        _via_load_balancer(trip, topo.balancers[key], ip)
    elif key in topo.external:
        _via_external_ip(trip, topo.external[key], ip)
    elif ip in topo.node_by_ip:
        _via_node(trip, topo.node_by_ip[ip], ip)
    elif ip in topo.cluster_ips:
        _via_cluster_ip(trip, topo.cluster.get(key), ip)
    elif ip in topo.pod_by_ip:
        if external:
            trip.fail("timeout", "unroutable", f"pod IP {ip} is only reachable inside the cluster")
            return
        trip.entry = "pod"
        _deliver(trip, topo.pod_by_ip[ip], trip.port, from_node=client.node)
    else:
        trip.fail("timeout", "no-route", f"nothing answers at {ip}")


def _service_hop(trip: _Trip, table: PortTable, ip: str, port: int) -> None:
    trip.service = f"{table.namespace}/{table.service}"
    trip.hop("service", table.service, ip, port, namespace=table.namespace)


def _via_cluster_ip(trip: _Trip, table: PortTable | None, ip: str) -> None:
    trip.entry = "cluster-ip"
    if trip.client.kind == "external":
        trip.fail("timeout", "unroutable", f"ClusterIP {ip} is only reachable inside the cluster")
        return
    if table is None:
        mode = config_of(trip.sim).kube_proxy_mode
        if mode == "ipvs":
            trip.cost("same-node")
            trip.fail("refused", "no-such-port", f"ClusterIP {ip} has no port {trip.port}: the node answers RST "
                                                 f"(ipvs binds service IPs to kube-ipvs0)")
        else:
            trip.fail("timeout", "no-such-port", f"ClusterIP {ip} has no port {trip.port}: no rule matches, "
                                                 f"the packet goes nowhere")
        return
    _service_hop(trip, table, ip, trip.port)
    _proxy(trip, table, trip.client.node, ip, external=False)


def _via_node(trip: _Trip, node: str, ip: str) -> None:
    topo = trip.topo
    trip.hop("node", node, ip, trip.port)
    table = topo.node_ports.get((trip.port, "TCP"))
    if table is not None:
        trip.entry = "node-port"
        _service_hop(trip, table, ip, trip.port)
        _proxy(trip, table, node, ip, external=trip.client.kind == "external")
        return
    if ip == topo.ingress_ip and trip.port in (80, 443):
        _via_ingress(trip, node, ip)
        return
    if trip.port == APISERVER_PORT and CONTROL_PLANE_LABEL in (topo.nodes[node]["metadata"].get("labels") or {}):
        trip.entry = "apiserver"
        _apiserver_endpoint(trip, Backend(ip, APISERVER_PORT, node=node))
        return
    trip.entry = "node"
    trip.cost("same-node")
    trip.fail("refused", "closed-port", f"nothing listens on {ip}:{trip.port} (node {node})")


def _via_load_balancer(trip: _Trip, table: PortTable, ip: str) -> None:
    trip.entry = "load-balancer"
    if trip.client.kind != "external":
        # kube-proxy captures traffic to a load-balancer IP on the client's node: the cloud LB is skipped.
        _service_hop(trip, table, ip, trip.port)
        _proxy(trip, table, trip.client.node, ip, external=False)
        return
    topo = trip.topo
    trip.cost("load-balancer")
    eligible = [n for n in topo.ready_nodes
                if CONTROL_PLANE_LABEL not in (topo.nodes[n]["metadata"].get("labels") or {})] or topo.ready_nodes
    if table.external_local:
        # The health check node port only passes on nodes with a ready local endpoint.
        eligible = [n for n in eligible if kubeproxy.usable(table, n, True)[0]]
    if not eligible:
        trip.hop("load-balancer", f"{table.namespace}/{table.service}", ip, trip.port)
        trip.fail("timeout", "no-healthy-nodes", f"load balancer {ip} has no healthy node to send to")
        return
    node = eligible[trip.state.rng.randrange(len(eligible))]
    trip.hop("load-balancer", f"{table.namespace}/{table.service}", ip, trip.port,
             detail=f"sent to node {node} ({len(eligible)} healthy)")
    trip.hop("node", node, topo.node_ip(node), table.node_port or trip.port)
    _service_hop(trip, table, ip, trip.port)
    _proxy(trip, table, node, ip, external=True)


def _via_external_ip(trip: _Trip, table: PortTable, ip: str) -> None:
    trip.entry = "external-ip"
    topo = trip.topo
    node = trip.client.node if trip.client.kind != "external" else topo.node_by_ip.get(ip)
    if node is None:
        if not topo.ready_nodes:
            trip.fail("timeout", "no-route", f"no node receives traffic for {ip}")
            return
        node = topo.ready_nodes[0]  # the network routes the externalIP to a node; kube-proxy does the rest
    if trip.client.kind == "external":
        trip.hop("node", node, topo.node_ip(node), trip.port)
    _service_hop(trip, table, ip, trip.port)
    _proxy(trip, table, node, ip, external=trip.client.kind == "external")


def _via_ingress(trip: _Trip, node: str, ip: str) -> None:
    trip.entry = "ingress"
    host = trip.headers.get("Host") or trip.headers.get("host") or trip.host
    chosen = ingress.route(trip.sim, host, trip.path, "https" if trip.port == 443 else trip.scheme)
    trip.cost("ingress")
    trip.hop("ingress", "ingress-nginx-controller", ip, trip.port, namespace=ingress.CONTROLLER_NAMESPACE,
             detail=(f"Ingress {chosen.ingress}: {chosen.rule}" if chosen.ingress else chosen.detail)
             + (f"; TLS: {chosen.certificate}" if chosen.certificate else ""))
    if trip.connect_only:  # the controller accepted the connection; nothing was asked of it
        return
    if chosen.status:
        trip.status = chosen.status
        reason = http.REASONS.get(chosen.status, "")
        trip.body = http.nginx_error_page(chosen.status, reason)
        trip.answer_headers = {"Server": "nginx"}
        if chosen.location:
            trip.answer_headers["Location"] = chosen.location
        trip.reason, trip.detail = ("redirect" if chosen.status == 308 else "ingress"), chosen.detail
        if chosen.service:
            trip.service = f"{chosen.namespace}/{chosen.service}"
        return
    trip.service = f"{chosen.namespace}/{chosen.service}"
    trip.hop("service", chosen.service, "", None, namespace=chosen.namespace,
             detail=f"port {chosen.service_port}; nginx balances the endpoints itself (round robin)")
    backend = chosen.backend
    pod = _pod_of(trip, backend)
    peer = networkpolicy.Peer(config_of(trip.sim).ingress_controller_pod_ip, ingress.CONTROLLER_NAMESPACE,
                              dict(ingress.CONTROLLER_LABELS),
                              {"kubernetes.io/metadata.name": ingress.CONTROLLER_NAMESPACE}, "ingress-nginx-controller")
    trip.path = chosen.upstream_path or trip.path
    if pod is None:
        trip.fail("timeout", "no-route", f"endpoint {backend.key} answers nothing")
    else:
        _deliver(trip, pod, backend.port, peer=peer, from_node=node)
    if trip.outcome != "ok":
        # nginx turns upstream failures into its own answer.
        status = 504 if trip.outcome in ("timeout", "dropped-by-policy") else 502
        trip.detail = f"{trip.detail}; ingress-nginx answers {status}"
        trip.outcome, trip.status = "ok", status
        trip.body = http.nginx_error_page(status, http.REASONS[status])
        trip.answer_headers = {"Server": "nginx"}
        if status == 504:
            trip.latency = max(trip.latency, 60_000.0)  # proxy-connect-timeout... as nginx's 60 s default


def _pod_of(trip: _Trip, backend: Backend) -> dict | None:
    if backend.pod:
        namespace, _, name = backend.pod.partition("/")
        pod = trip.sim.cache.get("Pod", namespace, name)
        if pod is not None and (pod.get("status") or {}).get("podIP") == backend.ip:
            return pod
    return trip.topo.pod_by_ip.get(backend.ip)


def _source_peer(trip: _Trip, node: str, external: bool,
                 local_policy: bool) -> tuple[networkpolicy.Peer | None, dict | None]:
    """Who the target pod sees: the client pod (peer None: `networkpolicy.evaluate` makes its Peer if a policy
    needs it), or for external traffic the client (Local policy keeps the client IP) or the node that masqueraded
    it."""
    client = trip.client
    if client.kind == "pod":
        return None, client.pod
    if external and not local_policy:
        return networkpolicy.Peer.of_ip(trip.topo.node_ip(node), f"node {node}, SNAT"), None
    return networkpolicy.Peer.of_ip(client.ip, client.name), None


def _proxy(trip: _Trip, table: PortTable, node: str, dest_ip: str, external: bool) -> None:
    sim = trip.sim
    mode = config_of(sim).kube_proxy_mode
    peer, source_pod = _source_peer(trip, node, external, table.external_local)

    def accepts(backend: Backend) -> bool:
        pod = _pod_of(trip, backend)
        if pod is None:
            return False
        if not networkpolicy.evaluate(sim, peer, pod, backend.port, table.protocol, source_pod).allowed:
            return False
        return http.listener(sim, pod, backend.port, trip.at, trip.topo.memo).accepting

    choice = kubeproxy.choose(sim, table, node, trip.client.ip, trip.at, external=external, dest_ip=dest_ip,
                              accepts=accepts if mode == "userspace" else None)
    trip.hop("kube-proxy", node, "", None, mode=mode, detail=choice.detail)
    if mode == "userspace":
        trip.cost("userspace")
    if choice.backend is None:
        trip.cost("same-node")
        if choice.outcome == "no-endpoints":
            trip.fail("no-endpoints", "no-endpoints", choice.detail)
        else:
            trip.fail("timeout", "no-local-endpoints", choice.detail)
        return
    for failed in choice.failed:
        pod = _pod_of(trip, failed)
        heard = http.listener(sim, pod, failed.port, trip.at, trip.topo.memo) if pod is not None else None
        trip.latency += 1.0 if heard is not None and heard.reason != "no-pod" else USERSPACE_DIAL_TIMEOUT_MS
    backend = choice.backend
    pod = _pod_of(trip, backend)
    if pod is None:
        if _apiserver_endpoint(trip, backend):
            return
        trip.hop("endpoint", backend.key, backend.ip, backend.port, detail="not a pod of this cluster")
        trip.fail("timeout", "no-route", f"endpoint {backend.key} is not a pod of this cluster and nothing "
                                         f"simulated answers there")
        return
    _deliver(trip, pod, backend.port, peer=peer, source_pod=source_pod, from_node=node)
    if mode == "ipvs":
        trip.state.open_connection(f"{node}/{backend.key}", trip.at + trip.latency / 1000.0)


def _apiserver_endpoint(trip: _Trip, backend: Backend) -> bool:
    """The `kubernetes` Service's endpoint: the apiserver on the control-plane node."""
    node = trip.topo.node_by_ip.get(backend.ip)
    if node is None or backend.port != APISERVER_PORT:
        return False
    trip.cost("cross-node")
    trip.node = node
    trip.hop("apiserver", "kube-apiserver", backend.ip, backend.port, node=node)
    if trip.scheme != "https":
        trip.status, trip.body = 400, "Client sent an HTTP request to an HTTPS server.\n"
    else:
        trip.status = 403
        trip.body = ('{\n  "kind": "Status",\n  "apiVersion": "v1",\n  "metadata": {},\n  "status": "Failure",\n'
                     '  "message": "forbidden: User \\"system:anonymous\\" cannot get path \\"' + trip.path.split("?")[0]
                     + '\\"",\n  "reason": "Forbidden",\n  "details": {},\n  "code": 403\n}')
        trip.answer_headers = {"Content-Type": "application/json"}
    return True


def _deliver(trip: _Trip, pod: dict, port: int, *, peer: networkpolicy.Peer | None = None,
             source_pod: dict | None = None, from_node: str = "", local: bool = False) -> None:
    """The last hops: NetworkPolicy at the pod, then the container listening on `port`."""
    sim = trip.sim
    meta = pod["metadata"]
    node = (pod.get("spec") or {}).get("nodeName") or ""
    ip = (pod.get("status") or {}).get("podIP", "")
    trip.pod, trip.node = f"{meta.get('namespace', '')}/{meta['name']}", node
    trip.dest_ip = trip.dest_ip or ip
    trip.hop("pod", meta["name"], ip, port, namespace=meta.get("namespace", ""), node=node,
             ready="true" if is_pod_ready(pod) else "false",
             terminating="true" if meta.get("deletionTimestamp") else "")
    if local:
        trip.cost("pod-local")
    else:
        trip.cost("same-node" if from_node == node or not from_node else "cross-node")
        if peer is None and trip.client.kind == "pod":
            source_pod = trip.client.pod  # evaluate makes its Peer when a policy needs it
        elif peer is None:
            peer = networkpolicy.Peer.of_ip(trip.client.ip, trip.client.name)
        decision = networkpolicy.evaluate(sim, peer, pod, port, "TCP", source_pod)
        if not decision.allowed:
            trip.hops[-1]["policy"] = decision.reason
            trip.fail("dropped-by-policy", "network-policy", decision.reason)
            return
        if decision.policies:
            trip.hops[-1]["policy"] = decision.reason
    heard = http.listener(sim, pod, port, trip.at, trip.topo.memo)
    if not heard.accepting:
        if heard.reason == "no-pod":
            trip.fail("timeout", "no-route", f"{ip}: {heard.detail}")
        else:
            trip.fail("refused", heard.reason, f"{trip.pod} port {port}: {heard.detail}")
        return
    trip.hop("container", heard.container, ip, port)
    if trip.connect_only:
        return
    image = heard.image
    trip.latency += APP_MS.get(image.repository, DEFAULT_APP_MS) * math.exp(trip.state.rng.gauss(0.0, 0.25))
    if trip.scheme == "https" and trip.entry != "ingress":
        trip.fail("connection-reset", "tls-error", f"{heard.container} on port {port} does not speak TLS")
        return
    reply = http.answer(heard, port, trip.method, trip.path, trip.at, trip.topo.memo)
    if reply.status is None:
        trip.fail("connection-reset", "empty-reply", f"{heard.container} on port {port} does not speak HTTP")
        return
    trip.status, trip.body, trip.answer_headers = reply.status, reply.body, reply.headers
    if trip.method == "HEAD":
        trip.body = ""
    line = http.access_log_line(image, trip.client.ip, trip.at,
                                trip.method, trip.path, reply.status, len(reply.body))
    if line:
        trip.state.log_access(meta.get("uid", ""), line)


# --- kubectl port-forward and the apiserver's service proxy ---------------------------------------------------------
class PortForwardError(Exception):
    """kubectl's error for a port-forward it cannot set up (the message is what kubectl prints)."""


def _sorted_for_attach(pods: list[dict]) -> list[dict]:
    """kubectl picks the pod to attach to as ActivePods sorts them: running and ready first, then oldest."""
    def rank(pod):
        phase = (pod.get("status") or {}).get("phase")
        return (0 if phase == "Running" else 1, 0 if is_pod_ready(pod) else 1,
                pod["metadata"].get("creationTimestamp", ""), pod["metadata"]["name"])
    return sorted((p for p in pods if not p["metadata"].get("deletionTimestamp")), key=rank)


def port_forward_target(sim, namespace: str, resource: str, name: str, port: int | str) -> tuple[dict, int]:
    """The pod and container port `kubectl port-forward <resource>/<name> :<port>` connects to."""
    kind = {"pod": "Pod", "pods": "Pod", "po": "Pod", "service": "Service", "services": "Service", "svc": "Service",
            "deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
            "replicaset": "ReplicaSet", "rs": "ReplicaSet"}.get(resource.lower(), resource)
    obj = sim.cache.get(kind, namespace, name)
    if obj is None:
        raise PortForwardError(f'Error from server (NotFound): {kind.lower()}s "{name}" not found')
    if kind == "Pod":
        pod, number = obj, int(port)
    elif kind == "Service":
        svc_port = next((p for p in (obj.get("spec") or {}).get("ports") or []
                         if str(p.get("port")) == str(port) or p.get("name") == port), None)
        if svc_port is None:
            raise PortForwardError(f"error: Service {name} does not have a service port {port}")
        selector = selector_of(obj)
        pods = _sorted_for_attach(sim.cache.list("Pod", namespace, selector)) if selector else []
        if not pods:
            raise PortForwardError("error: timed out waiting for the condition")
        pod = pods[0]
        number = find_port(pod, svc_port)
        if number is None:
            raise PortForwardError(f"error: Pod '{pod['metadata']['name']}' does not have a named port "
                                   f"'{svc_port.get('targetPort')}'")
    else:
        from engine.labels import from_label_selector

        pods = _sorted_for_attach(sim.cache.list("Pod", namespace,
                                                 from_label_selector((obj.get("spec") or {}).get("selector"))))
        if not pods:
            raise PortForwardError("error: timed out waiting for the condition")
        pod, number = pods[0], int(port)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise PortForwardError(f"error: unable to forward port because pod is not running. Current status={phase}")
    return pod, number


def forward(sim, pod: dict, port: int, path: str = "/", method: str = "GET", *, local_port: int | None = None,
            record: bool = True) -> Response:
    """A connection through `kubectl port-forward`: the kubelet dials localhost:`port` inside the pod
    (no Service, no kube-proxy, no NetworkPolicy on the way)."""
    meta = pod["metadata"]
    who = Client("port-forward", "127.0.0.1", "kubectl port-forward")
    trip = _Trip(sim, Topology(sim), who, method.upper(), "http", "localhost", local_port or port, path or "/", {},
                 DEFAULT_TIMEOUT_MS, sim.clock.now())
    trip.entry = "port-forward"
    trip.hop("client", who.name, who.ip, local_port or port)
    trip.hop("node", (pod.get("spec") or {}).get("nodeName") or "", "", None, detail="kubelet port-forward stream")
    _deliver(trip, pod, port, local=True)
    if trip.outcome == "refused":
        trip.outcome, trip.reason = "connection-reset", "empty-reply"
        trip.detail = (f"an error occurred forwarding {local_port or port} -> {port}: error forwarding port {port} to "
                       f"pod {meta.get('uid', '')}, uid : failed to connect to localhost:{port} inside namespace: "
                       f"connect: connection refused")
    flow = _flow(trip, "port-forward", f"http://localhost:{local_port or port}{path or '/'}")
    if record:
        _record(sim, flow)
    return Response(flow, trip.status, trip.body, trip.answer_headers)


def _status_body(code: int, reason: str, message: str) -> str:
    import json

    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                       "reason": reason, "code": code}, indent=2)


def service_proxy(sim, namespace: str, service: str, path: str = "/", method: str = "GET", *,
                  record: bool = True) -> Response:
    """GET /api/v1/namespaces/<ns>/services/<[scheme:]name[:port]>/proxy/<path>: the apiserver dials one of the
    Service's ready endpoints itself (from the control-plane node), picked at random."""
    parts = service.split(":")
    scheme, name, port = "http", parts[0], ""
    if len(parts) == 3:
        scheme, name, port = parts
    elif len(parts) == 2:
        if parts[0] in ("http", "https"):
            scheme, name = parts
        else:
            name, port = parts
    topo = Topology(sim)
    plane = next((n for n, node in topo.nodes.items() if CONTROL_PLANE_LABEL in (node["metadata"].get("labels") or {})),
                 next(iter(topo.nodes), ""))
    who = Client("apiserver", topo.node_ip(plane), "kube-apiserver", node=plane)
    trip = _Trip(sim, topo, who, method.upper(), scheme, name, 0, path or "/", {}, DEFAULT_TIMEOUT_MS, sim.clock.now())
    trip.entry = "apiserver-proxy"
    trip.hop("client", "kube-apiserver", who.ip, node=plane, detail=f"services/{service}/proxy")
    svc = sim.cache.get("Service", namespace, name)

    def done(code: int | None = None, reason: str = "", message: str = "") -> Response:
        if code is not None:
            trip.status, trip.body = code, _status_body(code, reason, message)
            trip.answer_headers = {"Content-Type": "application/json"}
        flow = _flow(trip, "service-proxy", f"/api/v1/namespaces/{namespace}/services/{service}/proxy{path or '/'}")
        if record:
            _record(sim, flow)
        return Response(flow, trip.status, trip.body, trip.answer_headers)

    if svc is None:
        trip.reason, trip.detail = "not-found", f'services "{name}" not found'
        return done(404, "NotFound", f'services "{name}" not found')
    ports = (svc.get("spec") or {}).get("ports") or []
    svc_port = next((p for p in ports if not port or p.get("name") == port or str(p.get("port")) == port), None)
    trip.service = f"{namespace}/{name}"
    if svc_port is None:
        return done(503, "ServiceUnavailable", f'no service port "{port}" found for service "{name}"')
    trip.hop("service", name, (svc.get("spec") or {}).get("clusterIP", ""), svc_port.get("port"), namespace=namespace)
    tables = [t for t in kubeproxy.tables_for(sim, namespace, name) if t.port == svc_port.get("port")]
    ready = [b for t in tables for b in t.backends if b.ready]
    if not ready:
        trip.reason, trip.detail = "no-endpoints", f'no endpoints available for service "{name}"'
        return done(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
    backend = ready[state_of(sim).rng.randrange(len(ready))]
    trip.port = backend.port
    pod = _pod_of(trip, backend)
    if pod is None:
        trip.fail("timeout", "no-route", f"endpoint {backend.key} answers nothing")
        return done(503, "ServiceUnavailable", f"error trying to reach service: dial tcp {backend.key}: i/o timeout")
    _deliver(trip, pod, backend.port, peer=networkpolicy.Peer.of_ip(who.ip, f"node {plane}"), from_node=plane)
    if trip.outcome != "ok":
        message = ("connect: connection refused" if trip.outcome == "refused" else "i/o timeout")
        return done(503, "ServiceUnavailable", f"error trying to reach service: dial tcp {backend.key}: {message}")
    return done()


# --- the generator ---------------------------------------------------------------------------------------------------
class TrafficGenerator(Controller):
    """Sends `NetworkConfig.traffic` each tick, at each request's own virtual time."""

    name = "traffic-generator"
    component = "traffic"
    # Route each tick's batch through the previous batch's Topology (and its memo) while its basis is unchanged;
    # False builds a fresh one every tick (the reference the reuse must match).
    reuse_topology = True

    def __init__(self, sim):
        super().__init__(sim)
        self.last: float | None = None
        self.next_at: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.turn: dict[str, int] = {}
        self._selectors: dict = {}  # a source's pod selector, parsed once
        self._topology: Topology | None = None
        self._basis: tuple | None = None
        self._dns_basis: tuple | None = None  # of the `dns_memo` the Topology holds
        self._clients: dict = {}  # (namespace, selector) -> running pods by name, for `_clients_key`
        self._clients_key: tuple | None = None

    def handle(self, change) -> None:
        pass

    def resync(self) -> None:
        pass

    def process(self) -> int:
        now = self.sim.clock.now()
        if self.last is None:
            self.last = now
        if now <= self.last + 1e-12:
            return 0
        cfg = config_of(self.sim)
        due: list[tuple[float, int, TrafficSource]] = []
        for order, source in enumerate(cfg.traffic):
            if not source.enabled or source.rate <= 0 and source.burst_rate <= 0:
                self.next_at.pop(source.name, None)
                continue
            # Offsets from the source's start stay small numbers, so the arithmetic stays exact enough.
            start = self.started.setdefault(source.name, self.last)
            offset = self.next_at.get(source.name)
            if offset is None:
                offset = (self.last - start) + 1.0 / max(source.rate_at(0.0), 1e-9)
            horizon = now - start + 1e-4
            while offset <= horizon:
                due.append((start + offset, order, source))
                offset += 1.0 / max(source.rate_at(offset + 1e-6), 1e-9)
            self.next_at[source.name] = offset
        due.sort(key=lambda item: (item[0], item[1]))
        state = state_of(self.sim)
        if len(due) > cfg.max_requests_per_tick:
            state.shed += len(due) - cfg.max_requests_per_tick
            due = due[: cfg.max_requests_per_tick]
        topology = self._batch_topology() if due else None
        for t, _, source in due:
            client = self._client(source)
            if client is None:
                state.shed += 1
                continue
            request(self.sim, client, source.target, method=source.method, headers=source.headers,
                    timeout_ms=source.timeout_ms, source=f"generator:{source.name}", at=t, topology=topology)
        self.last = now
        return 0

    def _batch_topology(self) -> Topology:
        """The last batch's Topology while nothing it was computed from changed, else a fresh one."""
        basis = topology_basis(self.sim) if self.reuse_topology else None
        if basis is None or self._topology is None or basis != self._basis:
            previous, self._topology = self._topology, Topology(self.sim)
            kept = dns_basis(self.sim, basis) if basis is not None else None
            if previous is not None and kept is not None and kept == self._dns_basis:
                self._topology.dns_memo = previous.dns_memo
            self._dns_basis = kept
        elif len(self._topology.memo) + len(self._topology.dns_memo) > MAX_MEMO:
            self._topology.memo.clear()  # only recomputed lookups: nothing a request sees changes
            self._topology.dns_memo.clear()
        self._basis = basis  # the newest: tables kube-proxy replaced by equal ones compare by identity from now on
        return self._topology

    def _running_pods(self, namespace: str, selector: str, parsed) -> list[dict]:
        """The running, not terminating pods a "pods:" source picks from, by name (kept while no Pod changes)."""
        cache = self.sim.cache
        version = getattr(cache, "version", None)
        if version is None or not self.reuse_topology:
            return _running(cache, namespace, parsed)
        key = (cache, version("Pod"))  # the cache compares by identity
        if key != self._clients_key:
            self._clients, self._clients_key = {}, key
        pods = self._clients.get((namespace, selector))
        if pods is None:
            pods = self._clients[(namespace, selector)] = _running(cache, namespace, parsed)
        return pods

    def _client(self, source: TrafficSource):
        spec = source.client or "external"
        if spec == "external":
            return "external"
        if spec.startswith("pod:"):
            namespace, _, name = spec[4:].rpartition("/")
            pod = self.sim.cache.get("Pod", namespace or "default", name)
            return pod if pod is not None and (pod.get("status") or {}).get("podIP") else None
        if spec.startswith("pods:"):
            namespace, _, selector = spec[5:].partition("/")
            parsed = self._selectors.get(selector)
            if parsed is None:
                parsed = self._selectors[selector] = labels.parse(selector)
            pods = self._running_pods(namespace, selector, parsed)
            if not pods:
                return None
            index = self.turn.get(source.name, 0)
            self.turn[source.name] = index + 1
            return pods[index % len(pods)]
        return spec


def _running(cache, namespace: str, selector) -> list[dict]:
    pods = [p for p in cache.list("Pod", namespace, selector)
            if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
    pods.sort(key=lambda p: p["metadata"]["name"])
    return pods


# --- what the UI reads -------------------------------------------------------------------------------------------------
def drain_flows(sim) -> list[dict]:
    """Flows recorded since the last call (the runtime publishes them once per tick)."""
    return state_of(sim).drain_flows()


def recent_flows(sim, limit: int = 100) -> list[dict]:
    return list(state_of(sim).flows)[-limit:]


def service_stats(sim, namespace: str, name: str) -> dict:
    """requests, errors, outcomes, statuses, per-pod counts and latency p50/p95/p99 (ms) of one Service."""
    return state_of(sim).service_stats(namespace, name)


def all_stats(sim) -> dict[str, dict]:
    return {key: stats.snapshot() for key, stats in state_of(sim).stats.items()}


def access_log(sim, pod: dict) -> list[str]:
    """The lines a pod's app logged for the requests it served (for `kubectl logs`)."""
    return list(state_of(sim).access_logs.get(pod["metadata"].get("uid", ""), ()))
