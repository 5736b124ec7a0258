"""Server-side Table output, as kube-apiserver 1.32 prints each kind (pkg/printers/internalversion).

kubectl 1.32 has no client-side printers: every `kubectl get` column and cell,
STATUS included, comes from here. The server always fills the wide columns
(priority 1); kubectl hides them unless `-o wide`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from engine.clock import parse_rfc3339
from engine.resources.quantity import canonical
from engine.resources.registry import KindInfo

NONE = "<none>"
UNKNOWN = "<unknown>"
UNSET = "<unset>"

NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow "
    "a client to request the generation of an appropriate name automatically. Name is primarily intended for creation "
    "idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATED_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed "
    "to be set in happens-before order across separate operations. Clients may not set this value. It is represented "
    "in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
CONTAINERS_DOC = "Names of each container in the template."
IMAGES_DOC = "Images referenced by each container in the template."


# --- durations ---------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """duration.HumanDuration: `59s`, `119s`, `3m26s`, `23m`, `5h30m`, `47h`, `7d22h`, `300d`, `2y120d`, `9y`."""
    whole = int(seconds)  # Go truncates toward zero
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        s = whole % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(timestamp, now: float) -> str:
    """translateTimestampSince: `<unknown>` for an unset time."""
    when = parse_rfc3339(timestamp) if isinstance(timestamp, str) else None
    if when is None:
        return UNKNOWN
    return human_duration(now - when)


# --- pods --------------------------------------------------------------------------------------


def _restartable(container: dict | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"


def _condition_true(status: dict, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in _list(status.get("conditions")))


def _pod_summary(pod: dict) -> tuple[str, int, int, int, float | None]:
    """(status, ready, total, restarts, last restart time) exactly as printPod computes them."""
    spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
    meta = _dict(pod.get("metadata"))
    containers = _list(spec.get("containers"))
    init_containers = _list(spec.get("initContainers"))
    total = len(containers) + sum(1 for c in init_containers if _restartable(c))
    ready = 0
    restarts = restartable_restarts = 0
    last_restart = last_restartable_restart = None
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in _list(status.get("conditions")):
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    by_name = {c.get("name"): c for c in init_containers}
    initializing = False
    for i, cs in enumerate(_list(status.get("initContainerStatuses"))):
        count = _int(cs.get("restartCount"))
        restarts += count
        finished = _finished_at(cs)
        if finished is not None and (last_restart is None or finished > last_restart):
            last_restart = finished
        restartable = _restartable(by_name.get(cs.get("name")))
        if restartable:
            restartable_restarts += count
            if finished is not None and (last_restartable_restart is None or finished > last_restartable_restart):
                last_restartable_restart = finished
        state = _dict(cs.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if isinstance(terminated, dict):
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif _int(terminated.get("signal")):
                reason = f"Init:Signal:{_int(terminated.get('signal'))}"
            else:
                reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
        elif isinstance(waiting, dict) and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_containers)}"
        initializing = True
        break
    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = restartable_restarts, last_restartable_restart
        has_running = False
        for cs in reversed(_list(status.get("containerStatuses"))):
            restarts += _int(cs.get("restartCount"))
            finished = _finished_at(cs)
            if finished is not None and (last_restart is None or finished > last_restart):
                last_restart = finished
            state = _dict(cs.get("state"))
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if isinstance(waiting, dict) and waiting.get("reason"):
                reason = waiting["reason"]
            elif isinstance(terminated, dict) and terminated.get("reason"):
                reason = terminated["reason"]
            elif isinstance(terminated, dict):
                signal = _int(terminated.get("signal"))
                reason = f"Signal:{signal}" if signal else f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _finished_at(container_status: dict) -> float | None:
    terminated = _dict(_dict(container_status.get("lastState")).get("terminated"))
    return parse_rfc3339(terminated.get("finishedAt")) if terminated else None


def pod_status(pod: dict) -> str:
    """The STATUS column: `Running`, `ContainerCreating`, `CrashLoopBackOff`, `Init:0/1`, `Terminating`..."""
    return _pod_summary(pod)[0]


def pod_ready(pod: dict) -> tuple[int, int]:
    """The READY column as numbers: (ready containers, containers)."""
    _, ready, total, _, _ = _pod_summary(pod)
    return ready, total


def pod_restarts(pod: dict, now: float | None = None) -> str:
    """The RESTARTS column: `0`, or `3 (2m ago)` when the last restart time is known (and `now` is given)."""
    _, _, _, restarts, last = _pod_summary(pod)
    if restarts and last is not None and now is not None:
        return f"{restarts} ({human_duration(now - last)} ago)"
    return str(restarts)


def _pod_row(pod: dict, now: float) -> list:
    return _pod_cells(_pod_fixed(pod), now)


def _pod_fixed(pod: dict) -> tuple[list, int, float | None, float | None]:
    """What of a pod's row does not depend on the time: (cells with the RESTARTS and AGE cells left to fill,
    restarts, last restart time, creation time). A reader that keeps the pod unchanged may keep this too."""
    reason, ready, total, restarts, last = _pod_summary(pod)
    spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
    ips = _list(status.get("podIPs"))
    ip = (ips[0].get("ip") if ips else "") or NONE
    gates = _list(spec.get("readinessGates"))
    gates_cell = NONE
    if gates:
        true_count = 0
        conditions = _list(status.get("conditions"))
        for gate in gates:
            for cond in conditions:
                if cond.get("type") == gate.get("conditionType"):
                    true_count += cond.get("status") == "True"
                    break
        gates_cell = f"{true_count}/{len(gates)}"
    created = _dict(pod.get("metadata")).get("creationTimestamp")
    cells = [_name(pod), f"{ready}/{total}", reason, None, None, ip,
             spec.get("nodeName") or NONE, status.get("nominatedNodeName") or NONE, gates_cell]
    return cells, restarts, last, parse_rfc3339(created) if isinstance(created, str) else None


def _pod_cells(fixed: tuple[list, int, float | None, float | None], now: float) -> list:
    cells, restarts, last, created = fixed
    cells = list(cells)
    cells[3] = f"{restarts} ({human_duration(now - last)} ago)" if restarts and last is not None else str(restarts)
    cells[4] = UNKNOWN if created is None else human_duration(now - created)  # `since`, from the parsed time
    return cells


def _pod_conditions(pod: dict) -> list[dict] | None:
    phase = _dict(pod.get("status")).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


# --- workloads ---------------------------------------------------------------------------------


def _containers_cells(pod_spec) -> list[str]:
    containers = _list(_dict(pod_spec).get("containers"))
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _template_spec(obj: dict) -> dict:
    return _dict(_dict(_dict(obj.get("spec")).get("template")).get("spec"))


def _deployment_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    return [_name(obj), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
            _int(status.get("updatedReplicas")), _int(status.get("availableReplicas")), _age(obj, now),
            *_containers_cells(_template_spec(obj)), selector_string(spec.get("selector"))]


def _replica_set_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    return [_name(obj), _int(spec.get("replicas")), _int(status.get("replicas")), _int(status.get("readyReplicas")),
            _age(obj, now), *_containers_cells(_template_spec(obj)), format_label_selector(spec.get("selector"))]


def _replication_controller_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    return [_name(obj), _int(spec.get("replicas")), _int(status.get("replicas")), _int(status.get("readyReplicas")),
            _age(obj, now), *_containers_cells(_template_spec(obj)), format_labels(spec.get("selector"))]


def _daemon_set_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    return [_name(obj), _int(status.get("desiredNumberScheduled")), _int(status.get("currentNumberScheduled")),
            _int(status.get("numberReady")), _int(status.get("updatedNumberScheduled")),
            _int(status.get("numberAvailable")), format_labels(_template_spec(obj).get("nodeSelector")), _age(obj, now),
            *_containers_cells(_template_spec(obj)), format_label_selector(spec.get("selector"))]


def _stateful_set_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    return [_name(obj), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}", _age(obj, now),
            *_containers_cells(_template_spec(obj))]


def _condition(conditions, ctype: str) -> bool:
    for cond in _list(conditions):
        if cond.get("type") == ctype:
            return cond.get("status") == "True"
    return False


def job_status(job: dict) -> str:
    """The Job STATUS column: Complete, Failed, Terminating, Suspended, FailureTarget or Running."""
    conditions = _dict(job.get("status")).get("conditions")
    if _condition(conditions, "Complete"):
        return "Complete"
    if _condition(conditions, "Failed"):
        return "Failed"
    if _dict(job.get("metadata")).get("deletionTimestamp"):
        return "Terminating"
    if _condition(conditions, "Suspended"):
        return "Suspended"
    if _condition(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec.get('completions'))}"
    else:
        parallelism = _int(spec.get("parallelism"))
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start = parse_rfc3339(status.get("startTime"))
    end = parse_rfc3339(status.get("completionTime"))
    duration = "" if start is None else human_duration((end if end is not None else now) - start)
    return [_name(obj), job_status(obj), completions, duration, _age(obj, now),
            *_containers_cells(_template_spec(obj)), format_label_selector(spec.get("selector"))]


def _cron_job_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    last = status.get("lastScheduleTime")
    job_spec = _dict(_dict(spec.get("jobTemplate")).get("spec"))
    return [_name(obj), spec.get("schedule", ""), spec.get("timeZone") or NONE, _bool_ptr(spec.get("suspend")),
            len(_list(status.get("active"))), since(last, now) if last else NONE, _age(obj, now),
            *_containers_cells(_dict(_dict(job_spec.get("template")).get("spec"))),
            format_label_selector(job_spec.get("selector"))]


def _hpa_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    ref = _dict(spec.get("scaleTargetRef"))
    min_pods = str(spec["minReplicas"]) if spec.get("minReplicas") is not None else UNSET
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            format_hpa_metrics(_list(spec.get("metrics")), _list(status.get("currentMetrics"))), min_pods,
            _int(spec.get("maxReplicas")), _int(status.get("currentReplicas")), _age(obj, now)]


def format_hpa_metrics(specs: list, statuses: list) -> str:
    if not specs:
        return NONE
    items = []
    for i, metric in enumerate(specs):
        current_status = statuses[i] if i < len(statuses) else {}
        kind = metric.get("type")
        if kind in ("Resource", "ContainerResource"):
            key = "resource" if kind == "Resource" else "containerResource"
            source = _dict(metric.get(key))
            target = _dict(source.get("target"))
            current = _dict(_dict(current_status.get(key)).get("current"))
            name = source.get("name", "")
            if target.get("averageValue") is not None:
                now_value = _q(current.get("averageValue")) if current_status.get(key) else UNKNOWN
                items.append(f"{name}: {now_value}/{_q(target['averageValue'])}")
            else:
                now_value = f"{current['averageUtilization']}%" if current.get("averageUtilization") is not None else UNKNOWN
                goal = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
                items.append(f"{name}: {now_value}/{goal}")
        elif kind in ("Pods", "Object", "External"):
            key = kind[0].lower() + kind[1:]
            target = _dict(_dict(metric.get(key)).get("target"))
            current = _dict(_dict(current_status.get(key)).get("current"))
            if kind == "Pods" or target.get("averageValue") is not None:
                now_value = _q(current.get("averageValue")) if current_status.get(key) else UNKNOWN
                suffix = "" if kind == "Pods" else " (avg)"
                items.append(f"{now_value}/{_q(target.get('averageValue'))}{suffix}")
            else:
                now_value = _q(current.get("value")) if current_status.get(key) else UNKNOWN
                items.append(f"{now_value}/{_q(target.get('value'))}")
        else:
            items.append("<unknown type>")
    if len(items) > 2:
        return ", ".join(items[:2]) + f" + {len(items) - 2} more..."
    return ", ".join(items)


def _pdb_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    min_available = str(spec["minAvailable"]) if spec.get("minAvailable") is not None else "N/A"
    max_unavailable = str(spec["maxUnavailable"]) if spec.get("maxUnavailable") is not None else "N/A"
    return [_name(obj), min_available, max_unavailable, _int(status.get("disruptionsAllowed")), _age(obj, now)]


def _controller_revision_row(obj: dict, now: float) -> list:
    controller = NONE
    for ref in _list(_dict(obj.get("metadata")).get("ownerReferences")):
        if ref.get("controller"):
            group = ref.get("apiVersion", "").rpartition("/")[0]
            kind = ref.get("kind", "")
            controller = (f"{kind}.{group}" if group else kind).lower() + "/" + ref.get("name", "")
            break
    return [_name(obj), controller, _int(obj.get("revision")), _age(obj, now)]


# --- services and networking -------------------------------------------------------------------


def service_external_ip(svc: dict) -> str:
    spec, status = _dict(svc.get("spec")), _dict(svc.get("status"))
    kind = spec.get("type")
    external = _strings(spec.get("externalIPs"))
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else NONE
    if kind == "LoadBalancer":
        ingress = _list(_dict(status.get("loadBalancer")).get("ingress"))
        lb = sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return UNKNOWN


def service_ports(svc: dict) -> str:
    pieces = []
    for port in _list(_dict(svc.get("spec")).get("ports")):
        protocol = port.get("protocol", "")
        if port.get("nodePort"):
            pieces.append(f"{port.get('port', 0)}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port', 0)}/{protocol}")
    return ",".join(pieces) or NONE


def _service_row(obj: dict, now: float) -> list:
    spec = _dict(obj.get("spec"))
    ips = _strings(spec.get("clusterIPs")) or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [_name(obj), spec.get("type", ""), ips[0] if ips else NONE, service_external_ip(obj), service_ports(obj),
            _age(obj, now), format_labels(spec.get("selector"))]


def format_endpoints(endpoints: dict) -> str:
    """`10.244.1.5:8080,10.244.2.3:8080 + 3 more...`, or `<none>`."""
    subsets = _list(endpoints.get("subsets"))
    if not subsets:
        return NONE
    shown: list[str] = []
    count = 0
    more = False
    for subset in subsets:
        addresses = _list(subset.get("addresses"))
        ports = _list(subset.get("ports"))
        if not ports:
            count += len(addresses)
            for address in addresses:
                if len(shown) == 3:
                    more = True
                    break
                shown.append(address.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for address in addresses:
                if len(shown) == 3:
                    more = True
                    break
                shown.append(_join_host_port(address.get("ip", ""), port.get("port", 0)))
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if more else text


def _join_host_port(host: str, port) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _list_with_more(items: list[str], total: int) -> str:
    if total > 3:
        return ",".join(items[:3]) + f" + {total - 3} more..."
    return ",".join(items) or UNSET


def _endpoint_slice_row(obj: dict, now: float) -> list:
    ports = []
    for port in _list(obj.get("ports")):
        if port.get("port") is not None:
            ports.append(str(port["port"]))
        elif port.get("name") is not None:
            ports.append(str(port["name"]))
        else:
            ports.append("*")
    addresses = [a for e in _list(obj.get("endpoints")) for a in _strings(e.get("addresses"))]
    return [_name(obj), obj.get("addressType", ""), _list_with_more(ports, len(ports)),
            _list_with_more(addresses, len(addresses)), _age(obj, now)]


def _ingress_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    rules = _list(spec.get("rules"))
    hosts = [r["host"] for r in rules[:3] if r.get("host")]
    if not hosts:
        hosts_cell = "*"
    else:
        hosts_cell = ",".join(hosts) + (f" + {len(rules) - 3} more..." if len(rules) > 3 else "")
    ingress = _list(_dict(status.get("loadBalancer")).get("ingress"))
    address = ",".join(sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")}))
    ports = "80, 443" if spec.get("tls") else "80"
    return [_name(obj), spec.get("ingressClassName") or NONE, hosts_cell, address, ports, _age(obj, now)]


def _ingress_class_row(obj: dict, now: float) -> list:
    spec = _dict(obj.get("spec"))
    params = spec.get("parameters")
    parameters = NONE
    if isinstance(params, dict):
        parameters = params.get("kind", "")
        if params.get("apiGroup"):
            parameters += "." + params["apiGroup"]
        parameters += "/" + params.get("name", "")
    return [_name(obj), spec.get("controller", ""), parameters, _age(obj, now)]


def _network_policy_row(obj: dict, now: float) -> list:
    return [_name(obj), format_label_selector(_dict(obj.get("spec")).get("podSelector") or {}), _age(obj, now)]


# --- cluster objects ---------------------------------------------------------------------------


def node_status(node: dict) -> str:
    """`Ready`, `NotReady`, `Unknown`, with `,SchedulingDisabled` when cordoned."""
    conditions = {c.get("type"): c for c in _list(_dict(node.get("status")).get("conditions"))}
    ready = conditions.get("Ready")
    parts = []
    if ready is not None:
        parts.append("Ready" if ready.get("status") == "True" else "NotReady")
    else:
        parts.append("Unknown")
    if _dict(node.get("spec")).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: dict) -> str:
    roles = set()
    for key, value in _dict(_dict(node.get("metadata")).get("labels")).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or NONE


def _node_address(node: dict, kind: str) -> str:
    for address in _list(_dict(node.get("status")).get("addresses")):
        if address.get("type") == kind:
            return address.get("address", "")
    return NONE


def _node_row(obj: dict, now: float) -> list:
    info = _dict(_dict(obj.get("status")).get("nodeInfo"))
    return [_name(obj), node_status(obj), node_roles(obj), _age(obj, now), info.get("kubeletVersion", ""),
            _node_address(obj, "InternalIP"), _node_address(obj, "ExternalIP"), info.get("osImage") or UNKNOWN,
            info.get("kernelVersion") or UNKNOWN, info.get("containerRuntimeVersion") or UNKNOWN]


def _namespace_row(obj: dict, now: float) -> list:
    return [_name(obj), _dict(obj.get("status")).get("phase", ""), _age(obj, now)]


def _secret_row(obj: dict, now: float) -> list:
    return [_name(obj), obj.get("type", ""), len(_dict(obj.get("data"))), _age(obj, now)]


def _config_map_row(obj: dict, now: float) -> list:
    return [_name(obj), len(_dict(obj.get("data"))) + len(_dict(obj.get("binaryData"))), _age(obj, now)]


def _service_account_row(obj: dict, now: float) -> list:
    return [_name(obj), len(_list(obj.get("secrets"))), _age(obj, now)]


def _endpoints_row(obj: dict, now: float) -> list:
    return [_name(obj), format_endpoints(obj), _age(obj, now)]


def _event_row(obj: dict, now: float) -> list:
    first = obj.get("firstTimestamp")
    first_cell = since(first, now) if first else since(obj.get("eventTime"), now)
    last = obj.get("lastTimestamp")
    last_cell = since(last, now) if last else first_cell
    count = _int(obj.get("count"))
    series = obj.get("series")
    if isinstance(series, dict):
        last_cell = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the events.k8s.io API carry no count
    involved = _dict(obj.get("involvedObject"))
    kind = involved.get("kind", "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _dict(obj.get("source"))
    component = source.get("component") or obj.get("reportingComponent") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    source_cell = f"{component}, {instance}" if instance else component
    return [last_cell, obj.get("type", ""), obj.get("reason", ""), target, involved.get("fieldPath", ""), source_cell,
            str(obj.get("message", "")).strip(), first_cell, count, _name(obj)]


_ACCESS_MODE_SHORT = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                      ("ReadWriteOncePod", "RWOP"))


def access_modes(modes) -> str:
    modes = _strings(modes)
    return ",".join(short for full, short in _ACCESS_MODE_SHORT if full in modes)


def _pv_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    claim = _dict(spec.get("claimRef"))
    claim_cell = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    phase = "Terminating" if _dict(obj.get("metadata")).get("deletionTimestamp") else status.get("phase", "")
    annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
    storage_class = annotations.get("volume.beta.kubernetes.io/storage-class") or spec.get("storageClassName") or ""
    return [_name(obj), _q(_dict(spec.get("capacity")).get("storage")), access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), phase, claim_cell, storage_class,
            spec.get("volumeAttributesClassName") or UNSET, status.get("reason", ""), _age(obj, now),
            spec.get("volumeMode") or UNSET]


def _pvc_row(obj: dict, now: float) -> list:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    meta = _dict(obj.get("metadata"))
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes(status.get("accessModes"))
        capacity = _q(_dict(status.get("capacity")).get("storage"))
    annotations = _dict(meta.get("annotations"))
    storage_class = annotations.get("volume.beta.kubernetes.io/storage-class")
    if storage_class is None:
        storage_class = spec.get("storageClassName") or ""
    return [_name(obj), phase, spec.get("volumeName", ""), capacity, modes, storage_class,
            spec.get("volumeAttributesClassName") or UNSET, _age(obj, now), spec.get("volumeMode") or UNSET]


def _storage_class_row(obj: dict, now: float) -> list:
    annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
    default = "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                         annotations.get("storageclass.beta.kubernetes.io/is-default-class"))
    name = _name(obj) + (" (default)" if default else "")
    return [name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
            obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), _age(obj, now)]


def _lease_row(obj: dict, now: float) -> list:
    return [_name(obj), _dict(obj.get("spec")).get("holderIdentity") or "", _age(obj, now)]


def _priority_class_row(obj: dict, now: float) -> list:
    return [_name(obj), _int(obj.get("value")), bool(obj.get("globalDefault")), _age(obj, now),
            obj.get("preemptionPolicy") or ""]


def _resource_quota_row(obj: dict, now: float) -> list:
    status = _dict(obj.get("status"))
    hard, used = _dict(status.get("hard")), _dict(status.get("used"))
    requests, limits = [], []
    for name in sorted(hard):
        target = limits if name.split(".")[0] == "limits" and "." in name else requests
        target.append(f"{name}: {_q(used.get(name, '0'))}/{_q(hard[name])}")
    return [_name(obj), ", ".join(requests), ", ".join(limits), _age(obj, now)]


def _role_binding_row(obj: dict, now: float) -> list:
    """printRoleBinding / printClusterRoleBinding: Kind/name of the role, then (wide) rbac.SubjectsStrings."""
    role_ref = _dict(obj.get("roleRef"))
    users, groups, service_accounts = [], [], []
    for subject in _list(obj.get("subjects")):
        kind, name = subject.get("kind"), subject.get("name") or ""
        if kind == "ServiceAccount":
            service_accounts.append(f"{subject.get('namespace') or ''}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return [_name(obj), f"{role_ref.get('kind') or ''}/{role_ref.get('name') or ''}", _age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(service_accounts)]


def _default_row(obj: dict, now: float) -> list:
    created = _dict(obj.get("metadata")).get("creationTimestamp")
    return [_name(obj), created or "0001-01-01T00:00:00Z"]


# --- selectors and labels ----------------------------------------------------------------------


def format_labels(labels) -> str:
    """labels.FormatLabels: `app=web,tier=db` sorted by key, `<none>` when empty."""
    labels = _dict(labels)
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels)) or NONE


def selector_string(selector) -> str:
    """LabelSelectorAsSelector(s).String(): requirements sorted by key (`app=web,env in (a,b),!old`)."""
    if not isinstance(selector, dict):
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in _dict(selector.get("matchLabels")).items():
        requirements.append((key, f"{key}={value}"))
    for expr in _list(selector.get("matchExpressions")):
        key, operator = expr.get("key", ""), expr.get("operator")
        values = ",".join(sorted(_strings(expr.get("values"))))
        if operator == "In":
            requirements.append((key, f"{key} in ({values})"))
        elif operator == "NotIn":
            requirements.append((key, f"{key} notin ({values})"))
        elif operator == "Exists":
            requirements.append((key, key))
        elif operator == "DoesNotExist":
            requirements.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))


def format_label_selector(selector) -> str:
    """metav1.FormatLabelSelector: the selector string, `<none>` when it selects everything."""
    return selector_string(selector) or NONE


# --- columns -----------------------------------------------------------------------------------

# A column is (name, type, description, priority), with "name" columns formatted as names.
# A description of the form "@module.Class.field" is read from the kubex model's field docs.
Column = tuple[str, str, str, int]
NAME: Column = ("Name", "string", NAME_DOC, 0)
AGE: Column = ("Age", "string", CREATED_DOC, 0)
CONTAINERS: Column = ("Containers", "string", CONTAINERS_DOC, 1)
IMAGES: Column = ("Images", "string", IMAGES_DOC, 1)


def _c(name: str, kind: str, description: str, priority: int = 0) -> Column:
    return (name, kind, description, priority)


POD_COLUMNS = [
    NAME,
    _c("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    _c("Status", "string", "The aggregate status of the containers in this pod."),
    _c("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last "
       "container in this pod has restarted."),
    AGE,
    _c("IP", "string", "@core.v1.pod_status.PodStatus.podIP", 1),
    _c("Node", "string", "@core.v1.pod_spec.PodSpec.nodeName", 1),
    _c("Nominated Node", "string", "@core.v1.pod_status.PodStatus.nominatedNodeName", 1),
    _c("Readiness Gates", "string", "@core.v1.pod_spec.PodSpec.readinessGates", 1),
]

COLUMNS: dict[str, list[Column]] = {
    "Pod": POD_COLUMNS,
    "Deployment": [
        NAME,
        _c("Ready", "string", "Number of the pod with ready state"),
        _c("Up-to-date", "string", "@apps.v1.deployment_status.DeploymentStatus.updatedReplicas"),
        _c("Available", "string", "@apps.v1.deployment_status.DeploymentStatus.availableReplicas"),
        AGE, CONTAINERS, IMAGES,
        _c("Selector", "string", "@apps.v1.deployment_spec.DeploymentSpec.selector", 1),
    ],
    "ReplicaSet": [
        NAME,
        _c("Desired", "integer", "@apps.v1.replica_set_spec.ReplicaSetSpec.replicas"),
        _c("Current", "integer", "@apps.v1.replica_set_status.ReplicaSetStatus.replicas"),
        _c("Ready", "integer", "@apps.v1.replica_set_status.ReplicaSetStatus.readyReplicas"),
        AGE, CONTAINERS, IMAGES,
        _c("Selector", "string", "@apps.v1.replica_set_spec.ReplicaSetSpec.selector", 1),
    ],
    "ReplicationController": [
        NAME,
        _c("Desired", "integer", "@core.v1.replication_controller_spec.ReplicationControllerSpec.replicas"),
        _c("Current", "integer", "@core.v1.replication_controller_status.ReplicationControllerStatus.replicas"),
        _c("Ready", "integer", "@core.v1.replication_controller_status.ReplicationControllerStatus.readyReplicas"),
        AGE, CONTAINERS, IMAGES,
        _c("Selector", "string", "@core.v1.replication_controller_spec.ReplicationControllerSpec.selector", 1),
    ],
    "DaemonSet": [
        NAME,
        _c("Desired", "integer", "@apps.v1.daemon_set_status.DaemonSetStatus.desiredNumberScheduled"),
        _c("Current", "integer", "@apps.v1.daemon_set_status.DaemonSetStatus.currentNumberScheduled"),
        _c("Ready", "integer", "@apps.v1.daemon_set_status.DaemonSetStatus.numberReady"),
        _c("Up-to-date", "integer", "@apps.v1.daemon_set_status.DaemonSetStatus.updatedNumberScheduled"),
        _c("Available", "integer", "@apps.v1.daemon_set_status.DaemonSetStatus.numberAvailable"),
        _c("Node Selector", "string", "@core.v1.pod_spec.PodSpec.nodeSelector"),
        AGE, CONTAINERS, IMAGES,
        _c("Selector", "string", "@apps.v1.daemon_set_spec.DaemonSetSpec.selector", 1),
    ],
    "StatefulSet": [
        NAME,
        _c("Ready", "string", "Number of the pod with ready state"),
        AGE, CONTAINERS, IMAGES,
    ],
    "Job": [
        NAME,
        _c("Status", "string", "Status of the job."),
        _c("Completions", "string", "@batch.v1.job_status.JobStatus.succeeded"),
        _c("Duration", "string", "Time required to complete the job."),
        AGE, CONTAINERS, IMAGES,
        _c("Selector", "string", "@batch.v1.job_spec.JobSpec.selector", 1),
    ],
    "CronJob": [
        NAME,
        _c("Schedule", "string", "@batch.v1.cron_job_spec.CronJobSpec.schedule"),
        _c("Timezone", "string", "@batch.v1.cron_job_spec.CronJobSpec.timeZone"),
        _c("Suspend", "boolean", "@batch.v1.cron_job_spec.CronJobSpec.suspend"),
        _c("Active", "integer", "@batch.v1.cron_job_status.CronJobStatus.active"),
        _c("Last Schedule", "string", "@batch.v1.cron_job_status.CronJobStatus.lastScheduleTime"),
        AGE, CONTAINERS, IMAGES,
        _c("Selector", "string", "@batch.v1.job_spec.JobSpec.selector", 1),
    ],
    "Service": [
        NAME,
        _c("Type", "string", "@core.v1.service_spec.ServiceSpec.type"),
        _c("Cluster-IP", "string", "@core.v1.service_spec.ServiceSpec.clusterIP"),
        _c("External-IP", "string", "@core.v1.service_spec.ServiceSpec.externalIPs"),
        _c("Port(s)", "string", "@core.v1.service_spec.ServiceSpec.ports"),
        AGE,
        _c("Selector", "string", "@core.v1.service_spec.ServiceSpec.selector", 1),
    ],
    "Ingress": [
        NAME,
        _c("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
        _c("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        _c("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        _c("Ports", "string", "Ports of TLS configurations that open"),
        AGE,
    ],
    "IngressClass": [
        NAME,
        _c("Controller", "string", "Controller that is responsible for handling this class"),
        _c("Parameters", "string", "A reference to a resource with additional parameters"),
        AGE,
    ],
    "Endpoints": [NAME, _c("Endpoints", "string", "@core.v1.endpoints.Endpoints.subsets"), AGE],
    "EndpointSlice": [
        NAME,
        _c("AddressType", "string", "@discovery.v1.endpoint_slice.EndpointSlice.addressType"),
        _c("Ports", "string", "@discovery.v1.endpoint_slice.EndpointSlice.ports"),
        _c("Endpoints", "string", "@discovery.v1.endpoint_slice.EndpointSlice.endpoints"),
        AGE,
    ],
    "Node": [
        NAME,
        _c("Status", "string", "The status of the node"),
        _c("Roles", "string", "The roles of the node"),
        AGE,
        _c("Version", "string", "@core.v1.node_system_info.NodeSystemInfo.kubeletVersion"),
        _c("Internal-IP", "string", "@core.v1.node_status.NodeStatus.addresses", 1),
        _c("External-IP", "string", "@core.v1.node_status.NodeStatus.addresses", 1),
        _c("OS-Image", "string", "@core.v1.node_system_info.NodeSystemInfo.osImage", 1),
        _c("Kernel-Version", "string", "@core.v1.node_system_info.NodeSystemInfo.kernelVersion", 1),
        _c("Container-Runtime", "string", "@core.v1.node_system_info.NodeSystemInfo.containerRuntimeVersion", 1),
    ],
    "Event": [
        _c("Last Seen", "string", "@core.v1.event.Event.lastTimestamp"),
        _c("Type", "string", "@core.v1.event.Event.type"),
        _c("Reason", "string", "@core.v1.event.Event.reason"),
        _c("Object", "string", "@core.v1.event.Event.involvedObject"),
        _c("Subobject", "string", "@core.v1.object_reference.ObjectReference.fieldPath", 1),
        _c("Source", "string", "@core.v1.event.Event.source", 1),
        _c("Message", "string", "@core.v1.event.Event.message"),
        _c("First Seen", "string", "@core.v1.event.Event.firstTimestamp", 1),
        _c("Count", "string", "@core.v1.event.Event.count", 1),
        ("Name", "string", NAME_DOC, 1),
    ],
    "Namespace": [NAME, _c("Status", "string", "The status of the namespace"), AGE],
    "Secret": [
        NAME,
        _c("Type", "string", "@core.v1.secret.Secret.type"),
        _c("Data", "string", "@core.v1.secret.Secret.data"),
        AGE,
    ],
    "ServiceAccount": [NAME, _c("Secrets", "string", "@core.v1.service_account.ServiceAccount.secrets"), AGE],
    "ConfigMap": [NAME, _c("Data", "string", "@core.v1.config_map.ConfigMap.data"), AGE],
    "PersistentVolume": [
        NAME,
        _c("Capacity", "string", "@core.v1.persistent_volume_spec.PersistentVolumeSpec.capacity"),
        _c("Access Modes", "string", "@core.v1.persistent_volume_spec.PersistentVolumeSpec.accessModes"),
        _c("Reclaim Policy", "string", "@core.v1.persistent_volume_spec.PersistentVolumeSpec.persistentVolumeReclaimPolicy"),
        _c("Status", "string", "@core.v1.persistent_volume_status.PersistentVolumeStatus.phase"),
        _c("Claim", "string", "@core.v1.persistent_volume_spec.PersistentVolumeSpec.claimRef"),
        _c("StorageClass", "string", "StorageClass of the pv"),
        _c("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
        _c("Reason", "string", "@core.v1.persistent_volume_status.PersistentVolumeStatus.reason"),
        AGE,
        _c("VolumeMode", "string", "@core.v1.persistent_volume_spec.PersistentVolumeSpec.volumeMode", 1),
    ],
    "PersistentVolumeClaim": [
        NAME,
        _c("Status", "string", "@core.v1.persistent_volume_claim_status.PersistentVolumeClaimStatus.phase"),
        _c("Volume", "string", "@core.v1.persistent_volume_claim_spec.PersistentVolumeClaimSpec.volumeName"),
        _c("Capacity", "string", "@core.v1.persistent_volume_claim_status.PersistentVolumeClaimStatus.capacity"),
        _c("Access Modes", "string", "@core.v1.persistent_volume_claim_status.PersistentVolumeClaimStatus.accessModes"),
        _c("StorageClass", "string", "StorageClass of the pvc"),
        _c("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        AGE,
        _c("VolumeMode", "string", "@core.v1.persistent_volume_claim_spec.PersistentVolumeClaimSpec.volumeMode", 1),
    ],
    "HorizontalPodAutoscaler": [
        NAME,
        _c("Reference", "string", "@autoscaling.v2.horizontal_pod_autoscaler_spec.HorizontalPodAutoscalerSpec.scaleTargetRef"),
        _c("Targets", "string", "@autoscaling.v2.horizontal_pod_autoscaler_spec.HorizontalPodAutoscalerSpec.metrics"),
        _c("MinPods", "string", "@autoscaling.v2.horizontal_pod_autoscaler_spec.HorizontalPodAutoscalerSpec.minReplicas"),
        _c("MaxPods", "string", "@autoscaling.v2.horizontal_pod_autoscaler_spec.HorizontalPodAutoscalerSpec.maxReplicas"),
        _c("Replicas", "string",
           "@autoscaling.v2.horizontal_pod_autoscaler_status.HorizontalPodAutoscalerStatus.currentReplicas"),
        AGE,
    ],
    "PodDisruptionBudget": [
        NAME,
        _c("Min Available", "string", "The minimum number of pods that must be available."),
        _c("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
        _c("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
        AGE,
    ],
    "NetworkPolicy": [
        NAME,
        _c("Pod-Selector", "string", "@networking.v1.network_policy_spec.NetworkPolicySpec.podSelector"),
        AGE,
    ],
    "Lease": [NAME, _c("Holder", "string", "@coordination.v1.lease_spec.LeaseSpec.holderIdentity"), AGE],
    "StorageClass": [
        NAME,
        _c("Provisioner", "string", "@storage.v1.storage_class.StorageClass.provisioner"),
        _c("ReclaimPolicy", "string", "@storage.v1.storage_class.StorageClass.reclaimPolicy"),
        _c("VolumeBindingMode", "string", "@storage.v1.storage_class.StorageClass.volumeBindingMode"),
        _c("AllowVolumeExpansion", "string", "@storage.v1.storage_class.StorageClass.allowVolumeExpansion"),
        AGE,
    ],
    "PriorityClass": [
        NAME,
        _c("Value", "integer", "@scheduling.v1.priority_class.PriorityClass.value"),
        _c("Global-Default", "boolean", "@scheduling.v1.priority_class.PriorityClass.globalDefault"),
        AGE,
        _c("PreemptionPolicy", "string", "@scheduling.v1.priority_class.PriorityClass.preemptionPolicy"),
    ],
    "ControllerRevision": [
        NAME,
        _c("Controller", "string", "Controller of the object"),
        _c("Revision", "string", "@apps.v1.controller_revision.ControllerRevision.revision"),
        AGE,
    ],
    "RoleBinding": [
        NAME,
        _c("Role", "string", "@rbac.v1.role_binding.RoleBinding.roleRef"),
        AGE,
        _c("Users", "string", "Users in the roleBinding", 1),
        _c("Groups", "string", "Groups in the roleBinding", 1),
        _c("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1),
    ],
    "ClusterRoleBinding": [
        NAME,
        _c("Role", "string", "@rbac.v1.cluster_role_binding.ClusterRoleBinding.roleRef"),
        AGE,
        _c("Users", "string", "Users in the clusterRoleBinding", 1),
        _c("Groups", "string", "Groups in the clusterRoleBinding", 1),
        _c("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding", 1),
    ],
    "ResourceQuota": [
        NAME,
        _c("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
        _c("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent "
           "of contention on the node."),
        AGE,
    ],
}

# Kinds without a printer get the apiserver's default table: Name and Created At (RFC3339).
DEFAULT_COLUMNS: list[Column] = [NAME, ("Created At", "date", CREATED_DOC, 0)]

ROWS: dict[str, Callable[[dict, float], list]] = {
    "Pod": _pod_row,
    "Deployment": _deployment_row,
    "ReplicaSet": _replica_set_row,
    "ReplicationController": _replication_controller_row,
    "DaemonSet": _daemon_set_row,
    "StatefulSet": _stateful_set_row,
    "Job": _job_row,
    "CronJob": _cron_job_row,
    "Service": _service_row,
    "Ingress": _ingress_row,
    "IngressClass": _ingress_class_row,
    "Endpoints": _endpoints_row,
    "EndpointSlice": _endpoint_slice_row,
    "Node": _node_row,
    "Event": _event_row,
    "Namespace": _namespace_row,
    "Secret": _secret_row,
    "ServiceAccount": _service_account_row,
    "ConfigMap": _config_map_row,
    "PersistentVolume": _pv_row,
    "PersistentVolumeClaim": _pvc_row,
    "HorizontalPodAutoscaler": _hpa_row,
    "PodDisruptionBudget": _pdb_row,
    "NetworkPolicy": _network_policy_row,
    "Lease": _lease_row,
    "StorageClass": _storage_class_row,
    "PriorityClass": _priority_class_row,
    "ControllerRevision": _controller_revision_row,
    "ResourceQuota": _resource_quota_row,
    "RoleBinding": _role_binding_row,
    "ClusterRoleBinding": _role_binding_row,
}


@cache
def _doc(reference: str) -> str:
    """A field's API description, read once from the kubex model (`@core.v1.pod_status.PodStatus.podIP`)."""
    from engine.resources.schema import load_model

    dotted, _, alias = reference[1:].rpartition(".")
    try:
        model = load_model(dotted)
    except (ImportError, AttributeError):
        return ""
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            return info.description or ""
    return ""


@cache
def column_definitions(kind: str) -> tuple[dict, ...]:
    definitions = []
    for name, kind_of, description, priority in COLUMNS.get(kind, DEFAULT_COLUMNS):
        definitions.append({
            "name": name,
            "type": kind_of,
            "format": "name" if name == "Name" else "",
            "description": _doc(description) if description.startswith("@") else description,
            "priority": priority,
        })
    return tuple(definitions)


def row(info: KindInfo, obj: dict, now: float, include_object: str = "Metadata",
        memo: Callable[[dict], dict | None] | None = None) -> dict:
    """One Table row (also what a watch event of a Table-accepting client carries).

    `memo(obj)`, when given, is scratch space kept as long as `obj` stays unchanged (cluster.store's shared
    reads): a pod's time-independent cells are kept there, as listing pods is what `kubectl get` does most.
    """
    custom_columns = info.model is None and getattr(info, "printer_columns", None) is not None
    scratch = memo(obj) if memo is not None and info.kind == "Pod" and not custom_columns else None
    if scratch is not None:
        fixed = scratch.get("pod-row")
        if fixed is None:
            fixed = scratch["pod-row"] = (_pod_fixed(obj), _pod_conditions(obj))
        cells, conditions = _pod_cells(fixed[0], now), fixed[1]
    else:
        if custom_columns:
            from engine.resources import custom  # a custom resource: its CRD's additionalPrinterColumns

            cells = custom.table_cells(info, obj, now)
        else:
            cells = ROWS.get(info.kind, _default_row)(obj, now)
        conditions = _pod_conditions(obj) if info.kind == "Pod" else None
    out: dict = {"cells": cells}
    if conditions:
        out["conditions"] = conditions
    if include_object == "Object":
        out["object"] = obj
    elif include_object != "None":
        out["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": _dict(obj.get("metadata"))}
    return out


def table(info: KindInfo, objects: list[dict], now: float, include_object: str = "Metadata",
          resource_version: str = "", memo: Callable[[dict], dict | None] | None = None) -> dict:
    """A meta.k8s.io/v1 Table of objects of one kind, as `kubectl get` asks for it."""
    if info.model is None and getattr(info, "printer_columns", None) is not None:
        from engine.resources import custom

        definitions = custom.table_columns(info)
    else:
        definitions = [dict(c) for c in column_definitions(info.kind)]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": [row(info, obj, now, include_object, memo) for obj in objects],
    }


# --- small helpers -----------------------------------------------------------------------------


def _name(obj: dict) -> str:
    return _dict(obj.get("metadata")).get("name", "")


def _age(obj: dict, now: float) -> str:
    return since(_dict(obj.get("metadata")).get("creationTimestamp"), now)


def _bool_ptr(value) -> str:
    if value is None:
        return UNSET
    return "True" if value else "False"


def _q(value) -> str:
    """A quantity as Quantity.String() prints it (`0` when unset)."""
    if value is None:
        return "0"
    try:
        return canonical(value)
    except ValueError:
        return str(value)


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strings(value) -> list[str]:
    return [str(v) for v in value if v is not None] if isinstance(value, list) else []
