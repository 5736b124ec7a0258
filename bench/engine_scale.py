"""Engine scale: a big cluster at real time (1x), and a small workshop cluster at 100x.

Part 1, big cluster. 1,000 nodes (4 CPU, 32Gi, 110 pods each) and 30,000 pods, as 300 Deployments of
100 replicas (the realistic kubelet profile, the product's default), brought up as fast as the engine
goes (setup time is reported, not judged). Then the loop runs paced like the product's runner: every
TICK seconds of wall time the virtual clock advances by the wall time that passed, for DURATION wall
seconds, through node heartbeats, periodic resyncs (every 30 virtual seconds) and status reports.
It keeps real time when the ticks fit in the wall time they simulate: busy fraction below 1 and p99
tick under the tick interval. Resident memory is read from /proc (current) and ru_maxrss (peak).
Target: 1x with resident memory under 1 GiB. Anchor: KWOK's README, "1k nodes and 100k pods on a
laptop" (with a real apiserver and etcd; KWOK fakes only the kubelets); the ratio is printed.

Part 2, workshop cluster. A minikube-like cluster (control plane and 3 workers, CoreDNS, the demo's
bootcamp Deployment and Service) plus a learner's 3-replica nginx Deployment and Service, rolled
to a new image every 60 virtual seconds. Run paced at 100x (25 virtual seconds per 0.25 s tick)
for a few wall seconds: the achieved speed factor; then unpaced (ticks back to back): the highest
factor the engine reaches. Target: 100x or faster.

    .venv/bin/python bench/engine_scale.py                       # both parts, full size
    .venv/bin/python bench/engine_scale.py --nodes 100 --pods 3000 --duration 10   # smaller
    .venv/bin/python bench/engine_scale.py --part workshop
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    deployment_manifest,
    engine_cluster,
    header,
    latency_line,
    peak_rss_mib,
    percentile,
    rss_mib,
    service_manifest,
)

KWOK_NODES, KWOK_PODS = 1000, 100_000
TICK = 0.25  # the runner's default KUBEDOJO_TICK_SECONDS
SETUP_STEP = 1.0  # virtual seconds per tick while bringing the big cluster up
SETUP_TIMEOUT = 1800.0  # virtual seconds


def paced(sim, speed: float, duration: float, tick: float = TICK, on_tick=None) -> dict:
    """Run like the product's runner: each tick advances the clock by the wall time since the last × speed."""
    durations: list[float] = []
    changes = 0
    start_virtual = sim.clock.now()
    started = last = time.monotonic()
    while True:
        now = time.monotonic()
        if now - started >= duration:
            break
        step = (now - last) * speed
        last = now
        t = time.perf_counter()
        result = sim.tick(step)
        durations.append(time.perf_counter() - t)
        changes += len(result.changes)
        if on_tick is not None:
            on_tick(sim)
        remaining = tick - (time.monotonic() - now)
        if remaining > 0:
            time.sleep(remaining)
    # The clock moved to the start of the last tick: compare it with the wall time up to there.
    wall = max(last - started, 1e-9)
    return {"wall": wall, "virtual": sim.clock.now() - start_virtual, "durations": durations,
            "busy": sum(durations) / (time.monotonic() - started), "changes": changes}


def unpaced(sim, step: float, duration: float, on_tick=None) -> dict:
    """Ticks back to back, each advancing `step` virtual seconds: the fastest the engine can go."""
    start_virtual = sim.clock.now()
    started = time.monotonic()
    ticks = 0
    while time.monotonic() - started < duration:
        sim.tick(step)
        ticks += 1
        if on_tick is not None:
            on_tick(sim)
    wall = time.monotonic() - started
    return {"wall": wall, "virtual": sim.clock.now() - start_virtual, "ticks": ticks}


# --- part 1 -------------------------------------------------------------------------------------

def big_cluster(nodes: int, pods: int, per_deployment: int, duration: float, budget: float,
                pinned: bool = False) -> dict:
    if pinned:  # one Deployment per node, its template bound there: the same pods per node, no scheduling
        per_deployment = max(1, math.ceil(pods / nodes))
    deployments = max(1, math.ceil(pods / per_deployment))
    t0 = time.perf_counter()
    sim = engine_cluster(nodes, profile="realistic")
    sim.tick()
    for i in range(deployments):
        replicas = min(per_deployment, pods - i * per_deployment)
        manifest = deployment_manifest(f"app-{i:04d}", replicas)
        if pinned:
            manifest["spec"]["template"]["spec"]["nodeName"] = f"node-{i % nodes + 1}"
        sim.api.create(manifest)
    waited = 0.0
    running = 0
    ticks = 0
    last_report = t0
    while waited < SETUP_TIMEOUT:
        sim.tick(SETUP_STEP)
        waited += SETUP_STEP
        ticks += 1
        running = sum(1 for p in sim.cache.list("Pod") if (p.get("status") or {}).get("phase") == "Running")
        if running >= pods:
            break
        if time.perf_counter() - last_report >= 10:
            last_report = time.perf_counter()
            print(f"  setup: {running}/{pods} pods Running after {last_report - t0:.0f} s "
                  f"({rss_mib():.0f} MiB resident)", flush=True)
        if time.perf_counter() - t0 > budget:
            break
    setup = time.perf_counter() - t0
    if running < pods:
        print(f"  setup: only {running} of {pods} pods Running after {setup:.0f} s (budget {budget:.0f} s, "
              f"{waited:.0f} virtual s); the steady state below runs with what there is")
    objects = sum(sim.cache.count(kind) for kind in sim.cache.kinds())
    steady = paced(sim, 1.0, duration)
    return {"setup": setup, "running": running, "objects": objects, "events": sim.cache.count("Event"),
            "rss": rss_mib(), "peak": peak_rss_mib(), **steady}


# --- part 2 -------------------------------------------------------------------------------------

def workshop_cluster(seed: int = 7):
    from engine.bootstrap import bootstrap_cluster, demo_workload
    from engine.clock import VirtualClock
    from engine.simulation import Simulation
    from engine.store import MemoryStore

    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, profile="realistic")
    bootstrap_cluster(sim.api, nodes=3)
    demo_workload(sim.api)
    sim.api.create(deployment_manifest("web", 3, image="nginx:1.25", cpu="100m", memory="64Mi"))
    sim.api.create(service_manifest("web"))
    return sim


class Rollouts:
    """A learner who rolls the Deployment `web` to another image every `every` virtual seconds."""

    def __init__(self, sim, every: float = 60.0):
        self.every = every
        self.next_at = sim.clock.now() + every
        self.count = 0

    def __call__(self, sim) -> None:
        if sim.clock.now() < self.next_at:
            return
        self.next_at = sim.clock.now() + self.every
        self.count += 1
        image = "nginx:1.26" if self.count % 2 else "nginx:1.25"
        sim.api.patch("Deployment", "default", "web",
                      {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}},
                      "application/strategic-merge-patch+json")


def workshop(speed: float, duration: float) -> dict:
    sim = workshop_cluster()
    sim.run(120, step=5)  # everything Running before measuring
    rollouts = Rollouts(sim)
    at_speed = paced(sim, speed, duration, on_tick=rollouts)
    flat_out = unpaced(sim, TICK * speed, duration, on_tick=rollouts)
    pods = len(sim.cache.list("Pod"))
    return {"paced": at_speed, "unpaced": flat_out, "rollouts": rollouts.count, "pods": pods}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "big", "workshop"), default="all")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=30_000)
    parser.add_argument("--per-deployment", type=int, default=100, help="replicas per Deployment")
    parser.add_argument("--duration", type=float, default=60.0, help="wall seconds of the 1x steady state")
    parser.add_argument("--pinned", action="store_true",
                        help="one Deployment per node with spec.nodeName in its template (pods/nodes replicas each): "
                             "the same cluster without the scheduler, to measure the rest at full size")
    parser.add_argument("--setup-budget", type=float, default=300.0,
                        help="wall seconds allowed for bringing the pods up (checked between ticks)")
    parser.add_argument("--speed", type=float, default=100.0, help="the workshop cluster's speed factor")
    parser.add_argument("--workshop-duration", type=float, default=10.0, help="wall seconds per workshop run")
    args = parser.parse_args()
    header("engine scale")
    if args.part in ("all", "big"):
        print(f"-- {args.nodes} nodes, {args.pods} pods at 1x for {args.duration:.0f} wall seconds")
        if args.pinned:
            print("   (pinned: one Deployment per node, bound through spec.nodeName; the scheduler does not run)")
        r = big_cluster(args.nodes, args.pods, args.per_deployment, args.duration, args.setup_budget, args.pinned)
        virtual_ratio = r["virtual"] / r["wall"]
        p99 = percentile(r["durations"], 99)
        keeps_up = r["busy"] < 1.0 and p99 < TICK and virtual_ratio > 0.99 and r["running"] >= args.pods
        print(f"setup: {r['running']} pods Running in {r['setup']:.0f} s; {r['objects']} objects in the cache "
              f"({r['events']} Events)")
        print(f"steady state: {len(r['durations'])} ticks in {r['wall']:.1f} s wall, {r['virtual']:.1f} s virtual "
              f"({virtual_ratio:.2f}x); busy {r['busy'] * 100:.0f}% of wall time; {r['changes']} writes "
              f"({r['changes'] / r['wall']:.0f}/s)")
        print(latency_line("tick duration", r["durations"]))
        print(f"resident memory: {r['rss']:.0f} MiB now, {r['peak']:.0f} MiB peak (target < 1024 MiB)")
        print(f"keeps real time: {'yes' if keeps_up else 'NO'} (all pods up, busy < 100%, "
              f"p99 tick < {TICK * 1000:.0f} ms)")
        print(f"KWOK anchor ({KWOK_NODES} nodes, {KWOK_PODS} pods): nodes {args.nodes / KWOK_NODES:.2f}x, "
              f"pods {r['running'] / KWOK_PODS:.2f}x of KWOK's")
        print(f"RESULT engine_scale nodes={args.nodes} pods={r['running']} keeps_up={'yes' if keeps_up else 'no'} "
              f"busy_pct={r['busy'] * 100:.0f} p99_tick_ms={p99 * 1000:.0f} rss_mib={r['rss']:.0f} "
              f"peak_rss_mib={r['peak']:.0f} kwok_pod_ratio={r['running'] / KWOK_PODS:.2f}")
        sys.stdout.flush()
    if args.part in ("all", "workshop"):
        print(f"-- workshop cluster (3 workers, bootcamp + 3-replica web, a rollout per 60 virtual s) "
              f"at {args.speed:.0f}x")
        r = workshop(args.speed, args.workshop_duration)
        paced_factor = r["paced"]["virtual"] / r["paced"]["wall"]
        max_factor = r["unpaced"]["virtual"] / r["unpaced"]["wall"]
        print(f"paced at {args.speed:.0f}x: {r['paced']['virtual']:.0f} virtual s in {r['paced']['wall']:.1f} wall s "
              f"= {paced_factor:.1f}x, busy {r['paced']['busy'] * 100:.1f}% of wall time")
        print(latency_line("tick duration at 100x", r["paced"]["durations"]))
        print(f"unpaced: {r['unpaced']['ticks']} ticks of {TICK * args.speed:.0f} virtual s in "
              f"{r['unpaced']['wall']:.1f} s = {max_factor:.0f}x; {r['rollouts']} rollouts in all; {r['pods']} pods")
        print(f"RESULT workshop_speed paced_factor={paced_factor:.1f} max_factor={max_factor:.0f}")
    print(f"peak resident memory: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
