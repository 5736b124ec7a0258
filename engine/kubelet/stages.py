"""A pod's life on its node as data: stages, KWOK-style.

Each stage selects pods (or one of their containers) by what their status
says, waits a delay counted from a timestamp the status (or the kubelet's
cache) holds, then changes the status, emits Events, or deletes the pod.
Stages chain because each one's output is what the next selects on:

    bound -> accept (ContainerCreating) -> sandbox (pod IP) -> pull -> pulled -> start (Running)
          -> exit (Completed / Error / OOMKilled) -> backoff (CrashLoopBackOff) -> restart (Running) ...
    deletionTimestamp -> kill (Killing) -> stop (containers terminated, phase held) -> terminal (Succeeded
          or Failed) -> remove (gone)

`run` is the engine: it knows nothing about pods; given a context, the stages
and the time, it applies every stage that is due, in order, and returns when
the next one will be. Delays count from stored timestamps (bind time,
startTime, startedAt, finishedAt, deletionTimestamp), so a fresh kubelet over
the same store resumes where the last one stopped; only image pulls in
progress are redone, as a restarted kubelet redoes them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.clock import format_rfc3339, parse_rfc3339
from engine.kubelet import admission, probes
from engine.kubelet import images as catalog
from engine.kubelet import podstatus as ps
from engine.kubelet.nodes import internal_ip
from engine.resources.quantity import memory_bytes
from engine.store import copy_json

if TYPE_CHECKING:
    from engine.kubelet.kubelet import KubeletManager

# CrashLoopBackOff and ImagePullBackOff: 10 s doubling up to 5 min; a container that ran 10 min starts afresh.
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET_AFTER = 600.0


@dataclass(frozen=True)
class Target:
    due: float
    container: str = ""  # "" for the whole pod
    init: bool = False


@dataclass(frozen=True)
class Stage:
    name: str
    summary: str
    select: Callable[[PodContext], Iterable[Target]]
    act: Callable[[PodContext, Target], None]
    # True: selects only pods being deleted; False: only pods that are not; None: either. Whether a pod is being
    # deleted cannot change within one run, so `run` leaves out the stages that cannot select it.
    deleting: bool | None = None


def run(ctx, stages: list[Stage], limit: int = 64) -> float | None:
    """Apply every due stage (earliest first, list order breaking ties); return when the next is due, or None."""
    deleting = ctx.deleting
    candidates = [(order, stage) for order, stage in enumerate(stages)
                  if stage.deleting is None or stage.deleting == deleting]
    for _ in range(limit):
        best = None
        for order, stage in candidates:
            for target in stage.select(ctx):
                if best is None or (target.due, order) < (best[0].due, best[1]):
                    best = (target, order, stage)
        if best is None:
            return None
        target, _, stage = best
        if target.due > ctx.now + 1e-9:
            return target.due
        stage.act(ctx, target)
        ctx.applied.append(stage.name)
        if ctx.deleted:
            return None
    return ctx.now


# --- the context a stage sees ----------------------------------------------------------------------
class PodContext:
    """One pod on one node, with a working copy of its status and the Events to record."""

    def __init__(self, kubelet: KubeletManager, pod: dict, node: dict):
        self.kubelet = kubelet
        self.pod = pod
        self.node = node
        self.node_name = node["metadata"]["name"]
        self.meta = pod["metadata"]
        self.spec = pod.get("spec") or {}
        self.uid = self.meta.get("uid", "")
        self.status = copy_json(pod.get("status") or {})
        # The containers, looked up by most stages on every pass (the spec does not change during a sync).
        self._init_containers = list(self.spec.get("initContainers") or [])
        self._app_containers = list(self.spec.get("containers") or [])
        self._all = [(c, True) for c in self._init_containers] + [(c, False) for c in self._app_containers]
        self.now = kubelet.sim.clock.now()
        self.profile = kubelet.profile
        self.events: list[tuple[str, str, str, str]] = []
        self.applied: list[str] = []
        self.deleted = False
        self.stopping = False
        # The status manager keeps the old phase while the pod worker could still have running containers
        # (mergePodStatus): the first status after the kill shows the containers terminated, the pod not yet terminal.
        self.hold_phase = False
        if self.deleting and self.uid in kubelet.stopped:  # stopped, not yet terminal: keep that status
            self.stopping = self.hold_phase = True

    # reading
    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))

    def containers(self, init: bool) -> list[dict]:
        return self._init_containers if init else self._app_containers

    def statuses(self, init: bool) -> list[dict]:
        return self.status.setdefault("initContainerStatuses" if init else "containerStatuses", [])

    def cstatus(self, name: str, init: bool) -> dict | None:
        for cs in self.status.get("initContainerStatuses" if init else "containerStatuses") or []:
            if cs.get("name") == name:
                return cs
        return None

    def container(self, name: str, init: bool) -> dict:
        return next(c for c in self.containers(init) if c.get("name") == name)

    def all_containers(self) -> list[tuple[dict, bool]]:
        return self._all

    @property
    def sandbox_ready(self) -> bool:
        return bool(self.status.get("podIP")) or self.uid in self.kubelet.sandboxes

    def since(self, tag: str) -> float:
        """When the kubelet first noticed `tag` about this pod (kept in its cache; now if never)."""
        return self.kubelet.marks.setdefault((self.uid, tag), self.now)

    def stamp(self, tag: str) -> str:
        """The current time as the API stores it (whole seconds), remembering the exact moment under `tag`."""
        self.kubelet.marks[(self.uid, tag)] = self.now
        return format_rfc3339(self.now)

    def moment(self, tag: str, text: str | None) -> float:
        """A stored timestamp, to the fraction of a second if this kubelet wrote it (else as stored)."""
        exact = self.kubelet.marks.get((self.uid, tag))
        if exact is not None and text == format_rfc3339(exact):
            return exact
        return _ts(text, self.now)

    def fraction(self, tag: str) -> float:
        """A stable pseudo-random number in [0, 1) for this pod and tag: seeded jitter that survives restarts."""
        return zlib.crc32(f"{self.uid}/{tag}".encode()) / 2**32

    def delay(self, base: float, tag: str, jitter: float | None = None) -> float:
        spread = self.profile.jitter if jitter is None else jitter
        return max(0.0, base * (1 + spread * (2 * self.fraction(tag) - 1)))

    # writing
    def event(self, event_type: str, reason: str, message: str, container: str = "", init: bool = False) -> None:
        path = f"spec.{'initContainers' if init else 'containers'}{{{container}}}" if container else ""
        self.events.append((event_type, reason, message, path))

    def image_entry(self, container: dict) -> catalog.Image | None:
        return catalog.lookup(container.get("image") or "")


def _ts(text: str | None, fallback: float) -> float:
    value = parse_rfc3339(text)
    return fallback if value is None else value


def _condition_time(status: dict, ctype: str) -> float | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return parse_rfc3339(cond.get("lastTransitionTime"))
    return None


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String(): 845ms, 2.345678s, 1m12.5s, 5m0s."""
    if seconds < 1:
        ms = round(seconds * 1000, 3)
        return f"{ms:.3f}".rstrip("0").rstrip(".") + "ms"
    minutes, rest = divmod(round(seconds, 6), 60)
    text = f"{rest:.6f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def crash_backoff(restart_count: int) -> float:
    """Seconds before restart number `restart_count + 1`: the first restart is immediate, then 10 s doubling."""
    if restart_count <= 0:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (restart_count - 1))


def image_backoff(failures: int) -> float:
    return min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** max(0, failures - 1))


def pull_policy(container: dict) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return policy
    ref = catalog.parse_reference(container.get("image") or "")
    return "Always" if ref is None or (ref.tag == "latest" and not ref.digest) else "IfNotPresent"


def pod_ref(ctx: PodContext) -> str:
    return f"{ctx.meta['name']}_{ctx.meta.get('namespace', '')}({ctx.uid})"


def container_id(ctx: PodContext, name: str, restarts: int) -> str:
    return "containerd://" + catalog.image_digest(f"{ctx.uid}/{name}", str(restarts))[7:]


# --- deletion: kill -> stop -> remove -----------------------------------------------------------------
def _deletion_requested(ctx: PodContext) -> float:
    deadline = _ts(ctx.meta.get("deletionTimestamp"), ctx.now)
    return deadline - float(ctx.meta.get("deletionGracePeriodSeconds") or 0)


def _running(ctx: PodContext) -> list[tuple[dict, bool, dict]]:
    out = []
    for container, init in ctx.all_containers():
        cs = ctx.cstatus(container["name"], init)
        if cs is not None and ps.is_running(cs):
            out.append((container, init, cs))
    return out


def select_kill(ctx: PodContext):
    if ctx.deleting and ctx.uid not in ctx.kubelet.killed and ctx.status.get("phase") not in ps.TERMINAL:
        yield Target(_deletion_requested(ctx) + ctx.delay(ctx.profile.kill, "kill"))


def act_kill(ctx: PodContext, target: Target) -> None:
    for container, init, _ in _running(ctx):
        ctx.event("Normal", "Killing", f"Stopping container {container['name']}", container["name"], init)
    ctx.kubelet.killed[ctx.uid] = ctx.now


def _stop_seconds(ctx: PodContext) -> float:
    grace = float(ctx.meta.get("deletionGracePeriodSeconds") or 0)
    longest = 0.0
    for container, _, _ in _running(ctx):
        image = ctx.image_entry(container)
        seconds = grace if image is None or image.stop_seconds is None else min(grace, image.stop_seconds)
        longest = max(longest, seconds)
    return longest


def select_stop(ctx: PodContext):
    if ctx.deleting and ctx.status.get("phase") not in ps.TERMINAL and ctx.uid not in ctx.kubelet.stopped:
        killed = ctx.kubelet.killed.get(ctx.uid)
        if killed is not None:
            # The grace period runs from the deletion request (stored), also for a kubelet that restarted since.
            requested = _deletion_requested(ctx)
            since = killed if killed - requested < 2.0 else requested
            yield Target(since + max(_stop_seconds(ctx), ctx.delay(ctx.profile.notice, "stopped")))


def act_stop(ctx: PodContext, target: Target) -> None:
    grace = float(ctx.meta.get("deletionGracePeriodSeconds") or 0)
    for container, _, cs in _running(ctx):
        image = ctx.image_entry(container)
        graceful = image is not None and image.stop_seconds is not None and image.stop_seconds <= grace
        _terminate(ctx, cs, 0 if graceful else 137, "Completed" if graceful else "Error")
    ctx.stopping = True
    ctx.hold_phase = True
    ctx.kubelet.stopped[ctx.uid] = ctx.now


def select_terminal(ctx: PodContext):
    if ctx.deleting and ctx.status.get("phase") not in ps.TERMINAL and not _running(ctx):
        stopped = ctx.kubelet.stopped.get(ctx.uid)
        if stopped is not None:
            yield Target(stopped + ctx.delay(ctx.profile.notice, "terminal"))


def act_terminal(ctx: PodContext, target: Target) -> None:
    """The pod worker has finished terminating: the status manager now lets the terminal phase through."""
    ctx.stopping = True
    ctx.hold_phase = False
    ctx.stamp("terminal")


def select_remove(ctx: PodContext):
    if ctx.deleting and ctx.status.get("phase") in ps.TERMINAL and not _running(ctx):
        yield Target(ctx.since("terminal") + ctx.delay(ctx.profile.remove, "remove"))


def act_remove(ctx: PodContext, target: Target) -> None:
    ctx.deleted = True


# --- start: accept -> sandbox -> pull -> pulled -> start ---------------------------------------------
def select_accept(ctx: PodContext):
    if not ctx.deleting and not ctx.status.get("startTime") and ctx.status.get("phase") not in ps.TERMINAL:
        # The stored bind time has whole seconds only: never earlier than when this kubelet first saw the pod.
        bound = _condition_time(ctx.status, "PodScheduled")
        seen = ctx.since("seen")
        yield Target((seen if bound is None else max(bound, seen)) + ctx.delay(ctx.profile.accept, "accept"))


def act_accept(ctx: PodContext, target: Target) -> None:
    if admission.reject(ctx):  # the kubelet's own admission check (OutOfcpu, OutOfmemory, ...)
        return
    status = ctx.status
    host_ip = internal_ip(ctx.node)
    status["phase"] = "Pending"
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    status["startTime"] = ctx.stamp("startTime")
    waiting = "PodInitializing" if ctx.containers(True) else "ContainerCreating"
    if ctx.containers(True):
        status["initContainerStatuses"] = [ps.initial_container_status(c, "PodInitializing")
                                           for c in ctx.containers(True)]
    status["containerStatuses"] = [ps.initial_container_status(c, waiting) for c in ctx.containers(False)]


def select_sandbox(ctx: PodContext):
    if (not ctx.deleting and ctx.status.get("startTime") and not ctx.sandbox_ready
            and ctx.status.get("phase") not in ps.TERMINAL):
        started = ctx.moment("startTime", ctx.status.get("startTime"))
        yield Target(started + ctx.delay(ctx.profile.sandbox, "sandbox"))


def act_sandbox(ctx: PodContext, target: Target) -> None:
    ctx.kubelet.sandboxes[ctx.uid] = ctx.kubelet.allocate_ip(ctx.node, ctx.pod)


def active_container(ctx: PodContext) -> tuple[dict, bool] | None:
    """The container the kubelet works on next: the first unfinished init container, else the first
    app container that has never started."""
    for container in ctx.containers(True):
        cs = ctx.cstatus(container["name"], True)
        if ps.init_done(container, cs):
            continue
        if cs is not None and not ps.ever_started(cs) and ps.waiting_reason(cs) is not None:
            return container, True
        return None  # running, or crash-looping: the next one waits
    for container in ctx.containers(False):
        cs = ctx.cstatus(container["name"], False)
        if cs is not None and not ps.ever_started(cs) and ps.waiting_reason(cs) is not None:
            return container, False
    return None


_WAITING_TO_START = ("ContainerCreating", "PodInitializing", "ImagePullBackOff")


def select_pull(ctx: PodContext):
    if ctx.deleting or not ctx.sandbox_ready:
        return
    active = active_container(ctx)
    if active is None:
        return
    container, init = active
    if (ctx.uid, container["name"]) in ctx.kubelet.pulls:
        return
    cs = ctx.cstatus(container["name"], init)
    reason = ps.waiting_reason(cs)
    if reason not in _WAITING_TO_START:
        return
    if reason == "ImagePullBackOff":
        failures, failed_at = ctx.kubelet.image_backoff.get((ctx.uid, container["name"]), (1, None))
        if failed_at is None:
            failed_at = ctx.since(f"pull-failed/{container['name']}")
        yield Target(failed_at + image_backoff(failures), container["name"], init)
    else:
        yield Target(ctx.now, container["name"], init)


def act_pull(ctx: PodContext, target: Target) -> None:
    ctx.kubelet.start_pull(ctx, ctx.container(target.container, target.init), target.init)


def select_pulled(ctx: PodContext):
    for container, init in ctx.all_containers():
        pull = ctx.kubelet.pulls.get((ctx.uid, container["name"]))
        if pull is not None and not pull.ready and not ctx.deleting:
            yield Target(pull.done_at, container["name"], init)


def act_pulled(ctx: PodContext, target: Target) -> None:
    ctx.kubelet.finish_pull(ctx, ctx.container(target.container, target.init), target.init)


def select_image_backoff(ctx: PodContext):
    if ctx.deleting:
        return
    for container, init in ctx.all_containers():
        cs = ctx.cstatus(container["name"], init)
        if cs is not None and ps.waiting_reason(cs) == "ErrImagePull":
            failed_at = ctx.kubelet.image_backoff.get((ctx.uid, container["name"]), (1, None))[1]
            if failed_at is None:
                failed_at = ctx.since(f"pull-failed/{container['name']}")
            notice = ctx.delay(ctx.profile.notice, f"ipbo/{container['name']}")
            yield Target(failed_at + notice, container["name"], init)


def act_image_backoff(ctx: PodContext, target: Target) -> None:
    container = ctx.container(target.container, target.init)
    cs = ctx.cstatus(target.container, target.init)
    image = container.get("image", "")
    error = (cs["state"]["waiting"].get("message") or catalog.pull_error(image))
    cs["state"] = {"waiting": {"reason": "ImagePullBackOff",
                               "message": f'Back-off pulling image "{image}": ErrImagePull: {error}'}}
    ctx.event("Normal", "BackOff", f'Back-off pulling image "{image}"', target.container, target.init)
    ctx.event("Warning", "Failed", "Error: ImagePullBackOff", target.container, target.init)


def select_start(ctx: PodContext):
    if ctx.deleting:
        return
    for container, init in ctx.all_containers():
        pull = ctx.kubelet.pulls.get((ctx.uid, container["name"]))
        if pull is not None and pull.ready:
            yield Target(pull.done_at + ctx.delay(ctx.profile.create, f"create/{container['name']}"),
                         container["name"], init)


def act_start(ctx: PodContext, target: Target) -> None:
    ctx.kubelet.pulls.pop((ctx.uid, target.container), None)
    ctx.kubelet.image_backoff.pop((ctx.uid, target.container), None)
    container = ctx.container(target.container, target.init)
    cs = ctx.cstatus(target.container, target.init)
    _run_container(ctx, container, cs, target.init, cs.get("restartCount", 0))
    ctx.event("Normal", "Created", f"Created container: {target.container}", target.container, target.init)
    ctx.event("Normal", "Started", f"Started container {target.container}", target.container, target.init)


def _run_container(ctx: PodContext, container: dict, cs: dict, init: bool, restarts: int) -> None:
    ip = ctx.kubelet.sandboxes.get(ctx.uid)
    if ip and not ctx.status.get("podIP"):
        ctx.status["podIP"] = ip
        ctx.status["podIPs"] = [{"ip": ip}]
    image = container.get("image", "")
    cs["containerID"] = container_id(ctx, container["name"], restarts)
    cs["image"] = catalog.normalize_reference(image)
    cs["imageID"] = catalog.image_id(image)
    cs["restartCount"] = restarts
    cs["state"] = {"running": {"startedAt": ctx.stamp(f"started/{container['name']}/{restarts}")}}
    cs["started"] = True
    cs["ready"] = not init or ps.is_sidecar(container)
    probes.on_start(container, cs, init)


def _terminate(ctx: PodContext, cs: dict, exit_code: int, reason: str) -> None:
    running = (cs.get("state") or {}).get("running") or {}
    finished = ctx.stamp(f"finished/{cs.get('name')}/{cs.get('restartCount', 0)}")
    cs["state"] = {"terminated": {"containerID": cs.get("containerID", ""), "exitCode": exit_code,
                                  "finishedAt": finished, "reason": reason,
                                  "startedAt": running.get("startedAt", format_rfc3339(ctx.now))}}
    cs["ready"] = False
    cs["started"] = False


# --- running containers: exit -> backoff -> restart -----------------------------------------------------
def _lifetime(ctx: PodContext, container: dict) -> tuple[float, int, str] | None:
    """(seconds it runs, exit code, reason) if the container ends by itself, else None."""
    image = ctx.image_entry(container)
    if image is None:
        return None
    behaviour = catalog.behaviour_of(container, image)
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    try:
        too_small = limit is not None and memory_bytes(limit) < image.memory_bytes
    except ValueError:
        too_small = False
    if too_small and not (behaviour.kind == "exits" and behaviour.after < image.start_seconds):
        # The program needs more than its limit just to start: the kernel kills it as it loads.
        return image.start_seconds, 137, "OOMKilled"
    if behaviour.kind == "exits":
        return behaviour.after, behaviour.exit_code, "Completed" if behaviour.exit_code == 0 else "Error"
    if behaviour.kind == "oom":
        try:
            ceiling = memory_bytes(limit) if limit is not None else memory_bytes(
                ((ctx.node.get("status") or {}).get("allocatable") or {}).get("memory", "4Gi"))
        except ValueError:
            ceiling = 4 * 1024**3
        seconds = max(1.0, (ceiling - image.memory_bytes) / max(1, behaviour.leak_bytes_per_second))
        return seconds, 137, "OOMKilled"
    return None


def select_exit(ctx: PodContext):
    if ctx.deleting:
        return
    for container, init, cs in _running(ctx):
        lifetime = _lifetime(ctx, container)
        if lifetime is not None:
            started = ctx.moment(f"started/{container['name']}/{cs.get('restartCount', 0)}",
                                 cs["state"]["running"].get("startedAt"))
            yield Target(started + lifetime[0], container["name"], init)


def act_exit(ctx: PodContext, target: Target) -> None:
    container = ctx.container(target.container, target.init)
    _, code, reason = _lifetime(ctx, container)
    _terminate(ctx, ctx.cstatus(target.container, target.init), code, reason)


def _finished_at(ctx: PodContext, cs: dict, done: dict) -> float:
    return ctx.moment(f"finished/{cs.get('name')}/{cs.get('restartCount', 0)}", done.get("finishedAt"))


def _restart_due(ctx: PodContext, cs: dict, finished: dict) -> float:
    ran = _ts(finished.get("finishedAt"), ctx.now) - _ts(finished.get("startedAt"), ctx.now)
    restarts = 0 if ran >= BACKOFF_RESET_AFTER else cs.get("restartCount", 0)
    return crash_backoff(restarts)


def _restartable(ctx: PodContext):
    """Containers that exited and will be restarted: (container, init, status, last termination)."""
    if ctx.status.get("phase") in ps.TERMINAL:  # evicted or finished: nothing in it runs again
        return
    policy = ctx.spec.get("restartPolicy") or "Always"
    for container, init in ctx.all_containers():
        cs = ctx.cstatus(container["name"], init)
        if cs is None:
            continue
        done = ps.terminated(cs)
        if done is None and ps.waiting_reason(cs) == "CrashLoopBackOff":
            done = ps.last_terminated(cs)
        if done is None:
            continue
        if ps.is_sidecar(container) or will_restart_container(policy, done.get("exitCode", 0), init):
            yield container, init, cs, done


def will_restart_container(policy: str, exit_code: int, init: bool) -> bool:
    return ps.will_restart(policy, exit_code, init)


def select_backoff(ctx: PodContext):
    if ctx.deleting:
        return
    for container, init, cs, done in _restartable(ctx):
        if ps.terminated(cs) is not None and _restart_due(ctx, cs, done) > 0:
            finished = _finished_at(ctx, cs, done)
            notice = ctx.delay(ctx.profile.notice, f"backoff/{container['name']}/{cs.get('restartCount')}")
            yield Target(finished + notice, container["name"], init)


def act_backoff(ctx: PodContext, target: Target) -> None:
    cs = ctx.cstatus(target.container, target.init)
    done = ps.terminated(cs)
    wait = _restart_due(ctx, cs, done)
    cs["lastState"] = {"terminated": done}
    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                               "message": f"back-off {go_duration(wait)} restarting failed container="
                                          f"{target.container} pod={pod_ref(ctx)}"}}
    ctx.event("Warning", "BackOff", f"Back-off restarting failed container {target.container} in pod {pod_ref(ctx)}",
              target.container, target.init)


def select_restart(ctx: PodContext):
    if ctx.deleting:
        return
    for container, init, cs, done in _restartable(ctx):
        finished = _finished_at(ctx, cs, done)
        restart = ctx.delay(ctx.profile.restart, f"restart/{container['name']}/{cs.get('restartCount')}")
        yield Target(finished + _restart_due(ctx, cs, done) + restart, container["name"], init)


def act_restart(ctx: PodContext, target: Target) -> None:
    container = ctx.container(target.container, target.init)
    cs = ctx.cstatus(target.container, target.init)
    done = ps.terminated(cs) or ps.last_terminated(cs)
    cs["lastState"] = {"terminated": done}
    image = container.get("image", "")
    if pull_policy(container) == "Always":
        took = go_duration(ctx.delay(ctx.profile.pull_cached, f"repull/{cs.get('restartCount')}", 0.3))
        ctx.event("Normal", "Pulling", f'Pulling image "{image}"', target.container, target.init)
        size = (ctx.image_entry(container).size_bytes if ctx.image_entry(container) else 0)
        ctx.event("Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                  f"Image size: {size} bytes.", target.container, target.init)
    else:
        ctx.event("Normal", "Pulled", f'Container image "{image}" already present on machine', target.container,
                  target.init)
    _run_container(ctx, container, cs, target.init, cs.get("restartCount", 0) + 1)
    ctx.event("Normal", "Created", f"Created container: {target.container}", target.container, target.init)
    ctx.event("Normal", "Started", f"Started container {target.container}", target.container, target.init)


# --- probes: liveness, readiness, startup (engine.kubelet.probes decides) ----------------------------------
def select_probe(ctx: PodContext):
    for name, init, due in probes.due(ctx):
        yield Target(due, name, init)


def act_probe(ctx: PodContext, target: Target) -> None:
    probes.act(ctx, target.container, target.init, _terminate)


# --- the lifecycle, in order (ties go to the earlier stage) -------------------------------------------
POD_STAGES: list[Stage] = [
    Stage("kill", "deletionTimestamp set: send SIGTERM to every running container (Event Killing)",
          select_kill, act_kill, deleting=True),
    Stage("stop", "containers exited after SIGTERM (or were killed at the grace period); phase not yet terminal",
          select_stop, act_stop, deleting=True),
    Stage("terminal", "pod worker done: phase Succeeded or Failed", select_terminal, act_terminal, deleting=True),
    Stage("remove", "every container stopped: delete the pod for good (grace period 0)", select_remove, act_remove,
          deleting=True),
    Stage("accept", "bound to this node: status ContainerCreating (or Init:0/n), hostIP, startTime",
          select_accept, act_accept, deleting=False),
    Stage("sandbox", "pod sandbox and network ready: a pod IP from the node's pod CIDR", select_sandbox, act_sandbox,
          deleting=False),
    Stage("pull", "the next container's image: already present, or Pulling (after a back-off if it failed)",
          select_pull, act_pull, deleting=False),
    Stage("pulled", "image pull done: Pulled, or Failed -> ErrImagePull", select_pulled, act_pulled, deleting=False),
    Stage("image-backoff", "ErrImagePull -> ImagePullBackOff until the back-off ends", select_image_backoff,
          act_image_backoff, deleting=False),
    Stage("start", "image ready: Created, Started -> running", select_start, act_start, deleting=False),
    Stage("probe", "probes ran: Unhealthy Events, started/ready, a failed liveness probe kills the container",
          select_probe, act_probe),
    Stage("exit", "the container's program ended: Completed, Error or OOMKilled", select_exit, act_exit,
          deleting=False),
    Stage("backoff", "a restart must wait: CrashLoopBackOff (Event BackOff)", select_backoff, act_backoff,
          deleting=False),
    Stage("restart", "back-off over: the container runs again, restartCount + 1", select_restart, act_restart,
          deleting=False),
]
