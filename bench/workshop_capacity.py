"""Workshop capacity: how many seats one process keeps at real-time speed.

A seat is what a learner gets: a minikube-like cluster (a control plane and 3 workers, CoreDNS,
the system namespaces) with a 3-replica nginx Deployment and a Service in front of it, and a learner
who rolls the Deployment to another image every ROLLOUT_SECONDS of wall time (seats staggered).
Each seat's Service is also under REQUESTS_PER_SECOND (5) requests a second from the cluster's traffic
generator, the stream the learner page's "send traffic" starts: each request goes from one of the
Deployment's pods through CoreDNS and kube-proxy to a backend, as curl in a pod would.

Two modes:
- runtime (default): the product's own loop, `cluster.runtime.SimulationRunner`, in this process on
  a temporary SQLite file (or PostgreSQL with --database postgres): every pass it reads the seats'
  rows (one statement for many), and each seat's tick runs the engine on DjangoStore, writes in one
  transaction, stamps the clock when it strays and publishes a delta on the channel layer.
- engine: the engine alone (one Simulation on a MemoryStore per seat), ticked in one loop: the
  ceiling without a database.

The ramp doubles the seats from --start while the loop keeps real time (halving first if --start
already falls behind), then bisects between the last count that did and the first that did not,
removing seats when it steps down. A count keeps real time when, over a window of
--window wall seconds, the loop is busy less than --max-busy of the time (headroom for HTTP and
WebSockets in the same process) and its p99 pass over all seats stays under --max-pass seconds
(how stale a learner's view may get), and every seat's virtual clock advanced at least 98 % of
the wall time. Target: 100 seats on a 2-core machine.

    .venv/bin/python bench/workshop_capacity.py                      # runtime on SQLite
    .venv/bin/python bench/workshop_capacity.py --database postgres
    .venv/bin/python bench/workshop_capacity.py --mode engine
    .venv/bin/python bench/workshop_capacity.py --start 10 --max-seats 40 --window 8   # smaller
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    cpu_seconds,
    deployment_manifest,
    header,
    peak_rss_mib,
    percentile,
    postgres_available,
    postgres_database,
    service_manifest,
)

TICK = 0.25
ROLLOUT_SECONDS = 60.0
SETTLE_SECONDS = 5.0
IMAGES = ("nginx:1.25", "nginx:1.26")
REQUESTS_PER_SECOND = 5.0


def start_traffic(sim) -> None:
    """Put the seat's Service under REQUESTS_PER_SECOND requests a second (from its own pods, in turn)."""
    from engine.network.config import TrafficSource, config_of

    cfg = config_of(sim)
    if not any(s.name == "bench:web" for s in cfg.traffic):
        cfg.traffic.append(TrafficSource(name="bench:web", target="http://web.default.svc.cluster.local:80/",
                                         client="pods:default/app=web", rate=REQUESTS_PER_SECOND, timeout_ms=2000.0))


def served(sim) -> int:
    """Requests the seat's Service has received so far (errors included)."""
    from engine.network import traffic

    return int(traffic.service_stats(sim, "default", "web").get("requests", 0))


def seat_objects() -> list[dict]:
    return [deployment_manifest("web", 3, image=IMAGES[0], cpu="100m", memory="64Mi"), service_manifest("web")]


def rollout_patch(count: int) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGES[count % 2]}]}}}}


class Verdict:
    def __init__(self, seats: int, passes: list[float], busy: float, ratios: list[float], cpu: float, wall: float,
                 max_busy: float, max_pass: float, requests: int = 0):
        self.seats, self.passes, self.busy, self.ratios = seats, passes, busy, ratios
        self.requests = requests  # received by the seats' Services during the window
        self.cpu, self.wall = cpu, wall
        self.p50, self.p99 = percentile(passes, 50), percentile(passes, 99)
        self.slowest = min(ratios) if ratios else 0.0
        self.ok = bool(passes) and busy < max_busy and self.p99 < max_pass and self.slowest >= 0.98

    def line(self) -> str:
        return (f"{self.seats:>5} seats: {'real time' if self.ok else 'FALLS BEHIND':<12} busy {self.busy * 100:5.1f}%  "
                f"pass p50 {self.p50 * 1000:7.1f} ms  p99 {self.p99 * 1000:7.1f} ms  slowest seat "
                f"{self.slowest:.2f}x  process CPU {self.cpu / self.wall * 100:5.1f}%  requests "
                f"{self.requests / max(self.wall, 1e-9) / max(self.seats, 1):4.1f}/s per seat  ({len(self.passes)} passes)")


# --- the engine alone -------------------------------------------------------------------------------

class EngineSeats:
    def __init__(self):
        self.sims = []
        self.rollouts: list[float] = []
        self.counts: list[int] = []

    def add(self, count: int) -> None:
        from engine.bootstrap import bootstrap_cluster
        from engine.clock import VirtualClock
        from engine.simulation import Simulation
        from engine.store import MemoryStore

        for _ in range(count):
            i = len(self.sims)
            clock = VirtualClock()
            sim = Simulation(MemoryStore(cluster=f"seat-{i}", now=clock.now), clock, seed=i, profile="realistic")
            bootstrap_cluster(sim.api, nodes=3)
            for obj in seat_objects():
                sim.api.create(obj)
            sim.tick()
            start_traffic(sim)
            self.sims.append(sim)
            self.rollouts.append(time.monotonic() + ROLLOUT_SECONDS * ((i * 0.37) % 1.0))
            self.counts.append(0)

    def count(self) -> int:
        return len(self.sims)

    def remove(self, count: int) -> None:
        for _ in range(count):
            self.sims.pop()
            self.rollouts.pop()
            self.counts.pop()

    def measure(self, window: float, max_busy: float, max_pass: float) -> Verdict:
        starts = [s.clock.now() for s in self.sims]
        requests0 = sum(served(s) for s in self.sims)
        passes: list[float] = []
        busy = 0.0
        cpu0 = cpu_seconds()
        started = last = time.monotonic()
        lasts = [started] * len(self.sims)
        while time.monotonic() - started < window:
            t = time.monotonic()
            for i, sim in enumerate(self.sims):
                now = time.monotonic()
                if now >= self.rollouts[i]:
                    self.rollouts[i] = now + ROLLOUT_SECONDS
                    self.counts[i] += 1
                    sim.api.patch("Deployment", "default", "web", rollout_patch(self.counts[i]),
                                  "application/strategic-merge-patch+json")
                sim.tick(now - lasts[i])
                lasts[i] = now
            elapsed = time.monotonic() - t
            passes.append(elapsed)
            busy += elapsed
            last = time.monotonic()
            time.sleep(max(0.0, TICK - elapsed))
        wall = last - started
        ratios = [(s.clock.now() - starts[i]) / max(1e-9, lasts[i] - started) for i, s in enumerate(self.sims)]
        requests = sum(served(s) for s in self.sims) - requests0
        return Verdict(len(self.sims), passes, busy / (time.monotonic() - started), ratios, cpu_seconds() - cpu0,
                       wall, max_busy, max_pass, requests)

    def close(self) -> None:
        pass


# --- the product's runtime ------------------------------------------------------------------------

class RuntimeSeats:
    """SimulationRunner on a real database, in this process, with its own event loop in a thread."""

    def __init__(self, database_url: str | None, workdir: Path):
        os.environ["DJANGO_SETTINGS_MODULE"] = "cluster.settings"
        os.environ["KUBEDOJO_VAR_DIR"] = str(workdir)
        os.environ["KUBEDOJO_SQLITE"] = str(workdir / "kubedojo.sqlite3")
        os.environ["KUBEDOJO_PROFILE"] = "realistic"
        os.environ["KUBEDOJO_TICK_SECONDS"] = str(TICK)
        os.environ.setdefault("KUBEDOJO_LOG_LEVEL", "WARNING")
        os.environ.pop("REDIS_URL", None)
        if database_url:
            os.environ["DATABASE_URL"] = database_url
        else:
            os.environ.pop("DATABASE_URL", None)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        from cluster.runtime import SimulationRunner

        passes = self.passes = []

        class TimedRunner(SimulationRunner):
            async def step(self) -> None:
                t = time.monotonic()
                await super().step()
                passes.append((t, time.monotonic() - t))

        self.runner = TimedRunner(tick_seconds=TICK)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-loop", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()
        self.seats: list[int] = []
        self.rollouts: list[float] = []
        self.counts: list[int] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.learners = threading.Thread(target=self._learners, name="bench-learners", daemon=True)
        self.learners.start()

    async def _start(self) -> None:
        self.runner.start()

    def add(self, count: int) -> None:
        from django.db import connection, transaction

        from cluster.models import Cluster
        from cluster.runtime import api_for
        from engine.bootstrap import bootstrap_cluster

        for _ in range(count):
            i = len(self.seats)
            with transaction.atomic():
                cluster = Cluster.objects.create(name=f"seat-{i}", seed=i)
                api = api_for(cluster)
                bootstrap_cluster(api, nodes=3)
                for obj in seat_objects():
                    api.create(obj)
            with self.lock:
                self.seats.append(cluster.pk)
                self.rollouts.append(time.monotonic() + ROLLOUT_SECONDS * ((i * 0.37) % 1.0))
                self.counts.append(0)
        connection.close()
        deadline = time.monotonic() + 60
        while len(self.runner.clusters) < len(self.seats) and time.monotonic() < deadline:
            self.runner.nudge()
            time.sleep(0.2)
        while time.monotonic() < deadline and not all(s.sim for s in list(self.runner.clusters.values())):
            time.sleep(0.1)  # built at its first tick
        self._in_loop(lambda: [start_traffic(s.sim) for s in list(self.runner.clusters.values()) if s.sim])

    def _in_loop(self, fn):
        """`fn()` in the runner's own thread, between ticks (the Simulations are not thread-safe)."""
        return asyncio.run_coroutine_threadsafe(self.runner.call(fn), self.loop).result(timeout=60)

    def served(self) -> int:
        return self._in_loop(lambda: sum(served(s.sim) for s in list(self.runner.clusters.values()) if s.sim))

    def count(self) -> int:
        return len(self.seats)

    def remove(self, count: int) -> None:
        """Delete the newest seats' clusters; the runner drops a cluster whose row is gone on its next tick."""
        from django.db import connection

        from cluster.models import Cluster

        with self.lock:
            gone = self.seats[-count:]
            del self.seats[-count:], self.rollouts[-count:], self.counts[-count:]
        Cluster.objects.filter(pk__in=gone).delete()
        connection.close()
        deadline = time.monotonic() + 30
        while any(pk in self.runner.clusters for pk in gone) and time.monotonic() < deadline:
            time.sleep(0.2)

    def _learners(self) -> None:
        """Each seat's learner rolls its Deployment now and then, through the API as kubectl would."""
        from django.db import connection

        from cluster.models import Cluster
        from cluster.runtime import api_for

        while not self._stop.wait(0.2):
            now = time.monotonic()
            with self.lock:
                due = []
                for i, pk in enumerate(self.seats):
                    if now >= self.rollouts[i]:
                        self.rollouts[i] = now + ROLLOUT_SECONDS
                        self.counts[i] += 1
                        due.append((pk, self.counts[i]))
            for pk, count in due:
                with contextlib.suppress(Exception):  # a seat removed meanwhile
                    api_for(Cluster.objects.get(pk=pk)).patch("Deployment", "default", "web", rollout_patch(count),
                                                              "application/strategic-merge-patch+json")
            connection.close()

    def _clocks(self) -> dict[int, tuple[float, float]]:
        """Each seat's virtual time and the wall time (monotonic) of the tick that set it."""
        return {pk: (state.sim.clock.now(), state.last_wall) for pk, state in list(self.runner.clusters.items())
                if state.sim}

    def measure(self, window: float, max_busy: float, max_pass: float) -> Verdict:
        before, started = self._clocks(), time.monotonic()
        cpu0 = cpu_seconds()
        requests0 = self.served()
        mark = len(self.passes)
        time.sleep(window)
        after, ended = self._clocks(), time.monotonic()
        requests = self.served() - requests0
        passes = [d for t, d in self.passes[mark:] if t >= started]
        ratios = [(after[pk][0] - before[pk][0]) / max(1e-9, after[pk][1] - before[pk][1])
                  for pk in self.seats if pk in before and pk in after]
        if len(ratios) < len(self.seats):
            ratios.append(0.0)  # a seat not simulated (yet) is a seat behind
        busy = sum(passes) / (ended - started)
        return Verdict(len(self.seats), passes, busy, ratios, cpu_seconds() - cpu0, ended - started, max_busy,
                       max_pass, requests)

    def close(self) -> None:
        self._stop.set()
        asyncio.run_coroutine_threadsafe(self.runner.stop(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def ramp(seats, start: int, max_seats: int, window: float, max_busy: float, max_pass: float,
         bisections: int) -> tuple[int, int | None]:
    """Double from `start` while real time holds, then bisect; (most seats in real time, fewest that fell behind)."""

    def at(n: int) -> Verdict:
        have = seats.count()
        t = time.monotonic()
        if n > have:
            seats.add(n - have)
        elif n < have:
            seats.remove(have - n)
        if n != have:
            print(f"  ({'+' if n > have else '-'}{abs(n - have)} seats in {time.monotonic() - t:.1f} s; "
                  f"settling {SETTLE_SECONDS:.0f} s)", flush=True)
            seats.measure(SETTLE_SECONDS, max_busy, max_pass)  # new seats start their pods, unmeasured
        verdict = seats.measure(window, max_busy, max_pass)
        print("  " + verdict.line(), flush=True)
        return verdict

    good, bad = 0, None
    n = start
    while n <= max_seats:
        if at(n).ok:
            good, n = n, n * 2
        else:
            bad = n
            break
    if bad is None:
        print(f"  still in real time at --max-seats {max_seats} (or the next doubling would pass it)")
        return good, None
    if good == 0:  # the first count already fell behind: halve until one holds
        n = bad // 2
        while n >= 1:
            if at(n).ok:
                good = n
                break
            bad, n = n, n // 2
    for _ in range(bisections):
        if bad - good <= max(1, good // 10):
            break
        mid = (good + bad) // 2
        if at(mid).ok:
            good = mid
        else:
            bad = mid
    print(f"  capacity: {good} seats in real time, {bad} fall behind")
    return good, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("runtime", "engine"), default="runtime")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--start", type=int, default=10)
    parser.add_argument("--bisections", type=int, default=3, help="measurements between the last good and bad count")
    parser.add_argument("--max-seats", type=int, default=400)
    parser.add_argument("--window", type=float, default=15.0, help="wall seconds measured per seat count")
    parser.add_argument("--max-busy", type=float, default=0.75, help="highest fraction of wall time the loop may use")
    parser.add_argument("--max-pass", type=float, default=1.0, help="highest p99 seconds of one pass over all seats")
    args = parser.parse_args()
    header(f"workshop capacity ({args.mode}{'' if args.mode == 'engine' else ', ' + args.database})")
    print(f"seat: 3 workers, CoreDNS, a 3-replica nginx Deployment and a Service under {REQUESTS_PER_SECOND:g} "
          f"requests/s from the traffic generator; a rollout per seat every {ROLLOUT_SECONDS:.0f} s")
    print(f"real time: busy < {args.max_busy * 100:.0f}%, p99 pass < {args.max_pass * 1000:.0f} ms, every seat's "
          f"clock >= 0.98x wall; tick {TICK * 1000:.0f} ms")
    with contextlib.ExitStack() as stack:
        if args.mode == "engine":
            seats = EngineSeats()
        else:
            url = None
            if args.database == "postgres":
                if not postgres_available():
                    raise SystemExit("no PostgreSQL server answers (KUBEDOJO_BENCH_POSTGRES_URL)")
                url = stack.enter_context(postgres_database())
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kubedojo-bench-")))
            seats = RuntimeSeats(url, tmp)
            stack.callback(seats.close)
        capacity, behind = ramp(seats, args.start, args.max_seats, args.window, args.max_busy, args.max_pass,
                                args.bisections)
    print(f"peak resident memory: {peak_rss_mib():.0f} MiB")
    print(f"RESULT workshop_capacity mode={args.mode} database={args.database if args.mode == 'runtime' else '-'} "
          f"seats={capacity} falls_behind_at={behind if behind is not None else '-'}")


if __name__ == "__main__":
    main()
