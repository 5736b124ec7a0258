"""A fresh cluster's own pods (CoreDNS in kube-system) come up Running and Ready wherever they land,
as `kubectl get pods -n kube-system` shows them on minikube a minute after start."""

import pytest

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.kubelet.images import has_tag
from engine.resources.tables import pod_status
from engine.simulation import Simulation
from engine.store import MemoryStore


def ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_coredns_runs_and_is_ready_on_any_node(seed):
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, profile="realistic")
    bootstrap_cluster(sim.api, nodes=3)

    def settled(s):
        system = s.cache.list("Pod", "kube-system")
        return len(system) == 2 and all(pod_status(p) == "Running" and ready(p) for p in system)

    assert sim.run_until(settled, timeout=120), {p["metadata"]["name"]: (pod_status(p), ready(p))
                                                 for p in sim.cache.list("Pod", "kube-system")}
    assert not [e for e in sim.cache.list("Event", "kube-system") if e.get("type") == "Warning"]


def test_registry_k8s_io_tags_carry_a_v_and_docker_hub_tags_do_not():
    assert has_tag("registry.k8s.io/coredns/coredns:v1.11.3")
    assert not has_tag("registry.k8s.io/coredns/coredns:v9.0.0")
    assert has_tag("nginx:1.14.2")
    assert not has_tag("nginx:v1.14.2")
