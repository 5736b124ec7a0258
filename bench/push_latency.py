"""Push latency: from a committed write to 100 browsers' WebSockets and to kubectl-style watch streams.

Scenario: the product on a fresh database (the embedded `manage.py serve` on SQLite, and the
scaled-out pair, daphne plus one `runworker kubedojo.simulation`, on PostgreSQL and Redis), with the
demo cluster. CLIENTS WebSocket clients connect to /ws/clusters/demo/ (the cluster map's socket; a
minimal RFC 6455 client on asyncio streams, as no WebSocket package is installed) and WATCHERS HTTP
watch streams follow the ConfigMap `bench-push` (`kubectl get cm bench-push -w` without the table).
The benchmark then patches that ConfigMap WRITES times, RATE per second on average (jittered so writes
fall at every phase of the simulation loop's tick), through the HTTP API and
notes, for each write, when every client first sees a resourceVersion at or after it: in a
"delta" message's `objects` (browsers) or in a watch event (watchers).

The commit happens between sending the PATCH and reading its response, so each latency is given
from both ends: "from response" (a lower bound) and "from request" (an upper bound).
Target: p99 under 100 ms with 100 connected browsers.

It also prints the server processes' CPU time (user + system, from /proc) while the browsers are
connected and nothing writes, and while the writes go on: the cost of pushing, per write, which
timings on a busy machine hide.

    .venv/bin/python bench/push_latency.py                       # embedded and scaled out
    .venv/bin/python bench/push_latency.py --mode embedded --clients 20 --writes 30
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import struct
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    header,
    latency_line,
    live_server,
    percentile,
    postgres_available,
    redis_available,
)

CLUSTER = os.environ.get("KUBEDOJO_DEMO_CLUSTER", "demo")  # the demo cluster's map is open to everyone
CONFIGMAP = "bench-push"
TARGET = 0.100
IDLE_SECONDS = 3.0  # how long the servers' idle CPU is measured before the writes


# --- a minimal WebSocket client (RFC 6455) ---------------------------------------------------------

class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, path: str) -> WebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Origin: http://127.0.0.1:{port}\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise ConnectionError(f"no WebSocket upgrade: {head[:200]!r}")
        return cls(reader, writer)

    async def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 2**16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)
        await self.writer.drain()

    async def send_text(self, text: str) -> None:
        await self._send(0x1, text.encode())

    async def receive(self) -> bytes | None:
        """The next whole text or binary message; None once the server closes."""
        parts: list[bytes] = []
        while True:
            b0, b1 = await self.reader.readexactly(2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            mask = await self.reader.readexactly(4) if b1 & 0x80 else None
            payload = await self.reader.readexactly(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                await self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


# --- the run --------------------------------------------------------------------------------------

class Seen:
    """For each client, when it first saw each resourceVersion of the ConfigMap (or a later one)."""

    def __init__(self):
        self.arrivals: dict[int, list[tuple[int, float]]] = {}  # client -> [(rv, monotonic time)]

    def note(self, client: int, rv: int, at: float) -> None:
        self.arrivals.setdefault(client, []).append((rv, at))

    def first_at_or_after(self, client: int, rv: int) -> float | None:
        for seen_rv, at in self.arrivals.get(client, ()):
            if seen_rv >= rv:
                return at
        return None


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes so far (0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


async def browser(index: int, port: int, seen: Seen, ready: asyncio.Event, counter: list[int]) -> None:
    ws = await WebSocket.connect(port, f"/ws/clusters/{CLUSTER}/")
    try:
        first = await ws.receive()  # the snapshot
        if first is None or json.loads(first).get("type") != "snapshot":
            raise ConnectionError(f"client {index}: expected a snapshot, got {first[:200]!r}")
        counter[0] += 1
        if counter[0] >= counter[1]:
            ready.set()
        while True:
            message = await ws.receive()
            at = time.monotonic()
            if message is None:
                return
            if CONFIGMAP.encode() not in message:
                continue  # not about our ConfigMap: skip the decoding, a hundred clients share this process
            delta = json.loads(message)
            for obj in delta.get("objects") or ():
                if obj.get("kind") == "ConfigMap" and obj.get("name") == CONFIGMAP:
                    seen.note(index, int(obj.get("rv") or 0), at)
    finally:
        ws.close()


async def watcher(index: int, port: int, prefix: str, since: int, seen: Seen) -> None:
    query = urllib.parse.urlencode({"watch": "true", "resourceVersion": str(since),
                                    "fieldSelector": f"metadata.name={CONFIGMAP}", "timeoutSeconds": "600"})
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
    writer.write((f"GET {prefix}/api/v1/namespaces/default/configmaps?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Accept: application/json\r\nUser-Agent: kubectl/v1.32.4\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    chunked = b"chunked" in head.lower()
    buffer = b""
    try:
        while True:
            if chunked:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    return
                data = await reader.readexactly(size + 2)
                buffer += data[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    return
                buffer += data
            at = time.monotonic()
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    event = json.loads(line)
                    rv = int(((event.get("object") or {}).get("metadata") or {}).get("resourceVersion") or 0)
                    seen.note(index, rv, at)
    finally:
        writer.close()


async def http_json(port: int, method: str, path: str, body=None, content_type: str = "application/json"):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode() if body is not None else b""
    writer.write((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                  f"Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
                 + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", payload
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line or b"0", 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        payload = out
    return status, json.loads(payload) if payload else None


async def run_async(port: int, prefix: str, clients: int, watchers: int, writes: int, rate: float,
                    pids: list[int]) -> dict:
    cm_path = f"{prefix}/api/v1/namespaces/default/configmaps"
    status, created = await http_json(port, "POST", cm_path,
                                      {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": CONFIGMAP, "namespace": "default"}, "data": {"n": "0"}})
    if status not in (200, 201):
        raise RuntimeError(f"creating the ConfigMap failed: {status} {created}")
    since = int(created["metadata"]["resourceVersion"])
    browsers_seen, watchers_seen = Seen(), Seen()
    ready = asyncio.Event()
    counter = [0, clients]
    tasks = []
    connect_started = time.monotonic()
    for i in range(clients):
        tasks.append(asyncio.create_task(browser(i, port, browsers_seen, ready, counter)))
        if i % 10 == 9:
            await asyncio.sleep(0.05)  # browsers arrive over a moment, not in one burst
    for i in range(watchers):
        tasks.append(asyncio.create_task(watcher(i, port, prefix, since, watchers_seen)))
    try:
        await asyncio.wait_for(ready.wait(), timeout=120)
    except TimeoutError:
        failed = [t.exception() for t in tasks if t.done() and t.exception()]
        raise RuntimeError(f"only {counter[0]} of {clients} browsers connected; {failed[:3]}") from None
    connect_seconds = time.monotonic() - connect_started
    await asyncio.sleep(1.0)
    # The servers' CPU with everyone connected and nobody writing: the simulation's own ticks and deltas.
    idle_started, idle_cpu = time.monotonic(), cpu_seconds(pids)
    await asyncio.sleep(IDLE_SECONDS)
    idle = (cpu_seconds(pids) - idle_cpu) / (time.monotonic() - idle_started)
    busy_started, busy_cpu = time.monotonic(), cpu_seconds(pids)
    sent: list[tuple[int, float, float]] = []  # (rv, request sent, response read)
    # Jittered gaps, so writes land at every phase of the loop's tick rather than in step with it.
    rng = random.Random(8)
    for i in range(writes):
        interval = rng.uniform(0.5, 1.5) / rate
        t0 = time.monotonic()
        status, patched = await http_json(port, "PATCH", f"{cm_path}/{CONFIGMAP}", {"data": {"n": str(i + 1)}},
                                          content_type="application/merge-patch+json")
        t1 = time.monotonic()
        if status == 200:
            sent.append((int(patched["metadata"]["resourceVersion"]), t0, t1))
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - t0)))
    await asyncio.sleep(3.0)  # stragglers
    busy = (cpu_seconds(pids) - busy_cpu) / (time.monotonic() - busy_started)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    def latencies(seen: Seen, count: int) -> tuple[list[float], list[float], int, list[float], list[float]]:
        """Per (client, write): from the response, from the request; the pairs missing; and per write, when
        its first client saw it (from the response) and how much later its last one did (the fan-out)."""
        from_response, from_request, missing = [], [], 0
        first_by_write: list[float] = []
        spread_by_write: list[float] = []
        for rv, t0, t1 in sent:
            arrivals = [seen.first_at_or_after(client, rv) for client in range(count)]
            for at in arrivals:
                if at is None:
                    missing += 1
                    continue
                from_response.append(max(0.0, at - t1))
                from_request.append(at - t0)
            arrived = [at for at in arrivals if at is not None]
            if arrived:
                first_by_write.append(max(0.0, min(arrived) - t1))
                spread_by_write.append(max(arrived) - min(arrived))
        return from_response, from_request, missing, first_by_write, spread_by_write

    per_write = (busy - idle) * (time.monotonic() - busy_started) / max(1, len(sent))
    return {"connect": connect_seconds, "writes": len(sent), "write_seconds": [t1 - t0 for _, t0, t1 in sent],
            "cpu": (idle, busy, per_write),
            "browsers": latencies(browsers_seen, clients), "watchers": latencies(watchers_seen, watchers)}


def run(mode: str, clients: int, watchers: int, writes: int, rate: float) -> None:
    scaled_out = mode == "scaled-out"
    database = "postgres" if scaled_out else "sqlite"
    label = "scaled out (daphne + runworker, PostgreSQL, Redis)" if scaled_out else "embedded (serve, SQLite)"
    print(f"-- {label}: {clients} browsers, {watchers} watch streams, {writes} writes at {rate:g}/s")
    with tempfile.TemporaryDirectory(prefix="kubedojo-bench-") as tmp, \
            live_server(Path(tmp), database=database, scaled_out=scaled_out, cluster=CLUSTER, workload=True) as server:
        pids = [p.popen.pid for p in server.processes]
        r = asyncio.run(run_async(server.port, server.prefix, clients, watchers, writes, rate, pids))
    print(f"  {clients} browsers connected (snapshot received) in {r['connect']:.1f} s; {r['writes']} writes")
    idle, busy, per_write = r["cpu"]
    print(f"  server CPU: {idle * 100:.0f} % of a core idle (connected, no writes), {busy * 100:.0f} % while "
          f"writing; {per_write * 1000:.1f} ms of CPU per write")
    print("  " + latency_line("PATCH (the write itself)", r["write_seconds"]))
    figures = {}
    for who in ("browsers", "watchers"):
        from_response, from_request, missing, first, spread = r[who]
        print("  " + latency_line(f"commit -> {who[:-1]} (from response)", from_response))
        print("  " + latency_line(f"commit -> {who[:-1]} (from request)", from_request))
        print("  " + latency_line("  first of them (from response)", first))
        print("  " + latency_line("  first to last of them", spread))
        if missing:
            print(f"  {who}: {missing} (client, write) pairs never arrived")
        figures[who] = (percentile(from_response, 99), percentile(from_request, 99))
    for who, (low, high) in figures.items():
        verdict = "met" if high < TARGET else ("NOT met" if low >= TARGET else "undecided (the bounds straddle it)")
        print(f"  {who} p99 between {low * 1000:.0f} and {high * 1000:.0f} ms: target < {TARGET * 1000:.0f} ms "
              f"{verdict}")
    print(f"RESULT push_latency mode={mode} clients={clients} browser_p99_ms={figures['browsers'][0] * 1000:.0f}"
          f"..{figures['browsers'][1] * 1000:.0f} watch_p99_ms={figures['watchers'][0] * 1000:.0f}"
          f"..{figures['watchers'][1] * 1000:.0f} cpu_per_write_ms={per_write * 1000:.1f}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("embedded", "scaled-out", "both"), default="both")
    parser.add_argument("--clients", type=int, default=100, help="browser WebSockets")
    parser.add_argument("--watchers", type=int, default=10, help="HTTP watch streams")
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=4.0, help="writes per second")
    args = parser.parse_args()
    header("push latency (commit -> browser WebSocket, commit -> watch stream)")
    modes = ["embedded", "scaled-out"] if args.mode == "both" else [args.mode]
    for mode in modes:
        if mode == "scaled-out" and not (postgres_available() and redis_available()):
            print("-- scaled out: needs PostgreSQL and Redis; skipped")
            continue
        run(mode, args.clients, args.watchers, args.writes, args.rate)


if __name__ == "__main__":
    main()
