"""Admission plugins: what the apiserver decides after validation and before storing.

Each plugin sees the object about to be stored and may change it (mutating) or
refuse it with the error Kubernetes gives.
"""

from __future__ import annotations

import ipaddress

from engine import errors
from engine.resources.registry import KindInfo

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORT_RANGE = (30000, 32767)


class Plugin:
    def admit_create(self, api, info: KindInfo, obj: dict, namespace: str) -> None:
        pass

    def admit_update(self, api, info: KindInfo, new: dict, old: dict) -> None:
        pass


class NamespaceLifecycle(Plugin):
    def admit_create(self, api, info, obj, namespace):
        if not info.namespaced or info.kind == "Event":
            return
        ns = api.store.get("Namespace", "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(info.plural, obj["metadata"]["name"], info.group,
                                   f"unable to create new content in namespace {namespace} because it is being terminated")


class ServiceAllocation(Plugin):
    """ClusterIPs from the service CIDR and NodePorts from 30000-32767, as the Service REST storage allocates them."""

    def _used(self, api) -> tuple[set[str], set[int]]:
        services, _ = api.store.list("Service")
        ips, ports = set(), set()
        for svc in services:
            spec = svc.get("spec") or {}
            if spec.get("clusterIP") and spec["clusterIP"] != "None":
                ips.add(spec["clusterIP"])
            for port in spec.get("ports") or []:
                if port.get("nodePort"):
                    ports.add(int(port["nodePort"]))
        return ips, ports

    def admit_create(self, api, info, obj, namespace):
        if info.kind != "Service":
            return
        spec = obj.setdefault("spec", {})
        svc_type = spec.get("type", "ClusterIP")
        if svc_type == "ExternalName":
            spec.pop("clusterIP", None)
            return
        ips, ports = self._used(api)
        wanted = spec.get("clusterIP")
        name = obj["metadata"]["name"]
        if wanted and wanted != "None":
            try:
                address = ipaddress.ip_address(wanted)
            except ValueError:
                address = None
            if address is None or address not in SERVICE_CIDR:
                raise errors.invalid("Service", name, [errors.invalid_value(
                    "spec.clusterIPs", [wanted],
                    f"failed to allocate IP {wanted}: the provided IP ({wanted}) is not in the valid range. "
                    f"The range of valid IPs is {SERVICE_CIDR}")])
            if wanted in ips:
                raise errors.invalid("Service", name, [errors.invalid_value(
                    "spec.clusterIPs", [wanted], f"failed to allocate IP {wanted}: provided IP is already allocated")])
        elif not wanted:
            spec["clusterIP"] = self._next_ip(api, ips, name)
        spec["clusterIPs"] = [spec["clusterIP"]]
        if svc_type in ("NodePort", "LoadBalancer"):
            self._allocate_node_ports(api, spec, ports, name)

    def admit_update(self, api, info, new, old):
        if info.kind != "Service":
            return
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        if spec.get("type", "ClusterIP") != "ExternalName" and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            _, ports = self._used(api)
            # Ports this Service already holds stay its own.
            for port in old_spec.get("ports") or []:
                ports.discard(int(port.get("nodePort") or 0))
            old_by_port = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
            for port in spec.get("ports") or []:
                if not port.get("nodePort") and old_by_port.get((port.get("port"), port.get("protocol", "TCP"))):
                    port["nodePort"] = old_by_port[(port.get("port"), port.get("protocol", "TCP"))]
            self._allocate_node_ports(api, spec, ports, new["metadata"]["name"])

    def _next_ip(self, api, used: set[str], name: str) -> str:
        # `kubernetes` takes the first address, as on every cluster; others get a seeded random free one.
        first = str(SERVICE_CIDR.network_address + 1)
        if name == "kubernetes" and first not in used:
            return first
        size = SERVICE_CIDR.num_addresses
        for _ in range(64):
            candidate = str(SERVICE_CIDR.network_address + api.rng.randrange(2, size - 1))
            if candidate not in used:
                return candidate
        for offset in range(2, size - 1):
            candidate = str(SERVICE_CIDR.network_address + offset)
            if candidate not in used:
                return candidate
        raise errors.internal("failed to allocate a serviceIP: range is full")

    def _allocate_node_ports(self, api, spec: dict, used: set[int], name: str) -> None:
        low, high = NODE_PORT_RANGE
        for index, port in enumerate(spec.get("ports") or []):
            wanted = port.get("nodePort")
            path = f"spec.ports[{index}].nodePort"
            if wanted:
                wanted = int(wanted)
                if not low <= wanted <= high:
                    raise errors.invalid("Service", name, [errors.invalid_value(
                        path, wanted, f"provided port is not in the valid range. The range of valid ports is {low}-{high}")])
                if wanted in used:
                    raise errors.invalid("Service", name, [errors.invalid_value(
                        path, wanted, "provided port is already allocated")])
            else:
                for _ in range(1000):
                    wanted = api.rng.randint(low, high)
                    if wanted not in used:
                        break
                port["nodePort"] = wanted
            used.add(wanted)


def default_chain() -> list[Plugin]:
    return [NamespaceLifecycle(), ServiceAllocation()]
