"""PodDisruptionBudgets: their status, the eviction API that respects them, and kubectl cordon / drain.

A Deployment of 3 behind `minAvailable: 2` allows one disruption at a time:
the eviction API answers 429 "Cannot evict pod as it would violate the pod's
disruption budget." for the next one until a replacement is Ready, and
`kubectl drain` retries every 5 s until it can finish.
"""

from __future__ import annotations

import pytest

from engine import errors
from engine.drain import DrainOptions, cordon, drain_node, uncordon
from engine.store import copy_json
from tests.engine.cluster import add_node, events, get, make_cluster, pods


def deployment(name="web", replicas=3, node=None) -> dict:
    spec: dict = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def budget(name="web-pdb", app="web", **spec) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": app}}, **spec}}


def pdb_status(sim, name="web-pdb") -> dict:
    return get(sim, "PodDisruptionBudget", name)["status"]


def ready_cluster(replicas=3, workers=2):
    sim = make_cluster(workers=workers)
    sim.api.create(deployment(replicas=replicas))
    sim.api.create(budget(minAvailable=2))
    assert sim.run_until(lambda s: pdb_status(s).get("currentHealthy") == replicas, timeout=30)
    return sim


def test_budget_status_from_min_available_and_max_unavailable():
    sim = ready_cluster()
    status = pdb_status(sim)
    assert {k: status[k] for k in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods",
                                   "observedGeneration")} == {
        "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3, "observedGeneration": 1}
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")

    sim.api.create(budget("half", maxUnavailable="50%"))  # 50 % of 3 rounds up to 2: one pod must stay
    sim.api.create(budget("most", minAvailable="90%"))  # 90 % of 3 rounds up to 3: nothing may go
    sim.api.create(budget("nobody", app="none", minAvailable=1))
    sim.run(2)
    half, most = pdb_status(sim, "half"), pdb_status(sim, "most")
    assert (half["expectedPods"], half["desiredHealthy"], half["disruptionsAllowed"]) == (3, 1, 2)
    assert (most["desiredHealthy"], most["disruptionsAllowed"]) == (3, 0)
    assert most["conditions"][0]["reason"] == "InsufficientPods"
    nobody = pdb_status(sim, "nobody")
    assert (nobody["expectedPods"], nobody["currentHealthy"], nobody["disruptionsAllowed"]) == (0, 0, 0)
    assert events(sim, "NoPods", "nobody") == ["No matching pods found"]


def test_eviction_spends_the_budget_and_then_answers_429():
    sim = ready_cluster()
    names = [p["metadata"]["name"] for p in pods(sim, prefix="web-")]
    assert sim.api.evict("default", names[0]) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                  "status": "Success", "code": 201}
    evicted = sim.api.get("Pod", "default", names[0])
    assert evicted["metadata"]["deletionTimestamp"]
    target = next(c for c in evicted["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["reason"], target["message"]) == ("EvictionByEvictionAPI", "Eviction API: evicting")
    status = sim.api.get("PodDisruptionBudget", "default", "web-pdb")["status"]
    assert status["disruptionsAllowed"] == 0 and names[0] in status["disruptedPods"]

    before = sim.api.get("Pod", "default", names[1])
    with pytest.raises(errors.ApiError) as caught:
        sim.api.evict("default", names[1])
    refused = caught.value
    assert (refused.code, refused.reason) == (429, "TooManyRequests")
    assert refused.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert refused.status()["details"]["causes"] == [
        {"reason": "DisruptionBudget", "message": "The disruption budget web-pdb needs 2 healthy pods and has 3 currently"}]
    assert sim.api.get("Pod", "default", names[1])["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    sim.tick(0.1)  # the disruption controller sees the pod going
    with pytest.raises(errors.ApiError) as caught:
        sim.api.evict("default", names[1])
    assert caught.value.status()["details"]["causes"][0]["message"] == (
        "The disruption budget web-pdb needs 2 healthy pods and has 2 currently")
    # Once the replacement is Ready the budget allows one disruption again.
    assert sim.run_until(lambda s: pdb_status(s)["disruptionsAllowed"] == 1, timeout=30)
    sim.api.evict("default", names[1])


def test_eviction_edge_cases():
    sim = ready_cluster()
    names = [p["metadata"]["name"] for p in pods(sim, prefix="web-")]
    sim.api.create(budget("second", minAvailable=1))
    sim.run(1)
    with pytest.raises(errors.ApiError) as caught:
        sim.api.evict("default", names[0])
    assert (caught.value.code, caught.value.message) == (
        500, "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
    sim.api.delete("PodDisruptionBudget", "default", "second")
    # A budget changed since the controller last looked cannot be relied on yet.
    changed = copy_json(sim.api.get("PodDisruptionBudget", "default", "web-pdb"))
    changed["spec"]["minAvailable"] = 1
    sim.api.update(changed)
    with pytest.raises(errors.ApiError) as caught:
        sim.api.evict("default", names[0])
    assert caught.value.code == 429
    assert caught.value.status()["details"] == {"causes": [{"reason": "DisruptionBudget", "message":
                                                            "The disruption budget web-pdb is still being processed by "
                                                            "the server."}], "retryAfterSeconds": 10}
    with pytest.raises(errors.ApiError) as caught:
        sim.api.evict("default", "nope")
    assert caught.value.message == 'pods "nope" not found'


def test_cordon_uncordon_and_drain_through_a_budget():
    sim = make_cluster(workers=1)
    sim.api.create(deployment(replicas=2))
    sim.api.create(budget(minAvailable=1))
    sim.api.create({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy",
                                                                               "namespace": "kube-system"},
                    "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                             "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                                          "spec": {"containers": [{"name": "kube-proxy", "image": "nginx:1.27"}]}}}})
    assert sim.run_until(lambda s: pdb_status(s).get("currentHealthy") == 2 and len(pods(s, "kube-system")) == 1,
                         timeout=30)
    add_node(sim, "node-2", 2)
    sim.run(3)
    web = [p["metadata"]["name"] for p in pods(sim, prefix="web-")]
    proxy = next(p["metadata"]["name"] for p in pods(sim, "kube-system") if p["spec"]["nodeName"] == "node-1")

    refused = drain_node(sim, "node-1")
    assert not refused.ok
    assert refused.text == "\n".join([
        "node/node-1 cordoned",
        f'error: unable to drain node "node-1" due to error:cannot delete DaemonSet-managed Pods (use '
        f"--ignore-daemonsets to ignore): kube-system/{proxy}, continuing command...",
        "There are pending nodes to be drained:",
        " node-1",
        f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/{proxy}",
    ])
    assert sim.api.get("Node", "", "node-1")["spec"]["unschedulable"] is True
    assert uncordon(sim.api, "node-1").text == "node/node-1 uncordoned"
    assert "unschedulable" not in sim.api.get("Node", "", "node-1")["spec"]
    assert uncordon(sim.api, "node-1").text == "node/node-1 already uncordoned"

    result = drain_node(sim, "node-1", DrainOptions(ignore_daemonsets=True), max_seconds=120)
    assert result.ok, result.text
    lines = result.lines
    assert [line.text for line in lines[:5]] == [
        "node/node-1 cordoned",
        f"Warning: ignoring DaemonSet-managed Pods: kube-system/{proxy}",
        f"evicting pod default/{web[0]}",
        f"evicting pod default/{web[1]}",
        f'error when evicting pods/"{web[1]}" -n "default" (will retry after 5s): Cannot evict pod as it would '
        "violate the pod's disruption budget.",
    ]
    assert (lines[1].stream, lines[2].stream, lines[4].stream) == ("err", "out", "err")
    texts = [line.text for line in lines]
    assert texts.index(f"pod/{web[0]} evicted") < texts.index(f"pod/{web[1]} evicted")
    assert texts[-1] == "node/node-1 drained"
    assert texts.count(f"evicting pod default/{web[1]}") >= 2  # retried every 5 s until the budget allowed it
    on_node_1 = [p for p in pods(sim) if p["spec"].get("nodeName") == "node-1"]
    assert on_node_1 == []
    assert all(p["spec"]["nodeName"] == "node-2" for p in pods(sim, prefix="web-"))
    assert cordon(sim.api, "node-1").text == "node/node-1 already cordoned"


def test_drain_refuses_bare_pods_unless_forced():
    sim = make_cluster(workers=2)
    sim.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "default"},
                    "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:1.27"}]}})
    sim.run(3)
    refused = drain_node(sim, "node-1")
    assert not refused.ok
    assert refused.lines[-1].text == "cannot delete Pods declare no controller (use --force to override): default/bare"
    forced = drain_node(sim, "node-1", DrainOptions(force=True))
    assert forced.ok
    assert [line.text for line in forced.lines] == [
        "node/node-1 already cordoned",
        "Warning: deleting Pods that declare no controller: default/bare",
        "evicting pod default/bare",
        "pod/bare evicted",
        "node/node-1 drained",
    ]
