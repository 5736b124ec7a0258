"""The Endpoints controller (kube-controller-manager's `endpoints-controller`), and the pod/port rules it
shares with the EndpointSlice controller.

For every Service with a selector (and not ExternalName) it keeps an Endpoints object of the same name:
each selected pod that has an IP, is not terminal and is not terminating (unless the Service sets
`publishNotReadyAddresses`) appears under `addresses` when Ready, else under `notReadyAddresses`,
once per Service port whose targetPort it resolves (a named targetPort is looked up in the pod's
container ports; a pod without it is left out of that port). Addresses sharing the same ports are
packed into one subset. Labels are the Service's, plus `service.kubernetes.io/headless` for a
headless Service; `endpoints.kubernetes.io/last-change-trigger-time` records the earliest pod
readiness change not yet reflected (the Service's creation time on the first sync).

Services without a selector are left alone: their Endpoints are written by hand (or, for
`kubernetes`, by the apiserver). Deleting a Service deletes its Endpoints.
"""

from __future__ import annotations

from engine import errors
from engine.clock import format_rfc3339, parse_rfc3339
from engine.controllers.base import Controller, Key
from engine.labels import Selector
from engine.store import DELETED, Change, copy_json

HEADLESS_LABEL = "service.kubernetes.io/headless"
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
MAX_ENDPOINTS = 1000  # Endpoints objects are truncated beyond this (EndpointSlices are not)


# --- rules shared with the EndpointSlice controller -----------------------------------------------------
def selector_of(svc: dict) -> Selector | None:
    """The Service's pod selector, or None for a selector-less Service (an empty selector is none, as stored)."""
    selector = (svc.get("spec") or {}).get("selector")
    if not selector:
        return None
    return Selector(_requirements(selector))


def _requirements(selector: dict):
    from engine.labels import Requirement

    return [Requirement(str(k), "=", (str(v),)) for k, v in sorted(selector.items())]


def managed_service(svc: dict | None) -> bool:
    """Whether the endpoint controllers keep this Service's endpoints."""
    if svc is None:
        return False
    spec = svc.get("spec") or {}
    return spec.get("type") != "ExternalName" and selector_of(svc) is not None


def is_headless(svc: dict) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


def pod_ip(pod: dict) -> str:
    status = pod.get("status") or {}
    return status.get("podIP") or next((p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")), "")


def is_pod_ready(pod: dict) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def should_be_in_endpoints(pod: dict, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, has an IP, and not terminating unless those are wanted."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if not pod_ip(pod):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def should_set_hostname(pod: dict, svc: dict) -> bool:
    spec = pod.get("spec") or {}
    return (bool(spec.get("hostname")) and spec.get("subdomain") == svc["metadata"]["name"]
            and pod["metadata"].get("namespace") == svc["metadata"].get("namespace"))


def find_port(pod: dict, svc_port: dict) -> int | None:
    """The container port a Service port's targetPort means for this pod (None if a named one is missing)."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    protocol = svc_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def target_ref(pod: dict) -> dict:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta.get("uid", "")}


def ready_transition(pod: dict) -> float | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return parse_rfc3339(cond.get("lastTransitionTime"))
    return None


class TriggerTimeTracker:
    """What `last-change-trigger-time` says: the earliest pod readiness transition (or Service creation)
    not yet seen by a previous sync of this Service; the Service's creation time on its first sync."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], tuple[float | None, dict[str, float]]] = {}

    def compute(self, svc: dict, pods: list[dict]) -> float | None:
        meta = svc["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        known = key in self._states
        last_svc, last_pods = self._states.get(key, (None, {}))
        earliest = None
        times = {}
        for pod in pods:
            t = ready_transition(pod)
            if t is None:
                continue
            times[pod["metadata"]["name"]] = t
            if t > last_pods.get(pod["metadata"]["name"], float("-inf")):
                earliest = t if earliest is None else min(earliest, t)
        created = parse_rfc3339(meta.get("creationTimestamp"))
        if created is not None and (last_svc is None or created > last_svc):
            earliest = created if earliest is None else min(earliest, created)
        self._states[key] = (created, times)
        return created if not known else earliest

    def forget(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)


class ServiceMembership:
    """Which Services select which pods, remembered so a pod whose labels changed enqueues its old Services too."""

    def __init__(self) -> None:
        self._by_pod: dict[tuple[str, str], set[str]] = {}

    def services_for_pod_change(self, cache, change: Change) -> set[str]:
        pod = change.object
        ns, name = change.namespace, change.name
        before = self._by_pod.pop((ns, name), set())
        if change.type == DELETED:
            return before
        now = {svc["metadata"]["name"] for svc in cache.list("Service", ns)
               if (sel := selector_of(svc)) is not None and sel.matches(pod["metadata"].get("labels"))}
        if now:
            self._by_pod[(ns, name)] = now
        return before | now


class ServiceEndpointsController(Controller):
    """Base of the two endpoint controllers: keyed by Service, nudged by Services and their pods."""

    primary_kind = "Service"
    own_kind = ""

    def __init__(self, sim):
        super().__init__(sim)
        self.membership = ServiceMembership()
        self.triggers = TriggerTimeTracker()

    def handle(self, change: Change) -> None:
        if change.kind == "Service":
            self.enqueue("Service", change.namespace, change.name)
        elif change.kind == "Pod":
            for name in self.membership.services_for_pod_change(self.sim.cache, change):
                self.enqueue("Service", change.namespace, name)
        elif change.kind == self.own_kind:
            self.handle_own(change)

    def handle_own(self, change: Change) -> None:
        if change.type == DELETED:
            self.enqueue("Service", change.namespace, change.name)

    def selected_pods(self, svc: dict) -> list[dict]:
        selector = selector_of(svc)
        if selector is None:
            return []
        pods = self.sim.cache.list("Pod", svc["metadata"].get("namespace", ""), selector)
        return sorted(pods, key=lambda p: p["metadata"]["name"])


# --- the Endpoints controller ----------------------------------------------------------------------------
def _address(pod: dict, svc: dict) -> dict:
    address = {"ip": pod_ip(pod)}
    if should_set_hostname(pod, svc):
        address["hostname"] = pod["spec"]["hostname"]
    if (pod.get("spec") or {}).get("nodeName"):
        address["nodeName"] = pod["spec"]["nodeName"]
    address["targetRef"] = target_ref(pod)
    return address


def _endpoint_port(svc_port: dict, number: int) -> dict:
    port = {}
    if svc_port.get("name"):
        port["name"] = svc_port["name"]
    port["port"] = number
    port["protocol"] = svc_port.get("protocol") or "TCP"
    if svc_port.get("appProtocol"):
        port["appProtocol"] = svc_port["appProtocol"]
    return port


def _port_key(port: dict) -> tuple:
    return port.get("name", ""), port.get("port", 0), port.get("protocol", "")


def _ip_key(address: dict) -> tuple:
    try:
        return tuple(int(p) for p in address["ip"].split(".")), address.get("targetRef", {}).get("uid", "")
    except ValueError:
        return (address["ip"],), ""


def build_subsets(svc: dict, pods: list[dict]) -> list[dict]:
    """The Endpoints subsets for these pods, packed: addresses with identical ports share a subset."""
    spec = svc.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    ports = spec.get("ports") or []
    # address key -> (address, ready, frozenset of port keys)
    entries: dict[tuple, tuple[dict, bool, dict[tuple, dict]]] = {}
    for pod in pods:
        if not should_be_in_endpoints(pod, tolerate):
            continue
        address = _address(pod, svc)
        ready = tolerate or is_pod_ready(pod)
        if not ports:
            if is_headless(svc):
                entries[_ip_key(address)] = (address, ready, {})
            continue
        found: dict[tuple, dict] = {}
        for svc_port in ports:
            number = find_port(pod, svc_port)
            if number is None:
                continue
            port = _endpoint_port(svc_port, number)
            found[_port_key(port)] = port
        if found:
            entries[_ip_key(address)] = (address, ready, found)
    groups: dict[tuple, dict] = {}
    for key in sorted(entries):
        address, ready, found = entries[key]
        group_key = tuple(sorted(found))
        subset = groups.setdefault(group_key, {"addresses": [], "notReadyAddresses": [],
                                               "ports": [found[k] for k in sorted(found)]})
        subset["addresses" if ready else "notReadyAddresses"].append(address)
    subsets = []
    for subset in groups.values():
        out = {}
        if subset["addresses"]:
            out["addresses"] = subset["addresses"]
        if subset["notReadyAddresses"]:
            out["notReadyAddresses"] = subset["notReadyAddresses"]
        if subset["ports"]:
            out["ports"] = subset["ports"]
        subsets.append(out)
    return subsets


def _truncate(subsets: list[dict]) -> bool:
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total = total_ready + sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total <= MAX_ENDPOINTS:
        return False
    room = MAX_ENDPOINTS
    for subset in subsets:
        ready = subset.get("addresses") or []
        subset["addresses"] = ready[:room]
        room -= len(subset["addresses"])
        not_ready = subset.get("notReadyAddresses") or []
        subset["notReadyAddresses"] = not_ready[:room]
        room -= len(subset["notReadyAddresses"])
        for field in ("addresses", "notReadyAddresses"):
            if not subset[field]:
                del subset[field]
    return True


class EndpointsController(ServiceEndpointsController):
    name = "endpoints-controller"
    own_kind = "Endpoints"

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        svc = self.sim.cache.get("Service", namespace, name)
        client = self.sim.client("kube-controller-manager")
        if svc is None:
            self.triggers.forget(namespace, name)
            if self.sim.cache.get("Endpoints", namespace, name) is not None:
                client.delete("Endpoints", namespace, name)
            return
        if not managed_service(svc):
            return  # ExternalName, or a selector-less Service whose Endpoints are written by hand
        pods = self.selected_pods(svc)
        trigger = self.triggers.compute(svc, pods)
        subsets = build_subsets(svc, pods)
        labels = dict(svc["metadata"].get("labels") or {})
        current = self.sim.cache.get("Endpoints", namespace, name)
        if current is not None:
            current_labels = dict(current["metadata"].get("labels") or {})
            current_labels.pop(HEADLESS_LABEL, None)
            over = OVER_CAPACITY_ANNOTATION in (current["metadata"].get("annotations") or {})
            if (current.get("subsets") or []) == subsets and current_labels == labels and over == (
                    sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)
                    > MAX_ENDPOINTS):
                return
        if is_headless(svc):
            labels[HEADLESS_LABEL] = ""
        annotations = dict(((current or {}).get("metadata") or {}).get("annotations") or {})
        if trigger is not None:
            annotations[TRIGGER_TIME_ANNOTATION] = format_rfc3339(trigger)
        else:
            annotations.pop(TRIGGER_TIME_ANNOTATION, None)
        if _truncate(subsets):
            annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY_ANNOTATION, None)
        if current is None:
            endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace}}
        else:
            endpoints = copy_json(current)
        _set_map(endpoints["metadata"], "labels", labels)
        _set_map(endpoints["metadata"], "annotations", annotations)
        _set_map(endpoints, "subsets", subsets)
        if current is None:
            try:
                client.create(endpoints)
            except errors.ApiError as exc:
                if exc.code != 403:  # a terminating namespace takes no new objects: nothing to retry
                    raise
        else:
            client.update(endpoints)


def _set_map(obj: dict, key: str, value) -> None:
    """Set a field, leaving it out when empty (Go's omitempty)."""
    if value:
        obj[key] = value
    else:
        obj.pop(key, None)
