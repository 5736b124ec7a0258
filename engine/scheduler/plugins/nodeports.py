"""NodePorts: two pods cannot take the same hostPort on one node."""

from __future__ import annotations

from engine.scheduler.framework import SKIP, SUCCESS, NodeInfo, Plugin, PodInfo, Status, unschedulable

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def conflicts(wanted: tuple[str, str, int], used: dict) -> bool:
    ip, protocol, port = wanted
    for used_ip, used_protocol, used_port in used:
        if used_port == port and used_protocol == protocol and (
                ip == "0.0.0.0" or used_ip == "0.0.0.0" or ip == used_ip):
            return True
    return False


class NodePorts(Plugin):
    name = NAME
    has_filter = True

    def pre_filter(self, state, pod: PodInfo) -> Status:
        return SUCCESS if pod.requests.host_ports else SKIP

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        if any(conflicts(port, node.used_ports) for port in pod.requests.host_ports):
            return unschedulable(NAME, ERR_REASON)
        return SUCCESS


def new(handle=None) -> Plugin:
    return NodePorts(handle)
