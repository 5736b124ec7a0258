"""The DaemonSet controller on a simulated cluster (seed 000/001/002: one pod per node, for log collectors and agents).

A control plane (tainted) and worker nodes; a DaemonSet gets one pod on every
worker, nodes added later get theirs, nodeSelector / affinity / tolerations
decide the eligible nodes, and updates roll out node by node within
maxUnavailable (or surge next to the old pod), or wait for deletion with OnDelete.
"""

from __future__ import annotations

import pytest

from engine import errors
from engine.controllers import default_controllers
from engine.controllers.base import Controller
from engine.controllers.daemonset_util import DAEMON_TOLERATIONS
from engine.controllers.replicaset import is_pod_available
from engine.store import copy_json
from tests.engine.cluster import add_node, events, get, make_cluster, pods

NS = "kube-system"


def daemon_set(name="fluentd", image="nginx:1.27", strategy=None, **template_spec) -> dict:
    body = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"matchLabels": {"name": name}},
                     "template": {"metadata": {"labels": {"name": name}},
                                  "spec": {"containers": [{"name": name, "image": image}], **template_spec}}}}
    if strategy is not None:
        body["spec"]["updateStrategy"] = strategy
    return body


def nodes_of(sim, name="fluentd") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for pod in pods(sim, NS, name):
        if not pod["metadata"].get("deletionTimestamp"):
            out.setdefault(pod["spec"].get("nodeName") or "", []).append(pod)
    return out


def running_everywhere(sim, count, name="fluentd"):
    ds = get(sim, "DaemonSet", name, NS)
    status = ds.get("status") or {}
    return (status.get("numberAvailable") == count and status.get("updatedNumberScheduled") == count
            and status.get("observedGeneration") == ds["metadata"]["generation"]
            and len(pods(sim, NS, name)) == count)


def set_image(sim, image, name="fluentd"):
    ds = copy_json(sim.api.get("DaemonSet", NS, name))
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = image
    sim.api.update(ds)


def test_one_pod_on_every_worker_and_on_nodes_added_later():
    sim = make_cluster(workers=2)
    sim.api.create(daemon_set())
    assert sim.run_until(lambda s: running_everywhere(s, 2), timeout=30)

    placed = nodes_of(sim)
    assert sorted(placed) == ["node-1", "node-2"]  # not the control plane: its NoSchedule taint is not tolerated
    pod = placed["node-1"][0]
    ds = get(sim, "DaemonSet", "fluentd", NS)
    revision = sim.cache.list("ControllerRevision", NS)[0]
    hash_ = revision["metadata"]["labels"]["controller-revision-hash"]
    assert revision["metadata"]["name"] == f"fluentd-{hash_}" and revision["revision"] == 1
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"
    assert pod["metadata"]["generateName"] == "fluentd-"
    assert pod["metadata"]["labels"] == {"name": "fluentd", "controller-revision-hash": hash_,
                                         "pod-template-generation": "1"}
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    # The daemon tolerations, in Kubernetes' order, and no 300 s limit on not-ready/unreachable.
    assert pod["spec"]["tolerations"] == [dict(t) for t in DAEMON_TOLERATIONS]
    assert pod["spec"]["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]}}}
    assert ds["status"] == {"currentNumberScheduled": 2, "numberMisscheduled": 0, "desiredNumberScheduled": 2,
                            "numberReady": 2, "observedGeneration": 1, "updatedNumberScheduled": 2,
                            "numberAvailable": 2}

    add_node(sim, "node-3", 3)
    assert sim.run_until(lambda s: running_everywhere(s, 3), timeout=30)
    assert sorted(nodes_of(sim)) == ["node-1", "node-2", "node-3"]
    created = events(sim, "SuccessfulCreate", "fluentd", NS)
    assert len(created) == 3 and all(m.startswith("Created pod: fluentd-") for m in created)


def test_node_selector_taints_tolerations_and_cordoned_nodes():
    sim = make_cluster(workers=3)
    node = copy_json(sim.api.get("Node", "", "node-2"))
    node["metadata"]["labels"]["disk"] = "ssd"
    sim.api.update(node)
    sim.api.create(daemon_set("ssd-monitor", nodeSelector={"disk": "ssd"}))
    tolerant = daemon_set("everywhere", tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator":
                                                      "Exists", "effect": "NoSchedule"}])
    sim.api.create(tolerant)
    cordoned = copy_json(sim.api.get("Node", "", "node-3"))
    cordoned["spec"]["unschedulable"] = True
    sim.api.update(cordoned)
    sim.run(5)
    assert sorted(nodes_of(sim, "ssd-monitor")) == ["node-2"]
    # Tolerating the control-plane taint puts a pod there too; a cordoned node still runs its daemon pod.
    assert sorted(nodes_of(sim, "everywhere")) == ["controlplane", "node-1", "node-2", "node-3"]

    # The label moves from node-2 to node-1: the pod follows it.
    for name, labelled in (("node-1", True), ("node-2", False)):
        node = copy_json(sim.api.get("Node", "", name))
        if labelled:
            node["metadata"]["labels"]["disk"] = "ssd"
        else:
            del node["metadata"]["labels"]["disk"]
        sim.api.update(node)
    sim.run(5)
    assert sorted(nodes_of(sim, "ssd-monitor")) == ["node-1"]
    status = get(sim, "DaemonSet", "ssd-monitor", NS)["status"]
    assert (status["desiredNumberScheduled"], status["numberMisscheduled"]) == (1, 0)
    assert any(m.startswith("Deleted pod: ssd-monitor-") for m in events(sim, "SuccessfulDelete", "ssd-monitor", NS))

    # A NoExecute taint the pods do not tolerate evicts the daemon pod from that node.
    tainted = copy_json(sim.api.get("Node", "", "node-1"))
    tainted["spec"]["taints"] = [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]
    sim.api.update(tainted)
    sim.run(5)
    assert "node-1" not in nodes_of(sim, "everywhere")


class UpdateChecker(Controller):
    """After every round: no node runs more daemon pods than allowed, availability stays within the budget."""

    name = "ds-update-checker"
    armed = False
    max_unavailable = 1
    max_per_node = 1

    def __init__(self, sim):
        super().__init__(sim)
        self.violations: list[str] = []

    def process(self) -> int:
        if not self.armed:
            return 0
        now = self.sim.clock.now()
        placed = nodes_of(self.sim)
        workers = ["node-1", "node-2", "node-3"]
        available = sum(1 for n in workers if any(is_pod_available(p, 0, now) for p in placed.get(n, [])))
        if available < len(workers) - self.max_unavailable:
            self.violations.append(f"t={now}: only {available} nodes available")
        crowded = [n for n, ps in placed.items() if len(ps) > self.max_per_node]
        if crowded:
            self.violations.append(f"t={now}: {crowded} run too many daemon pods")
        return 0


def rolled_out(sim, image):
    placed = nodes_of(sim)
    return running_everywhere(sim, 3) and all(ps[0]["spec"]["containers"][0]["image"] == image
                                              for ps in placed.values())


def test_rolling_update_replaces_one_node_at_a_time():
    sim = make_cluster(workers=3, controllers=[*default_controllers(), UpdateChecker])
    sim.api.create(daemon_set())
    assert sim.run_until(lambda s: running_everywhere(s, 3), timeout=30)
    checker = sim.controller("ds-update-checker")
    checker.armed = True
    set_image(sim, "nginx:1.25")
    assert sim.run_until(lambda s: rolled_out(s, "nginx:1.25"), timeout=60, step=0.25)
    assert checker.violations == []
    ds = get(sim, "DaemonSet", "fluentd", NS)
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    revisions = sorted(sim.cache.list("ControllerRevision", NS), key=lambda r: r["revision"])
    assert [r["revision"] for r in revisions] == [1, 2]
    new_hash = revisions[1]["metadata"]["labels"]["controller-revision-hash"]
    for pod in pods(sim, NS, "fluentd"):
        assert pod["metadata"]["labels"]["controller-revision-hash"] == new_hash
        assert pod["metadata"]["labels"]["pod-template-generation"] == "2"


def test_rolling_update_with_surge_keeps_every_node_available():
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    sim = make_cluster(workers=3, controllers=[*default_controllers(), UpdateChecker])
    sim.api.create(daemon_set(strategy=strategy))
    assert sim.run_until(lambda s: running_everywhere(s, 3), timeout=30)
    checker = sim.controller("ds-update-checker")
    checker.armed, checker.max_unavailable, checker.max_per_node = True, 0, 2
    set_image(sim, "nginx:1.25")
    surged = []

    def watch(s):
        surged.append(sum(len(ps) for ps in nodes_of(s).values()))
        return rolled_out(s, "nginx:1.25")

    assert sim.run_until(watch, timeout=60, step=0.25)
    assert checker.violations == []
    assert max(surged) == 4  # one new pod beside the old ones, never more (maxSurge 1)


def test_on_delete_changes_a_pod_only_when_it_is_deleted():
    sim = make_cluster(workers=2)
    sim.api.create(daemon_set(strategy={"type": "OnDelete"}))
    assert sim.run_until(lambda s: running_everywhere(s, 2), timeout=30)
    set_image(sim, "nginx:1.25")
    sim.run(10)
    assert {p["spec"]["containers"][0]["image"] for p in pods(sim, NS, "fluentd")} == {"nginx:1.27"}
    assert get(sim, "DaemonSet", "fluentd", NS)["status"].get("updatedNumberScheduled") is None

    victim = nodes_of(sim)["node-1"][0]["metadata"]["name"]
    sim.api.delete("Pod", NS, victim)
    sim.run(10)
    images = {n: ps[0]["spec"]["containers"][0]["image"] for n, ps in nodes_of(sim).items()}
    assert images == {"node-1": "nginx:1.25", "node-2": "nginx:1.27"}
    assert get(sim, "DaemonSet", "fluentd", NS)["status"]["updatedNumberScheduled"] == 1


def test_selector_that_does_not_match_the_template_is_refused():
    sim = make_cluster(workers=1)
    bad = daemon_set()
    bad["spec"]["selector"] = {"matchLabels": {"name": "other"}}
    with pytest.raises(errors.ApiError) as caught:
        sim.api.create(bad)
    assert caught.value.code == 422
    assert caught.value.message == (
        'DaemonSet.apps "fluentd" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"name":"fluentd"}: `selector` does not match template `labels`')
    assert sim.store.get("DaemonSet", NS, "fluentd") is None

    sim.api.create(daemon_set())
    stored = sim.api.get("DaemonSet", NS, "fluentd")
    moved = copy_json(stored)
    moved["spec"]["selector"] = {"matchLabels": {"name": "fluentd", "tier": "x"}}
    moved["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    with pytest.raises(errors.ApiError) as caught:
        sim.api.update(moved)
    assert caught.value.message.endswith("field is immutable")
    assert sim.api.get("DaemonSet", NS, "fluentd")["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
