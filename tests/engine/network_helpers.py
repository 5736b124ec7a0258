"""Shared helpers for the network tests: a bootstrapped cluster on the fast kubelet profile, workloads, Services.

`make_cluster()` is a minikube-like cluster (control plane + 3 workers, CoreDNS, kube-dns) on a MemoryStore,
driven by `default_controllers()`; `deploy()` / `service()` create objects through the apiserver as a learner's
kubectl would; `settle()` runs the clock until a condition holds.
"""

from __future__ import annotations

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.network.config import NetworkConfig
from engine.simulation import Simulation
from engine.store import MemoryStore

T0 = VirtualClock().now()


def make_cluster(nodes: int = 3, seed: int = 7, **config) -> Simulation:
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, profile="fast",
                     network_config=NetworkConfig(**config))
    bootstrap_cluster(sim.api, nodes=nodes)
    sim.tick()
    assert settle(sim, lambda s: dns_ready(s), 60), "CoreDNS never became ready"
    return sim


def dns_ready(sim) -> bool:
    slices = [es for es in sim.cache.list("EndpointSlice", "kube-system")
              if (es["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == "kube-dns"]
    return any((ep.get("conditions") or {}).get("ready") for es in slices for ep in es.get("endpoints") or [])


def settle(sim, predicate, timeout: float = 60.0, step: float = 0.1) -> bool:
    return sim.run_until(predicate, timeout=timeout, step=step)


def container(image: str = "nginx:1.27", port: int = 80, name: str = "app", port_name: str | None = None,
              readiness: dict | None = None, **extra) -> dict:
    c = {"name": name, "image": image, "ports": [{"containerPort": port}], **extra}
    if port_name:
        c["ports"][0]["name"] = port_name
    if readiness is not None:
        c["readinessProbe"] = readiness
    return c


def deploy(sim, name: str, replicas: int = 2, image: str = "nginx:1.27", port: int = 80, namespace: str = "default",
           strategy: dict | None = None, labels: dict | None = None, pod_spec: dict | None = None,
           **container_args) -> dict:
    labels = labels or {"app": name}
    spec = {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": [container(image, port, **container_args)], **(pod_spec or {})}}}
    if strategy is not None:
        spec["strategy"] = strategy
    return sim.api.create({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": name, "namespace": namespace}, "spec": spec})


def pod(sim, name: str, image: str = "busybox:1.37", namespace: str = "default", labels: dict | None = None,
        command: list | None = None, **spec) -> dict:
    c = {"name": "main", "image": image}
    if command is not None:
        c["command"] = command
    elif image.startswith("busybox"):
        c["command"] = ["sleep", "3600"]
    if spec.pop("ports", None):
        c["ports"] = [{"containerPort": 80}]
    return sim.api.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
                           "spec": {"containers": [c], **spec}})


def service(sim, name: str, port: int = 80, target=None, namespace: str = "default", selector: dict | None = None,
            **spec) -> dict:
    ports = spec.pop("ports", None) or [{"port": port, "targetPort": target if target is not None else port}]
    body = {"ports": ports, **spec}
    if selector is not False:
        body["selector"] = selector or {"app": name}
    return sim.api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                           "spec": body})


def running(sim, namespace: str = "default", prefix: str = "") -> list[dict]:
    return sorted((p for p in sim.cache.list("Pod", namespace)
                   if p["metadata"]["name"].startswith(prefix) and (p.get("status") or {}).get("phase") == "Running"
                   and not p["metadata"].get("deletionTimestamp")), key=lambda p: p["metadata"]["name"])


def ready_endpoints(sim, service_name: str, namespace: str = "default") -> list[str]:
    ep = sim.cache.get("Endpoints", namespace, service_name) or {}
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def wait_endpoints(sim, service_name: str, count: int, namespace: str = "default", timeout: float = 60.0) -> None:
    assert settle(sim, lambda s: len(ready_endpoints(s, service_name, namespace)) == count, timeout), \
        (service_name, ready_endpoints(sim, service_name, namespace))


def stored_snapshot(sim) -> tuple[int, list]:
    objects, revision = sim.store.list()
    return revision, sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"],
                             o["metadata"].get("resourceVersion")) for o in objects)
