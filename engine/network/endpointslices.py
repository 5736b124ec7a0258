"""The EndpointSlice controller, and the EndpointSlice mirroring controller.

`endpointslice-controller` keeps, for every Service with a selector, EndpointSlices named
`<service>-<5 random characters>`, labelled `kubernetes.io/service-name: <service>` and
`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`, owned by the Service.
Unlike Endpoints, a slice also lists terminating pods, with conditions: `ready` (Ready and not
terminating, or publishNotReadyAddresses), `serving` (Ready, whether terminating or not) and
`terminating` (deletionTimestamp set). Pods whose targetPorts resolve to different numbers go to
different slices; a slice holds at most 100 endpoints; a Service with no endpoints keeps one empty
placeholder slice. Existing slices are updated in place, so their names stay.

`endpointslicemirroring-controller` mirrors the Endpoints of selector-less Services (written by
hand) into slices managed by it, so kube-proxy, which reads only EndpointSlices, routes to them.
Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"` are not mirrored; the
apiserver's own `kubernetes` Endpoints are, as the apiserver itself does, written as the
`kubernetes` EndpointSlice.
"""

from __future__ import annotations

from engine import errors
from engine.clock import format_rfc3339
from engine.controllers.base import Controller, Key
from engine.network.endpoints import (
    HEADLESS_LABEL,
    TRIGGER_TIME_ANNOTATION,
    ServiceEndpointsController,
    find_port,
    is_headless,
    is_pod_ready,
    managed_service,
    pod_ip,
    selector_of,
    should_be_in_endpoints,
    should_set_hostname,
    target_ref,
)
from engine.store import DELETED, Change, copy_json

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MIRRORING_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
RESERVED = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)


def owner_reference(svc: dict) -> dict:
    meta = svc["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def slice_labels(svc: dict, managed_by: str) -> dict:
    labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k not in RESERVED}
    if is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = svc["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = managed_by
    return labels


def slices_of(cache, namespace: str, service: str, managed_by: str | None) -> list[dict]:
    """The EndpointSlices of a Service (those one controller manages, or all of them)."""
    out = []
    for es in cache.list("EndpointSlice", namespace):
        labels = es["metadata"].get("labels") or {}
        if labels.get(SERVICE_NAME_LABEL) != service:
            continue
        if managed_by is None or labels.get(MANAGED_BY_LABEL) == managed_by:
            out.append(es)
    return sorted(out, key=lambda s: s["metadata"].get("creationTimestamp", "") + s["metadata"]["name"])


def pod_to_endpoint(pod: dict, svc: dict, node: dict | None) -> dict:
    serving = is_pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: dict = {"addresses": [pod_ip(pod)],
                      "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, svc):
        endpoint["hostname"] = pod["spec"]["hostname"]
    endpoint["targetRef"] = target_ref(pod)
    if (pod.get("spec") or {}).get("nodeName"):
        endpoint["nodeName"] = pod["spec"]["nodeName"]
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
    if zone:
        endpoint["zone"] = zone
    return endpoint


def endpoint_ports(svc: dict, pod: dict) -> list[dict] | None:
    """The slice ports for this pod (None: the pod resolves none of the Service's ports)."""
    ports = (svc.get("spec") or {}).get("ports") or []
    if not ports:
        return [] if is_headless(svc) else None
    out = []
    for svc_port in ports:
        number = find_port(pod, svc_port)
        if number is None:
            continue
        port = {"name": svc_port.get("name") or "", "port": number, "protocol": svc_port.get("protocol") or "TCP"}
        if svc_port.get("appProtocol"):
            port["appProtocol"] = svc_port["appProtocol"]
        out.append(port)
    return out or None


def _endpoint_key(endpoint: dict) -> str:
    return (endpoint.get("targetRef") or {}).get("uid") or ",".join(endpoint.get("addresses") or [])


def _ports_key(ports: list[dict]) -> tuple:
    return tuple(sorted((p.get("name", ""), p.get("port", 0), p.get("protocol", "")) for p in ports or []))


class EndpointSliceController(ServiceEndpointsController):
    name = "endpointslice-controller"
    own_kind = "EndpointSlice"

    def handle_own(self, change: Change) -> None:
        labels = change.object["metadata"].get("labels") or {}
        if change.type == DELETED and labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME \
                and labels.get(SERVICE_NAME_LABEL):
            self.enqueue("Service", change.namespace, labels[SERVICE_NAME_LABEL])

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        svc = self.sim.cache.get("Service", namespace, name)
        if svc is None:
            self.triggers.forget(namespace, name)
            return  # the garbage collector deletes the slices the Service owned
        if not managed_service(svc) or svc["metadata"].get("deletionTimestamp"):
            return
        pods = self.selected_pods(svc)
        trigger = self.triggers.compute(svc, pods)
        desired: dict[tuple, dict[str, dict]] = {}  # ports key -> endpoint key -> endpoint
        ports_of: dict[tuple, list[dict]] = {}
        for pod in pods:
            if not should_be_in_endpoints(pod, True):
                continue
            ports = endpoint_ports(svc, pod)
            if ports is None:
                continue
            node = self.sim.cache.get("Node", "", (pod.get("spec") or {}).get("nodeName") or "")
            endpoint = pod_to_endpoint(pod, svc, node)
            pkey = _ports_key(ports)
            ports_of.setdefault(pkey, ports)
            desired.setdefault(pkey, {})[_endpoint_key(endpoint)] = endpoint
        self._reconcile(svc, desired, ports_of, trigger)

    def _reconcile(self, svc: dict, desired: dict, ports_of: dict, trigger: float | None) -> None:
        meta = svc["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        client = self.sim.client("kube-controller-manager")
        labels = slice_labels(svc, CONTROLLER_NAME)
        existing = slices_of(self.sim.cache, namespace, name, CONTROLLER_NAME)
        wanted_slices: list[tuple[dict | None, list[dict], list[dict]]] = []  # (existing, ports, endpoints)
        spare = []
        by_ports: dict[tuple, list[dict]] = {}
        for es in existing:
            by_ports.setdefault(_ports_key(es.get("ports") or []), []).append(es)
        for pkey, endpoints in desired.items():
            remaining = dict(endpoints)
            for es in by_ports.pop(pkey, []):
                kept = []
                for old in es.get("endpoints") or []:
                    fresh = remaining.pop(_endpoint_key(old), None)
                    if fresh is not None:
                        kept.append(fresh)
                wanted_slices.append((es, ports_of[pkey], kept))
            for _es, ports, kept in wanted_slices:
                if _ports_key(ports) != pkey:
                    continue
                while remaining and len(kept) < MAX_ENDPOINTS_PER_SLICE:
                    kept.append(remaining.pop(next(iter(remaining))))
            while remaining:
                batch = [remaining.pop(next(iter(remaining)))
                         for _ in range(min(MAX_ENDPOINTS_PER_SLICE, len(remaining)))]
                wanted_slices.append((None, ports_of[pkey], batch))
        for leftovers in by_ports.values():
            spare.extend(leftovers)
        # Slices left empty go, except that a Service always keeps one slice (the placeholder).
        final = [(es, ports, eps) for es, ports, eps in wanted_slices if eps]
        empties = [es for es, _, eps in wanted_slices if not eps and es is not None] + spare
        if not final:
            keep = empties.pop(0) if empties else None
            final = [(keep, [], [])]
        for es, ports, eps in final:
            self._write(client, svc, es, labels, ports, eps, trigger)
        for es in empties:
            if all(es is not kept for kept, _, _ in final):
                client.delete("EndpointSlice", namespace, es["metadata"]["name"])

    def _write(self, client, svc: dict, es: dict | None, labels: dict, ports: list[dict], endpoints: list[dict],
               trigger: float | None) -> None:
        meta = svc["metadata"]
        if es is None:
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"generateName": f"{meta['name']}-", "namespace": meta.get("namespace", ""),
                                 "labels": labels, "ownerReferences": [owner_reference(svc)]},
                    "addressType": "IPv4", "endpoints": endpoints}
            if ports:
                body["ports"] = ports
            if trigger is not None:
                body["metadata"]["annotations"] = {TRIGGER_TIME_ANNOTATION: format_rfc3339(trigger)}
            try:
                client.create(body)
            except errors.ApiError as exc:
                if exc.code != 403:  # a terminating namespace takes no new objects: nothing to retry
                    raise
            return
        same = (es.get("endpoints") or []) == endpoints and (es.get("ports") or []) == ports \
            and (es["metadata"].get("labels") or {}) == labels
        if same:
            return
        body = copy_json(es)
        body["metadata"]["labels"] = labels
        body["endpoints"] = endpoints
        if ports:
            body["ports"] = ports
        else:
            body.pop("ports", None)
        annotations = dict(body["metadata"].get("annotations") or {})
        if trigger is not None:
            annotations[TRIGGER_TIME_ANNOTATION] = format_rfc3339(trigger)
        else:
            annotations.pop(TRIGGER_TIME_ANNOTATION, None)
        if annotations:
            body["metadata"]["annotations"] = annotations
        else:
            body["metadata"].pop("annotations", None)
        client.update(body)


# --- mirroring -------------------------------------------------------------------------------------------
def mirrored_slices(endpoints: dict) -> list[tuple[list[dict], list[dict]]]:
    """(ports, endpoints) per subset of hand-made Endpoints, as the mirroring controller writes them."""
    out = []
    for subset in endpoints.get("subsets") or []:
        ports = [{"name": p.get("name") or "", "port": p.get("port"), "protocol": p.get("protocol") or "TCP"}
                 for p in subset.get("ports") or []]
        eps = []
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or []:
                ep: dict = {"addresses": [address.get("ip", "")], "conditions": {"ready": ready}}
                if address.get("hostname"):
                    ep["hostname"] = address["hostname"]
                if address.get("targetRef"):
                    ep["targetRef"] = address["targetRef"]
                if address.get("nodeName"):
                    ep["nodeName"] = address["nodeName"]
                eps.append(ep)
        if eps:
            out.append((ports, eps))
    return out


class EndpointSliceMirroringController(Controller):
    name = "endpointslicemirroring-controller"
    primary_kind = "Endpoints"

    def handle(self, change: Change) -> None:
        if change.kind in ("Endpoints", "Service"):
            self.enqueue("Endpoints", change.namespace, change.name)
        elif change.kind == "EndpointSlice" and change.type == DELETED:
            service = (change.object["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
            if service:
                self.enqueue("Endpoints", change.namespace, service)

    def resync(self) -> None:
        for kind in ("Endpoints", "Service"):
            for obj in self.sim.cache.list(kind):
                self.enqueue("Endpoints", obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        endpoints = self.sim.cache.get("Endpoints", namespace, name)
        svc = self.sim.cache.get("Service", namespace, name)
        if endpoints is not None and name == "kubernetes" and namespace == "default":
            self._apiserver_slice(endpoints)
            return
        existing = slices_of(self.sim.cache, namespace, name, MIRRORING_CONTROLLER_NAME)
        client = self.sim.client("kube-controller-manager")
        skip = endpoints is not None and (endpoints["metadata"].get("labels") or {}).get(SKIP_MIRROR_LABEL) == "true"
        mirror = (svc is not None and endpoints is not None and not skip and selector_of(svc) is None
                  and (svc.get("spec") or {}).get("type") != "ExternalName")
        wanted = mirrored_slices(endpoints) if mirror else []
        labels = {}
        if mirror:
            labels = {k: v for k, v in (endpoints["metadata"].get("labels") or {}).items() if k not in RESERVED}
            labels[SERVICE_NAME_LABEL] = name
            labels[MANAGED_BY_LABEL] = MIRRORING_CONTROLLER_NAME
        for i, (ports, eps) in enumerate(wanted):
            if i < len(existing):
                es = existing[i]
                if es.get("endpoints") == eps and (es.get("ports") or []) == ports and \
                        (es["metadata"].get("labels") or {}) == labels:
                    continue
                body = copy_json(es)
                body["metadata"]["labels"] = labels
                body["endpoints"], body["ports"] = eps, ports
                client.update(body)
            else:
                client.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                               "metadata": {"generateName": f"{name}-", "namespace": namespace, "labels": labels,
                                            "ownerReferences": [owner_reference(svc)]},
                               "addressType": "IPv4", "endpoints": eps, "ports": ports})
        for es in existing[len(wanted):]:
            client.delete("EndpointSlice", namespace, es["metadata"]["name"])

    def _apiserver_slice(self, endpoints: dict) -> None:
        """The `kubernetes` EndpointSlice the apiserver keeps next to its Endpoints."""
        wanted = mirrored_slices(endpoints)
        if not wanted:
            return
        ports, eps = wanted[0]
        client = self.sim.client("kube-apiserver")
        current = self.sim.cache.get("EndpointSlice", "default", "kubernetes")
        if current is not None and current.get("endpoints") == eps and current.get("ports") == ports:
            return
        body = copy_json(current) if current is not None else {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {SERVICE_NAME_LABEL: "kubernetes"}},
            "addressType": "IPv4"}
        body["endpoints"], body["ports"] = eps, ports
        if current is None:
            client.create(body)
        else:
            client.update(body)
