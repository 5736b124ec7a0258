"""What only the simulation knows, asked from a web request: scheduler explanations, Service counters,
and the traffic generator's sources.

That state lives in memory, in the `Simulation` of whichever process holds the cluster's lease. In the
embedded mode (`make run`) that is this process: `in_simulation(cluster, fn)` then runs `fn(sim)` in the
runner's own database thread, between two ticks, so it never races the loop. Scaled out, the simulation
runs in a worker and `in_simulation` returns None: the page falls back to what the database holds
(FailedScheduling events instead of per-node verdicts, no counters).
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync

from cluster.runtime import current_runner
from engine import errors

log = logging.getLogger("frontend")

# How long a request waits for the loop's thread (a tick at most, normally).
WAIT_SECONDS = 5.0


class NotSimulatedHere(Exception):
    """This process does not run the cluster's simulation."""


async def in_simulation_async(cluster_pk: int, fn, default=None):
    """`fn(sim)` in the simulation loop's thread if this process simulates the cluster; else `default`."""
    runner = current_runner()
    state = runner.clusters.get(cluster_pk) if runner is not None else None
    if state is None:
        return default

    def call():
        sim = state.sim
        if sim is None:  # being rebuilt after a failure
            raise NotSimulatedHere()
        return fn(sim)

    try:
        return await asyncio.wait_for(runner.call(call), WAIT_SECONDS)
    except NotSimulatedHere:
        return default
    except TimeoutError:
        log.warning("the simulation of cluster %s did not answer within %.0fs", cluster_pk, WAIT_SECONDS)
        return default


def in_simulation(cluster, fn, default=None):
    """The same from a synchronous view."""
    if current_runner() is None:
        return default
    return async_to_sync(in_simulation_async)(cluster.pk, fn, default)


def explain(cluster, namespace: str, name: str) -> dict | None:
    """kube-scheduler's last decision about a pod, per node (None when not known here)."""

    def ask(sim):
        scheduler = sim.find_controller("default-scheduler")
        return scheduler.explain(namespace, name) if scheduler is not None else None

    return in_simulation(cluster, ask)


def service_stats(cluster) -> dict | None:
    """Every Service's request/error/latency counters (None when not known here)."""

    def ask(sim):
        try:
            from engine.network import traffic
        except ImportError:
            return None
        return traffic.all_stats(sim)

    return in_simulation(cluster, ask)


# --- traffic the page asks for -------------------------------------------------------------------------------
SOURCE_PREFIX = "page:"


def _source_name(kind: str, namespace: str, name: str) -> str:
    return f"{SOURCE_PREFIX}{kind}/{namespace}/{name}"


def traffic_target(sim, kind: str, namespace: str, name: str) -> tuple[str, str, dict]:
    """(url, client, headers) of requests that reach the object as a real client would:
    a NodePort from outside through a node's IP, a LoadBalancer through its IP, a ClusterIP Service from
    a pod inside the cluster by its DNS name, an Ingress from outside through the ingress controller."""
    from engine.kubelet.nodes import CONTROL_PLANE_LABEL, internal_ip

    cache = sim.cache
    if kind == "Ingress":
        from engine.network import ingress as ingress_mod

        ing = cache.get("Ingress", namespace, name)
        if ing is None:
            raise errors.not_found("ingresses", name, "networking.k8s.io")
        address = ingress_mod.controller_address(cache)
        rules = (ing.get("spec") or {}).get("rules") or []
        host = next((r.get("host") for r in rules if r.get("host")), "")
        path = next((p.get("path") for r in rules for p in (r.get("http") or {}).get("paths") or [] if p.get("path")),
                    "/")
        return f"http://{address}{path}", "external", ({"Host": host} if host else {})
    svc = cache.get("Service", namespace, name)
    if svc is None:
        raise errors.not_found("services", name)
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    if spec.get("type") == "ExternalName" or not ports:
        raise errors.bad_request(f'service "{name}" has no ports a request could reach')
    port = ports[0]
    balancer = [i.get("ip") for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                if i.get("ip")]
    if spec.get("type") == "LoadBalancer" and balancer:
        return f"http://{balancer[0]}:{port.get('port')}/", "external", {}
    if spec.get("type") in ("NodePort", "LoadBalancer") and port.get("nodePort"):
        workers = sorted((n for n in cache.list("Node") if CONTROL_PLANE_LABEL not in (n["metadata"].get("labels") or {})),
                         key=lambda n: n["metadata"]["name"])
        nodes = workers or cache.list("Node")
        if not nodes:
            raise errors.bad_request("the cluster has no node to send requests to")
        return f"http://{internal_ip(nodes[0])}:{port['nodePort']}/", "external", {}
    # ClusterIP (or headless): only reachable inside the cluster, so a pod sends the requests.
    running = [p for p in cache.list("Pod") if (p.get("status") or {}).get("phase") == "Running"
               and (p.get("status") or {}).get("podIP") and not (p.get("spec") or {}).get("hostNetwork")
               and not p["metadata"].get("deletionTimestamp")]
    selector = spec.get("selector") or {}

    def backs(pod: dict) -> bool:
        labels = pod["metadata"].get("labels") or {}
        return pod["metadata"].get("namespace") == namespace and bool(selector) and all(
            labels.get(k) == v for k, v in selector.items())

    # The client: a pod of the Service's own namespace that is not one of its backends if there is one (a
    # backend would often answer itself); never a kube-system pod first: CoreDNS itself resolves through
    # the node's resolver (dnsPolicy Default) and could not look the Service's name up.
    running.sort(key=lambda p: (p["metadata"].get("namespace") == "kube-system",
                                p["metadata"].get("namespace") != namespace, backs(p), p["metadata"]["name"]))
    if not running:
        raise errors.bad_request(f'service "{name}" is a ClusterIP Service, reachable only from inside the cluster, '
                                 "and no pod is running to send requests from")
    client = running[0]
    url = f"http://{name}.{namespace}.svc.cluster.local:{port.get('port')}/"
    return url, f"pod:{client['metadata']['namespace']}/{client['metadata']['name']}", {}


def set_traffic(cluster, kind: str, namespace: str, name: str, rate: float) -> dict:
    """Start (rate > 0) or stop a stream of requests to a Service or Ingress from the traffic generator."""

    def change(sim):
        from engine.network.config import TrafficSource, config_of

        cfg = config_of(sim)
        source_name = _source_name(kind, namespace, name)
        others = [s for s in cfg.traffic if s.name != source_name]
        if rate <= 0:
            cfg.traffic = others
            return {"kind": kind, "namespace": namespace, "name": name, "rate": 0, "enabled": False}
        url, client, headers = traffic_target(sim, kind, namespace, name)
        cfg.traffic = others + [TrafficSource(name=source_name, target=url, client=client, rate=rate,
                                              headers=headers, timeout_ms=2000.0)]
        return {"kind": kind, "namespace": namespace, "name": name, "rate": rate, "enabled": True, "target": url,
                "client": client}

    result = in_simulation(cluster, change)
    if result is None:
        raise errors.ApiError(503, "ServiceUnavailable", "the simulation of this cluster is not running in this "
                                                         "web process, so it cannot generate traffic from here")
    return result


def traffic_sources(cluster) -> list[dict] | None:
    def ask(sim):
        from engine.network.config import config_of

        out = []
        for s in config_of(sim).traffic:
            if s.name.startswith(SOURCE_PREFIX):
                kind, _, rest = s.name[len(SOURCE_PREFIX):].partition("/")
                namespace, _, name = rest.partition("/")
                out.append({"kind": kind, "namespace": namespace, "name": name, "rate": s.rate, "target": s.target})
        return out

    return in_simulation(cluster, ask)
