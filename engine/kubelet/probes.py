"""Liveness, readiness and startup probes, decided by the simulated container and derived from the pod.

A probe's outcome at a moment is a pure function of the container: is its server listening yet (the image's
ports, `start_seconds` after it started), which files it has (`engine.kubelet.filesystem`: nginx's
index.html, a file the container's script touches and removes, a learner's `rm` through `kubectl exec`),
and the probe's handler (exec / httpGet / tcpSocket / grpc). Those things only change at a few known
moments, so a probe's whole history is a handful of runs of equal outcomes, computed from the spec and
stored timestamps (startedAt, the filesystem annotations) rather than remembered: a kubelet that restarts
derives the same verdicts.

Timing, as the kubelet's probe workers do it:
- a probe first runs `initialDelaySeconds` after the container started (and no sooner than the kubelet's
  first look at it, 1 s), then every `periodSeconds`;
- liveness and readiness wait until the startup probe has succeeded (`started: true`);
- readiness starts false and turns true after `successThreshold` successes in a row, false again after
  `failureThreshold` failures in a row; it drives the container's `ready` and so the pod's Ready and
  ContainersReady conditions (and the Service endpoints built from them);
- `failureThreshold` liveness (or startup) failures in a row kill the container: Event `Killing`
  "Container nginx failed liveness probe, will be restarted", SIGTERM with the grace period, and the usual
  restart (with CrashLoopBackOff if it keeps happening). A restarted container gets a fresh filesystem.
- every failed probe records an Event `Unhealthy` ("Liveness probe failed: HTTP probe failed with
  statuscode: 403"), repeats aggregated into its count, as `kubectl describe pod` shows them.

The kubelet's stage "probe" (engine.kubelet.stages) asks `due(ctx)` when it next has something to do for
a pod, and `act(ctx, container, terminate)` does it: a pod whose probes pass costs no timer at all; a
failing one wakes once per probe period.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from engine.kubelet import filesystem
from engine.kubelet import images as catalog
from engine.kubelet import podstatus as ps

LIVENESS, READINESS, STARTUP = "Liveness", "Readiness", "Startup"
FIELDS = {STARTUP: "startupProbe", LIVENESS: "livenessProbe", READINESS: "readinessProbe"}
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
FIRST_PROBE_AFTER = 1.0  # the kubelet sees a new container at its next relist (PLEG, every second)
MAX_EVENTS_PER_PASS = 10  # when the clock jumps far, older failures are not replayed one by one
DEFAULT_GRACE_SECONDS = 30
_EPS = 1e-6


@dataclass(frozen=True)
class Probe:
    kind: str  # Liveness, Readiness or Startup
    spec: dict
    handler: str
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    grace: int | None = None  # probe-level terminationGracePeriodSeconds

    @property
    def first_offset(self) -> float:
        return max(float(self.initial_delay), FIRST_PROBE_AFTER)


def _int(value, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def probe_of(container: dict, kind: str) -> Probe | None:
    spec = container.get(FIELDS[kind])
    if not isinstance(spec, dict):
        return None
    handler = next((h for h in HANDLERS if spec.get(h) is not None), "")
    grace = spec.get("terminationGracePeriodSeconds")
    return Probe(kind, spec, handler, max(0, _int(spec.get("initialDelaySeconds"), 0)),
                 max(1, _int(spec.get("periodSeconds"), 10)), max(1, _int(spec.get("timeoutSeconds"), 1)),
                 max(1, _int(spec.get("successThreshold"), 1)), max(1, _int(spec.get("failureThreshold"), 3)),
                 _int(grace, 0) if grace is not None else None)


def has_probes(container: dict) -> bool:
    return any(isinstance(container.get(f), dict) for f in FIELDS.values())


def describe(probe_spec: dict) -> str:
    """The probe line of `kubectl describe pod`: `http-get http://:80/ delay=0s timeout=1s period=5s #success=1
    #failure=5`."""
    if probe_spec.get("exec") is not None:
        target = "exec [" + " ".join(str(a) for a in (probe_spec["exec"] or {}).get("command") or []) + "]"
    elif probe_spec.get("httpGet") is not None:
        http = probe_spec["httpGet"] or {}
        scheme = str(http.get("scheme") or "HTTP").lower()
        target = f"http-get {scheme}://{http.get('host') or ''}:{http.get('port')}{http.get('path') or ''}"
    elif probe_spec.get("tcpSocket") is not None:
        target = f"tcp-socket {(probe_spec['tcpSocket'] or {}).get('host') or ''}:{probe_spec['tcpSocket'].get('port')}"
    elif probe_spec.get("grpc") is not None:
        grpc = probe_spec["grpc"] or {}
        target = f"grpc <pod>:{grpc.get('port')} {grpc.get('service') or ''}".rstrip()
    else:
        target = "unknown"
    return (f"{target} delay={_int(probe_spec.get('initialDelaySeconds'), 0)}s "
            f"timeout={_int(probe_spec.get('timeoutSeconds'), 1)}s period={_int(probe_spec.get('periodSeconds'), 10)}s "
            f"#success={_int(probe_spec.get('successThreshold'), 1)} #failure={_int(probe_spec.get('failureThreshold'), 3)}")


def on_start(container: dict, cs: dict, init: bool) -> None:
    """A container just started: not `started` while a startup probe is pending, not `ready` while a readiness
    (or startup) probe has not passed yet."""
    if init and not ps.is_sidecar(container):
        return
    if isinstance(container.get("startupProbe"), dict):
        cs["started"] = False
        cs["ready"] = False
    elif isinstance(container.get("readinessProbe"), dict):
        cs["ready"] = False


# --- one probe run ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Result:
    ok: bool
    message: str = ""
    errored: bool = False

    def event(self, kind: str) -> str:
        if self.errored:
            return f"{kind} probe errored and resulted in unknown state: {self.message}"
        return f"{kind} probe failed: {self.message}"


SUCCESS = Result(True)


def _seconds(value: int) -> str:
    return f"{value}s"


class Subject:
    """A running container instance, as probes find it."""

    def __init__(self, pod: dict, container: dict, started: float, restart_count: int, lookup=None):
        self.pod = pod
        self.container = container
        self.image_ref = container.get("image") or ""
        self.image = catalog.lookup(self.image_ref)
        self.pod_ip = (pod.get("status") or {}).get("podIP") or ""
        self.started = started
        self.fs = filesystem.ContainerFS(pod, container, restart_count, started, lookup)
        self.serving_from = started + self.image.start_seconds if self.image and _runs_server(container, self.image) \
            else math.inf

    def change_times(self) -> list[float]:
        times = set(self.fs.change_times())
        if self.serving_from != math.inf:
            times.add(self.serving_from)
        return sorted(times)

    def listening(self, port: int, at: float) -> bool:
        return self.image is not None and port in self.image.ports and at + _EPS >= self.serving_from

    def run(self, probe: Probe, at: float) -> Result:
        if self.image is None:
            return SUCCESS  # an image we know nothing about (pre-pulled system images): assume it is healthy
        spec = probe.spec.get(probe.handler) or {}
        if probe.handler == "exec":
            return self._exec([str(a) for a in spec.get("command") or []], at, probe.timeout)
        if probe.handler == "grpc":
            port = _int(spec.get("port"), 0)
            address = f"{self.pod_ip}:{port}"
            if not self.listening(port, at):
                return Result(False, f'timeout: failed to connect service "{address}" within '
                                     f"{_seconds(probe.timeout)}: context deadline exceeded")
            return Result(False, f"timeout: health rpc did not complete within {_seconds(probe.timeout)}")
        port, error = resolve_port(spec.get("port"), self.container)
        if error:
            return Result(False, error, errored=True)
        host = spec.get("host") or self.pod_ip
        if probe.handler == "tcpSocket":
            if self.listening(port, at):
                return SUCCESS
            return Result(False, f"dial tcp {host}:{port}: connect: connection refused")
        scheme = str(spec.get("scheme") or "HTTP").lower()
        path = spec.get("path") or "/"
        if not path.startswith("/"):
            path = "/" + path
        url = f"{scheme}://{host}:{port}{path}"
        if not self.listening(port, at):
            return Result(False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused')
        if not self._speaks_http(port):
            return Result(False, f'Get "{url}": EOF')
        if scheme == "https":
            return Result(False, f'Get "{url}": http: server gave HTTP response to HTTPS client')
        code, _ = filesystem.http_response(self.fs, self.image_ref, path, at)
        if 200 <= code < 400:
            return SUCCESS
        return Result(False, f"HTTP probe failed with statuscode: {code}")

    def _speaks_http(self, port: int) -> bool:
        return self.image is not None and self.image.speaks_http(port)

    # --- exec ---------------------------------------------------------------------------------------
    def _exec(self, argv: list[str], at: float, timeout: int) -> Result:
        if not argv:
            return Result(False, "", errored=True)
        if self.fs.flavour == "scratch" or self.fs.which(argv[0], at) is None:
            exec_id = hashlib.sha256(f"{self.fs.name}/{' '.join(argv)}".encode()).hexdigest()
            return Result(False, f'rpc error: code = Unknown desc = failed to exec in container: failed to start exec '
                                 f'"{exec_id}": OCI runtime exec failed: exec failed: unable to start container '
                                 f'process: exec: "{argv[0]}": executable file not found in $PATH: unknown',
                          errored=True)
        run = _Shell(self, at)
        code, output = run.command(argv)
        if run.elapsed > timeout:
            return Result(False, f'command "{" ".join(argv)}" timed out')
        if code == 0:
            return SUCCESS
        return Result(False, output.rstrip("\n"))


def _runs_server(container: dict, image: catalog.Image) -> bool:
    """Whether the container runs the image's own server (not `command: ["sleep", "3600"]` on nginx)."""
    command = container.get("command")
    if not command or not image.processes:
        return True
    server = image.processes[0][1].split()[0].rstrip(":").rsplit("/", 1)[-1]
    return any(server in str(part) for part in list(command) + list(container.get("args") or []))


def resolve_port(port, container: dict) -> tuple[int, str]:
    """A probe's port (a number or the name of a container port), or the kubelet's error."""
    if isinstance(port, int):
        return port, ""
    text = str(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == text:
            return int(declared.get("containerPort") or 0), ""
    if text.isdigit():
        return int(text), ""
    return 0, f'strconv.Atoi: parsing "{text}": invalid syntax'


class _Shell:
    """Just enough of a shell for probe commands: cat, test/[, ls, grep, true/false, exit, echo, sleep, the
    database clients' pings, curl and wget to the container itself; `sh -c` with `;`, `&&` and `||`."""

    def __init__(self, subject: Subject, at: float):
        self.subject = subject
        self.fs = subject.fs
        self.at = at
        self.busybox = self.fs.flavour == "busybox"
        self.elapsed = 0.0

    def command(self, argv: list[str]) -> tuple[int, str]:
        name = argv[0].rsplit("/", 1)[-1]
        if name in ("sh", "bash", "ash", "dash") and len(argv) >= 3 and argv[1] == "-c":
            return self.script(argv[2], name)
        handler = getattr(self, "_" + name.replace("-", "_").replace("[", "bracket"), None)
        if handler is None:
            return 0, ""  # a program the image has, doing what it does: assume success
        return handler(argv[1:])

    def script(self, script: str, shell: str) -> tuple[int, str]:
        code, output, op = 0, "", ";"
        for part in re.split(r"(&&|\|\||;|\n)", script):
            part = part.strip()
            if part in ("&&", "||", ";", "\n", ""):
                op = part or op
                continue
            if (op == "&&" and code != 0) or (op == "||" and code == 0):
                continue
            try:
                words = shlex.split(part)
            except ValueError:
                return 2, f"{shell}: syntax error: unterminated quoted string\n"
            words = [w for w in words if w not in (">/dev/null", "2>&1", "2>/dev/null")]
            if not words:
                continue
            if words[0] == "exit":
                return _int(words[1] if len(words) > 1 else code, 0), output
            if self.fs.which(words[0], self.at) is None and words[0] not in ("exit", "test", "[", "echo", "true",
                                                                             "false"):
                code, out = 127, self._not_found(words[0], shell)
            else:
                code, out = self.command(words)
            output += out
        return code, output

    def _not_found(self, name: str, shell: str) -> str:
        if shell == "bash":
            return f"bash: line 1: {name}: command not found\n"
        return f"sh: {name}: not found\n" if self.busybox else f"sh: 1: {name}: not found\n"

    def _missing(self, tool: str, path: str) -> str:
        return (f"{tool}: can't open '{path}': No such file or directory\n" if self.busybox
                else f"{tool}: {path}: No such file or directory\n")

    # the commands
    def _true(self, args):
        return 0, ""

    def _false(self, args):
        return 1, ""

    def _echo(self, args):
        return 0, " ".join(args) + "\n"

    def _sleep(self, args):
        try:
            self.elapsed += float(args[0]) if args else 0.0
        except ValueError:
            return 1, f"sleep: invalid number '{args[0]}'\n"
        return 0, ""

    def _cat(self, args):
        code, out = 0, ""
        for path in (a for a in args if not a.startswith("-")):
            path = filesystem._abs(path)
            content = self.fs.read(path, self.at)
            if content is None:
                code = 1
                if self.fs.is_dir(path, self.at):
                    out += "cat: read error: Is a directory\n" if self.busybox else f"cat: {path}: Is a directory\n"
                else:
                    out += self._missing("cat", path)
            else:
                out += content
        return code, out

    def _ls(self, args):
        code, out = 0, ""
        for path in [a for a in args if not a.startswith("-")] or ["/"]:
            absolute = filesystem._abs(path)
            names = self.fs.listdir(absolute, self.at)
            if names is not None:
                out += "\n".join(names) + ("\n" if names else "")
            elif self.fs.exists(absolute, self.at):
                out += path + "\n"
            else:
                code = 1 if self.busybox else 2
                out += (f"ls: {path}: No such file or directory\n" if self.busybox
                        else f"ls: cannot access '{path}': No such file or directory\n")
        return code, out

    def _test(self, args):
        negate = False
        if args and args[0] == "!":
            negate, args = True, args[1:]
        if len(args) == 2 and args[0] in ("-f", "-e", "-d", "-s", "-r"):
            path = filesystem._abs(args[1])
            if args[0] == "-d":
                result = self.fs.is_dir(path, self.at)
            elif args[0] == "-f":
                result = self.fs.read(path, self.at) is not None
            elif args[0] == "-s":
                result = bool(self.fs.read(path, self.at))
            else:
                result = self.fs.exists(path, self.at)
        elif len(args) == 3 and args[1] in ("=", "=="):
            result = args[0] == args[2]
        elif len(args) == 3 and args[1] == "!=":
            result = args[0] != args[2]
        else:
            result = bool(args and args[0])
        return (0 if result != negate else 1), ""

    def _bracket(self, args):
        if not args or args[-1] != "]":
            return 2, "sh: missing ]\n" if self.busybox else "sh: 1: [: missing ]\n"
        return self._test(args[:-1])

    def _grep(self, args):
        quiet = any(a in ("-q", "-qs", "--quiet") for a in args)
        words = [a for a in args if not a.startswith("-")]
        if len(words) < 2:
            return 2, "Usage: grep [OPTION]... PATTERNS [FILE]...\n"
        pattern, paths = words[0], words[1:]
        found, out, code = False, "", 0
        for path in paths:
            content = self.fs.read(filesystem._abs(path), self.at)
            if content is None:
                out += f"grep: {path}: No such file or directory\n"
                code = 2
                continue
            for line in content.splitlines():
                if re.search(pattern, line):
                    found = True
                    if not quiet:
                        out += line + "\n"
        return (0 if found else (code or 1)), ("" if quiet and found else out)

    def _redis_cli(self, args):
        if self.subject.listening(6379, self.at):
            return 0, "PONG\n"
        return 1, "Could not connect to Redis at 127.0.0.1:6379: Connection refused\n"

    def _pg_isready(self, args):
        if self.subject.listening(5432, self.at):
            return 0, "/var/run/postgresql:5432 - accepting connections\n"
        return 2, "/var/run/postgresql:5432 - no response\n"

    def _mysqladmin(self, args):
        if self.subject.listening(3306, self.at):
            return 0, "mysqld is alive\n"
        return 1, ("mysqladmin: connect to server at 'localhost' failed\nerror: 'Can't connect to local server "
                   "through socket '/var/run/mysqld/mysqld.sock' (2)'\nCheck that mysqld is running and that the "
                   "socket: '/var/run/mysqld/mysqld.sock' exists!\n")

    def _url(self, args) -> tuple[str, int, str] | None:
        url = next((a for a in args if "://" in a or a.startswith(("localhost", "127.0.0.1"))), None)
        if url is None:
            return None
        match = re.match(r"^(?:https?://)?([^/:]+)(?::(\d+))?(/.*)?$", url)
        if not match:
            return None
        return match.group(1), int(match.group(2) or 80), match.group(3) or "/"

    def _fetch(self, host: str, port: int, path: str) -> tuple[int, str] | None:
        if host not in ("localhost", "127.0.0.1", self.subject.pod_ip) or not self.subject.listening(port, self.at):
            return None
        if not self.subject._speaks_http(port):
            return 0, ""
        return filesystem.http_response(self.fs, self.subject.image_ref, path, self.at)

    def _curl(self, args):
        target = self._url(args)
        if target is None:
            return 2, "curl: try 'curl --help' or 'curl --manual' for more information\n"
        host, port, path = target
        if host not in ("localhost", "127.0.0.1", self.subject.pod_ip):
            return 6, f"curl: (6) Could not resolve host: {host}\n"
        answer = self._fetch(host, port, path)
        if answer is None:
            return 7, f"curl: (7) Failed to connect to {host} port {port} after 0 ms: Couldn't connect to server\n"
        code, body = answer
        if code >= 400 and any(a in ("-f", "--fail", "-fs", "-sf", "-fsS", "-sSf") for a in args):
            return 22, f"curl: (22) The requested URL returned error: {code}\n"
        return 0, body

    def _wget(self, args):
        target = self._url(args)
        if target is None:
            return 1, "BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n"
        host, port, path = target
        answer = self._fetch(host, port, path)
        if answer is None:
            return 1, "wget: can't connect to remote host (127.0.0.1): Connection refused\n"
        code, body = answer
        if code >= 400:
            text = {403: "Forbidden", 404: "Not Found"}.get(code, "Error")
            return 1, f"wget: server returned error: HTTP/1.1 {code} {text}\n"
        return 0, body if "-" in args else ""


# --- a probe's history: runs of equal outcomes on its grid of probe times -----------------------------
@dataclass(frozen=True)
class Run:
    start: int  # first probe index of the run
    end: int | None  # one past the last index; None: forever
    result: Result


@dataclass
class Track:
    """One probe of one container instance: when it runs, and what it finds."""

    probe: Probe
    first: float  # time of probe index 0
    begin: int = 0  # the first index that runs (after the startup probe passed)
    end: int | None = None  # no probe at this index and after (the container was killed)
    runs: list[Run] = field(default_factory=list)

    def time(self, k: int) -> float:
        return self.first + k * self.probe.period

    def index_at_or_after(self, t: float) -> int:
        return max(0, math.ceil((t - self.first) / self.probe.period - 1e-9))

    def index_after(self, t: float) -> int:
        return max(0, math.floor((t - self.first) / self.probe.period + 1e-9) + 1)


def _runs(subject: Subject, track: Track, changes: list[float]) -> Iterator[Run]:
    k = track.begin
    while True:
        t = track.time(k)
        result = subject.run(track.probe, t)
        nxt = bisect.bisect_right(changes, t + 1e-9)
        end = track.index_at_or_after(changes[nxt]) if nxt < len(changes) else None
        if end is not None and end <= k:
            end = k + 1
        yield Run(k, end, result)
        if end is None:
            return
        k = end


@dataclass
class Plan:
    """Everything the probes of one container instance decide, from its start on."""

    container: dict
    started: float  # the container's start
    startup_passed: float | None  # when `started` turned true (the start itself without a startup probe)
    kill_at: float | None = None
    kill_kind: str = ""
    ready_changes: list[tuple[float, bool]] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    grace: int = DEFAULT_GRACE_SECONDS
    stop_seconds: float | None = 1.0

    def started_at(self, t: float) -> bool:
        return self.startup_passed is not None and t + _EPS >= self.startup_passed

    def ready_at(self, t: float) -> bool:
        if not self.started_at(t):
            return False
        has_readiness = any(tr.probe.kind == READINESS for tr in self.tracks)
        state = not has_readiness
        for when, value in self.ready_changes:
            if when > t + _EPS:
                break
            state = value
        return state

    @property
    def stop_at(self) -> float | None:
        if self.kill_at is None:
            return None
        return self.kill_at + self.stop_delay

    @property
    def stop_delay(self) -> float:
        return float(self.grace) if self.stop_seconds is None else min(float(self.grace), self.stop_seconds)

    @property
    def graceful(self) -> bool:
        return self.stop_seconds is not None and self.stop_seconds <= self.grace

    def failures(self, after: float, until: float) -> Iterator[tuple[float, str, Result]]:
        """Failed probes in (after, until], in time order: (time, kind, result)."""
        out = []
        for track in self.tracks:
            lo = track.index_after(after)
            hi = track.index_after(until)  # exclusive
            if track.end is not None:
                hi = min(hi, track.end)
            for run in track.runs:
                if run.result.ok:
                    continue
                a = max(lo, run.start)
                b = hi if run.end is None else min(hi, run.end)
                for k in range(a, min(b, a + MAX_EVENTS_PER_PASS)):
                    out.append((track.time(k), track.probe.kind, run.result))
        out.sort(key=lambda item: item[0])
        return iter(out)

    def next_failure(self, after: float) -> float | None:
        best = None
        for track in self.tracks:
            lo = track.index_after(after)
            for run in track.runs:
                if run.result.ok or (run.end is not None and run.end <= lo):
                    continue
                k = max(lo, run.start)
                if track.end is not None and k >= track.end:
                    break
                t = track.time(k)
                best = t if best is None else min(best, t)
                break
        return best


def plan(pod: dict, container: dict, started: float, restart_count: int, lookup=None) -> Plan:
    """Work out a container instance's probe history: startup, kill, readiness changes."""
    subject = Subject(pod, container, started, restart_count, lookup)
    changes = subject.change_times()
    spec = pod.get("spec") or {}
    result = Plan(container, started, None)
    result.grace = _int(spec.get("terminationGracePeriodSeconds"), DEFAULT_GRACE_SECONDS)
    result.stop_seconds = subject.image.stop_seconds if subject.image else 1.0
    startup = probe_of(container, STARTUP)
    if startup is None:
        result.startup_passed = started
    else:
        track = Track(startup, started + startup.first_offset)
        result.tracks.append(track)
        fails = 0
        for run in _runs(subject, track, changes):
            track.runs.append(run)
            if run.result.ok:
                result.startup_passed = track.time(run.start)
                track.end = run.start + 1
                break
            length = math.inf if run.end is None else run.end - run.start
            if fails + length >= startup.failure_threshold:
                k = run.start + startup.failure_threshold - fails - 1
                result.kill_at, result.kill_kind, track.end = track.time(k), STARTUP, k + 1
                _probe_grace(result, startup)
                break
            fails += length
    if result.startup_passed is None:
        return result
    liveness = probe_of(container, LIVENESS)
    if liveness is not None:
        track = Track(liveness, started + liveness.first_offset)
        track.begin = track.index_at_or_after(result.startup_passed)
        result.tracks.append(track)
        fails = 0
        for run in _runs(subject, track, changes):
            track.runs.append(run)
            if run.result.ok:
                fails = 0
                continue
            length = math.inf if run.end is None else run.end - run.start
            if fails + length >= liveness.failure_threshold:
                k = run.start + liveness.failure_threshold - fails - 1
                result.kill_at, result.kill_kind, track.end = track.time(k), LIVENESS, k + 1
                _probe_grace(result, liveness)
                break
            fails += length
    readiness = probe_of(container, READINESS)
    if readiness is not None:
        first = max(started + readiness.first_offset, result.startup_passed)
        track = Track(readiness, first)
        result.tracks.append(track)
        if result.kill_at is not None:
            track.end = track.index_after(result.kill_at)
        state, streak_ok, streak = False, None, 0
        for run in _runs(subject, track, changes):
            if track.end is not None and run.start >= track.end:
                break
            track.runs.append(run)
            if run.result.ok != streak_ok:
                streak_ok, streak = run.result.ok, 0
            need = readiness.success_threshold if run.result.ok else readiness.failure_threshold
            length = math.inf if run.end is None else run.end - run.start
            if state != run.result.ok and streak + length >= need:
                k = run.start + need - streak - 1
                if track.end is None or k < track.end:
                    state = run.result.ok
                    result.ready_changes.append((track.time(k), state))
            streak += length
    return result


def _probe_grace(result: Plan, probe: Probe) -> None:
    if probe.grace is not None:
        result.grace = probe.grace


# --- the kubelet's side: when to look again, and what to do then -----------------------------------------
def _probed(ctx) -> Iterator[tuple[dict, bool]]:
    """Containers whose probes run: app containers and sidecars (restartable init containers)."""
    for container, init in ctx.all_containers():
        if (not init or ps.is_sidecar(container)) and has_probes(container):
            yield container, init


def _instance(ctx, container: dict, init: bool = False):
    cs = ctx.cstatus(container["name"], init)
    if cs is None or not ps.is_running(cs):
        return None
    restarts = int(cs.get("restartCount") or 0)
    tag = f"started/{container['name']}/{restarts}"
    started = ctx.moment(tag, cs["state"]["running"].get("startedAt"))
    cache = ctx.__dict__.setdefault("_probe_plans", {})
    key = (container["name"], init, restarts, started)
    found = cache.get(key)
    if found is None:
        found = plan(ctx.pod, container, started, restarts, ctx.kubelet.sim.cache.get)
        cache[key] = found
    return cs, restarts, found


def _last_seen(ctx, name: str, restarts: int, started: float) -> float:
    """Up to when this kubelet has acted on the container's probes (a restarted kubelet starts from now)."""
    seen = ctx.kubelet.marks.get((ctx.uid, f"probed/{name}/{restarts}"))
    if seen is not None:
        return seen
    if (ctx.uid, f"started/{name}/{restarts}") in ctx.kubelet.marks:
        return started
    return ctx.now


def due(ctx) -> Iterator[tuple[str, bool, float]]:
    """(container, init, when) for every container whose probes next need the kubelet."""
    if ctx.deleting:
        return
    for container, init in _probed(ctx):
        found = _instance(ctx, container, init)
        if found is None:
            continue
        cs, restarts, p = found
        seen = _last_seen(ctx, container["name"], restarts, p.started)
        if bool(cs.get("started")) != p.started_at(seen) or bool(cs.get("ready")) != p.ready_at(seen):
            yield container["name"], init, ctx.now
            continue
        times = [t for t in (p.next_failure(seen), p.startup_passed, p.kill_at, p.stop_at) if t is not None and
                 t > seen + _EPS]
        times += [t for t, _ in p.ready_changes if t > seen + _EPS]
        if p.stop_at is not None and p.stop_at <= seen + _EPS:
            times.append(ctx.now)
        if times:
            yield container["name"], init, min(times)


def act(ctx, name: str, init: bool, terminate: Callable[[object, dict, int, str], None]) -> None:
    """Record the probes that ran since the last look, update started/ready, kill and stop as they decided."""
    container = ctx.container(name, init)
    found = _instance(ctx, container, init)
    if found is None:
        return
    cs, restarts, p = found
    seen = _last_seen(ctx, name, restarts, p.started)
    now = ctx.now
    for _, kind, result in p.failures(seen, now):
        ctx.event("Warning", "Unhealthy", result.event(kind), name, init)
    if p.kill_at is not None and seen < p.kill_at <= now + _EPS:
        ctx.event("Normal", "Killing", f"Container {name} failed {p.kill_kind.lower()} probe, will be restarted", name,
                  init)
    cs["started"] = p.started_at(now)
    cs["ready"] = p.ready_at(now)
    ctx.kubelet.marks[(ctx.uid, f"probed/{name}/{restarts}")] = now
    stop = p.stop_at
    if stop is not None and now + _EPS >= stop:
        terminate(ctx, cs, 0 if p.graceful else 137, "Completed" if p.graceful else "Error")
