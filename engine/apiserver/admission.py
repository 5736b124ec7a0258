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


class DefaultStorageClass(Plugin):
    """A claim created without `storageClassName` gets the default StorageClass (the newest if several)."""

    MARKERS = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")

    def admit_create(self, api, info, obj, namespace):
        if info.kind != "PersistentVolumeClaim":
            return
        spec = obj.setdefault("spec", {})
        annotations = obj["metadata"].get("annotations") or {}
        if spec.get("storageClassName") is not None or "volume.beta.kubernetes.io/storage-class" in annotations:
            return
        classes, _ = api.store.list("StorageClass")
        marked = [c for c in classes if any((c["metadata"].get("annotations") or {}).get(m) == "true"
                                            for m in self.MARKERS)]
        if marked:
            newest = max(marked, key=lambda c: (c["metadata"].get("creationTimestamp") or "", c["metadata"]["name"]))
            spec["storageClassName"] = newest["metadata"]["name"]


# The two classes every apiserver creates at startup (`kubectl get priorityclass` lists them).
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


class Priority(Plugin):
    """Pods get `spec.priority` (and `preemptionPolicy`) from their PriorityClass, or from the global default
    class; only one PriorityClass may be the global default."""

    def _class(self, api, name: str) -> dict | None:
        found = api.store.get("PriorityClass", "", name)
        if found is None and name in SYSTEM_PRIORITY_CLASSES:
            found = {"metadata": {"name": name}, "value": SYSTEM_PRIORITY_CLASSES[name],
                     "preemptionPolicy": "PreemptLowerPriority"}
        return found

    def _default(self, api) -> dict | None:
        classes, _ = api.store.list("PriorityClass")
        defaults = [c for c in classes if c.get("globalDefault")]
        return min(defaults, key=lambda c: int(c.get("value") or 0)) if defaults else None

    def admit_create(self, api, info, obj, namespace):
        if info.kind == "PriorityClass":
            self._one_default(api, obj, None)
        if info.kind != "Pod":
            return
        spec = obj.setdefault("spec", {})
        name = spec.get("priorityClassName")
        if name:
            found = self._class(api, name)
            if found is None:
                raise errors.forbidden("pods", obj["metadata"].get("name", ""), "",
                                       f"no PriorityClass with name {name} was found")
        else:
            found = self._default(api)
            if found is not None:
                spec["priorityClassName"] = found["metadata"]["name"]
                if spec.get("priority") == 0:
                    spec.pop("priority")  # the 0 defaulting put there when no class was named
        value = int(found.get("value") or 0) if found is not None else 0
        if spec.get("priority") is not None and spec["priority"] != value:
            raise errors.forbidden("pods", obj["metadata"].get("name", ""), "",
                                   f"the integer value of priority ({spec['priority']}) must not be provided in pod "
                                   f"spec; priority admission controller computed {value} from the given "
                                   "PriorityClass name")
        spec["priority"] = value
        policy = (found or {}).get("preemptionPolicy")
        if policy:
            # PreemptLowerPriority may be our own defaulting; anything else the pod says must agree with its class.
            if spec.get("preemptionPolicy") not in (None, "PreemptLowerPriority", policy):
                raise errors.forbidden("pods", obj["metadata"].get("name", ""), "",
                                       f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not "
                                       f"be provided in pod spec; priority admission controller computed {policy} "
                                       "from the given PriorityClass name")
            spec["preemptionPolicy"] = policy

    def admit_update(self, api, info, new, old):
        if info.kind == "PriorityClass":
            self._one_default(api, new, old)

    def _one_default(self, api, obj: dict, old: dict | None) -> None:
        if not obj.get("globalDefault"):
            return
        current = self._default(api)
        if current is not None and (old is None or current["metadata"]["name"] != obj["metadata"]["name"]):
            raise errors.forbidden("priorityclasses", obj["metadata"].get("name", ""), "scheduling.k8s.io",
                                   f"PriorityClass {current['metadata']['name']} is already marked as default. "
                                   "Only one default can exist")


def default_chain() -> list[Plugin]:
    return [NamespaceLifecycle(), ServiceAllocation(), DefaultStorageClass(), Priority()]
