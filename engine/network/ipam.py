"""Address plans: the service CIDR (ClusterIPs, allocated by the apiserver's admission), the pod network
(a /24 per node, handed out by the kubelet), the node network, and the simulated cloud's pool of
LoadBalancer addresses (handed out by the service controller here).
"""

from __future__ import annotations

import ipaddress

from engine.apiserver.admission import NODE_PORT_RANGE, SERVICE_CIDR
from engine.kubelet.nodes import NODE_NETWORK, POD_NETWORK

POD_CIDR = ipaddress.ip_network(POD_NETWORK)
NODE_CIDR = ipaddress.ip_network(NODE_NETWORK)

__all__ = ["SERVICE_CIDR", "POD_CIDR", "NODE_CIDR", "NODE_PORT_RANGE", "is_ip", "in_cidr", "pool_addresses",
           "allocate_from_pool", "reverse_name", "dashed"]


def is_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except (ValueError, TypeError):
        return False
    return True


def in_cidr(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def pool_addresses(pool: tuple[str, str]) -> list[str]:
    first, last = (int(ipaddress.IPv4Address(a)) for a in pool)
    return [str(ipaddress.IPv4Address(i)) for i in range(first, last + 1)]


def allocate_from_pool(pool: tuple[str, str], used: set[str], wanted: str = "") -> str | None:
    """The lowest free address of the pool (or `wanted` if it is in the pool and free); None when exhausted."""
    addresses = pool_addresses(pool)
    if wanted:
        return wanted if wanted in addresses and wanted not in used else None
    return next((a for a in addresses if a not in used), None)


def reverse_name(ip: str) -> str:
    """`10.96.0.1` -> `1.0.96.10.in-addr.arpa`."""
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def from_reverse_name(name: str) -> str | None:
    name = name.rstrip(".").lower()
    if not name.endswith(".in-addr.arpa"):
        return None
    parts = name[: -len(".in-addr.arpa")].split(".")
    ip = ".".join(reversed(parts))
    return ip if len(parts) == 4 and is_ip(ip) else None


def dashed(ip: str) -> str:
    """`10.244.1.5` -> `10-244-1-5`, as pod A records and unnamed headless endpoints spell it."""
    return ip.replace(".", "-")
