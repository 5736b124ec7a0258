"""Node maintenance as kubectl does it (k8s.io/kubectl/pkg/drain and cmd/drain): cordon, uncordon, drain.

For the web terminal's kubectl and the UI. Everything goes through the
apiserver, as the real kubectl goes through the HTTP API:

- `cordon(api, node)` / `uncordon(api, node)` set or clear `spec.unschedulable`
  and answer "node/node-1 cordoned" (or "already cordoned");
- `Drainer(api, node, options)` cordons the node, sorts its pods with kubectl's
  filters (DaemonSet-managed pods are refused unless --ignore-daemonsets, then
  ignored with a warning; mirror pods are skipped; pods with emptyDir need
  --delete-emptydir-data; pods without a controller need --force), then evicts
  the rest through the eviction API, retrying every 5 s while a
  PodDisruptionBudget says no, and reports each pod once it is gone. It is
  driven by the caller's clock: `start()`, then `step()` whenever
  `next_wake` has come; both return the new output lines;
- `drain_node(sim, node, options)` runs a Drainer to the end on a Simulation,
  ticking its virtual clock (tests, scripted lessons).

Output is a list of `Line(stream, text)`, stream "out" or "err" as kubectl
writes them, worded as kubectl 1.32 words them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine import errors
from engine.apiserver import patch as patching
from engine.controllers.replicaset import controller_ref

if TYPE_CHECKING:
    from engine.apiserver import ApiServer
    from engine.simulation import Simulation

OUT, ERR = "out", "err"
EVICTION_RETRY_SECONDS = 5.0
DELETE_POLL_SECONDS = 1.0
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"

# k8s.io/kubectl/pkg/drain/filters.go
DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "Pods declare no controller (use --force to override)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"


@dataclass(frozen=True)
class Line:
    stream: str
    text: str


@dataclass
class DrainOptions:
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False
    force: bool = False
    grace_period: int = -1  # -1: each pod's own terminationGracePeriodSeconds
    timeout: float = 0.0  # 0: wait for ever, as kubectl's default
    disable_eviction: bool = False  # delete instead of evict (bypasses PodDisruptionBudgets)
    pod_selector: str = ""


@dataclass
class PodDelete:
    pod: dict
    delete: bool
    reason: str = "okay"  # okay, skip, warning, error
    message: str = ""

    @property
    def ref(self) -> str:
        meta = self.pod["metadata"]
        return f"{meta.get('namespace', '')}/{meta['name']}"


# --- cordon ---------------------------------------------------------------------------------------

def _set_unschedulable(api: ApiServer, node_name: str, desired: bool, verb: str, ctx=None) -> Line:
    node = api.get("Node", "", node_name)
    if bool((node.get("spec") or {}).get("unschedulable")) == desired:
        return Line(OUT, f"node/{node_name} already {verb}")
    api.patch("Node", "", node_name, {"spec": {"unschedulable": True if desired else None}}, patching.STRATEGIC,
              ctx=ctx)
    return Line(OUT, f"node/{node_name} {verb}")


def cordon(api: ApiServer, node_name: str, ctx=None) -> Line:
    """`kubectl cordon`: mark the node unschedulable (the scheduler's NodeUnschedulable filter then skips it)."""
    return _set_unschedulable(api, node_name, True, "cordoned", ctx)


def uncordon(api: ApiServer, node_name: str, ctx=None) -> Line:
    return _set_unschedulable(api, node_name, False, "uncordoned", ctx)


# --- which pods -----------------------------------------------------------------------------------

def _finished(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def filter_pod(api: ApiServer, pod: dict, options: DrainOptions) -> PodDelete:
    """kubectl's filters in order (daemonSet, mirror, localStorage, unreplicated): the first refusal wins."""
    status = PodDelete(pod, True)
    ref = controller_ref(pod)
    # daemonSetFilter
    if ref is not None and ref.get("kind") == "DaemonSet" and not _finished(pod):
        try:
            api.get("DaemonSet", pod["metadata"].get("namespace", ""), ref.get("name", ""))
        except errors.ApiError as exc:
            if exc.code == 404 and options.force:
                status = PodDelete(pod, True, "warning", exc.message)
            else:
                return PodDelete(pod, False, "error", exc.message)
        else:
            if not options.ignore_daemonsets:
                return PodDelete(pod, False, "error", DAEMONSET_FATAL)
            return PodDelete(pod, False, "warning", DAEMONSET_WARNING)
    # mirrorPodFilter
    if MIRROR_POD_ANNOTATION in (pod["metadata"].get("annotations") or {}):
        return PodDelete(pod, False, "skip")
    # localStorageFilter
    has_local = any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or [])
    if has_local and not _finished(pod):
        if not options.delete_emptydir_data:
            return PodDelete(pod, False, "error", LOCAL_STORAGE_FATAL)
        status = PodDelete(pod, True, "warning", LOCAL_STORAGE_WARNING)
    # unreplicatedFilter
    if not _finished(pod) and ref is None:
        if not options.force:
            return PodDelete(pod, False, "error", UNMANAGED_FATAL)
        status = PodDelete(pod, True, "warning", UNMANAGED_WARNING)
    return status


def pods_for_deletion(api: ApiServer, node_name: str, options: DrainOptions) -> list[PodDelete]:
    found = api.list("Pod", None, label_selector=options.pod_selector or None,
                     field_selector=f"spec.nodeName={node_name}")["items"]
    return [filter_pod(api, pod, options) for pod in found]


def _grouped(items: list[PodDelete], reason: str) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for item in items:
        if item.reason == reason:
            groups.setdefault(item.message, []).append(item.ref)
    return list(groups.items())


def deletion_errors(items: list[PodDelete]) -> list[str]:
    return [f"cannot delete {message}: {', '.join(refs)}" for message, refs in _grouped(items, "error")]


def deletion_warnings(items: list[PodDelete]) -> str:
    return "; ".join(f"{message}: {', '.join(refs)}" for message, refs in _grouped(items, "warning"))


def aggregate(messages: list[str]) -> str:
    """utilerrors.Aggregate's Error(): one message as is, several in brackets."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


# --- drain ----------------------------------------------------------------------------------------

@dataclass
class _PodState:
    namespace: str
    name: str
    uid: str
    state: str = "evict"  # evict -> wait -> done
    retry_at: float = 0.0


@dataclass
class Drainer:
    api: ApiServer
    node: str
    options: DrainOptions = field(default_factory=DrainOptions)
    lines: list[Line] = field(default_factory=list)
    done: bool = False
    failed: bool = False
    started_at: float = 0.0
    next_wake: float | None = None
    _pods: list[_PodState] = field(default_factory=list)

    def _emit(self, new: list[Line]) -> list[Line]:
        self.lines.extend(new)
        return new

    def _fail(self, messages: list[str], out: list[Line]) -> list[Line]:
        out.append(Line(ERR, f'error: unable to drain node "{self.node}" due to error:{aggregate(messages)}, '
                             "continuing command..."))
        out.append(Line(ERR, "There are pending nodes to be drained:"))
        out.append(Line(ERR, f" {self.node}"))
        out.extend(Line(ERR, message) for message in messages)
        self.done = self.failed = True
        self.next_wake = None
        return self._emit(out)

    def start(self) -> list[Line]:
        now = self.api.now()
        self.started_at = now
        out = [cordon(self.api, self.node)]
        items = pods_for_deletion(self.api, self.node, self.options)
        problems = deletion_errors(items)
        if problems:
            return self._fail(problems, out)
        warnings = deletion_warnings(items)
        if warnings:
            out.append(Line(ERR, f"Warning: {warnings}"))
        for item in items:
            if item.delete:
                meta = item.pod["metadata"]
                self._pods.append(_PodState(meta.get("namespace", ""), meta["name"], meta.get("uid", "")))
        self._emit(out)
        return out + self.step()

    def step(self) -> list[Line]:
        """Try what is due: evictions (again after a 429), and report the pods that are gone."""
        if self.done:
            return []
        now = self.api.now()
        out: list[Line] = []
        retries: list[Line] = []
        timeout = self.options.timeout
        for pod in self._pods:
            if pod.state != "evict" or pod.retry_at > now + 1e-9:
                continue
            if timeout and now - self.started_at >= timeout:
                return self._fail([f'error when evicting pods/"{pod.name}" -n "{pod.namespace}": global timeout '
                                   f"reached: {_go_seconds(timeout)}"], out)
            grace = self.options.grace_period if self.options.grace_period >= 0 else None
            try:
                if self.options.disable_eviction:
                    self.api.delete("Pod", pod.namespace, pod.name, grace_period_seconds=grace,
                                    preconditions={"uid": pod.uid})
                else:
                    out.append(Line(OUT, f"evicting pod {pod.namespace}/{pod.name}"))
                    self.api.evict(pod.namespace, pod.name, grace_period_seconds=grace)
            except errors.ApiError as exc:
                if exc.code == 404:
                    pod.state = "done"
                    continue
                if exc.code == 429:
                    retries.append(Line(ERR, f'error when evicting pods/"{pod.name}" -n "{pod.namespace}" (will retry '
                                             f"after 5s): {exc.message}"))
                    pod.retry_at = now + EVICTION_RETRY_SECONDS
                    continue
                return self._fail([f'error when evicting pods/"{pod.name}" -n "{pod.namespace}": {exc.message}'],
                                  out + retries)
            pod.state = "wait"
        out.extend(retries)
        verb = "deleted" if self.options.disable_eviction else "evicted"
        for pod in self._pods:
            if pod.state != "wait":
                continue
            current = self.api.store.get("Pod", pod.namespace, pod.name)
            if current is None or current["metadata"].get("uid") != pod.uid:
                out.append(Line(OUT, f"pod/{pod.name} {verb}"))
                pod.state = "done"
        if all(pod.state == "done" for pod in self._pods):
            out.append(Line(OUT, f"node/{self.node} drained"))
            self.done = True
            self.next_wake = None
        else:
            waiting = [p.retry_at for p in self._pods if p.state == "evict"]
            wake = now + DELETE_POLL_SECONDS
            if waiting:
                wake = min(wake, max(now, min(waiting)))
            self.next_wake = wake
        return self._emit(out)


def _go_seconds(seconds: float) -> str:
    whole = int(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


@dataclass
class DrainResult:
    ok: bool
    lines: list[Line]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def drain_node(sim: Simulation, node_name: str, options: DrainOptions | None = None, max_seconds: float = 3600.0,
               step: float = 0.5) -> DrainResult:
    """Run `kubectl drain` on a Simulation: tick its clock until the drain ends (or `max_seconds` pass)."""
    drainer = Drainer(sim.api, node_name, options or DrainOptions())
    drainer.start()
    waited = 0.0
    while not drainer.done and waited < max_seconds:
        sim.tick(step)
        waited += step
        if drainer.next_wake is None or sim.clock.now() + 1e-9 >= drainer.next_wake:
            drainer.step()
    return DrainResult(drainer.done and not drainer.failed, drainer.lines)


__all__ = [
    "DrainOptions", "DrainResult", "Drainer", "Line", "PodDelete", "cordon", "deletion_errors", "deletion_warnings",
    "drain_node", "filter_pod", "pods_for_deletion", "uncordon",
]
