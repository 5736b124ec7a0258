"""A Node applied from a minimal manifest (no `spec`, or `spec:` left empty, which YAML reads as null).

The node lifecycle controller taints a node whose kubelet has not posted Ready yet, and the node IPAM gives it a pod
CIDR: both write into `spec`, which such a Node does not have. Neither may crash; the node joins as any other.
"""

from __future__ import annotations

import pytest

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.controllers.nodelifecycle import NOT_READY, UNREACHABLE
from engine.kubelet.nodes import condition
from engine.simulation import Simulation
from engine.store import MemoryStore


def _cluster() -> Simulation:
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=3, profile="fast")
    bootstrap_cluster(sim.api, nodes=1)
    sim.tick()
    return sim


def _lifecycle(sim):
    return next(c for c in sim.controllers if c.name == "node-lifecycle-controller")


def _condition_taints(node: dict) -> list[tuple[str, str]]:
    return [(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []
            if t["key"] in (UNREACHABLE, NOT_READY)]


@pytest.mark.parametrize("manifest", [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}, "spec": None},
], ids=["no-spec", "null-spec"])
def test_a_node_without_spec_is_tainted_until_ready_then_joins(manifest):
    sim = _cluster()
    sim.api.create(manifest)
    node = sim.api.get("Node", "", "bare")
    assert not (node.get("spec") or {}).get("taints")
    # Before its kubelet posts any status, the node's Ready is Unknown: the controller taints it unreachable.
    _lifecycle(sim).sync_node(node)
    tainted = sim.api.get("Node", "", "bare")
    assert _condition_taints(tainted) == [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
    # Then the kubelet registers it: pod CIDR assigned, Ready, and the taints come off.
    assert sim.run_until(lambda s: (condition(s.api.get("Node", "", "bare"), "Ready") or {}).get("status") == "True"
                         and not _condition_taints(s.api.get("Node", "", "bare")), timeout=30, step=1.0)
    joined = sim.api.get("Node", "", "bare")
    assert joined["spec"]["podCIDR"] == joined["spec"]["podCIDRs"][0]
    others = {n["spec"]["podCIDR"] for n in sim.cache.list("Node") if n["metadata"]["name"] != "bare"}
    assert others and joined["spec"]["podCIDR"] not in others
