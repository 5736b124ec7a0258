"""A pod's status as the kubelet writes it, computed from its containers' states (pure functions).

The stages change container states; `finish_status` then derives the phase and
the conditions (PodReadyToStartContainers, Initialized, Ready, ContainersReady,
PodScheduled, in the order a v1.32 kubelet writes them) exactly once.
"""

from __future__ import annotations

from engine.clock import format_rfc3339

CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
TERMINAL = ("Succeeded", "Failed")


def initial_container_status(container: dict, reason: str) -> dict:
    out = {"image": container.get("image", ""), "imageID": "", "lastState": {}, "name": container.get("name", ""),
           "ready": False, "restartCount": 0, "started": False, "state": {"waiting": {"reason": reason}}}
    mounts = _mounts(container)
    if mounts:
        out["volumeMounts"] = mounts
    return out


def _mounts(container: dict) -> list[dict]:
    out = []
    for mount in container.get("volumeMounts") or []:
        entry = {"mountPath": mount.get("mountPath", ""), "name": mount.get("name", "")}
        if mount.get("readOnly"):
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = "Disabled"
        out.append(entry)
    return out


def waiting_reason(cs: dict) -> str | None:
    waiting = (cs.get("state") or {}).get("waiting")
    return waiting.get("reason", "") if waiting is not None else None


def is_running(cs: dict) -> bool:
    return "running" in (cs.get("state") or {})


def terminated(cs: dict) -> dict | None:
    return (cs.get("state") or {}).get("terminated")


def last_terminated(cs: dict) -> dict | None:
    return (cs.get("lastState") or {}).get("terminated")


def ever_started(cs: dict) -> bool:
    return is_running(cs) or terminated(cs) is not None or last_terminated(cs) is not None


def is_sidecar(container: dict) -> bool:
    return container.get("restartPolicy") == "Always"


def init_done(container: dict, cs: dict | None) -> bool:
    if cs is None:
        return False
    if is_sidecar(container):
        return bool(cs.get("started")) or is_running(cs)
    done = terminated(cs)
    return done is not None and done.get("exitCode") == 0


def will_restart(restart_policy: str, exit_code: int, init: bool = False) -> bool:
    if init:
        return exit_code != 0 and restart_policy != "Never"
    return restart_policy == "Always" or (restart_policy == "OnFailure" and exit_code != 0)


def phase(spec: dict, status: dict, stopping: bool = False) -> str:
    """kubelet getPhase: Pending until every init container is done and every container has started."""
    policy = spec.get("restartPolicy") or "Always"
    init_statuses = {cs["name"]: cs for cs in status.get("initContainerStatuses") or []}
    for container in spec.get("initContainers") or []:
        cs = init_statuses.get(container["name"])
        if init_done(container, cs):
            continue
        done = terminated(cs) if cs else None
        if done is not None and policy == "Never":
            return "Failed"
        return "Failed" if stopping else "Pending"
    running = waiting = stopped = succeeded = 0
    statuses = {cs["name"]: cs for cs in status.get("containerStatuses") or []}
    for container in spec.get("containers") or []:
        cs = statuses.get(container["name"])
        if cs is None:
            waiting += 1
        elif is_running(cs):
            running += 1
        elif terminated(cs) is not None:
            stopped += 1
            succeeded += terminated(cs).get("exitCode") == 0
        elif last_terminated(cs) is not None:
            stopped += 1  # restarting after an exit
            succeeded += last_terminated(cs).get("exitCode") == 0
        else:
            waiting += 1
    if stopping:
        return "Succeeded" if running == 0 and waiting == 0 and stopped == succeeded else "Failed"
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if policy == "OnFailure":
        return "Succeeded" if stopped == succeeded else "Running"
    return "Succeeded" if stopped == succeeded else "Failed"


def _set(conditions: dict[str, dict], ctype: str, value: str, now: float, reason: str | None = None,
         message: str | None = None) -> None:
    cond = conditions.get(ctype)
    if cond is None or cond.get("status") != value:
        cond = {"type": ctype, "status": value, "lastProbeTime": None, "lastTransitionTime": format_rfc3339(now)}
    else:
        cond = dict(cond)
    cond.pop("reason", None)
    cond.pop("message", None)
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    conditions[ctype] = cond


def finish_status(spec: dict, status: dict, now: float, stopping: bool = False, hold_phase: bool = False) -> None:
    """Derive phase and conditions from the container states, in place.

    `hold_phase` keeps the phase the pod had (the conditions still follow the new one), as the kubelet's
    mergePodStatus does while the pod worker could still have running containers."""
    new_phase = phase(spec, status, stopping)
    status["phase"] = status.get("phase", new_phase) if hold_phase else new_phase
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    sandbox = bool(status.get("podIP")) and new_phase not in TERMINAL and not stopping
    _set(conditions, "PodReadyToStartContainers", "True" if sandbox else "False", now)
    init_statuses = {cs["name"]: cs for cs in status.get("initContainerStatuses") or []}
    pending_init = [c["name"] for c in spec.get("initContainers") or []
                    if not init_done(c, init_statuses.get(c["name"]))]
    completed = new_phase == "Succeeded"
    if completed:
        _set(conditions, "Initialized", "True", now, "PodCompleted")
    elif pending_init:
        _set(conditions, "Initialized", "False", now, "ContainersNotInitialized",
             f"containers with incomplete status: [{' '.join(pending_init)}]")
    else:
        _set(conditions, "Initialized", "True", now)
    statuses = {cs["name"]: cs for cs in status.get("containerStatuses") or []}
    unready = [c["name"] for c in spec.get("containers") or [] if not (statuses.get(c["name"]) or {}).get("ready")]
    for ctype in ("Ready", "ContainersReady"):
        if new_phase in TERMINAL:
            _set(conditions, ctype, "False", now, "PodCompleted" if completed else "PodFailed")
        elif unready:
            _set(conditions, ctype, "False", now, "ContainersNotReady",
                 f"containers with unready status: [{' '.join(unready)}]")
        else:
            _set(conditions, ctype, "True", now)
    ordered = [conditions.pop(t) for t in CONDITION_ORDER if t in conditions]
    status["conditions"] = ordered + list(conditions.values())
