"""NetworkPolicy (networking.k8s.io/v1) as the CNI enforces it, with the reason for each verdict.

A pod is isolated for ingress (egress) once any NetworkPolicy in its namespace selects it with
`Ingress` (`Egress`) in its policyTypes; until then everything is allowed. An isolated pod accepts
a connection only if some rule of some policy selecting it allows it: a rule allows when one of
its peers matches the other end (a `podSelector` alone: pods of the policy's namespace; a
`namespaceSelector` alone: any pod of the matching namespaces; both: pods matching both; an
`ipBlock`: the address, minus its `except` ranges) - no peers meaning every peer - and one of its
ports matches (number, range with `endPort`, or a named port of the destination pod, and the
protocol) - no ports meaning every port. A connection needs both the client's egress and the
server's ingress to allow it. Policies are additive: there is no deny rule.

Peers seen from a pod are what the packet carries: traffic that kube-proxy masqueraded (NodePort
or LoadBalancer with externalTrafficPolicy Cluster) comes from the node's IP, so only an ipBlock
can match it; the simulated ingress controller is a pod in `ingress-nginx`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.labels import from_label_selector
from engine.network import ipam


@dataclass
class Peer:
    """One end of a connection as NetworkPolicy sees it."""

    ip: str
    namespace: str | None = None  # None: not a pod (a node, the outside world)
    labels: dict = field(default_factory=dict)
    namespace_labels: dict = field(default_factory=dict)
    name: str = ""

    @classmethod
    def of_pod(cls, sim, pod: dict) -> Peer:
        meta = pod["metadata"]
        namespace = meta.get("namespace", "")
        ns = sim.cache.get("Namespace", "", namespace)
        return cls((pod.get("status") or {}).get("podIP", ""), namespace, dict(meta.get("labels") or {}),
                   dict(((ns or {}).get("metadata") or {}).get("labels") or {"kubernetes.io/metadata.name": namespace}),
                   meta["name"])

    @classmethod
    def of_ip(cls, ip: str, name: str = "") -> Peer:
        return cls(ip, name=name)

    def describe(self) -> str:
        if self.namespace is not None:
            return f"{self.ip} (pod {self.namespace}/{self.name})"
        return f"{self.ip} ({self.name})" if self.name else self.ip


@dataclass
class Decision:
    allowed: bool
    reason: str
    policies: list[str] = field(default_factory=list)  # the policies that decided (namespace/name)
    direction: str = ""  # ingress | egress


def _selects(policy: dict, labels: dict, direction: str) -> bool:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    if direction.capitalize() not in types:
        return False
    return from_label_selector(spec.get("podSelector") or {}).matches(labels)


def _peer_matches(peer_spec: dict, peer: Peer, policy_namespace: str) -> bool:
    block = peer_spec.get("ipBlock")
    if block is not None:
        if not peer.ip or not ipam.in_cidr(peer.ip, block.get("cidr", "")):
            return False
        return not any(ipam.in_cidr(peer.ip, cidr) for cidr in block.get("except") or [])
    if peer.namespace is None:
        return False  # pod and namespace selectors only ever match pods
    pod_selector = peer_spec.get("podSelector")
    ns_selector = peer_spec.get("namespaceSelector")
    if ns_selector is None:
        if peer.namespace != policy_namespace:
            return False
    elif not from_label_selector(ns_selector).matches(peer.namespace_labels):
        return False
    return pod_selector is None or from_label_selector(pod_selector).matches(peer.labels)


def _named_port(pod: dict | None, name: str, protocol: str) -> int | None:
    for container in ((pod or {}).get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort"))
    return None


def _port_matches(port_spec: dict, port: int, protocol: str, dest_pod: dict | None) -> bool:
    if (port_spec.get("protocol") or "TCP") != protocol:
        return False
    wanted = port_spec.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        return _named_port(dest_pod, wanted, protocol) == port
    low = int(wanted)
    high = int(port_spec.get("endPort") or low)
    return low <= port <= high


def _rule_allows(rule: dict, peers_key: str, peer: Peer, port: int, protocol: str, dest_pod: dict | None,
                 policy_namespace: str) -> bool:
    peers = rule.get(peers_key)
    if peers and not any(_peer_matches(p, peer, policy_namespace) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(_port_matches(p, port, protocol, dest_pod) for p in ports)


def _check(sim, pod: dict, direction: str, other: Peer, port: int, protocol: str, dest_pod: dict | None) -> Decision:
    meta = pod["metadata"]
    namespace = meta.get("namespace", "")
    labels = meta.get("labels") or {}
    who = f"pod {namespace}/{meta['name']}"
    selecting = [p for p in sim.cache.list("NetworkPolicy", namespace) if _selects(p, labels, direction)]
    if not selecting:
        return Decision(True, _unselected(pod, direction), [], direction)
    peers_key = "from" if direction == "ingress" else "to"
    names = [f"{namespace}/{p['metadata']['name']}" for p in sorted(selecting, key=lambda p: p["metadata"]["name"])]
    for policy in sorted(selecting, key=lambda p: p["metadata"]["name"]):
        for i, rule in enumerate((policy.get("spec") or {}).get(direction) or []):
            if _rule_allows(rule or {}, peers_key, other, port, protocol, dest_pod, namespace):
                name = f"{namespace}/{policy['metadata']['name']}"
                return Decision(True, f"allowed by NetworkPolicy {name} ({direction} rule {i})", [name], direction)
    verb = "from" if direction == "ingress" else "to"
    return Decision(False, f"denied: NetworkPolicy {', '.join(names)} select{'s' if len(names) == 1 else ''} "
                           f"{who} for {direction} and no rule allows {verb} {other.describe()} on port "
                           f"{port}/{protocol}", names, direction)


def _unselected(pod: dict, direction: str) -> str:
    meta = pod["metadata"]
    return f"no NetworkPolicy selects pod {meta.get('namespace', '')}/{meta['name']} for {direction}: allowed"


def _without_policies(dest_pod: dict, source_pod: dict | None) -> Decision:
    """`evaluate`'s verdict in a cluster with no NetworkPolicy at all (most of them), without looking for one."""
    reason = _unselected(dest_pod, "ingress")
    if source_pod is not None:
        reason = f"{_unselected(source_pod, 'egress')}; {reason}"
    return Decision(True, reason, [], "ingress")


def evaluate(sim, source: Peer | None, dest_pod: dict, port: int, protocol: str = "TCP",
             source_pod: dict | None = None) -> Decision:
    """May `source` open a connection to `dest_pod`:`port`? Egress of the source pod, then ingress of the target.
    `source` None: `source_pod` itself (its Peer is then only made when some NetworkPolicy could use it)."""
    if not sim.cache.count("NetworkPolicy"):
        return _without_policies(dest_pod, source_pod)
    if source is None:
        source = Peer.of_pod(sim, source_pod)
    target = Peer.of_pod(sim, dest_pod)
    if source_pod is not None:
        egress = _check(sim, source_pod, "egress", target, port, protocol, dest_pod)
        if not egress.allowed:
            return egress
    ingress = _check(sim, dest_pod, "ingress", source, port, protocol, dest_pod)
    if source_pod is not None and ingress.allowed:
        egress_reason = _check(sim, source_pod, "egress", target, port, protocol, dest_pod).reason
        return Decision(True, f"{egress_reason}; {ingress.reason}", ingress.policies, "ingress")
    return ingress


def evaluate_egress(sim, source_pod: dict, dest: Peer, port: int, protocol: str = "TCP") -> Decision:
    """May a pod open a connection to something that is not a pod (a node, the outside world)?"""
    return _check(sim, source_pod, "egress", dest, port, protocol, None)
