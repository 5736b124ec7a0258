"""One cluster's network settings: plain data, no Django (the runtime fills it from the Cluster row).

`Simulation.network_config` holds one of these; everything in `engine.network`
reads it per request, so changing the kube-proxy mode or the traffic sources of
a running cluster takes effect at once (as restarting kube-proxy with another
`--proxy-mode` would).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# kube-proxy --proxy-mode values we simulate. userspace was removed from kube-proxy in v1.26;
# it is kept because the notes our learners study describe it.
KUBE_PROXY_MODES = ("iptables", "ipvs", "nftables", "userspace")
# --ipvs-scheduler values we simulate (the ipvs kernel modules kube-proxy can load).
IPVS_SCHEDULERS = ("rr", "lc", "dh", "sh", "sed", "nq")

CLUSTER_DOMAIN = "cluster.local"
DNS_SERVICE_IP = "10.96.0.10"
# The learner's machine on the cluster's docker network (minikube's host side), and what a node's
# own /etc/resolv.conf points at (the docker network's embedded DNS): what dnsPolicy Default inherits.
EXTERNAL_CLIENT_IP = "192.168.49.1"
NODE_NAMESERVER = "192.168.49.1"
# The simulated cloud's pool for LoadBalancer Services (as MetalLB or `minikube tunnel` would hand out).
LOAD_BALANCER_POOL = ("192.168.49.200", "192.168.49.250")
# The simulated ingress-nginx controller pod's IP (what NetworkPolicies see as the source of Ingress traffic).
INGRESS_CONTROLLER_POD_IP = "10.244.0.254"


@dataclass
class TrafficSource:
    """One stream of requests the traffic generator sends.

    target: a URL or host as curl takes it ("http://bootcamp-svc/", "http://192.168.49.3:30080/",
            "http://shop.example.com/cart", "10.96.12.7:80").
    client: "external" (the learner's machine), "pod:<namespace>/<name>", or
            "pods:<namespace>/<label selector>" (each request from the next matching running pod).
    pattern: "steady" (`rate` per second, evenly spaced) or "bursty" (`rate`, and `burst_rate`
             for `burst_length` seconds every `burst_every` seconds).
    """

    name: str
    target: str
    client: str = "external"
    rate: float = 5.0
    pattern: str = "steady"
    burst_rate: float = 50.0
    burst_every: float = 30.0
    burst_length: float = 5.0
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    timeout_ms: float = 5000.0
    enabled: bool = True

    def rate_at(self, t: float) -> float:
        """Requests per second at virtual time `t` (seconds since the source started)."""
        if self.pattern == "bursty" and self.burst_every > 0 and (t % self.burst_every) < self.burst_length:
            return self.burst_rate
        return self.rate


@dataclass
class NetworkConfig:
    kube_proxy_mode: str = "iptables"
    ipvs_scheduler: str = "rr"
    # Seconds between an EndpointSlice change and kube-proxy's rules reflecting it (0: same tick).
    # Real kube-proxy lags by up to its minSyncPeriod (1 s); raise this to show the termination race.
    proxy_sync_seconds: float = 0.0
    cluster_domain: str = CLUSTER_DOMAIN
    dns_service_ip: str = DNS_SERVICE_IP
    node_nameservers: tuple[str, ...] = (NODE_NAMESERVER,)
    node_search: tuple[str, ...] = ()
    external_client_ip: str = EXTERNAL_CLIENT_IP
    load_balancer_pool: tuple[str, str] = LOAD_BALANCER_POOL
    ingress_controller_pod_ip: str = INGRESS_CONTROLLER_POD_IP
    # The simulated outside world's DNS (there is no Internet): name -> address. Anything else is NXDOMAIN.
    external_hosts: dict[str, str] = field(default_factory=dict)
    traffic: list[TrafficSource] = field(default_factory=list)
    # Most requests the generator routes per tick (beyond it they are shed and counted).
    max_requests_per_tick: int = 2000

    def __post_init__(self) -> None:
        if self.kube_proxy_mode not in KUBE_PROXY_MODES:
            raise ValueError(f"unknown kube-proxy mode {self.kube_proxy_mode!r}; one of {', '.join(KUBE_PROXY_MODES)}")
        if self.ipvs_scheduler not in IPVS_SCHEDULERS:
            raise ValueError(f"unknown ipvs scheduler {self.ipvs_scheduler!r}; one of {', '.join(IPVS_SCHEDULERS)}")


def config_of(sim) -> NetworkConfig:
    """The simulation's network settings (defaults if the Simulation predates them)."""
    cfg = getattr(sim, "network_config", None)
    if cfg is None:
        cfg = NetworkConfig()
        sim.network_config = cfg
    return cfg
