"""Engine scheduling throughput, shaped like kube-scheduler's scheduler_perf SchedulingBasic.

Scenario (test/integration/scheduler_perf/misc/performance-config.yaml, SchedulingBasic):
create N nodes (node-default.yaml: 4 CPU, 32Gi, 110 pods), create `init` pods and drive them to
Running, then create `measure` pods (pod-default.yaml: one pause container requesting 100m CPU
and 500Mi) and tick the engine (fast kubelet profile) until every measured pod is Running.

Figures: measured pods per wall second from the first create to the last one bound (the scheduler's
own rate, what scheduler_perf reports) and to the last one Running (creation, scheduling, binding
and the kubelet's stages, all through the engine's apiserver). Anchor: kube-scheduler's CI floor of
270 pods/s on 5,000 nodes (a much bigger machine); our target is 300 pods/s at 5,000 nodes.

    .venv/bin/python bench/scheduling.py                 # 500 and 5,000 nodes
    .venv/bin/python bench/scheduling.py --nodes 500     # one size
    .venv/bin/python bench/scheduling.py --quick         # 100 nodes, 100 + 200 pods (a smoke run)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import engine_cluster, header, peak_rss_mib, pod_manifest  # noqa: E402

# SchedulingBasic's workloads: nodes -> (initPods, measurePods).
SHAPES = {500: (500, 1000), 5000: (1000, 1000)}
STEP = 0.1  # virtual seconds per tick
TIMEOUT = 600.0  # virtual seconds before giving up


def create_pods(sim, prefix: str, count: int) -> list[tuple[str, str]]:
    keys = []
    for i in range(count):
        pod = sim.api.create(pod_manifest(f"{prefix}-{i}"))
        keys.append(("default", pod["metadata"]["name"]))
    return keys


def drive(sim, keys: list[tuple[str, str]], started: float) -> tuple[float | None, float | None, int]:
    """Tick until every pod in `keys` is Running; (seconds to all bound, seconds to all Running, ticks)."""
    bound_at = running_at = None
    ticks = 0
    waited = 0.0
    pending = set(keys)
    unbound = set(keys)
    while pending and waited <= TIMEOUT:
        sim.tick(STEP if ticks else 0.0)
        ticks += 1
        waited += STEP
        for key in list(unbound):
            pod = sim.cache.get("Pod", *key)
            if pod is not None and pod["spec"].get("nodeName"):
                unbound.discard(key)
        if not unbound and bound_at is None:
            bound_at = time.perf_counter() - started
        for key in list(pending):
            pod = sim.cache.get("Pod", *key)
            if pod is not None and (pod.get("status") or {}).get("phase") == "Running":
                pending.discard(key)
    if not pending:
        running_at = time.perf_counter() - started
    return bound_at, running_at, ticks


def run(nodes: int, init: int, measure: int) -> dict:
    t0 = time.perf_counter()
    sim = engine_cluster(nodes)
    sim.tick()
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    init_keys = create_pods(sim, "init", init)
    init_bound, init_running, _ = drive(sim, init_keys, t1)
    if init_running is None:
        raise SystemExit(f"{nodes} nodes: the init pods did not all reach Running")
    started = time.perf_counter()
    cpu_started = time.process_time()
    keys = create_pods(sim, "measured", measure)
    created = time.perf_counter() - started
    bound, running, ticks = drive(sim, keys, started)
    # This process's CPU time for the same span: on a shared machine it moves much less than wall time.
    cpu = time.process_time() - cpu_started
    return {"nodes": nodes, "init": init, "measure": measure, "setup": setup, "init_seconds": init_running,
            "create_seconds": created, "bound_seconds": bound, "running_seconds": running, "ticks": ticks,
            "cpu_seconds": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, action="append", help="node count (repeatable; default 500 and 5000)")
    parser.add_argument("--init", type=int, help="pods created and Running before measuring (default: SchedulingBasic's)")
    parser.add_argument("--measure", type=int, help="measured pods (default: SchedulingBasic's)")
    parser.add_argument("--quick", action="store_true", help="100 nodes, 100 init and 200 measured pods")
    args = parser.parse_args()
    sizes = [100] if args.quick else (args.nodes or sorted(SHAPES))
    header("engine scheduling throughput (SchedulingBasic-shaped, fast profile)")
    for nodes in sizes:
        default_init, default_measure = SHAPES.get(nodes, (100, 200) if args.quick else (nodes, 1000))
        init = args.init if args.init is not None else default_init
        measure = args.measure if args.measure is not None else default_measure
        r = run(nodes, init, measure)
        to_bound = measure / r["bound_seconds"] if r["bound_seconds"] else float("nan")
        to_running = measure / r["running_seconds"] if r["running_seconds"] else float("nan")
        print(f"{nodes:>5} nodes, {init} init + {measure} measured pods: setup {r['setup']:.1f} s, "
              f"init pods Running in {r['init_seconds']:.1f} s")
        print(f"      measured: created in {r['create_seconds']:.2f} s, all bound after {r['bound_seconds']:.2f} s "
              f"({to_bound:.0f} pods/s), all Running after {r['running_seconds']:.2f} s ({to_running:.0f} pods/s), "
              f"{r['ticks']} ticks; {r['cpu_seconds']:.2f} CPU s ({measure / r['cpu_seconds']:.0f} pods per CPU s)")
        print(f"RESULT scheduling nodes={nodes} pods_per_s_bound={to_bound:.0f} pods_per_s_running={to_running:.0f}")
        sys.stdout.flush()
    print(f"peak resident memory: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
