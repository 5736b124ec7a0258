"""Shared helpers for the workload controller tests: a stub kubelet, manifests and counters.

The stub kubelet stands in for the real one where a test needs exact timing: it
binds every pod to `node-1`, marks it Running and Ready `start` seconds after it
first sees it (never, for pods `never_ready` picks), and confirms a graceful
deletion `stop` seconds after it starts.
"""

from __future__ import annotations

from engine.clock import VirtualClock, format_rfc3339
from engine.controllers import deployment_util as util
from engine.controllers.base import Controller
from engine.controllers.deployment import DeploymentController
from engine.controllers.garbagecollector import GarbageCollector
from engine.controllers.namespace import NamespaceController
from engine.controllers.replicaset import ReplicaSetController, controller_ref, is_pod_available, is_pod_ready
from engine.labels import from_label_selector
from engine.simulation import Simulation
from engine.store import MemoryStore

NAMESPACES = ("default", "kube-system")
CONTROLLERS = [NamespaceController, DeploymentController, ReplicaSetController, GarbageCollector]


class StubKubelet(Controller):
    name = "stub-kubelet"
    component = "kubelet"
    primary_kind = "Pod"
    start = 2.0
    stop = 1.0
    node = "node-1"

    @staticmethod
    def never_ready(pod: dict) -> bool:
        return False

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client("kubelet", self.node)
        self.first_seen: dict[str, float] = {}
        self.deleting_since: dict[str, float] = {}

    def sync(self, key):
        pod = self.sim.cache.get(*key)
        if pod is None:
            return
        meta, now = pod["metadata"], self.sim.clock.now()
        if meta.get("deletionTimestamp"):
            since = self.deleting_since.setdefault(meta["uid"], now)
            if now - since >= self.stop:
                self.client.delete("Pod", meta["namespace"], meta["name"], grace_period_seconds=0)
            else:
                self.enqueue_after(key, since + self.stop - now)
            return
        if not pod["spec"].get("nodeName"):
            self.client.bind(meta["namespace"], meta["name"], self.node)
            return
        if is_pod_ready(pod) or self.never_ready(pod):
            return
        seen = self.first_seen.setdefault(meta["uid"], now)
        if now - seen < self.start:
            self.enqueue_after(key, seen + self.start - now)
            return
        stamp = format_rfc3339(now)
        status = dict(pod.get("status") or {})
        status.update(phase="Running", startTime=status.get("startTime", stamp), podIP="10.244.1.10")
        status["conditions"] = [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
        status["containerStatuses"] = [{"name": c["name"], "image": c["image"], "ready": True, "restartCount": 0,
                                        "started": True, "state": {"running": {"startedAt": stamp}}}
                                       for c in pod["spec"]["containers"]]
        self.client.update_status({**pod, "status": status})


class BoundsChecker(Controller):
    """Runs after every round of every tick: asserts the rollout bounds once armed."""

    name = "bounds-checker"
    armed = False
    deployment = "web"
    namespace = "default"
    violations: list[str]

    def __init__(self, sim):
        super().__init__(sim)
        self.violations = []
        self.rounds = 0

    def process(self) -> int:
        if not self.armed:
            return 0
        self.rounds += 1
        d = get(self.sim, "Deployment", self.deployment, self.namespace)
        replicas = util.replicas_of(d)
        live = pods(self.sim, d["spec"]["selector"], self.namespace)
        ceiling = replicas + util.max_surge(d)
        floor = replicas - util.max_unavailable(d)
        ready = available(self.sim, live, int(d["spec"].get("minReadySeconds") or 0))
        if len(live) > ceiling:
            self.violations.append(f"t={self.sim.clock.now()}: {len(live)} pods > {ceiling}")
        if ready < floor:
            self.violations.append(f"t={self.sim.clock.now()}: {ready} available < {floor}")
        return 0


def stub_kubelet(start: float = 2.0, stop: float = 1.0, never_ready=None) -> type[StubKubelet]:
    attrs = {"start": start, "stop": stop}
    if never_ready is not None:
        attrs["never_ready"] = staticmethod(never_ready)
    return type("StubKubelet", (StubKubelet,), attrs)


def make_sim(*extra, controllers=None, namespaces=NAMESPACES, objects=()) -> Simulation:
    """A simulation on a MemoryStore with these controllers, preloaded with `objects` (created, not yet synced)."""
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock=clock, controllers=list(controllers or CONTROLLERS) + list(extra))
    for ns in namespaces:
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for obj in objects:
        sim.api.create(obj)
    sim.start()
    return sim


def container(image: str = "nginx:1.27", name: str = "web", port: int = 80) -> dict:
    return {"name": name, "image": image, "ports": [{"containerPort": port}]}


def deployment(name: str = "web", replicas: int = 2, image: str = "nginx:1.27", strategy: dict | None = None,
               **spec) -> dict:
    body = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container(image)]}},
                 **spec},
    }
    if strategy is not None:
        body["spec"]["strategy"] = strategy
    return body


def rolling(max_surge, max_unavailable) -> dict:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}}


def replica_set(name: str = "web", replicas: int = 2, labels: dict | None = None, **spec) -> dict:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container()]}},
                     **spec}}


def pods(sim: Simulation, selector: dict | None = None, namespace: str = "default", live: bool = True) -> list[dict]:
    """Pods (matching a LabelSelector), without the terminating ones when `live`."""
    sel = from_label_selector(selector) if selector is not None else None
    found = sim.cache.list("Pod", namespace, sel)
    if live:
        found = [p for p in found if not p["metadata"].get("deletionTimestamp")]
    return sorted(found, key=lambda p: p["metadata"]["name"])


def available(sim: Simulation, found: list[dict], min_ready: int = 0) -> int:
    now = sim.clock.now()
    return sum(1 for p in found if is_pod_available(p, min_ready, now))


def owned_by(sim: Simulation, owner: dict, kind: str = "Pod") -> list[dict]:
    uid = owner["metadata"]["uid"]
    ns = owner["metadata"].get("namespace", "")
    return [o for o in sim.cache.list(kind, ns) if (controller_ref(o) or {}).get("uid") == uid]


def get(sim: Simulation, kind: str, name: str, namespace: str = "default") -> dict | None:
    return sim.cache.get(kind, namespace, name)


def events(sim: Simulation, reason: str | None = None, name: str | None = None) -> list[str]:
    """Event messages in the order they were first recorded."""
    found = [e for e in sim.cache.list("Event") if (reason is None or e["reason"] == reason)
             and (name is None or e["involvedObject"]["name"] == name)]
    found.sort(key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[1], 16))
    return [e["message"] for e in found]
