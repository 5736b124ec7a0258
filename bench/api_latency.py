"""Kubernetes API latency at 1,000 pods in a namespace, requests shaped as the real kubectl sends them.

Scenario: `manage.py serve` (the embedded product: HTTP, WebSockets and the simulation loop in one
process) in a subprocess on a free port, on a temporary SQLite file and again on a temporary
PostgreSQL database. The cluster has a control plane and enough large workers for every pod (15 for 1,000); namespace `bench` holds
1,000 pods (written through DjangoStore before the server starts, then scheduled and started by the
server's own simulation). Once they run, THREADS client threads (http.client, keep-alive) issue:

    get        GET  pods/NAME, Accept: Table (kubectl get pod NAME)
    get-json   GET  pods/NAME, Accept: application/json (kubectl get pod NAME -o yaml)
    list       GET  pods?limit=500 then ?continue=..., Accept: Table: the whole chunked sequence of
               `kubectl get pods` over 1,000 pods
    list-json  GET  pods, Accept: application/json, unchunked (1,000 pods in one response)
    create     POST pods?fieldManager=kubectl-create&fieldValidation=Strict (kubectl create -f)
    patch      PATCH pods/NAME, strategic merge patch (kubectl patch)
    label      PATCH pods/NAME?fieldManager=kubectl-label, merge patch (kubectl label)
    watch      GET  pods?fieldSelector=metadata.name=NAME&watch=true&resourceVersion=RV-1, Accept:
               Table (kubectl get pod NAME -w resuming just before the pod's last change): time to
               the first event line

Each request type runs twice: first from one client (sequential, as one kubectl sends its requests),
then from THREADS clients at once. Figures: p50/p99/max per request type and client count. Kubernetes'
SLO: p99 <= 1 s for single-object calls (and <= 30 s for lists). Our target: p99 under 50 ms for single
objects and under 500 ms for a 1,000-pod list, on SQLite and on PostgreSQL.

    .venv/bin/python bench/api_latency.py                    # SQLite and PostgreSQL
    .venv/bin/python bench/api_latency.py --database sqlite --pods 200 --samples 50   # smaller
    .venv/bin/python bench/api_latency.py --scaled-out       # PostgreSQL + Redis, daphne + a runworker
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    KUBECTL_USER_AGENT,
    TABLE_ACCEPT,
    header,
    latency_line,
    live_server,
    percentile,
    pod_manifest,
    postgres_available,
    redis_available,
)

NAMESPACE = "bench"
SINGLE_TARGET, LIST_TARGET = 0.050, 0.500


class Client:
    """One keep-alive connection per thread, as kubectl (and client-go) keeps one."""

    def __init__(self, port: int, prefix: str):
        self.port = port
        self.prefix = prefix
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return conn

    def request(self, method: str, path: str, body=None, accept: str = "application/json",
                content_type: str | None = None) -> tuple[int, bytes]:
        headers = {"Accept": accept, "User-Agent": KUBECTL_USER_AGENT}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, self.prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def first_watch_event(self, path: str, accept: str) -> tuple[int, bytes]:
        """Open a watch on a fresh connection, read its first event line, drop the stream."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", self.prefix + path, headers={"Accept": accept, "User-Agent": KUBECTL_USER_AGENT})
            response = conn.getresponse()
            if response.status != 200:
                return response.status, response.read()
            return response.status, response.readline()
        finally:
            conn.close()


def pods_path(name: str = "", query: str = "") -> str:
    path = f"/api/v1/namespaces/{NAMESPACE}/pods" + (f"/{name}" if name else "")
    return path + (f"?{query}" if query else "")


def wait_running(client: Client, pods: int, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    running = 0
    while time.monotonic() < deadline:
        status, body = client.request("GET", pods_path())
        if status == 200:
            items = json.loads(body)["items"]
            running = sum(1 for p in items if (p.get("status") or {}).get("phase") == "Running")
            if running >= pods:
                return running
        time.sleep(1.0)
    return running


def measure(client: Client, threads: int, samples: int, pods: int, run: str = "") -> dict[str, list[float]]:
    names = [f"pod-{i:04d}" for i in range(pods)]
    results: dict[str, list[float]] = {}
    errors: dict[str, list[str]] = {}
    counter = iter(range(10**9))
    lock = threading.Lock()

    def timed(op: str, fn) -> None:
        t = time.perf_counter()
        ok, detail = fn()
        elapsed = time.perf_counter() - t
        with lock:
            if ok:
                results.setdefault(op, []).append(elapsed)
            else:
                errors.setdefault(op, []).append(detail)

    def expect(status: int, body: bytes, *wanted: int) -> tuple[bool, str]:
        return status in wanted, f"{status} {body[:200]!r}"

    def get(i: int):
        return expect(*client.request("GET", pods_path(names[i % pods]), accept=TABLE_ACCEPT), 200)

    def get_json(i: int):
        return expect(*client.request("GET", pods_path(names[i % pods])), 200)

    def list_table(i: int):
        query = "limit=500"
        while True:
            status, body = client.request("GET", pods_path(query=query), accept=TABLE_ACCEPT)
            if status != 200:
                return False, f"{status} {body[:200]!r}"
            token = (json.loads(body).get("metadata") or {}).get("continue")
            if not token:
                return True, ""
            query = "limit=500&continue=" + urllib.parse.quote(token)

    def list_json(i: int):
        return expect(*client.request("GET", pods_path()), 200)

    def create(i: int):
        pod = pod_manifest(f"created-{run}{next(counter)}-{i}", NAMESPACE, cpu="10m", memory="16Mi")
        return expect(*client.request("POST", pods_path(query="fieldManager=kubectl-create&fieldValidation=Strict"),
                                      pod), 201)

    def patch(i: int):
        body = {"metadata": {"annotations": {"bench/patched": str(i)}}}
        return expect(*client.request("PATCH", pods_path(names[i % pods], "fieldManager=kubectl-patch"), body,
                                      content_type="application/strategic-merge-patch+json"), 200)

    def label(i: int):
        body = {"metadata": {"labels": {"bench-label": str(i)}}}
        return expect(*client.request("PATCH", pods_path(names[i % pods], "fieldManager=kubectl-label"), body,
                                      content_type="application/merge-patch+json"), 200)

    def watch(i: int):
        # Outside the timing: what `kubectl get pod NAME -w` learns from its first GET.
        name = names[i % pods]
        status, body = client.request("GET", pods_path(name))
        if status != 200:
            return False, f"{status}"
        rv = int(json.loads(body)["metadata"]["resourceVersion"])
        query = urllib.parse.urlencode({"fieldSelector": f"metadata.name={name}", "resourceVersion": str(rv - 1),
                                        "watch": "true"})
        t = time.perf_counter()
        status, line = client.first_watch_event(pods_path(query=query), TABLE_ACCEPT)
        elapsed = time.perf_counter() - t
        if status != 200 or not line.startswith(b"{"):
            return False, f"{status} {line[:200]!r}"
        with lock:
            results.setdefault("watch", []).append(elapsed)
        return None, ""

    plan = [("get", get, samples), ("get-json", get_json, samples), ("list", list_table, max(10, samples // 5)),
            ("list-json", list_json, max(10, samples // 5)), ("create", create, samples), ("patch", patch, samples),
            ("label", label, samples), ("watch", watch, max(10, samples // 2))]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for op, fn, count in plan:
            for i in range(min(3, count)):  # warm up (connections, caches)
                fn(i)
            results.pop(op, None)

            def run_one(i: int, op=op, fn=fn) -> None:
                if op == "watch":
                    ok, detail = fn(i)
                    if ok is False:
                        with lock:
                            errors.setdefault(op, []).append(detail)
                    return
                timed(op, lambda: fn(i))

            list(pool.map(run_one, range(count)))
    for op, failures in errors.items():
        print(f"  {op}: {len(failures)} failed requests, e.g. {failures[0]}")
    return results


def run(database: str, scaled_out: bool, pods: int, samples: int, threads: int) -> dict[str, list[float]]:
    mode = "scaled out (daphne + runworker, Redis)" if scaled_out else "embedded (manage.py serve)"
    print(f"-- {database}, {mode}: {pods} pods in namespace {NAMESPACE}, 1 client, then {threads} client threads")
    with tempfile.TemporaryDirectory(prefix="kubedojo-bench-") as tmp:
        t = time.monotonic()
        # Room for the seeded pods and every created one, in both runs (110 pods a node): the scheduler is not
        # what is measured.
        nodes = max(3, (pods + 2 * samples) // 90 + 1)
        with live_server(Path(tmp), database=database, scaled_out=scaled_out, nodes=nodes, pods=pods,
                         namespace=NAMESPACE) as server:
            client = Client(server.port, server.prefix)
            running = wait_running(client, pods)
            print(f"  seeded and started in {time.monotonic() - t:.0f} s; {running}/{pods} pods Running")
            sequential = measure(client, 1, samples, pods, run="s")
            results = measure(client, threads, samples, pods, run="c")
    for label, figures in (("1 client (sequential)", sequential), (f"{threads} clients", results)):
        print(f"  {label}:")
        for op, samples_ in figures.items():
            print("    " + latency_line(op, samples_))
    if pods != 1000:
        print(f"  (a {pods}-pod namespace: the targets are stated for 1,000 pods)")
    for label, figures in ((f"{threads} clients", results), ("1 client", sequential)):
        single = max(percentile(figures.get(op, []), 99) for op in ("get", "get-json", "create", "patch", "label"))
        listing = percentile(figures.get("list", []), 99)
        print(f"  {label}: single-object p99 (worst of get/get-json/create/patch/label): {single * 1000:.1f} ms "
              f"(target < {SINGLE_TARGET * 1000:.0f} ms: {'met' if single < SINGLE_TARGET else 'NOT met'}); "
              f"list p99: {listing * 1000:.1f} ms (target < {LIST_TARGET * 1000:.0f} ms: "
              f"{'met' if listing < LIST_TARGET else 'NOT met'})")
    summary = " ".join(f"{op}_p99_ms={percentile(v, 99) * 1000:.1f}" for op, v in results.items())
    summary += " " + " ".join(f"seq_{op}_p99_ms={percentile(v, 99) * 1000:.1f}" for op, v in sequential.items())
    print(f"RESULT api_latency database={database} scaled_out={'yes' if scaled_out else 'no'} {summary}")
    sys.stdout.flush()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--scaled-out", action="store_true", help="PostgreSQL + Redis: daphne and one runworker")
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=300, help="requests per single-object type")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    header("Kubernetes API latency (kubectl-shaped requests)")
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if args.scaled_out:
        databases = ["postgres"]
        if not redis_available():
            raise SystemExit("--scaled-out needs Redis (KUBEDOJO_BENCH_REDIS_URL, default redis://127.0.0.1:6379/14)")
    for database in databases:
        if database == "postgres" and not postgres_available():
            print("-- postgres: no server answers (KUBEDOJO_BENCH_POSTGRES_URL); skipped")
            continue
        run(database, args.scaled_out, args.pods, args.samples, args.threads)


if __name__ == "__main__":
    main()
