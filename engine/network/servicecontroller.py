"""A simulated cloud-controller-manager's service controller: load balancers for LoadBalancer Services.

The "cloud" hands out addresses from a pool (192.168.49.200-250 by default, as MetalLB or `minikube
tunnel` would on a laptop cluster). For each LoadBalancer Service it adds the
`service.kubernetes.io/load-balancer-cleanup` finalizer, records `EnsuringLoadBalancer`, writes
`status.loadBalancer.ingress[0].ip` (which `kubectl get svc` shows as EXTERNAL-IP instead of
`<pending>`) and records `EnsuredLoadBalancer`. A Service that stops being a LoadBalancer, or is
deleted, gets `DeletingLoadBalancer` / `DeletedLoadBalancer`, its status cleared and the finalizer
removed. An exhausted pool leaves the Service `<pending>` with a `SyncLoadBalancerFailed` warning.
`spec.loadBalancerIP` asks for a particular address of the pool; a Service with a
`spec.loadBalancerClass` belongs to another implementation and is left alone.
"""

from __future__ import annotations

from engine.controllers.base import Controller, Key
from engine.events import NORMAL, WARNING
from engine.network import ipam
from engine.network.config import config_of
from engine.store import copy_json

FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
COMPONENT = "service-controller"


def load_balancer_ips(svc: dict) -> list[str]:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [i["ip"] for i in ingress if i.get("ip")]


class ServiceController(Controller):
    name = "service-controller"
    component = "cloud-controller-manager"
    primary_kind = "Service"

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        svc = self.sim.cache.get("Service", namespace, name)
        if svc is None:
            return
        meta, spec = svc["metadata"], svc.get("spec") or {}
        has_finalizer = FINALIZER in (meta.get("finalizers") or [])
        wants = spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass") \
            and not meta.get("deletionTimestamp")
        if wants:
            self._ensure(svc, has_finalizer)
        elif has_finalizer or load_balancer_ips(svc):
            self._delete(svc, has_finalizer)

    def _ensure(self, svc: dict, has_finalizer: bool) -> None:
        client = self.sim.client(self.component)
        if not has_finalizer:
            body = copy_json(svc)
            body["metadata"]["finalizers"] = list(svc["metadata"].get("finalizers") or []) + [FINALIZER]
            svc = client.update(body)
        if load_balancer_ips(svc):
            return
        self.sim.events.record(svc, NORMAL, "EnsuringLoadBalancer", "Ensuring load balancer", COMPONENT)
        pool = config_of(self.sim).load_balancer_pool
        used = {ip for other in self.sim.cache.list("Service") for ip in load_balancer_ips(other)}
        wanted = (svc.get("spec") or {}).get("loadBalancerIP") or ""
        ip = ipam.allocate_from_pool(pool, used, wanted)
        if ip is None:
            reason = (f"requested IP {wanted} is not available in the pool {pool[0]}-{pool[1]}" if wanted
                      else f"no available IP addresses in the pool {pool[0]}-{pool[1]}")
            self.sim.events.record(svc, WARNING, "SyncLoadBalancerFailed",
                                   f"Error syncing load balancer: failed to ensure load balancer: {reason}",
                                   COMPONENT)
            return
        status = copy_json(svc.get("status") or {})
        status["loadBalancer"] = {"ingress": [{"ip": ip, "ipMode": "VIP"}]}
        svc = client.update_status({**svc, "status": status})
        self.sim.events.record(svc, NORMAL, "EnsuredLoadBalancer", "Ensured load balancer", COMPONENT)

    def _delete(self, svc: dict, has_finalizer: bool) -> None:
        client = self.sim.client(self.component)
        self.sim.events.record(svc, NORMAL, "DeletingLoadBalancer", "Deleting load balancer", COMPONENT)
        if load_balancer_ips(svc):
            status = copy_json(svc.get("status") or {})
            status["loadBalancer"] = {}
            svc = client.update_status({**svc, "status": status})
        self.sim.events.record(svc, NORMAL, "DeletedLoadBalancer", "Deleted load balancer", COMPONENT)
        if has_finalizer:
            body = copy_json(svc)
            body["metadata"]["finalizers"] = [f for f in svc["metadata"].get("finalizers") or [] if f != FINALIZER]
            client.update(body)
