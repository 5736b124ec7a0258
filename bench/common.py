"""What the benchmarks share: percentiles, memory, the machine's load, engine clusters, and live servers.

Engine benchmarks build a `Simulation` on a `MemoryStore` (no Django). The HTTP and WebSocket
benchmarks start the product itself (`manage.py serve`, or daphne plus `manage.py runworker`) in
subprocesses on a temporary SQLite file or a temporary PostgreSQL database, seed it through
`python -m bench.common seed` (a child process with Django set up), and talk to it over sockets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
POSTGRES_SERVER = os.environ.get("KUBEDOJO_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("KUBEDOJO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# What kubectl sends for `kubectl get` (a server-side Table, falling back to plain JSON).
TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
                "application/json")
KUBECTL_USER_AGENT = "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd"


# --- figures ----------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def latency_line(label: str, samples: list[float]) -> str:
    return (f"{label:<34} n={len(samples):<6} p50={ms(percentile(samples, 50)):>10}  "
            f"p99={ms(percentile(samples, 99)):>10}  max={ms(max(samples) if samples else math.nan):>10}")


def peak_rss_mib() -> float:
    """This process's peak resident memory (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib(pid: int | None = None) -> float:
    """Current resident memory of a process (this one by default), from /proc."""
    path = f"/proc/{pid or 'self'}/statm"
    try:
        with open(path) as handle:
            pages = int(handle.read().split()[1])
    except (OSError, IndexError, ValueError):
        return math.nan
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_line() -> str:
    """Cores and load average: figures taken on a loaded machine are depressed, and the output says so."""
    cores = os.cpu_count() or 1
    load1, _, _ = os.getloadavg()
    note = "quiet" if load1 < 0.5 else "NOT quiet: other work is running, figures are depressed"
    return f"machine: {cores} cores, load average {load1:.2f} at start ({note}); python {sys.version.split()[0]}"


def header(title: str) -> None:
    print(f"== {title} ==")
    print(machine_line())
    print(time.strftime("date: %Y-%m-%d %H:%M:%S %Z"))
    sys.stdout.flush()


# --- engine clusters (no Django) ----------------------------------------------------------------

def pod_manifest(name: str, namespace: str = "default", cpu: str = "100m", memory: str = "500Mi",
                 image: str = PAUSE_IMAGE, labels: dict | None = None) -> dict:
    """scheduler_perf's pod-default.yaml: one container with requests."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": "bench"}},
            "spec": {"containers": [{"name": "pause", "image": image,
                                     "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}}


def deployment_manifest(name: str, replicas: int, namespace: str = "default", image: str = PAUSE_IMAGE,
                        cpu: str = "10m", memory: str = "16Mi") -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": "app", "image": image, "resources": {
                                      "requests": {"cpu": cpu, "memory": memory}}}]}}}}


def service_manifest(name: str, namespace: str = "default", port: int = 80, target: int = 80) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": target, "protocol": "TCP"}]}}


def engine_cluster(nodes: int, *, cpu: str = "4", memory: str = "32Gi", max_pods: int = 110, profile: str = "fast",
                   seed: int = 1, namespaces: tuple[str, ...] | None = None):
    """A Simulation on a MemoryStore with `nodes` worker nodes (scheduler_perf's node-default.yaml sizes) and the
    system namespaces (kube-node-lease holds the nodes' heartbeat Leases)."""
    from engine.bootstrap import SYSTEM_NAMESPACES
    from engine.clock import VirtualClock
    from engine.kubelet.nodes import make_node
    from engine.simulation import Simulation
    from engine.store import MemoryStore

    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=seed, profile=profile)
    for name in namespaces or SYSTEM_NAMESPACES:
        sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for i in range(nodes):
        sim.api.create(make_node(f"node-{i + 1}", cpu=cpu, memory=memory, pods=max_pods, index=i + 1, now=clock.now()))
    return sim


def running_pods(sim, namespace: str | None = None) -> int:
    return sum(1 for p in sim.cache.list("Pod", namespace) if (p.get("status") or {}).get("phase") == "Running")


# --- live servers -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(workdir: Path, *, database_url: str | None = None, redis_url: str | None = None, profile: str = "fast",
             tick_seconds: float | None = None) -> dict:
    """The environment of a server or worker process: a temporary SQLite file unless `database_url`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "KUBEDOJO_EMBEDDED_SIMULATION", "DJANGO_SETTINGS_MODULE")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "cluster.settings",
        "KUBEDOJO_VAR_DIR": str(workdir),
        "KUBEDOJO_SQLITE": str(workdir / "kubedojo.sqlite3"),
        "KUBEDOJO_PROFILE": profile,
        "KUBEDOJO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    })
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    if tick_seconds is not None:
        env["KUBEDOJO_TICK_SECONDS"] = str(tick_seconds)
    return env


def manage(*args: str, env: dict, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


@contextlib.contextmanager
def postgres_database(prefix: str = "kubedojo_bench") -> Iterator[str]:
    """A fresh PostgreSQL database for one run (its URL), dropped afterwards."""
    import dj_database_url
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_SERVER, connect_timeout=3, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    server = dj_database_url.parse(POSTGRES_SERVER)
    auth = server["USER"] + (f":{server['PASSWORD']}" if server.get("PASSWORD") else "")
    url = f"postgres://{auth}@{server['HOST']}:{server['PORT'] or 5432}/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(POSTGRES_SERVER, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_SERVER, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not here"
        return False


def redis_available() -> bool:
    host, _, rest = REDIS_SERVER.split("//", 1)[1].partition(":")
    port = int(rest.split("/")[0] or 6379)
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def flush_redis_db(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class Process:
    """A server or worker process started by a benchmark; `stop()` ends it and everything it started."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def start(name: str, args: list[str], env: dict, workdir: Path) -> Process:
    log_path = workdir / f"{name}.log"
    with open(log_path, "w") as log:
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    return Process(name, popen, log_path)


def start_serve(workdir: Path, env: dict, port: int, name: str = "serve") -> Process:
    return start(name, [sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(port),
                        "--no-demo", "--no-migrate"], env, workdir)


def start_worker(workdir: Path, env: dict, name: str = "worker") -> Process:
    return start(name, [sys.executable, str(ROOT / "manage.py"), "runworker", "kubedojo.simulation"], env, workdir)


def wait_http(url: str, processes: list[Process], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited ({process.popen.returncode}):\n{process.log_tail()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class LiveServer:
    base: str  # http://127.0.0.1:<port>
    prefix: str  # /k8s/<access_key>
    cluster: str
    processes: list[Process] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        return self.base + self.prefix + path


@contextlib.contextmanager
def live_server(workdir: Path, *, database: str = "sqlite", scaled_out: bool = False, nodes: int = 3,
                pods: int = 0, namespace: str = "bench", cluster: str = "bench", workload: bool = False,
                tick_seconds: float | None = None, profile: str = "fast") -> Iterator[LiveServer]:
    """The product on a fresh database, seeded with one cluster, serving on a free port.

    database: "sqlite" (a temporary file) or "postgres" (a temporary database). scaled_out: daphne
    without the loop plus one `runworker kubedojo.simulation` on Redis (PostgreSQL only); otherwise
    the embedded `manage.py serve`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_database()) if database == "postgres" else None
        redis_url = REDIS_SERVER if scaled_out else None
        if redis_url:
            flush_redis_db(redis_url)
        env = base_env(workdir, database_url=database_url, redis_url=redis_url, profile=profile,
                       tick_seconds=tick_seconds)
        manage("migrate", "--noinput", env=env)
        seeded = json.loads(subprocess.run(
            [sys.executable, "-m", "bench.common", "seed", "--cluster", cluster, "--nodes", str(nodes), "--pods",
             str(pods), "--namespace", namespace] + (["--workload"] if workload else []),
            cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=600).stdout.strip().splitlines()[-1])
        port = free_port()
        processes: list[Process] = []
        stack.callback(lambda: [p.stop() for p in reversed(processes)])
        if scaled_out:
            web_env = dict(env, KUBEDOJO_EMBEDDED_SIMULATION="0")
            processes.append(start_serve(workdir, web_env, port, "web"))
            processes.append(start_worker(workdir, env))
        else:
            processes.append(start_serve(workdir, dict(env, KUBEDOJO_EMBEDDED_SIMULATION="1"), port))
        server = LiveServer(f"http://127.0.0.1:{port}", f"/k8s/{seeded['access_key']}", cluster, processes)
        wait_http(server.url("/version"), processes)
        yield server


# --- seeding (runs in a child process with Django) ----------------------------------------------

def _seed(cluster_name: str, nodes: int, pods: int, namespace: str, workload: bool) -> dict:
    import django

    django.setup()
    from django.db import transaction

    from cluster.models import Cluster
    from cluster.runtime import api_for
    from engine.bootstrap import bootstrap_cluster, demo_workload

    cluster, _ = Cluster.objects.get_or_create(name=cluster_name)
    api = api_for(cluster)
    with transaction.atomic():
        bootstrap_cluster(api, nodes=nodes, profile="large")
        if workload:
            demo_workload(api)
        if pods:
            api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            for i in range(pods):
                api.create(pod_manifest(f"pod-{i:04d}", namespace, cpu="10m", memory="16Mi"))
    return {"cluster": cluster.name, "pk": cluster.pk, "access_key": cluster.access_key}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="bench helpers (run by the benchmarks, not by hand)")
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed", help="create and bootstrap a cluster in the configured database")
    seed.add_argument("--cluster", default="bench")
    seed.add_argument("--nodes", type=int, default=3)
    seed.add_argument("--pods", type=int, default=0)
    seed.add_argument("--namespace", default="bench")
    seed.add_argument("--workload", action="store_true", help="also the demo's bootcamp Deployment and Service")
    args = parser.parse_args(argv)
    if args.command == "seed":
        print(json.dumps(_seed(args.cluster, args.nodes, args.pods, args.namespace, args.workload)))


if __name__ == "__main__":
    main()
