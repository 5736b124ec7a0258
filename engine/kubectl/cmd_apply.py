"""`kubectl apply` (client-side, three-way strategic merge), `create -f` and the typed `create` generators, `replace`."""

from __future__ import annotations

import base64
import json
import posixpath

from engine import errors
from engine.apiserver import patch as patching
from engine.apiserver.server import RequestContext
from engine.apiserver.versioned import api_for
from engine.kubectl import printers
from engine.kubectl.base import ExitError
from engine.kubectl.cmd_get import emit
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import ARRAY, BOOL, INT, SLICE, flag
from engine.kubectl.resources import check_manifest, manifest_namespace, read_manifests
from engine.resources.registry import KindInfo, by_kind

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

DRY_RUN = flag("dry-run", default="none", no_opt="unchanged",
               help='Must be "none", "server", or "client". If client strategy, only print the object that would be '
                    "sent, without sending it. If server strategy, submit server-side request without persisting the "
                    "resource.")
OUTPUT = flag("output", short="o", help="Output format. One of: (json, yaml, name, go-template, go-template-file, "
              "template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).")
FILENAME = flag("filename", SLICE, short="f", help="The files that contain the configurations to apply.")
RECURSIVE = flag("recursive", BOOL, short="R", help="Process the directory used in -f, --filename recursively. "
                 "Useful when you want to manage related manifests organized within the same directory.")
VALIDATE = flag("validate", default="strict", no_opt="strict",
                help="Must be one of: strict (or true), warn, ignore (or false). \"true\" or \"strict\" will use a "
                     "schema to validate the input and fail the request if invalid. It will perform server side "
                     "validation if ServerSideFieldValidation is enabled on the api-server, but will fall back to "
                     "less reliable client-side validation if not.")
FIELD_MANAGER = flag("field-manager", default="kubectl-client-side-apply",
                     help="Name of the manager used to track field ownership.")
SELECTOR = flag("selector", short="l", help="Selector (label query) to filter on, supports '=', '==', and '!='.")
SAVE_CONFIG = flag("save-config", BOOL, help="If true, the configuration of current object will be saved in its "
                   "annotation. Otherwise, the annotation will be unchanged.")


def dry_run_mode(inv: Invocation) -> str:
    value = inv.flags.get("dry-run", "none")
    if value in ("", "none", "false"):
        return "none"
    if value in ("client", "true", "unchanged"):
        if value == "true":
            inv.error("W1125 00:00:00.000000       1 helpers.go:703] --dry-run=true is deprecated (boolean value) "
                      "and can be replaced with --dry-run=client.\n")
        return "client"
    if value == "server":
        return "server"
    raise ExitError(f'Invalid dry-run value ({value}). Must be "none", "server", or "client".')


def dry_suffix(mode: str) -> str:
    return {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")


def field_validation(inv: Invocation) -> str:
    value = str(inv.flags.get("validate", "strict")).lower()
    if value in ("strict", "true"):
        return "Strict"
    if value == "warn":
        return "Warn"
    if value in ("ignore", "false"):
        return "Ignore"
    raise ExitError(f'invalid - validate option "{value}"; must be one of: strict (or true), warn, ignore (or false)')


def resource_name(info: KindInfo, name: str) -> str:
    group = f".{info.group}" if info.group else ""
    return f"{info.kind.lower()}{group}/{name}"


def with_source(exc: errors.ApiError, verb: str, source: str) -> errors.ApiError:
    if exc.reason == "Invalid":
        return exc
    return errors.ApiError(exc.code, exc.reason, f'error when {verb} "{source}": {exc.message}', exc.name, exc.group,
                           exc.kind, exc.causes)


def _print_warnings(inv: Invocation, ctx: RequestContext) -> None:
    for warning in ctx.warnings:
        inv.error(f"Warning: {warning}\n")


def _result(inv: Invocation, info: KindInfo, obj: dict, verb: str, mode: str) -> None:
    output = inv.flags.get("output") or ""
    if output:
        fmt, arg = printers.parse_output(output)
        if fmt == "name":
            inv.write(resource_name(info, obj["metadata"]["name"]) + "\n")
        else:
            emit(inv, fmt, arg, obj, [(info, obj)])
        return
    inv.write(f"{resource_name(info, obj['metadata']['name'])} {verb}{dry_suffix(mode)}\n")


# --- three-way strategic merge (CreateThreeWayMergePatch) ----------------------------------------


def _merge_key(field: str, items: list) -> str | None:
    return patching._merge_key(field, items)


def _diff_add(current, modified, field: str = ""):
    """What `modified` sets that `current` lacks or has differently (fields absent from modified are ignored)."""
    if isinstance(modified, dict) and isinstance(current, dict):
        out = {}
        for key, value in modified.items():
            if key not in current:
                out[key] = value
                continue
            sub = _diff_add(current[key], value, key)
            if sub is not _SAME:
                out[key] = sub
        return out if out else _SAME
    if isinstance(modified, list) and isinstance(current, list):
        key = _merge_key(field, modified or current)
        if key and all(isinstance(i, dict) and key in i for i in modified):
            changed = []
            by_key = {str(i.get(key)): i for i in current if isinstance(i, dict)}
            for item in modified:
                existing = by_key.get(str(item[key]))
                if existing is None:
                    changed.append(item)
                    continue
                sub = _diff_add(existing, item, field)
                if sub is not _SAME:
                    sub = dict(sub)
                    sub[key] = item[key]
                    changed.append(sub)
            order_same = [str(i.get(key)) for i in modified] == [str(i.get(key)) for i in current
                                                                 if str(i.get(key)) in
                                                                 {str(m.get(key)) for m in modified}]
            if not changed and order_same:
                return _SAME
            return _MergeList(changed, [{key: i[key]} for i in modified])
        return _SAME if modified == current else modified
    if modified == current:
        return _SAME
    return modified


class _Same:
    pass


_SAME = _Same()


class _MergeList:
    def __init__(self, items: list, order: list):
        self.items = items
        self.order = order


def _diff_delete(original, modified, field: str = ""):
    """What `original` (last applied) had and `modified` dropped: nulls and `$patch: delete` entries."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return {}
    out: dict = {}
    for key, value in original.items():
        if key not in modified:
            out[key] = None
            continue
        new = modified[key]
        if isinstance(value, dict) and isinstance(new, dict):
            sub = _diff_delete(value, new, key)
            if sub:
                out[key] = sub
        elif isinstance(value, list) and isinstance(new, list):
            mkey = _merge_key(key, value or new)
            if mkey and all(isinstance(i, dict) and mkey in i for i in value + new):
                kept = {str(i[mkey]) for i in new}
                removed = [{mkey: i[mkey], "$patch": "delete"} for i in value if str(i[mkey]) not in kept]
                nested = []
                for item in new:
                    old = next((o for o in value if str(o[mkey]) == str(item[mkey])), None)
                    if old is not None:
                        sub = _diff_delete(old, item, key)
                        if sub:
                            sub[mkey] = item[mkey]
                            nested.append(sub)
                if removed or nested:
                    out[key] = _MergeList(removed + nested, [{mkey: i[mkey]} for i in new])
    return out


def _combine(add, delete):
    if add is _SAME:
        add = {}
    if isinstance(add, dict) and isinstance(delete, dict):
        out = dict(add)
        for key, value in delete.items():
            if key in out:
                out[key] = _combine(out[key], value)
            else:
                out[key] = value
        return out
    if isinstance(add, _MergeList) and isinstance(delete, _MergeList):
        return _MergeList(add.items + delete.items, add.order)
    return add


def _render(patch):
    if isinstance(patch, dict):
        out = {}
        for key, value in patch.items():
            if isinstance(value, _MergeList):
                out[f"$setElementOrder/{key}"] = value.order
                out[key] = [_render(i) for i in value.items]
            else:
                out[key] = _render(value)
        return out
    if isinstance(patch, list):
        return [_render(i) for i in patch]
    return patch


def three_way_patch(original: dict | None, modified: dict, current: dict) -> dict:
    add = _diff_add(current, modified)
    delete = _diff_delete(original or {}, modified)
    patch = _combine(add, delete)
    rendered = _render(patch) if isinstance(patch, dict) else {}
    # $setElementOrder alone (nothing to change) is no change.
    return _prune(rendered)


def _prune(patch: dict) -> dict:
    out = {}
    for key, value in patch.items():
        if isinstance(value, dict) and value:
            sub = _prune(value)
            if sub:
                out[key] = sub
        elif key.startswith("$setElementOrder/"):
            continue
        else:
            out[key] = value
    for key in list(patch):
        if key.startswith("$setElementOrder/") and key.split("/", 1)[1] in out:
            out[key] = patch[key]
    return out


def last_applied(obj: dict) -> str:
    copy = json.loads(json.dumps(obj))
    annotations = copy.setdefault("metadata", {}).setdefault("annotations", {})
    annotations.pop(LAST_APPLIED, None)
    return json.dumps(copy, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"


# --- apply --------------------------------------------------------------------------------------


def apply(inv: Invocation) -> None:
    f = inv.flags
    if f["server-side"]:
        return _apply_server_side(inv)
    filenames = f["filename"]
    if not filenames:
        raise inv.usage_error("must specify one of -f and -k")
    mode = dry_run_mode(inv)
    validation = field_validation(inv)
    manifests = read_manifests(filenames, inv.context, inv.stdin, f["recursive"])
    if not manifests:
        raise ExitError("no objects passed to apply")
    failures: list[str] = []
    for m in manifests:
        try:
            info = check_manifest(m)
            obj = json.loads(json.dumps(m.obj))
            ns = manifest_namespace(info, obj, inv.namespace, inv.explicit_namespace)
            meta = obj.setdefault("metadata", {})
            if not isinstance(meta, dict) or not meta.get("name"):
                if meta.get("generateName"):
                    raise ExitError("from " + m.source + ": cannot use generate name with apply")
                raise ExitError(f'error when retrieving current configuration of:\nResource: "{info.qualified_plural}'
                                f'", GroupVersionKind: "{info.group}/{info.version}, Kind={info.kind}"\nName: "", '
                                f'Namespace: "{ns}"\nfrom server for: "{m.source}": resource name may not be empty')
            if info.namespaced:
                meta["namespace"] = ns
            _apply_one(inv, info, obj, ns, m.source, mode, validation)
        except errors.ApiError as exc:
            from engine.kubectl.base import api_error_text

            failures.append(api_error_text(exc))
        except ExitError as exc:
            failures.append("error: " + exc.message if not exc.message.startswith("error") else exc.message)
    if failures:
        raise ExitError("\n".join(failures).removeprefix("error: "))


def _apply_one(inv: Invocation, info: KindInfo, obj: dict, ns: str, source: str, mode: str, validation: str) -> None:
    name = obj["metadata"]["name"]
    annotation = last_applied(obj)
    modified = json.loads(json.dumps(obj))
    modified["metadata"].setdefault("annotations", {})[LAST_APPLIED] = annotation
    api = api_for(inv.api, info)  # an autoscaling/v1 manifest talks to the v1 view, as kubectl does
    try:
        current = api.get(info.kind, ns, name)
    except errors.ApiError as exc:
        if exc.code != 404:
            raise
        current = None
    manager = inv.flags.get("field-manager") or "kubectl-client-side-apply"
    if current is None:
        if mode == "client":
            _result(inv, info, modified, "created", mode)
            return
        ctx = RequestContext(field_manager=manager, dry_run=mode == "server", field_validation=validation)
        try:
            created = api.create(modified, ns or None, ctx=ctx)
        except errors.ApiError as exc:
            raise with_source(exc, "creating", source) from None
        _print_warnings(inv, ctx)
        _result(inv, info, created, "created", mode)
        return
    original_text = (current["metadata"].get("annotations") or {}).get(LAST_APPLIED)
    if original_text is None:
        inv.error(f"Warning: resource {info.plural} {name} is missing the {LAST_APPLIED} annotation which is required "
                  "by kubectl apply. kubectl apply should only be used on resources created declaratively by either "
                  "kubectl create --save-config or kubectl apply. The missing annotation will be patched "
                  "automatically.\n")
    try:
        original = json.loads(original_text) if original_text else None
    except ValueError:
        original = None
    body = three_way_patch(original, modified, current)
    if not body:
        _result(inv, info, current, "unchanged", mode)
        return
    if mode == "client":
        _result(inv, info, current, "configured", mode)
        return
    ctx = RequestContext(field_manager=manager, dry_run=mode == "server", field_validation=validation)
    try:
        patched = api.patch(info.kind, ns, name, body, patching.STRATEGIC, ctx=ctx)
    except errors.ApiError as exc:
        raise with_source(exc, "patching", source) from None
    _print_warnings(inv, ctx)
    _result(inv, info, patched, "configured", mode)


def _apply_server_side(inv: Invocation) -> None:
    """`apply --server-side`: the whole manifest is the intent; create or merge (no last-applied annotation)."""
    f = inv.flags
    mode = dry_run_mode(inv)
    manager = f.get("field-manager")
    if manager == "kubectl-client-side-apply":
        manager = "kubectl"
    for m in read_manifests(f["filename"], inv.context, inv.stdin, f["recursive"]):
        info = check_manifest(m)
        obj = json.loads(json.dumps(m.obj))
        ns = manifest_namespace(info, obj, inv.namespace, inv.explicit_namespace)
        name = (obj.get("metadata") or {}).get("name", "")
        ctx = RequestContext(field_manager=manager, dry_run=mode == "server", field_validation=field_validation(inv))
        api = api_for(inv.api, info)
        try:
            current = api.get(info.kind, ns, name)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise
            current = None
        if mode == "client":
            _result(inv, info, obj, "serverside-applied", mode)
            continue
        if current is None:
            result = api.create(obj, ns or None, ctx=ctx)
        else:
            result = api.patch(info.kind, ns, name, obj, patching.STRATEGIC, ctx=ctx)
        _result(inv, info, result, "serverside-applied", mode)


# --- create -f / replace ---------------------------------------------------------------------------


def create(inv: Invocation) -> None:
    f = inv.flags
    filenames = f["filename"]
    if not filenames:
        if inv.args:
            raise ExitError(f'unknown command "{inv.args[0]}" for "kubectl create"')
        raise inv.usage_error("must specify one of -f and -k")
    if inv.args:
        raise inv.usage_error(f"Unexpected args: {inv.args}".replace("'", ""))
    mode = dry_run_mode(inv)
    failures = []
    for m in read_manifests(filenames, inv.context, inv.stdin, f["recursive"]):
        try:
            info = check_manifest(m)
            obj = json.loads(json.dumps(m.obj))
            ns = manifest_namespace(info, obj, inv.namespace, inv.explicit_namespace)
            if f["save-config"]:
                obj.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = last_applied(obj)
            if mode == "client":
                _result(inv, info, obj, "created", mode)
                continue
            ctx = RequestContext(field_manager="kubectl-create", dry_run=mode == "server",
                                 field_validation=field_validation(inv))
            try:
                created = api_for(inv.api, info).create(obj, ns or None, ctx=ctx)
            except errors.ApiError as exc:
                raise with_source(exc, "creating", m.source) from None
            _print_warnings(inv, ctx)
            _result(inv, info, created, "created", mode)
        except (errors.ApiError, ExitError) as exc:
            from engine.kubectl.base import error_line

            failures.append(error_line(exc))
    if failures:
        raise ExitError("\n".join(failures))


def replace(inv: Invocation) -> None:
    f = inv.flags
    if not f["filename"]:
        raise inv.usage_error("must specify --filename to replace")
    mode = dry_run_mode(inv)
    for m in read_manifests(f["filename"], inv.context, inv.stdin, f["recursive"]):
        info = check_manifest(m)
        obj = json.loads(json.dumps(m.obj))
        ns = manifest_namespace(info, obj, inv.namespace, inv.explicit_namespace)
        name = obj["metadata"].get("name", "")
        ctx = RequestContext(field_manager="kubectl-replace", dry_run=mode == "server")
        api = api_for(inv.api, info)
        if f["force"]:
            try:
                inv.api.delete(info.kind, ns, name)
                inv.write(f'{resource_name(info, name).split("/")[0]} "{name}" deleted\n')
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
            result = api.create(obj, ns or None, ctx=ctx)
            _result(inv, info, result, "replaced", mode)
            continue
        current = api.get(info.kind, ns, name)
        if info.namespaced:
            obj["metadata"]["namespace"] = ns
        if not obj["metadata"].get("resourceVersion"):
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            result = api.update(obj, ns or None, ctx=ctx)
        except errors.ApiError as exc:
            raise with_source(exc, "replacing", m.source) from None
        _result(inv, info, result, "replaced", mode)


# --- typed create generators ----------------------------------------------------------------------


def _one_name(inv: Invocation) -> str:
    names = inv.args if inv.flags.dash_at < 0 else inv.args[:inv.flags.dash_at]
    if len(names) != 1:
        raise inv.usage_error(f"exactly one NAME is required, got {len(names)}")
    return names[0]


def _require(inv: Invocation, *names: str) -> None:
    missing = [n for n in names if not inv.flags.get(n)]
    if missing:
        raise ExitError("required flag(s) " + ", ".join(f'"{n}"' for n in missing) + " not set")


def _submit(inv: Invocation, obj: dict) -> None:
    info = by_kind(obj["kind"])
    mode = dry_run_mode(inv)
    if info.namespaced:
        obj["metadata"]["namespace"] = inv.namespace
    if inv.flags.get("save-config"):
        obj["metadata"].setdefault("annotations", {})[LAST_APPLIED] = last_applied(obj)
    if mode == "client":
        shown = json.loads(json.dumps(obj))
        if info.namespaced and not inv.explicit_namespace:
            shown["metadata"].pop("namespace", None)
        _result(inv, info, shown, "created", mode)
        return
    ctx = RequestContext(field_manager="kubectl-create", dry_run=mode == "server",
                         field_validation=field_validation(inv))
    created = inv.api.create(obj, inv.namespace if info.namespaced else None, ctx=ctx)
    _print_warnings(inv, ctx)
    _result(inv, info, created, "created", mode)


def _image_name(image: str) -> str:
    base = image.split("@")[0]
    base = base.rsplit("/", 1)[-1]
    base = base.split(":")[0]
    return "".join(c if c.isalnum() or c == "-" else "-" for c in base.lower()) or "container"


def create_deployment(inv: Invocation) -> None:
    name = _one_name(inv)
    _require(inv, "image")
    f = inv.flags
    images = f["image"]
    command = inv.args[inv.flags.dash_at:] if inv.flags.dash_at >= 0 else []
    if len(images) > 1 and command:
        raise ExitError("cannot specify multiple --image options and command")
    labels = {"app": name}
    containers = []
    for image in images:
        container = {"image": image, "name": _image_name(image), "resources": {}}
        if command:
            container["command"] = command
        if f["port"] >= 0 and f.has("port"):
            container["ports"] = [{"containerPort": f["port"]}]
        containers.append(container)
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"creationTimestamp": None, "labels": dict(labels), "name": name},
           "spec": {"replicas": f["replicas"], "selector": {"matchLabels": dict(labels)}, "strategy": {},
                    "template": {"metadata": {"creationTimestamp": None, "labels": dict(labels)},
                                 "spec": {"containers": containers}}},
           "status": {}}
    _submit(inv, obj)


def _parse_tcp(specs: list[str]) -> list[dict]:
    ports = []
    for spec in specs:
        port, _, target = spec.partition(":")
        try:
            port_num = int(port)
        except ValueError:
            raise ExitError(f'invalid argument "{spec}" for "--tcp" flag: strconv.Atoi: parsing "{port}": invalid '
                            "syntax") from None
        target_value: int | str = port_num
        if target:
            target_value = int(target) if target.isdigit() else target
        ports.append({"name": f"{port}-{target or port}", "port": port_num, "protocol": "TCP",
                      "targetPort": target_value})
    return ports


def _create_service(inv: Invocation, svc_type: str) -> None:
    name = _one_name(inv)
    f = inv.flags
    spec: dict = {}
    if svc_type != "ExternalName":
        if not f["tcp"] and not (svc_type == "ClusterIP" and f.get("clusterip") == "None"):
            raise ExitError("at least one tcp port specifier must be provided")
        spec["ports"] = _parse_tcp(f["tcp"])
        if svc_type == "NodePort" and f.get("node-port"):
            for p in spec["ports"]:
                p["nodePort"] = f["node-port"]
        spec["selector"] = {"app": name}
        if f.get("clusterip"):
            spec["clusterIP"] = f["clusterip"]
    else:
        _require(inv, "external-name")
        spec["externalName"] = f["external-name"]
    spec["type"] = svc_type
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"creationTimestamp": None, "labels": {"app": name}, "name": name},
           "spec": spec, "status": {"loadBalancer": {}}}
    _submit(inv, obj)


def _kv(text: str, flag_name: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ExitError(f"invalid literal source {text}, expected key=value")
    return key, value


def _file_sources(inv: Invocation, specs: list[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for spec in specs:
        key, sep, path = spec.partition("=")
        if not sep:
            path, key = spec, posixpath.basename(spec.rstrip("/"))
        text = inv.context.read_file(path)
        if text is None:
            listing = inv.context.list_dir(path)
            if listing is None:
                raise ExitError(f"error reading {path}: no such file or directory")
            for item in listing:
                data[posixpath.basename(item)] = inv.context.files[item]
            continue
        data[key] = text
    return data


def _env_file(inv: Invocation, paths: list[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for path in paths:
        text = inv.context.read_file(path)
        if text is None:
            raise ExitError(f"open {path}: no such file or directory")
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            data[key] = value
    return data


def create_configmap(inv: Invocation) -> None:
    name = _one_name(inv)
    f = inv.flags
    data: dict[str, str] = {}
    for literal in f["from-literal"]:
        key, value = _kv(literal, "from-literal")
        data[key] = value
    data.update(_file_sources(inv, f["from-file"]))
    data.update(_env_file(inv, f["from-env-file"]))
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"creationTimestamp": None, "name": name}}
    if data:
        obj["data"] = data
    _submit(inv, obj)


def create_secret_generic(inv: Invocation) -> None:
    name = _one_name(inv)
    f = inv.flags
    data: dict[str, str] = {}
    for literal in f["from-literal"]:
        key, value = _kv(literal, "from-literal")
        data[key] = value
    data.update(_file_sources(inv, f["from-file"]))
    data.update(_env_file(inv, f["from-env-file"]))
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": None, "name": name}}
    if data:
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if f.get("type"):
        obj["type"] = f["type"]
    _submit(inv, obj)


def create_secret_tls(inv: Invocation) -> None:
    name = _one_name(inv)
    _require(inv, "cert", "key")
    cert, key = inv.context.read_file(inv.flags["cert"]), inv.context.read_file(inv.flags["key"])
    if cert is None or key is None:
        raise ExitError(f"open {inv.flags['cert'] if cert is None else inv.flags['key']}: no such file or directory")
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": None, "name": name},
           "data": {"tls.crt": base64.b64encode(cert.encode()).decode(),
                    "tls.key": base64.b64encode(key.encode()).decode()},
           "type": "kubernetes.io/tls"}
    _submit(inv, obj)


def create_secret_docker_registry(inv: Invocation) -> None:
    name = _one_name(inv)
    f = inv.flags
    _require(inv, "docker-username", "docker-password")
    server = f["docker-server"]
    auth = base64.b64encode(f"{f['docker-username']}:{f['docker-password']}".encode()).decode()
    entry = {"username": f["docker-username"], "password": f["docker-password"], "auth": auth}
    if f["docker-email"]:
        entry["email"] = f["docker-email"]
    config = json.dumps({"auths": {server: entry}}, separators=(",", ":"))
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": None, "name": name},
           "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
           "type": "kubernetes.io/dockerconfigjson"}
    _submit(inv, obj)


def create_namespace(inv: Invocation) -> None:
    name = _one_name(inv)
    _submit(inv, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"creationTimestamp": None, "name": name},
                  "spec": {}, "status": {}})


def create_serviceaccount(inv: Invocation) -> None:
    name = _one_name(inv)
    _submit(inv, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"creationTimestamp": None, "name": name}})


def _job_template(name: str, image: str, command: list[str]) -> dict:
    container: dict = {"image": image, "name": name, "resources": {}}
    if command:
        container["command"] = command
    return {"metadata": {"creationTimestamp": None},
            "spec": {"containers": [container], "restartPolicy": "Never"}}


def create_job(inv: Invocation) -> None:
    name = _one_name(inv)
    f = inv.flags
    command = inv.args[inv.flags.dash_at:] if inv.flags.dash_at >= 0 else []
    if f["from"]:
        kind, _, source = f["from"].partition("/")
        if kind not in ("cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch"):
            raise ExitError(f"from must be an existing cronjob: {f['from']}")
        cj = inv.api.get("CronJob", inv.namespace, source)
        template = json.loads(json.dumps((cj.get("spec") or {}).get("jobTemplate") or {}))
        annotations = dict((template.get("metadata") or {}).get("annotations") or {})
        annotations["cronjob.kubernetes.io/instantiate"] = "manual"
        obj = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"annotations": annotations, "creationTimestamp": None,
                            "labels": (template.get("metadata") or {}).get("labels") or None, "name": name,
                            "ownerReferences": [{"apiVersion": "batch/v1", "controller": True, "kind": "CronJob",
                                                 "name": source, "uid": cj["metadata"]["uid"]}]},
               "spec": template.get("spec") or {}, "status": {}}
        if obj["metadata"]["labels"] is None:
            del obj["metadata"]["labels"]
        _submit(inv, obj)
        return
    _require(inv, "image")
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"creationTimestamp": None, "name": name},
           "spec": {"template": _job_template(name, f["image"], command)}, "status": {}}
    _submit(inv, obj)


def create_cronjob(inv: Invocation) -> None:
    name = _one_name(inv)
    _require(inv, "image", "schedule")
    f = inv.flags
    command = inv.args[inv.flags.dash_at:] if inv.flags.dash_at >= 0 else []
    template = _job_template(name, f["image"], command)
    template["spec"]["restartPolicy"] = f["restart"] or "OnFailure"
    obj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"creationTimestamp": None, "name": name},
           "spec": {"jobTemplate": {"metadata": {"creationTimestamp": None, "name": name},
                                    "spec": {"template": template}},
                    "schedule": f["schedule"]},
           "status": {}}
    _submit(inv, obj)


_COMMON = [DRY_RUN, OUTPUT, VALIDATE, SAVE_CONFIG,
           flag("field-manager", default="kubectl-create", help="Name of the manager used to track field ownership."),
           flag("show-managed-fields", BOOL, help="If true, keep the managedFields when printing objects in JSON or "
                "YAML format."),
           flag("template", help="Template string or path to template file to use when -o=go-template."),
           flag("allow-missing-template-keys", BOOL, default=True, help="If true, ignore any errors in templates "
                "when a field or map key is missing in the template.")]

_TCP = flag("tcp", SLICE, help="Port pairs can be specified as '<port>:<targetPort>'.")

CREATE = Command(
    "create", "Create a resource from a file or from stdin",
    usage="kubectl create -f FILENAME [options]",
    long="Create a resource from a file or from stdin.\n\n JSON and YAML formats are accepted.",
    examples="  # Create a pod using the data in pod.json\n  kubectl create -f ./pod.json\n\n"
             "  # Create a pod based on the JSON passed into stdin\n  cat pod.json | kubectl create -f -",
    flags=[FILENAME, RECURSIVE, SELECTOR, *_COMMON,
           flag("edit", BOOL, help="Edit the API resource before creating"),
           flag("raw", help="Raw URI to POST to the server."),
           flag("windows-line-endings", BOOL, help="Only relevant if --edit=true.")],
    handler=create, group="Basic Commands (Beginner)")

CREATE.add(
    Command("deployment", "Create a deployment with the specified name", aliases=("deploy",),
            usage="kubectl create deployment NAME --image=image -- [COMMAND] [args...] [options]",
            examples="  # Create a deployment named my-dep that runs the busybox image\n"
                     "  kubectl create deployment my-dep --image=busybox\n\n"
                     "  # Create a deployment with a command\n"
                     "  kubectl create deployment my-dep --image=busybox -- date\n\n"
                     "  # Create a deployment named my-dep that runs the nginx image with 3 replicas\n"
                     "  kubectl create deployment my-dep --image=nginx --replicas=3\n\n"
                     "  # Create a deployment named my-dep that runs the busybox image and expose port 5701\n"
                     "  kubectl create deployment my-dep --image=busybox --port=5701",
            flags=[*_COMMON, flag("image", ARRAY, help="Image names to run. A deployment can have multiple images "
                                  "set for multi-container pod."),
                   flag("port", INT, default=-1, help="The containerPort that this deployment exposes."),
                   flag("replicas", INT, short="r", default=1, help="Number of replicas to create. Default is 1.")],
            handler=create_deployment),
    Command("namespace", "Create a namespace with the specified name", aliases=("ns",),
            usage="kubectl create namespace NAME [--dry-run=server|client|none] [options]",
            examples="  # Create a new namespace named my-namespace\n  kubectl create namespace my-namespace",
            flags=list(_COMMON), handler=create_namespace),
    Command("configmap", "Create a config map from a local file, directory or literal value", aliases=("cm",),
            usage="kubectl create configmap NAME [--from-file=[key=]source] [--from-literal=key1=value1] "
                  "[--dry-run=server|client|none] [options]",
            examples="  # Create a new config map named my-config with key1=config1 and key2=config2\n"
                     "  kubectl create configmap my-config --from-literal=key1=config1 --from-literal=key2=config2",
            flags=[*_COMMON, flag("from-literal", ARRAY, help="Specify a key and literal value to insert in "
                                  "configmap (i.e. mykey=somevalue)"),
                   flag("from-file", SLICE, help="Key file can be specified using its file path, in which case file "
                        "basename will be used as configmap key, or optionally with a key and file path, in which "
                        "case the given key will be used."),
                   flag("from-env-file", SLICE, help="Specify the path to a file to read lines of key=val pairs to "
                        "create a configmap."),
                   flag("append-hash", BOOL, help="Append a hash of the configmap to its name.")],
            handler=create_configmap),
    Command("serviceaccount", "Create a service account with the specified name", aliases=("sa",),
            usage="kubectl create serviceaccount NAME [--dry-run=server|client|none] [options]",
            flags=list(_COMMON), handler=create_serviceaccount),
    Command("job", "Create a job with the specified name",
            usage="kubectl create job NAME --image=image [--from=cronjob/name] -- [COMMAND] [args...] [options]",
            examples="  # Create a job\n  kubectl create job my-job --image=busybox\n\n"
                     "  # Create a job with a command\n  kubectl create job my-job --image=busybox -- date\n\n"
                     "  # Create a job from a cron job named \"a-cronjob\"\n"
                     "  kubectl create job test-job --from=cronjob/a-cronjob",
            flags=[*_COMMON, flag("image", help="Image name to run."),
                   flag("from", help="The name of the resource to create a Job from (only cronjob is supported).")],
            handler=create_job),
    Command("cronjob", "Create a cron job with the specified name", aliases=("cj",),
            usage="kubectl create cronjob NAME --image=image --schedule='0/5 * * * ?' -- [COMMAND] [args...] "
                  "[flags] [options]",
            flags=[*_COMMON, flag("image", help="Image name to run."),
                   flag("schedule", help="A schedule in the Cron format the job should be run with."),
                   flag("restart", help="job's restart policy. supported values: OnFailure, Never")],
            handler=create_cronjob),
)

_SERVICE = Command("service", "Create a service using a specified subcommand", aliases=("svc",),
                   usage="kubectl create service [flags] [options]")
_SERVICE.add(
    Command("clusterip", "Create a ClusterIP service", usage="kubectl create service clusterip NAME "
            "[--tcp=<port>:<targetPort>] [--dry-run=server|client|none] [options]",
            examples="  # Create a new ClusterIP service named my-cs\n"
                     "  kubectl create service clusterip my-cs --tcp=5678:8080\n\n"
                     "  # Create a new ClusterIP service named my-cs (in headless mode)\n"
                     "  kubectl create service clusterip my-cs --clusterip=\"None\"",
            flags=[*_COMMON, _TCP, flag("clusterip", help="Assign your own ClusterIP or set to 'None' for a "
                                        "'headless' service (no loadbalancing).")],
            handler=lambda inv: _create_service(inv, "ClusterIP")),
    Command("nodeport", "Create a NodePort service", usage="kubectl create service nodeport NAME "
            "[--tcp=port:targetPort] [--dry-run=server|client|none] [options]",
            examples="  # Create a new NodePort service named my-ns\n"
                     "  kubectl create service nodeport my-ns --tcp=5678:8080",
            flags=[*_COMMON, _TCP, flag("node-port", INT, help="Port used to expose the service on each node in a "
                                        "cluster.")],
            handler=lambda inv: _create_service(inv, "NodePort")),
    Command("loadbalancer", "Create a LoadBalancer service", usage="kubectl create service loadbalancer NAME "
            "[--tcp=port:targetPort] [--dry-run=server|client|none] [options]",
            flags=[*_COMMON, _TCP], handler=lambda inv: _create_service(inv, "LoadBalancer")),
    Command("externalname", "Create an ExternalName service", usage="kubectl create service externalname NAME "
            "--external-name external.name [--dry-run=server|client|none] [options]",
            flags=[*_COMMON, _TCP, flag("external-name", help="External name of service")],
            handler=lambda inv: _create_service(inv, "ExternalName")),
)
_SECRET = Command("secret", "Create a secret using a specified subcommand", usage="kubectl create secret "
                  "(docker-registry | generic | tls) [options]")
_SECRET.add(
    Command("generic", "Create a secret from a local file, directory, or literal value",
            usage="kubectl create secret generic NAME [--type=string] [--from-file=[key=]source] "
                  "[--from-literal=key1=value1] [--dry-run=server|client|none] [options]",
            examples="  # Create a new secret named my-secret with key1=supersecret and key2=topsecret\n"
                     "  kubectl create secret generic my-secret --from-literal=key1=supersecret "
                     "--from-literal=key2=topsecret",
            flags=[*_COMMON, flag("from-literal", ARRAY, help="Specify a key and literal value to insert in secret "
                                  "(i.e. mykey=somevalue)"),
                   flag("from-file", SLICE, help="Key files can be specified using their file path."),
                   flag("from-env-file", SLICE, help="Specify the path to a file to read lines of key=val pairs to "
                        "create a secret."),
                   flag("type", help="The type of secret to create"),
                   flag("append-hash", BOOL, help="Append a hash of the secret to its name.")],
            handler=create_secret_generic),
    Command("tls", "Create a TLS secret", usage="kubectl create secret tls NAME --cert=path/to/cert/file "
            "--key=path/to/key/file [--dry-run=server|client|none] [options]",
            flags=[*_COMMON, flag("cert", help="Path to PEM encoded public key certificate."),
                   flag("key", help="Path to private key associated with given certificate.")],
            handler=create_secret_tls),
    Command("docker-registry", "Create a secret for use with a Docker registry",
            usage="kubectl create secret docker-registry NAME --docker-username=user --docker-password=password "
                  "--docker-email=email [--docker-server=string] [--from-file=[key=]source] "
                  "[--dry-run=server|client|none] [options]",
            flags=[*_COMMON, flag("docker-username", help="Username for Docker registry authentication"),
                   flag("docker-password", help="Password for Docker registry authentication"),
                   flag("docker-email", help="Email for Docker registry"),
                   flag("docker-server", default="https://index.docker.io/v1/", help="Server location for Docker "
                        "registry")],
            handler=create_secret_docker_registry),
)
CREATE.add(_SERVICE, _SECRET)

APPLY = Command(
    "apply", "Apply a configuration to a resource by file name or stdin",
    usage="kubectl apply (-f FILENAME | -k DIRECTORY) [options]",
    long="Apply a configuration to a resource by file name or stdin. The resource name must be specified. This "
         "resource will be created if it doesn't exist yet. To use 'apply', always create the resource initially "
         "with either 'apply' or 'create --save-config'.\n\n JSON and YAML formats are accepted.",
    examples="  # Apply the configuration in pod.json to a pod\n  kubectl apply -f ./pod.json\n\n"
             "  # Apply the JSON passed into stdin to a pod\n  cat pod.json | kubectl apply -f -\n\n"
             "  # Apply the configuration from all files that end with '.json'\n  kubectl apply -f '*.json'",
    flags=[FILENAME, RECURSIVE, SELECTOR, DRY_RUN, OUTPUT, VALIDATE, FIELD_MANAGER,
           flag("server-side", BOOL, help="If true, apply runs in the server instead of the client."),
           flag("force-conflicts", BOOL, help="If true, server-side apply will force the changes against conflicts."),
           flag("prune", BOOL, help="Automatically delete resource objects that do not appear in the configs."),
           flag("overwrite", BOOL, default=True, help="Automatically resolve conflicts between the modified and live "
                "configuration by using values from the modified configuration"),
           flag("force", BOOL, help="If true, immediately remove resources from API and bypass graceful deletion."),
           flag("wait", BOOL, help="If true, wait for resources to be gone before returning."),
           flag("show-managed-fields", BOOL, help="If true, keep the managedFields when printing objects."),
           flag("kustomize", short="k", help="Process a kustomization directory.")],
    handler=apply, group="Advanced Commands")

REPLACE = Command(
    "replace", "Replace a resource by file name or stdin",
    usage="kubectl replace -f FILENAME [options]",
    flags=[FILENAME, RECURSIVE, DRY_RUN, OUTPUT, VALIDATE,
           flag("force", BOOL, help="If true, immediately remove resources from API and bypass graceful deletion."),
           flag("save-config", BOOL, help="If true, the configuration of current object will be saved in its "
                "annotation.")],
    handler=replace, group="Advanced Commands")

COMMANDS = [CREATE, APPLY, REPLACE]
