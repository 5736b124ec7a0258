"""Commands that change live objects: patch, label, annotate, scale, set image, expose, run, and the node
commands cordon, uncordon, drain, taint."""

from __future__ import annotations

import importlib.util
import json

import yaml

from engine import errors
from engine.apiserver import patch as patching
from engine.kubectl import printers
from engine.kubectl.base import ExitError, Process, api_error_text
from engine.kubectl.cmd_apply import DRY_RUN, OUTPUT, _result, dry_run_mode, dry_suffix, resource_name
from engine.kubectl.cmd_get import emit
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import ARRAY, BOOL, INT, SLICE, flag
from engine.kubectl.resources import Target, check_manifest, manifest_namespace, parse_targets, read_manifests
from engine.resources.registry import KindInfo

PATCH_TYPES = {"strategic": patching.STRATEGIC, "merge": patching.MERGE, "json": patching.JSON}


def _objects(inv: Invocation, allow_selector: bool = True) -> list[tuple[KindInfo, dict]]:
    """The objects named by args / -f / -l / --all, fetched."""
    f = inv.flags
    found: list[tuple[KindInfo, dict]] = []
    filenames = f.get("filename") or []
    if filenames:
        for m in read_manifests(filenames, inv.context, inv.stdin, f.get("recursive", False)):
            info = check_manifest(m)
            ns = manifest_namespace(info, m.obj, inv.namespace, inv.explicit_namespace)
            found.append((info, inv.api.get(info.kind, ns, m.obj["metadata"]["name"])))
        return found
    targets = parse_targets(inv.args)
    if not targets:
        raise inv.usage_error("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    selector = f.get("selector") or ""
    for t in targets:
        ns = inv.namespace if t.info.namespaced else ""
        if t.name:
            found.append((t.info, inv.api.get(t.info.kind, ns, t.name)))
        elif allow_selector and (selector or f.get("all")):
            all_ns = f.get("all-namespaces")
            listing = inv.api.list(t.info.kind, None if all_ns or not t.info.namespaced else ns,
                                   label_selector=selector or None)
            found.extend((t.info, o) for o in listing["items"])
        else:
            raise ExitError("resource(s) were provided, but no name was specified")
    return found


def _ns(obj: dict) -> str:
    return obj["metadata"].get("namespace", "")


# --- patch --------------------------------------------------------------------------------------


def patch(inv: Invocation) -> None:
    f = inv.flags
    text = f["patch"]
    if f["patch-file"]:
        text = inv.context.read_file(f["patch-file"])
        if text is None:
            raise ExitError(f"unable to read patch file: open {f['patch-file']}: no such file or directory")
    if not text:
        raise ExitError("must specify --patch or --patch-file containing the contents of the patch")
    kind = f["type"] or "strategic"
    if kind not in PATCH_TYPES:
        raise ExitError(f'--type must be one of [json merge strategic], not "{kind}"')
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ExitError(f'unable to parse "{text}": yaml: {getattr(exc, "problem", exc)}') from None
    if body is None or isinstance(body, (str, int, float)):
        raise ExitError(f'unable to parse "{text}": json: cannot unmarshal {type(body).__name__} into Go value of '
                        "type map[string]interface {}")
    mode = dry_run_mode(inv)
    for info, obj in _objects(inv, allow_selector=False):
        name = obj["metadata"]["name"]
        patched = inv.api.patch(info.kind, _ns(obj), name, body, PATCH_TYPES[kind],
                                subresource=f["subresource"] or None,
                                ctx=inv.request("kubectl-patch", dry_run=mode != "none"))
        if f["output"]:
            fmt, arg = printers.parse_output(f["output"])
            emit(inv, fmt, arg, patched, [(info, patched)])
            continue
        same = patched.get("metadata", {}).get("resourceVersion") == obj["metadata"].get("resourceVersion") and \
            _without_rv(patched) == _without_rv(obj)
        suffix = " (no change)" if same else ""
        inv.write(f"{resource_name(info, name)} patched{suffix}{dry_suffix(mode)}\n")


def _without_rv(obj: dict) -> dict:
    copy = json.loads(json.dumps(obj))
    copy.get("metadata", {}).pop("resourceVersion", None)
    copy.get("metadata", {}).pop("managedFields", None)
    return copy


# --- label / annotate ---------------------------------------------------------------------------


def _parse_pairs(args: list[str], what: str) -> tuple[list[str], dict[str, str], list[str]]:
    """Split args into resources, key=value changes and key- removals."""
    resources, adds, removes = [], {}, []
    for arg in args:
        if "=" in arg:
            key, _, value = arg.partition("=")
            if not key:
                raise ExitError(f"invalid {what} spec: {arg}")
            adds[key] = value
        elif arg.endswith("-") and len(arg) > 1 and resources != [] or (arg.endswith("-") and resources):
            removes.append(arg[:-1])
        else:
            resources.append(arg)
    return resources, adds, removes


def _label_like(inv: Invocation, field: str, noun: str) -> None:
    f = inv.flags
    resources, adds, removes = _parse_pairs(inv.args, noun)
    if f["list"]:
        inv.flags.args = resources
        for _info, obj in _objects(inv):
            values = obj["metadata"].get(field) or {}
            for key in sorted(values):
                inv.write(f"{key}={values[key]}\n")
        return
    if not adds and not removes:
        raise inv.usage_error(f"at least one {noun} update is required")
    inv.flags.args = resources
    mode = dry_run_mode(inv)
    for key in set(adds) & set(removes):
        raise ExitError(f"can not both modify and remove the following {noun}(s) in the same command: {key}")
    for info, obj in _objects(inv):
        current = dict(obj["metadata"].get(field) or {})
        if not f["overwrite"]:
            for key, value in adds.items():
                if key in current and current[key] != value:
                    raise ExitError(f"'{key}' already has a value ({current[key]}), and --overwrite is false")
        rv = f["resource-version"]
        new = dict(current)
        for key in removes:
            if key not in new:
                inv.error(f'{noun} "{key}" not found.\n')
            new.pop(key, None)
        new.update(adds)
        name = obj["metadata"]["name"]
        if new == current:
            msg = f"not {noun}ed" if noun == "label" else f"{noun}d"
        elif noun == "label" and not f["overwrite"] and len(json.dumps(new)) < len(json.dumps(current)):
            msg = "unlabeled"
        else:
            msg = f"{noun}ed" if noun == "label" else f"{noun}d"
        if new != current:
            body: dict = {"metadata": {field: {k: v for k, v in new.items() if current.get(k) != v}}}
            for key in current:
                if key not in new:
                    body["metadata"][field][key] = None
            if rv:
                body["metadata"]["resourceVersion"] = rv
            obj = inv.api.patch(info.kind, _ns(obj), name, body, patching.MERGE,
                                ctx=inv.request("kubectl-" + noun, dry_run=mode != "none"))
        if f["output"]:
            fmt, arg = printers.parse_output(f["output"])
            emit(inv, fmt, arg, obj, [(info, obj)])
        else:
            inv.write(f"{resource_name(info, name)} {msg}{dry_suffix(mode)}\n")


def label(inv: Invocation) -> None:
    _label_like(inv, "labels", "label")


def annotate(inv: Invocation) -> None:
    _label_like(inv, "annotations", "annotate")


# --- scale --------------------------------------------------------------------------------------


SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")


def scale(inv: Invocation) -> None:
    f = inv.flags
    if not f.has("replicas"):
        raise ExitError('required flag(s) "replicas" not set')
    if f["replicas"] < 0:
        raise ExitError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    mode = dry_run_mode(inv)
    for info, obj in _objects(inv):
        name = obj["metadata"]["name"]
        if info.kind not in SCALABLE and info.kind != "Job":
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        current = (obj.get("spec") or {}).get("replicas")
        if f["current-replicas"] >= 0 and current != f["current-replicas"]:
            raise ExitError(f"Expected replicas to be {f['current-replicas']}, was {current}")
        if mode != "client":
            inv.api.patch(info.kind, _ns(obj), name, {"spec": {"replicas": f["replicas"]}}, patching.MERGE,
                          subresource="scale" if info.kind != "Job" else None,
                          ctx=inv.request("kubectl-scale", dry_run=mode == "server"))
        inv.write(f"{resource_name(info, name)} scaled{dry_suffix(mode)}\n")


# --- set image ----------------------------------------------------------------------------------


def _pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("spec")
    if kind == "CronJob":
        return (((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
    return ((obj.get("spec") or {}).get("template") or {}).get("spec")


def _spec_path(kind: str) -> list[str]:
    if kind == "Pod":
        return ["spec"]
    if kind == "CronJob":
        return ["spec", "jobTemplate", "spec", "template", "spec"]
    return ["spec", "template", "spec"]


def set_image(inv: Invocation) -> None:
    pairs = [a for a in inv.args if "=" in a]
    inv.flags.args = [a for a in inv.args if "=" not in a]
    if not pairs:
        raise inv.usage_error("at least one image update is required")
    images = {}
    for pair in pairs:
        name, _, image = pair.partition("=")
        images[name] = image
    mode = dry_run_mode(inv)
    for info, obj in _objects(inv):
        spec = _pod_spec(obj)
        if spec is None:
            raise ExitError(f"error: {info.plural} \"{obj['metadata']['name']}\" does not have pod template")
        containers = [("containers", c) for c in spec.get("containers") or []] + \
            [("initContainers", c) for c in spec.get("initContainers") or []]
        changes: dict[str, list[dict]] = {}
        for wanted, image in images.items():
            matched = False
            for field, container in containers:
                if wanted == "*" or container.get("name") == wanted:
                    matched = True
                    if container.get("image") != image:
                        changes.setdefault(field, []).append({"name": container["name"], "image": image})
            if not matched:
                raise ExitError(f'unable to find container named "{wanted}"')
        name = obj["metadata"]["name"]
        if not changes:
            continue
        body: dict = {}
        cursor = body
        for part in _spec_path(info.kind):
            cursor = cursor.setdefault(part, {})
        cursor.update(changes)
        if mode != "client":
            obj = inv.api.patch(info.kind, _ns(obj), name, body, patching.STRATEGIC,
                                ctx=inv.request("kubectl-set", dry_run=mode == "server"))
        if inv.flags["output"]:
            fmt, arg = printers.parse_output(inv.flags["output"])
            emit(inv, fmt, arg, obj, [(info, obj)])
        else:
            inv.write(f"{resource_name(info, name)} image updated{dry_suffix(mode)}\n")


def set_env(inv: Invocation) -> None:
    pairs = [a for a in inv.args if "=" in a or (a.endswith("-") and "/" not in a and a[:-1].isupper())]
    inv.flags.args = [a for a in inv.args if a not in pairs]
    mode = dry_run_mode(inv)
    for info, obj in _objects(inv):
        spec = _pod_spec(obj)
        if spec is None:
            raise ExitError(f"{info.plural} \"{obj['metadata']['name']}\" does not have pod template")
        if inv.flags["list"]:
            for c in spec.get("containers") or []:
                inv.write(f"# {info.kind.lower()}s/{obj['metadata']['name']}, container {c['name']}\n")
                for e in c.get("env") or []:
                    if "value" in e:
                        inv.write(f"{e['name']}={e['value']}\n")
                    else:
                        inv.write(f"# {e['name']} from a reference\n")
            continue
        containers = []
        for c in spec.get("containers") or []:
            if inv.flags["containers"] not in ("*", c["name"]):
                continue
            env = list(c.get("env") or [])
            for pair in pairs:
                if pair.endswith("-") and "=" not in pair:
                    env = [e for e in env if e.get("name") != pair[:-1]]
                    continue
                key, _, value = pair.partition("=")
                env = [e for e in env if e.get("name") != key] + [{"name": key, "value": value}]
            containers.append({"name": c["name"], "env": env})
        body: dict = {}
        cursor = body
        for part in _spec_path(info.kind):
            cursor = cursor.setdefault(part, {})
        cursor["containers"] = containers
        name = obj["metadata"]["name"]
        for c in containers:
            if not c["env"]:
                c["env"] = None
        if mode != "client":
            inv.api.patch(info.kind, _ns(obj), name, body, patching.STRATEGIC,
                          ctx=inv.request("kubectl-set", dry_run=mode == "server"))
        inv.write(f"{resource_name(info, name)} env updated{dry_suffix(mode)}\n")


# --- expose -------------------------------------------------------------------------------------


def expose(inv: Invocation) -> None:
    f = inv.flags
    found = _objects(inv, allow_selector=False)
    mode = dry_run_mode(inv)
    for info, obj in found:
        name = f["name"] or obj["metadata"]["name"]
        if info.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            sel = (obj.get("spec") or {}).get("selector") or {}
            if sel.get("matchExpressions"):
                raise ExitError("couldn't retrieve selectors via --selector flag or introspection: the "
                                "matchExpressions are not supported in the service selector")
            selector = dict(sel.get("matchLabels") or {})
            pod_spec = _pod_spec(obj) or {}
            labels = dict(obj["metadata"].get("labels") or {})
        elif info.kind == "ReplicationController":
            selector = dict((obj.get("spec") or {}).get("selector") or {})
            pod_spec = _pod_spec(obj) or {}
            labels = dict(obj["metadata"].get("labels") or {})
        elif info.kind == "Pod":
            selector = dict(obj["metadata"].get("labels") or {})
            pod_spec = obj.get("spec") or {}
            labels = dict(selector)
            if not selector:
                raise ExitError("couldn't retrieve selectors via --selector flag or introspection: the pod has no "
                                "labels and cannot be exposed")
        elif info.kind == "Service":
            selector = dict((obj.get("spec") or {}).get("selector") or {})
            pod_spec = {}
            labels = dict(obj["metadata"].get("labels") or {})
        else:
            raise ExitError(f"cannot expose a {info.kind}")
        if f["selector"]:
            selector = dict(part.split("=", 1) for part in f["selector"].split(",") if "=" in part)
        if f["labels"]:
            labels = dict(part.split("=", 1) for part in f["labels"].split(",") if "=" in part)
        protocol = f["protocol"] or "TCP"
        ports: list[dict] = []
        if f["port"]:
            ports = [{"port": int(f["port"]), "protocol": protocol}]
        else:
            found_ports = []
            if info.kind == "Service":
                found_ports = [(p.get("port"), p.get("protocol") or "TCP")
                               for p in (obj.get("spec") or {}).get("ports") or []]
            else:
                for c in pod_spec.get("containers") or []:
                    for p in c.get("ports") or []:
                        found_ports.append((p.get("containerPort"), p.get("protocol") or "TCP"))
            if not found_ports:
                raise ExitError("couldn't find port via --port flag or introspection\nSee 'kubectl expose -h' for "
                                "help and examples")
            ports = [{"port": int(port), "protocol": f["protocol"] or proto} for port, proto in found_ports]
        if len(ports) > 1:
            for i, p in enumerate(ports, 1):
                p["name"] = f"port-{i}"
        for p in ports:
            if f["target-port"]:
                target = f["target-port"]
                p["targetPort"] = int(target) if str(target).isdigit() else target
            else:
                p["targetPort"] = p["port"]
            if f["node-port"]:
                p["nodePort"] = f["node-port"]
        svc: dict = {"apiVersion": "v1", "kind": "Service",
                     "metadata": {"creationTimestamp": None, "name": name},
                     "spec": {"ports": [dict(sorted(p.items())) for p in ports], "selector": selector},
                     "status": {"loadBalancer": {}}}
        if labels:
            svc["metadata"]["labels"] = labels
        if f["type"]:
            svc["spec"]["type"] = f["type"]
        if f["cluster-ip"]:
            svc["spec"]["clusterIP"] = f["cluster-ip"]
        if f["external-ip"]:
            svc["spec"]["externalIPs"] = [f["external-ip"]]
        from engine.resources.registry import by_kind

        svc_info = by_kind("Service")
        if mode == "client":
            if f["output"]:
                fmt, arg = printers.parse_output(f["output"])
                emit(inv, fmt, arg, svc, [(svc_info, svc)])
            else:
                inv.write(f"service/{name} exposed (dry run)\n")
            continue
        created = inv.api.create(svc, inv.namespace, ctx=inv.request("kubectl-expose", dry_run=mode == "server"))
        if f["output"]:
            fmt, arg = printers.parse_output(f["output"])
            emit(inv, fmt, arg, created, [(svc_info, created)])
        else:
            inv.write(f"service/{name} exposed{dry_suffix(mode)}\n")


# --- run -----------------------------------------------------------------------------------------


def _parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for part in text.split(","):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ExitError(f"invalid label spec: {part}")
        labels[key] = value
    return labels


def run_pod(inv: Invocation) -> Process | None:
    f = inv.flags
    names = inv.args[: f.dash_at] if f.dash_at >= 0 else inv.args
    if not names:
        raise inv.usage_error("NAME is required for run")
    name = names[0]
    rest = inv.args[f.dash_at:] if f.dash_at >= 0 else names[1:]
    if not f["image"]:
        raise ExitError('required flag(s) "image" not set')
    restart = f["restart"] or "Always"
    if restart not in ("Always", "OnFailure", "Never"):
        raise ExitError(f"invalid restart policy: {restart}")
    interactive = f["stdin"]
    tty = f["tty"]
    if f["rm"] and not interactive and not f["attach"]:
        raise ExitError("--rm should only be used for attached containers")
    if tty and not interactive:
        raise ExitError("-i/--stdin is required for containers with -t/--tty=true")
    labels = _parse_labels(f["labels"]) if f["labels"] else {"run": name}
    container: dict = {"image": f["image"], "name": name, "resources": {}}
    if rest:
        if f["command"]:
            container["command"] = rest
        else:
            container["args"] = rest
    if f["port"]:
        container["ports"] = [{"containerPort": int(f["port"])}]
    env = []
    for item in f["env"]:
        key, _, value = item.partition("=")
        env.append({"name": key, "value": value})
    if env:
        container["env"] = env
    if f["image-pull-policy"]:
        container["imagePullPolicy"] = f["image-pull-policy"]
    if interactive:
        container["stdin"] = True
        container["stdinOnce"] = True
        if tty:
            container["tty"] = True
    pod: dict = {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"creationTimestamp": None, "labels": labels, "name": name},
                 "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": restart},
                 "status": {}}
    if f["annotations"]:
        pod["metadata"]["annotations"] = dict(a.split("=", 1) for a in f["annotations"] if "=" in a)
    if f["overrides"]:
        try:
            override = json.loads(f["overrides"])
        except ValueError as exc:
            raise ExitError(f"unable to parse overrides: {exc}") from None
        pod = patching.strategic_merge(pod, override)
    mode = dry_run_mode(inv)
    from engine.resources.registry import by_kind

    info = by_kind("Pod")
    if mode == "client":
        shown = json.loads(json.dumps(pod))
        if inv.explicit_namespace:
            shown["metadata"]["namespace"] = inv.namespace
        _result(inv, info, shown, "created", mode)
        return None
    created = inv.api.create(pod, inv.namespace, ctx=inv.request("kubectl-run", dry_run=mode == "server"))
    if not interactive and not f["attach"]:
        _result(inv, info, created, "created", mode)
        return None
    from engine.kubectl.cmd_logs import AttachRun

    return AttachRun(inv, created, tty=tty, remove=f["rm"], quiet=f["quiet"])


# --- nodes ---------------------------------------------------------------------------------------


def _nodes(inv: Invocation) -> list[dict]:
    f = inv.flags
    if f.get("selector") and not inv.args:
        return inv.api.list("Node", None, label_selector=f["selector"])["items"]
    if not inv.args:
        raise inv.usage_error("USAGE: cordon NODE [flags]" if inv.command.name == "cordon" else
                              f"USAGE: {inv.command.name} NODE [flags]")
    nodes = []
    for arg in inv.args:
        name = arg.split("/", 1)[1] if "/" in arg else arg
        nodes.append(inv.api.get("Node", "", name))
    return nodes


def _drain_module():
    if importlib.util.find_spec("engine.drain") is None:
        return None
    import engine.drain as drain  # type: ignore[import-not-found]

    return drain


def _set_unschedulable(inv: Invocation, node: dict, value: bool) -> str:
    name = node["metadata"]["name"]
    current = bool((node.get("spec") or {}).get("unschedulable"))
    word = "cordoned" if value else "uncordoned"
    if current == value:
        return f"node/{name} already {word}\n"
    mode = dry_run_mode(inv)
    if mode != "client":
        inv.api.patch("Node", "", name, {"spec": {"unschedulable": True if value else None}}, patching.STRATEGIC,
                      ctx=inv.request("kubectl-cordon", dry_run=mode == "server"))
    return f"node/{name} {word}{dry_suffix(mode)}\n"


def cordon(inv: Invocation) -> None:
    for node in _nodes(inv):
        inv.write(_set_unschedulable(inv, node, True))


def uncordon(inv: Invocation) -> None:
    for node in _nodes(inv):
        inv.write(_set_unschedulable(inv, node, False))


class DrainProcess(Process):
    def __init__(self, inv: Invocation, node: str, pods: list[dict]):
        super().__init__(inv.out)
        self.inv = inv
        self.node = node
        self.pods = pods

    def step(self, now: float) -> None:
        left = []
        for pod in self.pods:
            meta = pod["metadata"]
            try:
                current = self.inv.api.get("Pod", meta["namespace"], meta["name"])
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
                current = None
            if current is not None and current["metadata"]["uid"] == meta["uid"]:
                left.append(pod)
            else:
                self.output.write(f"pod/{meta['name']} evicted\n")
        self.pods = left
        if not left:
            self.output.write(f"node/{self.node} drained\n")
            self.finish(0)


def drain(inv: Invocation) -> Process | None:
    f = inv.flags
    nodes = _nodes(inv)
    node = nodes[0]
    name = node["metadata"]["name"]
    inv.write(_set_unschedulable(inv, node, True))
    pods = inv.api.list("Pod", None, field_selector=f"spec.nodeName={name}")["items"]
    daemon, unmanaged, evict = [], [], []
    for pod in pods:
        owners = [o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")]
        if any(o.get("kind") == "DaemonSet" for o in owners):
            daemon.append(pod)
        elif not owners and not f["force"]:
            unmanaged.append(pod)
        else:
            evict.append(pod)
    problems = []
    if unmanaged:
        problems.append("cannot delete Pods declare no controller (use --force to override): " +
                        ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in unmanaged))
    if daemon and not f["ignore-daemonsets"]:
        problems.append("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): " +
                        ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in daemon))
    if problems:
        joined = ", ".join(problems)
        raise ExitError(f'unable to drain node "{name}" due to error: {joined}, continuing command...\n'
                        f"There are pending nodes to be drained:\n {name}\n" + "\n".join(problems))
    if daemon:
        inv.error("Warning: ignoring DaemonSet-managed Pods: " +
                  ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in daemon) + "\n")
    if dry_run_mode(inv) == "client":
        for pod in evict:
            inv.write(f"evicting pod {pod['metadata']['namespace']}/{pod['metadata']['name']} (dry run)\n")
        inv.write(f"node/{name} drained (dry run)\n")
        return None
    drain_mod = _drain_module()
    for pod in evict:
        meta = pod["metadata"]
        inv.write(f"evicting pod {meta['namespace']}/{meta['name']}\n")
        if drain_mod is not None and hasattr(drain_mod, "evict"):
            try:
                drain_mod.evict(inv.api, meta["namespace"], meta["name"])
                continue
            except TypeError:
                pass
        grace = f["grace-period"] if f["grace-period"] >= 0 else None
        try:
            inv.api.delete("Pod", meta["namespace"], meta["name"], grace_period_seconds=grace)
        except errors.ApiError as exc:
            if exc.code != 404:
                inv.error(api_error_text(exc) + "\n")
    proc = DrainProcess(inv, name, evict)
    proc.step(inv.now)
    return None if proc.done else proc


def taint(inv: Invocation) -> None:
    args = list(inv.args)
    if not args:
        raise inv.usage_error("at least one taint update is required")
    kind = args.pop(0)
    if kind.startswith("node/") or kind.startswith("nodes/"):
        node_names = [kind.split("/", 1)[1]]
    elif kind in ("node", "nodes", "no"):
        node_names = []
        while args and ":" not in args[0] and "=" not in args[0] and not args[0].endswith("-"):
            node_names.append(args.pop(0))
    else:
        raise ExitError(f"invalid resource type {kind}, only node types are supported")
    if not args:
        raise inv.usage_error("at least one taint update is required")
    adds, removes = [], []
    for spec in args:
        if spec.endswith("-"):
            body = spec[:-1]
            key, _, effect = body.partition(":")
            key = key.split("=")[0]
            removes.append((key, effect))
            continue
        key_value, sep, effect = spec.partition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ExitError(f"invalid taint spec: {spec}, unknown taint effect: {effect}" if sep else
                            f"invalid taint spec: {spec}")
        key, _, value = key_value.partition("=")
        taint_obj = {"effect": effect, "key": key}
        if value:
            taint_obj["value"] = value
        adds.append(taint_obj)
    nodes = [inv.api.get("Node", "", n) for n in node_names] if node_names else \
        inv.api.list("Node", None, label_selector=inv.flags["selector"] or None)["items"] if inv.flags["all"] or \
        inv.flags["selector"] else []
    for node in nodes:
        name = node["metadata"]["name"]
        taints = list((node.get("spec") or {}).get("taints") or [])
        for t in adds:
            same = [x for x in taints if x.get("key") == t["key"] and x.get("effect") == t["effect"]]
            if same and not inv.flags["overwrite"]:
                raise ExitError(f"node {name} already has {t['key']} taint(s) with same effect(s) and --overwrite is "
                                "false")
            taints = [x for x in taints if not (x.get("key") == t["key"] and x.get("effect") == t["effect"])] + [t]
        for key, effect in removes:
            before = len(taints)
            taints = [x for x in taints if not (x.get("key") == key and (not effect or x.get("effect") == effect))]
            if len(taints) == before:
                raise ExitError(f"taint \"{key}{':' + effect if effect else ''}\" not found")
        inv.api.patch("Node", "", name, {"spec": {"taints": taints or None}}, patching.MERGE,
                      ctx=inv.request("kubectl-taint"))
        word = "untainted" if removes and not adds else "tainted"
        inv.write(f"node/{name} modified\n" if adds and removes else f"node/{name} {word}\n")


_SELECTOR = flag("selector", short="l", help="Selector (label query) to filter on, supports '=', '==', and '!='.")
_FILENAME = flag("filename", SLICE, short="f", help="Filename, directory, or URL to files identifying the resource.")
_ALL = flag("all", BOOL, help="Select all resources, in the namespace of the specified resource types")
_ALLNS = flag("all-namespaces", BOOL, short="A", help="If true, check the specified action in all namespaces.")

SET = Command("set", "Set specific features on objects", usage="kubectl set SUBCOMMAND [options]",
              long="Configure application resources.\n\n These commands help you make changes to existing application "
                   "resources.", group="Basic Commands (Beginner)")
SET.add(
    Command("image", "Update the image of a pod template",
            usage="kubectl set image (-f FILENAME | TYPE NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... "
                  "CONTAINER_NAME_N=CONTAINER_IMAGE_N [options]",
            examples="  # Set a deployment's nginx container image to 'nginx:1.9.1', and its busybox container image "
                     "to 'busybox'\n  kubectl set image deployment/nginx busybox=busybox nginx=nginx:1.9.1\n\n"
                     "  # Update image of all containers of deployment frontend to 'nginx:1.9.1'\n"
                     "  kubectl set image deployment/frontend *=nginx:1.9.1",
            flags=[_FILENAME, _SELECTOR, _ALL, DRY_RUN, OUTPUT,
                   flag("local", BOOL, help="If true, set image will NOT contact api-server but run locally."),
                   flag("record", BOOL, help="Record current kubectl command in the resource annotation.",
                        hidden=True)],
            handler=set_image),
    Command("env", "Update environment variables on a pod template",
            usage="kubectl set env RESOURCE/NAME KEY_1=VAL_1 ... KEY_N=VAL_N [options]",
            flags=[_FILENAME, _SELECTOR, _ALL, DRY_RUN, OUTPUT,
                   flag("list", BOOL, help="If true, display the environment and any changes in the standard "
                        "format."),
                   flag("containers", short="c", default="*", help="The names of containers in the selected pod "
                        "templates to change - may use wildcards")],
            handler=set_env),
)

COMMANDS = [
    Command("patch", "Update fields of a resource",
            usage="kubectl patch (-f FILENAME | TYPE NAME) [-p PATCH|--patch-file FILE] [options]",
            examples="  # Partially update a node using a strategic merge patch, specifying the patch as JSON\n"
                     "  kubectl patch node k8s-node-1 -p '{\"spec\":{\"unschedulable\":true}}'\n\n"
                     "  # Update a container's image; spec.containers[*].name is required because it's a merge key\n"
                     "  kubectl patch pod valid-pod -p '{\"spec\":{\"containers\":[{\"name\":\"kubernetes-serve-"
                     "hostname\",\"image\":\"new image\"}]}}'\n\n"
                     "  # Update a container's image using a JSON patch with positional arrays\n"
                     "  kubectl patch pod valid-pod --type='json' -p='[{\"op\": \"replace\", \"path\": \"/spec/"
                     "containers/0/image\", \"value\":\"new image\"}]'",
            flags=[_FILENAME, DRY_RUN, OUTPUT,
                   flag("patch", short="p", help="The patch to be applied to the resource JSON file."),
                   flag("patch-file", help="A file containing a patch to be applied to the resource."),
                   flag("type", default="strategic", help="The type of patch being provided; one of [json merge "
                        "strategic]"),
                   flag("local", BOOL, help="If true, patch will operate on the content of the file, not the "
                        "server-side resource."),
                   flag("subresource", help="If specified, patch will operate on the subresource of the requested "
                        "object.")],
            handler=patch, group="Advanced Commands"),
    Command("label", "Update the labels on a resource",
            usage="kubectl label [--overwrite] (-f FILENAME | TYPE NAME) KEY_1=VAL_1 ... KEY_N=VAL_N "
                  "[--resource-version=version] [options]",
            examples="  # Update pod 'foo' with the label 'unhealthy' and the value 'true'\n"
                     "  kubectl label pods foo unhealthy=true\n\n"
                     "  # Update pod 'foo' with the label 'status' and the value 'unhealthy', overwriting any "
                     "existing value\n  kubectl label --overwrite pods foo status=unhealthy\n\n"
                     "  # Update pod 'foo' by removing a label named 'bar' if it exists\n"
                     "  # Does not require the --overwrite flag\n  kubectl label pods foo bar-",
            flags=[_FILENAME, _SELECTOR, _ALL, _ALLNS, DRY_RUN, OUTPUT,
                   flag("overwrite", BOOL, help="If true, allow labels to be overwritten, otherwise reject label "
                        "updates that overwrite existing labels."),
                   flag("list", BOOL, help="If true, display the labels for a given resource."),
                   flag("local", BOOL, help="If true, label will NOT contact api-server but run locally."),
                   flag("resource-version", help="If non-empty, the labels update will only succeed if this is the "
                        "current resource-version for the object. Only valid when specifying a single resource."),
                   flag("field-selector", help="Selector (field query) to filter on.")],
            handler=label, group="Settings Commands"),
    Command("annotate", "Update the annotations on a resource",
            usage="kubectl annotate [--overwrite] (-f FILENAME | TYPE NAME) KEY_1=VAL_1 ... KEY_N=VAL_N "
                  "[--resource-version=version] [options]",
            examples="  # Update pod 'foo' with the annotation 'description' and the value 'my frontend'\n"
                     "  kubectl annotate pods foo description='my frontend'\n\n"
                     "  # Update pod 'foo' by removing an annotation named 'description' if it exists\n"
                     "  # Does not require the --overwrite flag\n  kubectl annotate pods foo description-",
            flags=[_FILENAME, _SELECTOR, _ALL, _ALLNS, DRY_RUN, OUTPUT,
                   flag("overwrite", BOOL, help="If true, allow annotations to be overwritten, otherwise reject "
                        "annotation updates that overwrite existing annotations."),
                   flag("list", BOOL, help="If true, display the annotations for a given resource."),
                   flag("local", BOOL, help="If true, annotation will NOT contact api-server but run locally."),
                   flag("resource-version", help="If non-empty, the annotation update will only succeed if this is "
                        "the current resource-version for the object."),
                   flag("field-selector", help="Selector (field query) to filter on.")],
            handler=annotate, group="Settings Commands"),
    Command("scale", "Set a new size for a deployment, replica set, or replication controller",
            usage="kubectl scale [--resource-version=version] [--current-replicas=count] --replicas=COUNT (-f "
                  "FILENAME | TYPE NAME) [options]",
            examples="  # Scale a replica set named 'foo' to 3\n  kubectl scale --replicas=3 rs/foo\n\n"
                     "  # Scale a resource identified by type and name specified in \"foo.yaml\" to 3\n"
                     "  kubectl scale --replicas=3 -f foo.yaml",
            flags=[_FILENAME, _SELECTOR, _ALL, DRY_RUN, OUTPUT,
                   flag("replicas", INT, help="The new desired number of replicas. Required."),
                   flag("current-replicas", INT, default=-1, help="Precondition for current size. Requires that the "
                        "current size of the resource match this value in order to scale. -1 (default) for no "
                        "condition."),
                   flag("resource-version", help="Precondition for resource version."),
                   flag("timeout", default="0s", help="The length of time to wait before giving up on a scale "
                        "operation, zero means don't wait.")],
            handler=scale, group="Deploy Commands"),
    SET,
    Command("expose", "Take a replication controller, service, deployment or pod and expose it as a new Kubernetes "
            "service",
            usage="kubectl expose (-f FILENAME | TYPE NAME) [--port=port] [--protocol=TCP|UDP|SCTP] "
                  "[--target-port=number-or-name] [--name=name] [--external-ip=external-ip-of-service] "
                  "[--type=type] [options]",
            examples="  # Create a service for an nginx deployment, which serves on port 80 and connects to the "
                     "containers on port 8000\n  kubectl expose deployment nginx --port=80 --target-port=8000",
            flags=[_FILENAME, DRY_RUN, OUTPUT,
                   flag("port", help="The port that the service should serve on."),
                   flag("target-port", help="Name or number for the port on the container that the service should "
                        "direct traffic to. Optional."),
                   flag("protocol", help="The network protocol for the service to be created. Default is 'TCP'."),
                   flag("name", help="The name for the newly created object."),
                   flag("type", help="Type for this service: ClusterIP, NodePort, LoadBalancer, or ExternalName. "
                        "Default is 'ClusterIP'."),
                   flag("selector", help="A label selector to use for this service."),
                   flag("labels", short="l", help="Labels to apply to the service created by this call."),
                   flag("external-ip", help="Additional external IP address (not managed by Kubernetes) to accept "
                        "for the service."),
                   flag("cluster-ip", help="ClusterIP to be assigned to the service. Leave empty to auto-allocate, or "
                        "set to 'None' to create a headless service."),
                   flag("node-port", INT, hidden=True, help="Port used to expose the service on each node."),
                   flag("session-affinity", help="If non-empty, set the session affinity for the service to this; "
                        "legal values: 'None', 'ClientIP'")],
            handler=expose, group="Basic Commands (Beginner)"),
    Command("run", "Run a particular image on the cluster",
            usage="kubectl run NAME --image=image [--env=\"key=value\"] [--port=port] [--dry-run=server|client] "
                  "[--overrides=inline-json] [--command] -- [COMMAND] [args...] [options]",
            long="Create and run a particular image in a pod.",
            examples="  # Start a nginx pod\n  kubectl run nginx --image=nginx\n\n"
                     "  # Start a hazelcast pod and let the container expose port 5701\n"
                     "  kubectl run hazelcast --image=hazelcast/hazelcast --port=5701\n\n"
                     "  # Start a hazelcast pod and set environment variables \"DNS_DOMAIN=cluster\" and "
                     "\"POD_NAMESPACE=default\" in the container\n  kubectl run hazelcast "
                     "--image=hazelcast/hazelcast --env=\"DNS_DOMAIN=cluster\" --env=\"POD_NAMESPACE=default\"\n\n"
                     "  # Start a busybox pod and keep it in the foreground, don't restart it if it exits\n"
                     "  kubectl run -i -t busybox --image=busybox --restart=Never",
            flags=[DRY_RUN, OUTPUT,
                   flag("image", help="The image for the container to run."),
                   flag("port", help="The port that this container exposes."),
                   flag("env", ARRAY, help="Environment variables to set in the container."),
                   flag("labels", short="l", help="Comma separated labels to apply to the pod. Will override "
                        "previous values."),
                   flag("annotations", ARRAY, help="Annotations to apply to the pod."),
                   flag("restart", default="Always", help="The restart policy for this Pod.  Legal values [Always, "
                        "OnFailure, Never]."),
                   flag("command", BOOL, help="If true and extra arguments are present, use them as the 'command' "
                        "field in the container, rather than the 'args' field which is the default."),
                   flag("stdin", BOOL, short="i", help="Keep stdin open on the container in the pod, even if nothing "
                        "is attached."),
                   flag("tty", BOOL, short="t", help="Allocate a TTY for the container in the pod."),
                   flag("rm", BOOL, help="If true, delete the pod after it exits.  Only valid when attaching to the "
                        "container, e.g. with '--attach' or with '-i/--stdin'."),
                   flag("attach", BOOL, help="If true, wait for the Pod to start running, and then attach to the Pod "
                        "as if 'kubectl attach ...' were called."),
                   flag("quiet", BOOL, short="q", help="If true, suppress prompt messages."),
                   flag("image-pull-policy", help="The image pull policy for the container."),
                   flag("overrides", help="An inline JSON override for the generated object."),
                   flag("privileged", BOOL, help="If true, run the container in privileged mode."),
                   flag("expose", BOOL, help="If true, create a ClusterIP service associated with the pod."),
                   flag("pod-running-timeout", default="1m0s", help="The length of time to wait until at least one "
                        "pod is running")],
            handler=run_pod, group="Basic Commands (Beginner)"),
    Command("cordon", "Mark node as unschedulable", usage="kubectl cordon NODE [options]",
            examples="  # Mark node \"foo\" as unschedulable\n  kubectl cordon foo",
            flags=[_SELECTOR, DRY_RUN], handler=cordon, group="Cluster Management Commands"),
    Command("uncordon", "Mark node as schedulable", usage="kubectl uncordon NODE [options]",
            examples="  # Mark node \"foo\" as schedulable\n  kubectl uncordon foo",
            flags=[_SELECTOR, DRY_RUN], handler=uncordon, group="Cluster Management Commands"),
    Command("drain", "Drain node in preparation for maintenance", usage="kubectl drain NODE [options]",
            examples="  # Drain node \"foo\", even if there are pods not managed by a replication controller, replica "
                     "set, job, daemon set, or stateful set on it\n  kubectl drain foo --force",
            flags=[_SELECTOR, DRY_RUN,
                   flag("force", BOOL, help="Continue even if there are pods that do not declare a controller."),
                   flag("ignore-daemonsets", BOOL, help="Ignore DaemonSet-managed pods."),
                   flag("delete-emptydir-data", BOOL, help="Continue even if there are pods using emptyDir (local "
                        "data that will be deleted when the node is drained)."),
                   flag("grace-period", INT, default=-1, help="Period of time in seconds given to each pod to "
                        "terminate gracefully. If negative, the default value specified in the pod will be used."),
                   flag("timeout", default="0s", help="The length of time to wait before giving up, zero means "
                        "infinite"),
                   flag("disable-eviction", BOOL, help="Force drain to use delete, even if eviction is supported."),
                   flag("pod-selector", help="Label selector to filter pods on the node")],
            handler=drain, group="Cluster Management Commands"),
    Command("taint", "Update the taints on one or more nodes",
            usage="kubectl taint NODE NAME KEY_1=VAL_1:TAINT_EFFECT_1 ... KEY_N=VAL_N:TAINT_EFFECT_N [options]",
            examples="  # Update node 'foo' with a taint with key 'dedicated' and value 'special-user' and effect "
                     "'NoSchedule'\n  # If a taint with that key and effect already exists, its value is replaced as "
                     "specified\n  kubectl taint nodes foo dedicated=special-user:NoSchedule\n\n"
                     "  # Remove from node 'foo' the taint with key 'dedicated' and effect 'NoSchedule' if one exists\n"
                     "  kubectl taint nodes foo dedicated:NoSchedule-",
            flags=[_SELECTOR, _ALL, DRY_RUN, OUTPUT,
                   flag("overwrite", BOOL, help="If true, allow taints to be overwritten, otherwise reject taint "
                        "updates that overwrite existing taints.")],
            handler=taint, group="Cluster Management Commands"),
]

__all__ = ["COMMANDS", "Target"]
