"""What kubectl logs/exec see of a container: its state, its log lines, its environment."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engine import errors
from engine.clock import parse_rfc3339
from engine.kubelet import downward
from engine.kubelet import images as catalog

# How each image stamps its own log lines.
TIME_FORMATS = {
    "nginx": "%Y/%m/%d %H:%M:%S",
    "httpd": "%a %b %d %H:%M:%S.000000 %Y",
    "redis": "%d %b %Y %H:%M:%S.000",
    "mysql": "%Y-%m-%dT%H:%M:%S.000000Z",
    "postgres": "%Y-%m-%d %H:%M:%S.000",
    "php": "%d-%b-%Y %H:%M:%S",
}

# Environment the images set themselves (docker inspect .Config.Env), after PATH.
IMAGE_ENV = {
    "nginx": [("NGINX_VERSION", "{version}"), ("NJS_VERSION", "0.8.7"), ("NJS_RELEASE", "1~bookworm"),
              ("PKG_RELEASE", "1~bookworm"), ("DYNPKG_RELEASE", "1~bookworm")],
    "httpd": [("HTTPD_PREFIX", "/usr/local/apache2"), ("HTTPD_VERSION", "{version}")],
    "redis": [("REDIS_VERSION", "{version}")],
    "node-hello": [("NODE_VERSION", "4.4.2"), ("NPM_CONFIG_LOGLEVEL", "info")],
    "mysql": [("GOSU_VERSION", "1.17"), ("MYSQL_MAJOR", "innovation"), ("MYSQL_VERSION", "9.1.0-1.el9"),
              ("MYSQL_SHELL_VERSION", "9.1.0-1.el9")],
    "postgres": [("GOSU_VERSION", "1.17"), ("LANG", "en_US.utf8"), ("PG_MAJOR", "17"), ("PGDATA",
                                                                                         "/var/lib/postgresql/data")],
}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def bad_request(message: str) -> errors.ApiError:
    return errors.ApiError(400, "BadRequest", message)


def pick_container(pod: dict, wanted: str | None, warn) -> dict:
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if wanted:
        for c in containers + (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or []):
            if c.get("name") == wanted:
                return c
        raise bad_request(f"container {wanted} is not valid for pod {pod['metadata']['name']}")
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default:
        for c in containers:
            if c.get("name") == default:
                return c
    if len(containers) > 1:
        warn(f'Defaulted container "{containers[0]["name"]}" out of: '
             + ", ".join(c["name"] for c in containers + (spec.get("initContainers") or [])) + "\n")
    return containers[0]


def container_status(pod: dict, name: str) -> dict | None:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == name:
            return cs
    return None


def image_family(image: str) -> str:
    """Which userland the image has: `busybox` (alpine/busybox: busybox tools) or `debian`."""
    ref = catalog.parse_reference(image)
    if ref is None:
        return "debian"
    base = ref.repository.rsplit("/", 1)[-1]
    if base in ("alpine", "busybox") or "alpine" in ref.tag:
        return "busybox"
    return "debian"


def _stamp(image: catalog.Image | None, when: float) -> str:
    fmt = TIME_FORMATS.get(image.name if image else "", "%Y/%m/%d %H:%M:%S")
    return datetime.fromtimestamp(when, tz=UTC).strftime(fmt)


def _script_output(container: dict, started: float, now: float) -> list[tuple[float, str]]:
    """What a shell command line prints (echo lines, loops that echo every N seconds), from its text."""
    command = list(container.get("command") or []) + list(container.get("args") or [])
    if not command:
        return []
    script = " ".join(str(part) for part in command)
    if "-c" in command:
        script = str(command[command.index("-c") + 1]) if command.index("-c") + 1 < len(command) else ""
    lines: list[tuple[float, str]] = []
    loop = re.search(r"while\s+(?:true|:)\s*;\s*do\s+(.*?);?\s*done", script, re.S)
    if loop:
        body = loop.group(1)
        sleep = re.search(r"sleep\s+(\d+(?:\.\d+)?)", body)
        period = float(sleep.group(1)) if sleep else 1.0
        echoes = _echoes(body, started)
        t = started
        count = 0
        while t <= now and count < 2000:
            for text in echoes:
                lines.append((t, _expand_date(text, t)))
            t += max(period, 0.1)
            count += 1
        return lines
    for text in _echoes(script, started):
        lines.append((started, _expand_date(text, started)))
    return lines


def _echoes(script: str, when: float) -> list[str]:
    out = []
    for part in re.split(r";|&&|\|\|", script):
        part = part.strip()
        m = re.match(r"^echo\s+(.*)$", part, re.S)
        if m:
            text = m.group(1).strip()
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            out.append(text)
        elif part == "date" or part.startswith("date "):
            out.append("$(date)")
    return out


def _expand_date(text: str, when: float) -> str:
    stamp = datetime.fromtimestamp(when, tz=UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    return text.replace("$(date)", stamp).replace("`date`", stamp)


def log_lines(pod: dict, container: dict, now: float, previous: bool = False) -> list[tuple[float, str]]:
    """(time, line) of one run of the container: the current one, or the previous one."""
    cs = container_status(pod, container["name"]) or {}
    state = cs.get("state") or {}
    if previous:
        run = (cs.get("lastState") or {}).get("terminated")
    else:
        run = state.get("running") or state.get("terminated")
        if run is None and (cs.get("lastState") or {}).get("terminated"):
            run = cs["lastState"]["terminated"]
    if not run:
        return []
    started = parse_rfc3339(run.get("startedAt")) or now
    finished = parse_rfc3339(run.get("finishedAt"))
    end = finished if finished is not None else now
    image = catalog.lookup(container.get("image", ""))
    lines: list[tuple[float, str]] = []
    ip = (pod.get("status") or {}).get("podIP", "")
    if image is not None:
        behaviour = catalog.behaviour_of(container, image)
        script = _script_output(container, started, end)
        if script:
            lines.extend(script)
        elif not (container.get("command") and image.shell):
            for raw in image.logs:
                lines.append((started, raw.replace("{time}", _stamp(image, started))
                              .replace("{version}", image.version).replace("{ip}", ip)))
        if behaviour.message and (finished is not None or behaviour.kind == "exits"):
            for raw in behaviour.message.split("\n"):
                when = finished if finished is not None else started
                lines.append((when, raw.replace("{time}", datetime.fromtimestamp(when, tz=UTC)
                                                .strftime("%Y-%m-%dT%H:%M:%S.000000Z"))))
    return [(t, text) for t, text in lines if t <= end + 1e-6]


def waiting_error(pod: dict, container: dict) -> errors.ApiError | None:
    """The apiserver's answer to a log request for a container that has not started."""
    name, pod_name = container["name"], pod["metadata"]["name"]
    cs = container_status(pod, name)
    if cs is None:
        return bad_request(f'container "{name}" in pod "{pod_name}" is waiting to start: ContainerCreating')
    state = cs.get("state") or {}
    waiting = state.get("waiting")
    has_run = bool((cs.get("lastState") or {}).get("terminated"))
    if waiting and not has_run:
        reason = waiting.get("reason") or "ContainerCreating"
        if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
            return bad_request(f'container "{name}" in pod "{pod_name}" is waiting to start: trying and failing to '
                               "pull image")
        if reason == "PodInitializing":
            return bad_request(f'container "{name}" in pod "{pod_name}" is waiting to start: PodInitializing')
        return bad_request(f'container "{name}" in pod "{pod_name}" is waiting to start: {reason}')
    return None


def service_env(services: list[dict]) -> list[tuple[str, str]]:
    """The docker-links style variables the kubelet adds for each Service with a cluster IP."""
    out: list[tuple[str, str]] = []
    for svc in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or not spec.get("ports"):
            continue
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        ports = spec["ports"]
        first = ports[0]
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(first["port"])))
        for p in ports:
            if p.get("name"):
                out.append((f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}", str(p["port"])))
        proto = (first.get("protocol") or "TCP").lower()
        out.append((f"{prefix}_PORT", f"{proto}://{ip}:{first['port']}"))
        for p in ports:
            proto = (p.get("protocol") or "TCP")
            base = f"{prefix}_PORT_{p['port']}_{proto}"
            out.append((base, f"{proto.lower()}://{ip}:{p['port']}"))
            out.append((f"{base}_PROTO", proto.lower()))
            out.append((f"{base}_PORT", str(p["port"])))
            out.append((f"{base}_ADDR", ip))
    return out


def environment(api, pod: dict, container: dict) -> list[tuple[str, str]]:
    """The process environment of `container`: image env, spec env (resolved), service links, HOME."""
    image = catalog.lookup(container.get("image", ""))
    env: list[tuple[str, str]] = [("PATH", DEFAULT_PATH), ("HOSTNAME", pod["metadata"]["name"])]
    if image is not None:
        for key, value in IMAGE_ENV.get(image.name, []):
            env.append((key, value.replace("{version}", image.version)))
    ns = pod["metadata"].get("namespace", "default")
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        ref = source.get("configMapRef") or source.get("secretRef")
        if not ref:
            continue
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        try:
            obj = api.get(kind, ns, ref.get("name", ""))
        except errors.ApiError:
            continue
        for key, value in _data(obj).items():
            env.append((prefix + key, value))
    for item in container.get("env") or []:
        value = item.get("value")
        if value is None and item.get("valueFrom"):
            value = _value_from(api, pod, container, item["valueFrom"])
        env.append((item["name"], "" if value is None else str(value)))
    if (pod.get("spec") or {}).get("enableServiceLinks", True) is not False:
        services = [s for s in api.list("Service", ns)["items"]]
        if ns != "default":
            services += [s for s in api.list("Service", "default")["items"] if s["metadata"]["name"] == "kubernetes"]
        created = parse_rfc3339(pod["metadata"].get("creationTimestamp")) or 0
        visible = [s for s in services if (parse_rfc3339(s["metadata"].get("creationTimestamp")) or 0) <= created
                   or s["metadata"]["name"] == "kubernetes"]
        names = {k for k, _ in env}
        env.extend((k, v) for k, v in service_env(visible) if k not in names)
    env.append(("HOME", "/root"))
    seen: dict[str, int] = {}
    out: list[tuple[str, str]] = []
    for key, value in env:
        if key in seen:
            out[seen[key]] = (key, value)
        else:
            seen[key] = len(out)
            out.append((key, value))
    return out


def _data(obj: dict) -> dict[str, str]:
    import base64

    if obj.get("kind") == "Secret":
        out = {}
        for k, v in (obj.get("data") or {}).items():
            try:
                out[k] = base64.b64decode(v).decode("utf-8", "replace")
            except (ValueError, TypeError):
                out[k] = ""
        out.update(obj.get("stringData") or {})
        return out
    return dict(obj.get("data") or {})


def _value_from(api, pod: dict, container: dict, source: dict) -> str | None:
    ns = pod["metadata"].get("namespace", "default")
    if "configMapKeyRef" in source or "secretKeyRef" in source:
        ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
        kind = "ConfigMap" if "configMapKeyRef" in source else "Secret"
        try:
            return _data(api.get(kind, ns, ref.get("name", ""))).get(ref.get("key", ""))
        except errors.ApiError:
            return None
    if "fieldRef" in source:
        path = source["fieldRef"].get("fieldPath", "")
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
                  "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
                  "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
                  "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
                  "status.podIPs": status.get("podIP")}
        if path in simple:
            return simple[path]
        m = re.match(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if m:
            return (meta.get(m.group(1)) or {}).get(m.group(2))
        return None
    if "resourceFieldRef" in source:
        # Resolved as the kubelet does: limits default to the node's allocatable, values divide by the divisor.
        try:
            node = api.get("Node", "", (pod.get("spec") or {}).get("nodeName") or "")
        except errors.ApiError:
            node = {}
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        return downward.resource_field_value(container, allocatable, source["resourceFieldRef"])
    return None
