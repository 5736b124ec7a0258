"""The bootcamp (seed 003, sections 3-2 and 3-4) on the engine alone, driven by the virtual clock.

apply the Deployment -> two pods go Pending -> ContainerCreating -> Running on nodes the scheduler
picked, with Events; delete one -> it terminates and the ReplicaSet replaces it.
"""

from engine.bootstrap import bootstrap_cluster, demo_workload
from engine.clock import VirtualClock
from engine.resources.tables import pod_status
from engine.simulation import Simulation
from engine.store import MemoryStore


def make_sim(profile="realistic"):
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=7, profile=profile)
    bootstrap_cluster(sim.api, nodes=3)
    return sim


def bootcamp_pods(sim):
    return [p for p in sim.cache.list("Pod", "default") if p["metadata"]["name"].startswith("bootcamp-")]


def statuses(sim):
    return {p["metadata"]["name"]: pod_status(p) for p in bootcamp_pods(sim)}


def test_bootcamp_deployment_goes_pending_creating_running_with_events():
    sim = make_sim()
    sim.tick()
    demo_workload(sim.api)
    seen: dict[str, list[str]] = {}

    def record(s):
        for name, status in statuses(s).items():
            history = seen.setdefault(name, [])
            if not history or history[-1] != status:
                history.append(status)
        return len(bootcamp_pods(s)) == 2 and all(st == "Running" for st in statuses(s).values())

    assert sim.run_until(record, timeout=300)
    assert len(seen) == 2
    for history in seen.values():
        assert history[0] in ("Pending", "ContainerCreating")
        assert history[-1] == "Running"
        assert "ContainerCreating" in history

    workers = {"node-1", "node-2", "node-3"}
    for p in bootcamp_pods(sim):
        assert p["spec"]["nodeName"] in workers  # never the tainted control plane
        assert p["status"]["podIP"]
        reasons = [e["reason"] for e in sim.cache.list("Event", "default")
                   if e["involvedObject"]["uid"] == p["metadata"]["uid"]]
        assert reasons[0] == "Scheduled"
        for reason in ("Pulling", "Pulled", "Created", "Started"):
            assert reason in reasons, (reason, reasons)


def test_deleted_pod_is_replaced_by_the_replicaset():
    sim = make_sim(profile="fast")
    sim.tick()
    demo_workload(sim.api)
    assert sim.run_until(lambda s: sorted(statuses(s).values()) == ["Running", "Running"], timeout=120)
    victim = sorted(statuses(sim))[0]

    sim.api.delete("Pod", "default", victim)
    sim.tick(0.1)
    assert statuses(sim)[victim] == "Terminating"
    assert len(bootcamp_pods(sim)) == 3  # the replacement is created while the victim terminates

    def healed(s):
        st = statuses(s)
        return victim not in st and sorted(st.values()) == ["Running", "Running"]

    assert sim.run_until(healed, timeout=120)
    rs_events = [e["message"] for e in sim.cache.list("Event", "default") if e["reason"] == "SuccessfulCreate"]
    assert len(rs_events) == 3
