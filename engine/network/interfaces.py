"""A pod's network interfaces and routes, as busybox `ip` shows them inside the pod.

The simulated CNI is minikube's kindnet, which wires each pod with the `ptp` plugin: a veth pair whose pod
end, eth0, holds the pod IP with its node's pod CIDR prefix (/24); the gateway is the CIDR's first address on
the node end, and every route goes through it (the subnet route too: pods on the same node are reached via
the node). The veth's MAC address and the node-side interface index are derived from the pod (its uid and IP),
so they are stable for a pod and differ between pods, as on a real node.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from engine.kubelet.nodes import internal_ip

IP_USAGE = ("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\n"
            "Usage: ip [OPTIONS] address|route|link|tunnel|neigh|rule [ARGS]\n\n"
            "OPTIONS := -f[amily] inet|inet6|link | -o[neline]\n")
NODE_NETWORK = ipaddress.ip_network("192.168.49.0/24")  # minikube's docker network (hostNetwork pods)


@dataclass(frozen=True)
class Eth0:
    address: str
    network: ipaddress.IPv4Network
    gateway: str
    mac: str
    peer_index: int  # the node-side veth's ifindex: eth0@if<N>


def eth0(net, pod: dict) -> Eth0 | None:
    """The pod's eth0 (None before the pod has an IP)."""
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        return None
    spec = pod.get("spec") or {}
    node = net.cache.get("Node", "", spec.get("nodeName") or "") if spec.get("nodeName") else None
    if spec.get("hostNetwork"):
        network = NODE_NETWORK
    else:
        cidr = ((node or {}).get("spec") or {}).get("podCIDR")
        network = ipaddress.ip_network(cidr) if cidr else ipaddress.ip_network(f"{ip}/24", strict=False)
    digest = hashlib.sha256(((pod.get("metadata") or {}).get("uid", "") + ip).encode()).digest()
    mac = ":".join(f"{b:02x}" for b in bytes([(digest[0] & 0xFC) | 0x02]) + digest[1:6])
    peer = 4 + int(ip.rsplit(".", 1)[-1])  # the node's lo, eth0 and tunnels come first, then one veth per pod
    if spec.get("hostNetwork") and node is not None:
        ip = internal_ip(node) or ip
    return Eth0(ip, network, str(network.network_address + 1), mac, peer)


def _addr(e: Eth0 | None, family: str, dev: str | None) -> str:
    lines = []
    if dev in (None, "lo"):
        lines += ["1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN qlen 1000",
                  "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"]
        if family != "link":
            lines += ["    inet 127.0.0.1/8 scope host lo", "       valid_lft forever preferred_lft forever"]
    if e is not None and dev in (None, "eth0"):
        lines += [f"2: eth0@if{e.peer_index}: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue "
                  "state UP ",
                  f"    link/ether {e.mac} brd ff:ff:ff:ff:ff:ff"]
        if family != "link":
            lines += [f"    inet {e.address}/{e.network.prefixlen} brd {e.network.broadcast_address} scope global eth0",
                      "       valid_lft forever preferred_lft forever"]
    return "".join(line + "\n" for line in lines)


def _link(e: Eth0 | None, dev: str | None) -> str:
    lines = []
    if dev in (None, "lo"):
        lines += ["1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN qlen 1000",
                  "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"]
    if e is not None and dev in (None, "eth0"):
        lines += [f"2: eth0@if{e.peer_index}: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue "
                  "state UP ",
                  f"    link/ether {e.mac} brd ff:ff:ff:ff:ff:ff"]
    return "".join(line + "\n" for line in lines)


def _routes(e: Eth0 | None) -> str:
    if e is None:
        return ""
    return (f"default via {e.gateway} dev eth0 \n"
            f"{e.network} via {e.gateway} dev eth0  src {e.address} \n"
            f"{e.gateway} dev eth0 scope link  src {e.address} \n")


def _matches(word: str, full: str) -> bool:
    """iproute's `matches`: any prefix of the keyword."""
    return bool(word) and full.startswith(word)


def busybox_ip(net, pod: dict, argv: list[str]) -> tuple[str, str, int]:
    """busybox `ip address|route|link [show ...]` in `pod`; changes need NET_ADMIN, which pods lack."""
    args = list(argv)
    family = ""
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag == "-4":
            family = "inet"
        elif flag == "-6":
            family = "inet6"
        elif _matches(flag[1:], "family") and args:
            family = args.pop(0)
        elif not (_matches(flag[1:], "oneline")):
            return "", IP_USAGE, 1
    if not args:
        return "", IP_USAGE, 1
    e = eth0(net, pod)
    obj, rest = args[0], args[1:]
    action = rest[0] if rest else "show"
    if action not in ("show", "list", "lst", "ls"):
        if any(_matches(action, verb) for verb in ("add", "delete", "flush", "change", "replace", "append", "set")):
            return "", "ip: RTNETLINK answers: Operation not permitted\n", 1
        return "", IP_USAGE, 1
    words = [w for w in rest[1:] if w != "dev"]
    dev = words[0] if words else None
    if dev is not None and dev not in ("lo", "eth0"):
        return "", f"ip: can't find device '{dev}'\n", 1
    if _matches(obj, "address"):
        if family == "inet6":
            return "", "", 0
        return _addr(e, family, dev), "", 0
    if _matches(obj, "route"):
        return ("" if family == "inet6" else _routes(e)), "", 0
    if _matches(obj, "link"):
        return _link(e, dev), "", 0
    return "", IP_USAGE, 1
