"""A small simulated cluster for the workload controller tests: every default controller, the fast kubelet profile.

`make_cluster(workers=2)` gives a Simulation on a MemoryStore with the system
namespaces, a tainted control-plane node, `workers` worker nodes and the
default `standard` StorageClass, ticked once so nodes are Ready. Helpers read
pods the way `kubectl get pods` shows them.
"""

from __future__ import annotations

from engine.bootstrap import standard_storage_class
from engine.clock import DEFAULT_START, VirtualClock
from engine.kubelet.nodes import make_node
from engine.resources.tables import pod_status
from engine.simulation import Simulation
from engine.store import MemoryStore

NAMESPACES = ("default", "kube-system", "kube-node-lease")


def make_cluster(workers: int = 2, start: float = DEFAULT_START, control_plane: bool = True,
                 controllers=None, seed: int = 3) -> Simulation:
    clock = VirtualClock(start)
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, controllers=controllers, profile="fast")
    for ns in NAMESPACES:
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    if control_plane:
        sim.api.create(make_node("controlplane", index=0, control_plane=True, now=clock.now()))
    for i in range(1, workers + 1):
        sim.api.create(make_node(f"node-{i}", index=i, now=clock.now()))
    sim.api.create(standard_storage_class())
    sim.tick()
    return sim


def add_node(sim: Simulation, name: str, index: int, **kwargs) -> dict:
    return sim.api.create(make_node(name, index=index, now=sim.clock.now(), **kwargs))


def pods(sim: Simulation, namespace: str = "default", prefix: str = "") -> list[dict]:
    found = [p for p in sim.cache.list("Pod", namespace) if p["metadata"]["name"].startswith(prefix)]
    return sorted(found, key=lambda p: p["metadata"]["name"])


def statuses(sim: Simulation, namespace: str = "default", prefix: str = "") -> dict[str, str]:
    """Pod name -> the STATUS column of `kubectl get pods`."""
    return {p["metadata"]["name"]: pod_status(p) for p in pods(sim, namespace, prefix)}


def get(sim: Simulation, kind: str, name: str, namespace: str = "default") -> dict | None:
    return sim.cache.get(kind, namespace, name)


def events(sim: Simulation, reason: str | None = None, name: str | None = None, namespace: str = "default") -> list[str]:
    """Event messages in the order they were first recorded."""
    found = [e for e in sim.cache.list("Event", namespace) if (reason is None or e["reason"] == reason)
             and (name is None or e["involvedObject"]["name"] == name)]
    found.sort(key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[1], 16))
    return [e["message"] for e in found]


def condition(obj: dict, ctype: str) -> dict | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def container(image: str = "nginx:1.27", name: str = "web", **extra) -> dict:
    return {"name": name, "image": image, **extra}
