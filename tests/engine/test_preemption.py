"""PriorityClasses and preemption: a pod that matters more takes the place of pods that matter less.

Scenario: a tainted control plane and one or two 2 CPU / 4Gi workers, every controller running with the
fast kubelet profile. Low-priority pods fill a worker; a high-priority pod arrives.
"""

import pytest

from engine import errors
from engine.clock import VirtualClock
from engine.controllers import default_controllers
from engine.kubelet.nodes import make_node
from engine.scheduler.scheduler import Scheduler
from engine.simulation import Simulation
from engine.store import MemoryStore

TAINT = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def make_sim(workers=1, controllers=None):
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=9,
                     controllers=controllers if controllers is not None else default_controllers(), profile="fast")
    for ns in ("default", "kube-system", "kube-node-lease"):
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    sim.api.create(make_node("control-plane", index=0, control_plane=True, now=clock.now()))
    for i in range(1, workers + 1):
        sim.api.create(make_node(f"node-{i}", now=clock.now()))
    for name, value, policy in (("low", 100, None), ("medium", 500, None), ("high", 1000, None),
                                ("high-polite", 1000, "Never")):
        body = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                "value": value}
        if policy:
            body["preemptionPolicy"] = policy
        sim.api.create(body)
    sim.tick()
    return sim


def pod(name, cpu="500m", priority_class=None, image="nginx:1.27", **spec):
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image, "resources": {"requests": {"cpu": cpu}}}],
                     **spec}}
    if priority_class:
        body["spec"]["priorityClassName"] = priority_class
    return body


def get(sim, name):
    return sim.store.get("Pod", "default", name)


def events(sim, name, reason):
    found = [e for e in sim.cache.list("Event") if e["involvedObject"]["name"] == name and e["reason"] == reason]
    return sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))


def phase(sim, name):
    found = get(sim, name)
    return None if found is None else (found.get("status") or {}).get("phase")


# --- admission: priority from the class ----------------------------------------------------------------
def test_priority_comes_from_the_priority_class_and_an_unknown_class_is_refused():
    sim = make_sim(controllers=[])
    created = sim.api.create(pod("important", priority_class="high"))
    assert created["spec"]["priority"] == 1000 and created["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert sim.api.create(pod("plain"))["spec"]["priority"] == 0
    assert sim.api.create(pod("system", priority_class="system-cluster-critical"))["spec"]["priority"] == 2000000000
    with pytest.raises(errors.ApiError) as refused:
        sim.api.create(pod("typo", priority_class="hihg"))
    assert refused.value.code == 403
    assert refused.value.message == 'pods "typo" is forbidden: no PriorityClass with name hihg was found'
    with pytest.raises(errors.ApiError) as refused:
        sim.api.create({**pod("sneaky", priority_class="low"), "spec": {**pod("x")["spec"], "priorityClassName": "low",
                                                                       "priority": 5}})
    assert refused.value.message == ('pods "sneaky" is forbidden: the integer value of priority (5) must not be '
                                     "provided in pod spec; priority admission controller computed 100 from the "
                                     "given PriorityClass name")
    assert sim.api.create(pod("agrees", priority_class="high-polite", preemptionPolicy="Never"))
    with pytest.raises(errors.ApiError) as refused:
        sim.api.create(pod("pushy", priority_class="low", preemptionPolicy="Never"))
    assert refused.value.message == ('pods "pushy" is forbidden: the string value of PreemptionPolicy (Never) must '
                                     "not be provided in pod spec; priority admission controller computed "
                                     "PreemptLowerPriority from the given PriorityClass name")


def test_a_global_default_class_applies_to_pods_without_one_and_there_can_be_only_one():
    sim = make_sim(controllers=[])
    sim.api.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "normal"},
                    "value": 50, "globalDefault": True, "preemptionPolicy": "Never"})
    created = sim.api.create(pod("plain"))
    assert (created["spec"]["priorityClassName"], created["spec"]["priority"]) == ("normal", 50)
    assert created["spec"]["preemptionPolicy"] == "Never"
    with pytest.raises(errors.ApiError) as refused:
        sim.api.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                        "metadata": {"name": "other"}, "value": 60, "globalDefault": True})
    assert refused.value.message == ('priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass normal is '
                                     "already marked as default. Only one default can exist")


# --- preemption --------------------------------------------------------------------------------------------
def test_a_high_priority_pod_preempts_a_low_priority_one():
    sim = make_sim()
    sim.api.create(pod("filler", cpu="1500m", priority_class="low"))
    sim.run(3, step=0.5)
    assert phase(sim, "filler") == "Running"
    sim.api.create(pod("vip", cpu="1", priority_class="high"))
    sim.tick()
    vip = get(sim, "vip")
    assert vip["status"]["nominatedNodeName"] == "node-1" and not vip["spec"].get("nodeName")
    (failed,) = events(sim, "vip", "FailedScheduling")
    assert failed["message"] == f"0/2 nodes are available: 1 Insufficient cpu, 1 {TAINT}."  # preemption worked
    filler = get(sim, "filler")
    assert filler["metadata"].get("deletionTimestamp")
    assert filler["metadata"]["deletionGracePeriodSeconds"] == 30
    target = next(c for c in filler["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == (
        "True", "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod")
    (preempted,) = events(sim, "filler", "Preempted")
    assert preempted["type"] == "Normal" and preempted["source"] == {"component": "default-scheduler"}
    assert preempted["message"] == f"Preempted by pod {vip['metadata']['uid']} on node node-1"
    sim.run(5, step=0.5)
    assert get(sim, "filler") is None
    assert get(sim, "vip")["spec"]["nodeName"] == "node-1" and phase(sim, "vip") == "Running"
    scheduled = events(sim, "vip", "Scheduled")
    assert scheduled and scheduled[0]["message"] == "Successfully assigned default/vip to node-1"


def test_victims_are_as_few_and_as_unimportant_as_possible():
    sim = make_sim(workers=2)
    # node-1: three 500m pods of low priority; node-2: one 1500m pod of medium priority.
    for i in range(3):
        sim.api.create(pod(f"low-{i}", priority_class="low", nodeName="node-1"))
    sim.api.create(pod("medium", cpu="1500m", priority_class="medium", nodeName="node-2"))
    sim.run(3, step=0.5)
    sim.api.create(pod("vip", cpu="1", priority_class="high"))
    sim.tick()
    assert get(sim, "vip")["status"]["nominatedNodeName"] == "node-1"  # lower victims' priority wins
    doomed = [f"low-{i}" for i in range(3) if get(sim, f"low-{i}")["metadata"].get("deletionTimestamp")]
    assert len(doomed) == 1  # 500m were free already: one more 500m pod makes room for 1 CPU
    assert get(sim, "medium")["metadata"].get("deletionTimestamp") is None
    sim.run(5, step=0.5)
    assert get(sim, "vip")["spec"]["nodeName"] == "node-1"


def test_no_preemption_between_equals_and_with_preemption_policy_never():
    sim = make_sim(controllers=[Scheduler])
    sim.api.create(pod("filler", cpu="1500m", priority_class="high", nodeName="node-1"))
    sim.tick()
    sim.api.create(pod("peer", cpu="1", priority_class="high"))
    sim.api.create(pod("polite", cpu="1", priority_class="high-polite"))
    sim.tick()
    assert events(sim, "peer", "FailedScheduling")[0]["message"] == (
        f"0/2 nodes are available: 1 Insufficient cpu, 1 {TAINT}. preemption: 0/2 nodes are available: "
        "1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.")
    assert events(sim, "polite", "FailedScheduling")[0]["message"] == (
        f"0/2 nodes are available: 1 Insufficient cpu, 1 {TAINT}. preemption: not eligible due to "
        "preemptionPolicy=Never.")
    assert get(sim, "filler")["metadata"].get("deletionTimestamp") is None


def test_when_evicting_everything_would_not_help_the_node_keeps_its_reason():
    sim = make_sim(controllers=[Scheduler])
    sim.api.create(pod("filler", cpu="500m", priority_class="low", nodeName="node-1"))
    sim.tick()
    sim.api.create(pod("huge", cpu="3", priority_class="high"))
    sim.tick()
    assert events(sim, "huge", "FailedScheduling")[0]["message"] == (
        f"0/2 nodes are available: 1 Insufficient cpu, 1 {TAINT}. preemption: 0/2 nodes are available: "
        "1 Insufficient cpu, 1 Preemption is not helpful for scheduling.")
    assert get(sim, "filler")["metadata"].get("deletionTimestamp") is None


def test_the_nominated_node_is_held_for_the_preemptor_while_the_victim_terminates():
    sim = make_sim()
    # node-hello ignores SIGTERM: the victim stays Terminating for its 30 s grace period.
    sim.api.create(pod("filler", cpu="1500m", priority_class="low", image="gcr.io/google-samples/node-hello:1.0"))
    sim.run(3, step=0.5)
    sim.api.create(pod("vip", cpu="1", priority_class="high"))
    sim.tick()
    sim.api.create(pod("sneaky", cpu="400m", priority_class="low"))
    sim.run(5, step=0.5)
    assert get(sim, "filler")["metadata"].get("deletionTimestamp")
    assert get(sim, "sneaky")["spec"].get("nodeName") is None  # the room is the vip's
    scheduler = sim.controller("default-scheduler")
    scheduler.schedule_one(get(sim, "vip"))  # a retry while the victim terminates
    assert [e["message"] for e in events(sim, "vip", "FailedScheduling")][-1] == (
        f"0/2 nodes are available: 1 Insufficient cpu, 1 {TAINT}. preemption: not eligible due to a terminating "
        "pod on the nominated node.")
    assert len(events(sim, "filler", "Preempted")) == 1
    sim.run(35, step=0.5)
    assert get(sim, "filler") is None
    assert get(sim, "vip")["spec"]["nodeName"] == "node-1" and phase(sim, "vip") == "Running"


def test_higher_priority_pods_are_scheduled_first():
    sim = make_sim(controllers=[Scheduler])
    sim.api.create(pod("early-low", cpu="1500m", priority_class="low"))
    sim.api.create(pod("late-high", cpu="1500m", priority_class="high"))
    sim.tick()
    assert get(sim, "late-high")["spec"].get("nodeName") == "node-1"
    assert get(sim, "early-low")["spec"].get("nodeName") is None
