"""Resource paths: CRUD, list, watch, patch, delete and the subresources, over `engine.apiserver`.

    /api/v1[/watch]/namespaces/<ns>/<plural>[/<name>[/<subresource>]]
    /api/v1[/watch]/<plural>[/<name>[/<subresource>]]       cluster-scoped kinds; all-namespaces lists
    /apis/<group>/<version>/...                               the same for named groups

The path is parsed as kube-apiserver's RequestInfo parses it; every request then
goes to one handler per verb. Writes run in one store transaction, so a request
that fails changes nothing. Reads can be answered as a server-side Table (what
`kubectl get` prints from) or as PartialObjectMetadata, as the Accept header asks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.http import HttpResponse

from cluster.api import discovery, logs, metrics, proxy, scale, streams, watch
from cluster.api.common import (
    JSON,
    YAML,
    Rendering,
    Target,
    decode_body,
    decode_json,
    decode_yaml,
    dry_run,
    field_validation,
    parse_media_type,
    query_bool,
    query_int,
    read_body,
    rendering_for,
    resolve_cluster,
    unsupported_media,
)
from cluster.api.errors import Pieces, encode, json_response, k8s_view, not_found_resource, success_status
from engine import errors
from engine.apiserver import RequestContext
from engine.apiserver import patch as patching
from engine.resources import versions
from engine.resources.registry import KindInfo

# Namespace subresources: `namespaces/<name>/<these>` address the namespace itself, not a resource in it.
NAMESPACE_SUBRESOURCES = ("status", "finalize")
# Kinds whose DELETE answers the deleted object rather than a success Status (ReturnDeletedObject).
RETURN_DELETED_OBJECT = ("Pod", "Service", "Namespace")
PATCH_CONTENT_TYPES = (patching.JSON, patching.MERGE, patching.STRATEGIC, patching.APPLY)


@dataclass
class ResourceRequest:
    """kube-apiserver's RequestInfo, for one request under a group version."""

    target: Target
    info: KindInfo
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    extra: list[str] = field(default_factory=list)  # [the proxied path] for the proxy subresource
    watch_path: bool = False  # the deprecated /watch/ prefix

    @property
    def collection(self) -> bool:
        return not self.name


def method_not_allowed() -> errors.ApiError:
    return errors.method_not_allowed("the server does not allow this method on the requested resource")


# --- routing -----------------------------------------------------------------------------------------

@k8s_view
def core(request, key: str, rest: str):
    """Everything under /api/."""
    target = resolve_cluster(key)
    parts, proxy_path = _split(rest, 1)
    if not parts:
        return discovery.core_root(request, key)
    if parts[0] != "v1":
        raise not_found_resource()
    return dispatch(request, target, "", "v1", parts[1:], proxy_path)


@k8s_view
def grouped(request, key: str, rest: str):
    """Everything under /apis/<group>/."""
    target = resolve_cluster(key)
    parts, proxy_path = _split(rest, 2)
    if not parts:
        return discovery.groups_root(request, key)
    if parts[0] == metrics.GROUP:
        return metrics.handle(request, target, parts[1:])
    if len(parts) == 1:
        return discovery.group(request, key, parts[0])
    return dispatch(request, target, parts[0], parts[1], parts[2:], proxy_path)


@k8s_view
def unknown(request, key: str = "", rest: str = ""):
    if key:
        resolve_cluster(key)
    raise not_found_resource()


@k8s_view
def outside_prefix(request, rest: str = ""):
    raise errors.ApiError(
        404, "NotFound",
        f"the server could not find the requested resource: each KubeDojo cluster's API lives under /k8s/<key>/ "
        f"(the path of the server URL in its kubeconfig), not at /{rest.split('/')[0]}: `kubectl proxy` needs "
        f"--append-server-path, and `kubectl get --raw` the full path")


@k8s_view
def health(request, key: str, check: str = ""):
    resolve_cluster(key)
    return HttpResponse(b"ok", content_type="text/plain; charset=utf-8")


def _split(rest: str, prefix: int) -> tuple[list[str], str]:
    """Path segments, and what follows a `<plural>/<name>/proxy` segment (kept as is: it is the proxied path).

    `prefix` is how many segments name the group version (1 for `v1`, 2 for `apps/v1`).
    """
    raw = rest.lstrip("/").split("/")
    proxy_path = ""
    # The subresource sits after <plural>/<name>, or after namespaces/<ns>/<plural>/<name>.
    for i in (prefix + 2, prefix + 4):
        if i < len(raw) and raw[i] == "proxy" and (i == prefix + 2 or raw[prefix] == "namespaces"):
            proxy_path = "/" + "/".join(raw[i + 1:])
            raw = raw[:i + 1]
            break
    else:
        if raw and raw[-1] == "":
            raw = raw[:-1]
    if any(p == "" for p in raw):
        raise not_found_resource()
    return raw, proxy_path


def dispatch(request, target: Target, group: str, version: str, parts: list[str], proxy_path: str = ""):
    if not discovery.kinds_of(group, version):
        from cluster.api import custom

        return custom.dispatch(request, target, group, version, parts)  # a CRD's group, or 404
    if not parts:
        return discovery.group_version_resources(request, group, version)
    watch_path = False
    if parts[0] == "watch":
        watch_path, parts = True, parts[1:]
        if not parts:
            raise not_found_resource()
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
        else:
            namespace = ""  # namespaces/<name>[/status|/finalize]: the Namespace object itself
    info = versions.served(group, parts[0], version)  # the registry's, or an older version also served
    if info is None:
        raise not_found_resource()
    if info.kind == "Namespace" and len(parts) > 1:
        namespace = ""
    if namespace and not info.namespaced:
        raise not_found_resource()
    req = ResourceRequest(target, info, namespace, parts[1] if len(parts) > 1 else "",
                          parts[2] if len(parts) > 2 else "", parts[3:], watch_path)
    if req.extra:
        raise not_found_resource()
    if req.subresource == "proxy":
        req.extra = [proxy_path or "/"]
    if req.subresource:
        if req.subresource not in info.subresources:
            raise not_found_resource()
        return subresource(request, req)
    if info.namespaced and not namespace and req.name:
        raise not_found_resource()  # /api/v1/pods/<name>: a namespaced object needs its namespace
    method = request.method
    if _verb(request, req) not in info.verbs:
        raise method_not_allowed()
    if req.collection:
        if method in ("GET", "HEAD"):
            if req.watch_path or query_bool(request, "watch"):
                return watch_collection(request, req)
            return list_collection(request, req)
        if info.namespaced and not namespace:
            raise method_not_allowed()
        if method == "POST":
            return create(request, req)
        if method == "DELETE":
            return delete_collection(request, req)
        raise method_not_allowed()
    if method in ("GET", "HEAD"):
        if req.watch_path or query_bool(request, "watch"):
            return watch_collection(request, req, single=True)
        return get_object(request, req)
    if method == "PUT":
        return update(request, req)
    if method == "PATCH":
        return patch(request, req)
    if method == "DELETE":
        return delete(request, req)
    raise method_not_allowed()


def _verb(request, req: ResourceRequest) -> str:
    method = request.method
    if method in ("GET", "HEAD"):
        if req.watch_path or query_bool(request, "watch"):
            return "watch"
        return "list" if req.collection else "get"
    if method == "DELETE":
        return "deletecollection" if req.collection else "delete"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, "")


# --- rendering ---------------------------------------------------------------------------------------

def render(request, req: ResourceRequest, obj: dict, status: int = 200, warnings=()):
    rendering = rendering_for(request)
    body = render_one(rendering, req, obj, request.GET.get("includeObject") or "Metadata")
    return json_response(body, status=status, headers=warning_headers(warnings))


def render_one(rendering: Rendering, req: ResourceRequest, obj: dict, include_object: str) -> dict:
    if rendering.table:
        return table_of(rendering, req, [obj], include_object)
    if rendering.as_ == "PartialObjectMetadata":
        return partial_metadata(obj, rendering.version)
    return versions.from_storage(req.info, obj)


def table_of(rendering: Rendering, req: ResourceRequest, objects: list[dict], include_object: str,
             list_meta: dict | None = None, memo=None) -> dict:
    from engine.resources import tables

    if include_object not in ("None", "Metadata", "Object"):
        raise errors.bad_request(f'includeObject: Unsupported value: "{include_object}": supported values: '
                                 '"None", "Metadata", "Object"')
    out = tables.table(req.info, objects, req.target.now(), include_object=include_object, memo=memo)
    if include_object == "Object" and versions.is_converted(req.info):
        for row in out.get("rows") or ():
            row["object"] = versions.from_storage(req.info, row.get("object"))
    out["apiVersion"] = f"meta.k8s.io/{rendering.version}"
    if list_meta is not None:
        out["metadata"] = dict(list_meta)
    elif objects:
        out.setdefault("metadata", {})["resourceVersion"] = objects[0]["metadata"].get("resourceVersion", "")
    return out


def partial_metadata(obj: dict, version: str = "v1") -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}", "metadata": obj["metadata"]}


def warning_headers(warnings) -> dict:
    if not warnings:
        return {}
    quoted = []
    for text in dict.fromkeys(warnings):  # once each, in order
        escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        quoted.append(f'299 - "{escaped}"')
    return {"Warning": ", ".join(quoted)}


def context(request) -> RequestContext:
    return RequestContext(field_manager=request.GET.get("fieldManager", "")[:128], dry_run=dry_run(request),
                          field_validation=field_validation(request))


# --- reads -------------------------------------------------------------------------------------------

def shared_reads(api):
    """Reads whose objects are only rendered: the store may answer objects shared with other readers
    (cluster.store's decoded-object cache) instead of decoding fresh copies. Nothing here changes them."""
    shared = getattr(api.store, "shared_reads", None)
    return shared() if shared is not None else contextlib.nullcontext()


def get_object(request, req: ResourceRequest):
    api = req.target.api()
    with shared_reads(api):
        obj = api.get(req.info.kind, req.namespace, req.name)
        return render(request, req, obj)


def list_params(request) -> dict:
    limit = query_int(request, "limit")
    if limit is not None and limit < 0:
        raise errors.bad_request(f"limit: Invalid value: {limit}: must be greater than or equal to 0")
    return {
        "label_selector": request.GET.get("labelSelector") or None,
        "field_selector": request.GET.get("fieldSelector") or None,
        "limit": limit or None,
        "continue_token": request.GET.get("continue") or None,
    }


def list_collection(request, req: ResourceRequest):
    rendering = rendering_for(request)
    api = req.target.api()
    with shared_reads(api):
        result = api.list(req.info.kind, req.namespace or None, **list_params(request))
    include_object = request.GET.get("includeObject") or "Metadata"
    memo = _once_each(getattr(api.store, "memo", None))  # kept with each shared object: encodings, row cells
    pieces = Pieces()
    if rendering.table:
        body = table_of(rendering, req, result["items"], include_object, result["metadata"], memo=memo)
        if include_object == "Metadata" or (include_object == "Object" and not versions.is_converted(req.info)):
            for row, obj in zip(body["rows"], result["items"], strict=True):
                shown = row["object"]
                if shown is obj:
                    row["object"] = kept_encoded(memo, obj, pieces, "json", obj)
                else:
                    shown["metadata"] = kept_encoded(memo, obj, pieces, "metadata-json", shown["metadata"])
    elif rendering.as_ == "PartialObjectMetadata":
        body = {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{rendering.version}",
                "metadata": result["metadata"],
                "items": [partial_metadata(o, rendering.version) for o in result["items"]]}
    elif versions.is_converted(req.info):
        body = {**result, "apiVersion": req.info.api_version,
                "items": [versions.from_storage(req.info, o) for o in result["items"]]}
    else:
        body = {**result, "items": [kept_encoded(memo, o, pieces, "json", o) for o in result["items"]]}
    return json_response(body, pieces=pieces)


def _once_each(memo):
    """`memo`, looked up once per object in this request (the Table's row and its encoding both ask); the
    objects outlive the request's lookups, so their ids stay theirs."""
    if memo is None:
        return None
    found: dict[int, dict | None] = {}

    def lookup(obj: dict) -> dict | None:
        key = id(obj)
        if key not in found:
            found[key] = memo(obj)
        return found[key]

    return lookup


def kept_encoded(memo, obj: dict, pieces: Pieces, name: str, value):
    """`value` (the object or a part of it) as a stand-in for its encoding, encoded once for as long as the
    shared `obj` stays unchanged (kept in its memo under `name`); `value` itself for an object not shared."""
    scratch = memo(obj) if memo is not None else None
    if scratch is None:
        return value
    text = scratch.get(name)
    if text is None:
        text = scratch[name] = encode(value)
    return pieces.stand_in(text)


def watch_collection(request, req: ResourceRequest, single: bool = False):
    field_selector = request.GET.get("fieldSelector") or None
    if single:
        by_name = f"metadata.name={req.name}"
        field_selector = f"{field_selector},{by_name}" if field_selector else by_name
    timeout = query_int(request, "timeoutSeconds")
    return watch.stream(
        req, rendering_for(request),
        resource_version=request.GET.get("resourceVersion", ""),
        label_selector=request.GET.get("labelSelector") or None,
        field_selector=field_selector,
        bookmarks=query_bool(request, "allowWatchBookmarks"),
        timeout=timeout,
        send_initial_events=query_bool(request, "sendInitialEvents"),
        include_object=request.GET.get("includeObject") or "Metadata",
    )


# --- writes ------------------------------------------------------------------------------------------

def read_object(request, req: ResourceRequest, protobuf: bool = False) -> dict:
    """The object of a POST/PUT body, its apiVersion and kind checked against the URL."""
    body = decode_body(read_body(request), request.headers.get("Content-Type", ""), protobuf=protobuf)
    return check_object(body, req.info)


def check_object(body, info: KindInfo, expected_kind: str | None = None, expected_version: str | None = None) -> dict:
    kind, version = expected_kind or info.kind, expected_version or info.api_version
    if not isinstance(body, dict):
        raise errors.bad_request(f"couldn't get version/kind; json parse error: json: cannot unmarshal "
                                 f"{_json_kind(body)} into Go value of type struct {{ APIVersion string; "
                                 "Kind string }")
    # A body without apiVersion/kind takes them from the URL, as the apiserver's decoder defaults them.
    body.setdefault("apiVersion", version)
    body.setdefault("kind", kind)
    if not isinstance(body["apiVersion"], str) or not isinstance(body["kind"], str):
        raise errors.bad_request("couldn't get version/kind; json parse error: json: cannot unmarshal "
                                 "non-string into Go struct field .apiVersion of type string")
    if body["apiVersion"] != version:
        raise errors.bad_request(f"the API version in the data ({body['apiVersion']}) does not match the expected "
                                 f"API version ({version})")
    if body["kind"] != kind:
        raise errors.bad_request(f"{body['kind']} in version \"{version.rpartition('/')[2]}\" cannot be handled as a "
                                 f"{kind}: the kind in the data does not match the expected kind ({kind})")
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise errors.bad_request(f"{kind} in version \"{version.rpartition('/')[2]}\" cannot be handled as a {kind}: "
                                 f"json: cannot unmarshal {_json_kind(meta)} into Go struct field {kind}.metadata of "
                                 "type v1.ObjectMeta")
    return body


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object"


def to_storage(req: ResourceRequest, obj: dict, ctx: RequestContext) -> dict:
    """An object of an older served version (autoscaling/v1), schema-checked as sent, then converted as stored."""
    if not versions.is_converted(req.info):
        return obj
    from engine.resources import schema

    ctx.warnings.extend(schema.check(obj, req.info, ctx.field_validation))
    return versions.to_storage(req.info, obj)


def create(request, req: ResourceRequest):
    obj = read_object(request, req, protobuf=True)
    ctx = context(request)
    obj = to_storage(req, obj, ctx)
    api = req.target.api()
    with api.store.atomic():
        created = api.create(obj, namespace=req.namespace or None, ctx=ctx)
    return render(request, req, created, status=201, warnings=ctx.warnings)


def update(request, req: ResourceRequest):
    obj = read_object(request, req)
    _check_name(obj, req)
    ctx = context(request)
    obj = to_storage(req, obj, ctx)
    api = req.target.api()
    with api.store.atomic():
        updated = api.update(obj, namespace=req.namespace or None, ctx=ctx)
    return render(request, req, updated, warnings=ctx.warnings)


def _check_name(obj: dict, req: ResourceRequest) -> None:
    meta = obj.setdefault("metadata", {})
    name = meta.get("name") or ""
    if name != req.name:
        raise errors.bad_request(f"the name of the object ({name}) does not match the name on the URL ({req.name})")


def read_patch(request) -> tuple[str, object]:
    content_type = request.headers.get("Content-Type", "")
    media = parse_media_type(content_type).type
    if media not in PATCH_CONTENT_TYPES:
        raise unsupported_media(content_type, PATCH_CONTENT_TYPES)
    data = read_body(request)
    if media == patching.APPLY:
        body = decode_yaml(data, "error decoding YAML")
        return media, check_apply_body(body)
    body = decode_json(data, "error decoding patch")
    if media == patching.JSON:
        if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
            raise errors.bad_request(f"json: cannot unmarshal {_json_kind(body)} into Go value of type jsonpatch.Patch")
    elif not isinstance(body, dict):
        raise errors.bad_request(f"json: cannot unmarshal {_json_kind(body)} into Go value of type "
                                 "map[string]interface {}")
    return media, body


def check_apply_body(body) -> dict:
    if not isinstance(body, dict):
        raise errors.bad_request(f"error decoding YAML: json: cannot unmarshal {_json_kind(body)} into Go value of "
                                 "type map[string]interface {}")
    return body


def patch(request, req: ResourceRequest):
    patch_type, body = read_patch(request)
    ctx = context(request)
    if patch_type == patching.APPLY:
        if not ctx.field_manager:
            raise errors.bad_request("PATCH " + req.info.plural + ": fieldManager is required for apply requests")
        return server_side_apply(request, req, body, ctx)
    api = req.target.api()
    with api.store.atomic():
        if versions.is_converted(req.info):
            patched = patch_converted(req, body, patch_type, ctx)
        else:
            patched = api.patch(req.info.kind, req.namespace, req.name, body, patch_type, ctx=ctx)
    return render(request, req, patched, warnings=ctx.warnings)


def patch_converted(req: ResourceRequest, body, patch_type: str, ctx: RequestContext,
                    subresource: str | None = None) -> dict:
    """A patch sent in an older served version applies to the object as that version shows it (stored as is)."""
    from engine.apiserver.versioned import VersionedApi

    return VersionedApi(req.target.api(), req.info).patch_stored(req.info.kind, req.namespace, req.name, body,
                                                                 patch_type, subresource, ctx)


def server_side_apply(request, req: ResourceRequest, body: dict, ctx: RequestContext):
    """`kubectl apply --server-side`: create when absent, else merge the applied object over the live one.

    Honest limit: full server-side apply tracks which manager owns which field (managedFields) and
    reports conflicts between managers; that bookkeeping is pending. Here the applied configuration is
    merged over the live object with strategic-merge semantics (lists merged by their keys), so fields the
    configuration omits are kept rather than removed, and `force` changes nothing.
    """
    obj = to_storage(req, check_object(body, req.info), ctx)
    meta = obj.setdefault("metadata", {})
    if meta.get("name") not in (None, req.name):
        raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                                 f"({req.name})")
    meta["name"] = req.name
    api = req.target.api()
    with api.store.atomic():
        existing = api.store.get(req.info.kind, req.namespace if req.info.namespaced else "", req.name)
        if existing is None:
            created = api.create(obj, namespace=req.namespace or None, ctx=ctx)
            return render(request, req, created, status=201, warnings=ctx.warnings)
        merge = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        merge.get("metadata", {}).pop("resourceVersion", None)
        patched = api.patch(req.info.kind, req.namespace, req.name, merge, patching.STRATEGIC, ctx=ctx)
    return render(request, req, patched, warnings=ctx.warnings)


def delete_options(request) -> dict:
    """DeleteOptions from the body (kubectl sends one) and the query (which wins, as in Kubernetes)."""
    data = read_body(request)
    options: dict = {}
    if data.strip():
        content_type = request.headers.get("Content-Type", "") or JSON
        options = decode_body(data, content_type, accepted=(JSON, YAML))
        if not isinstance(options, dict):
            raise errors.bad_request(f"json: cannot unmarshal {_json_kind(options)} into Go value of type "
                                     "v1.DeleteOptions")
        if options.get("kind") not in (None, "DeleteOptions"):
            raise errors.bad_request(f"no kind \"{options.get('kind')}\" is registered for the DeleteOptions body")
    grace = query_int(request, "gracePeriodSeconds")
    if grace is None and options.get("gracePeriodSeconds") is not None:
        grace = options["gracePeriodSeconds"]
        if not isinstance(grace, int) or isinstance(grace, bool):
            raise errors.bad_request("json: cannot unmarshal into Go struct field DeleteOptions.gracePeriodSeconds "
                                     "of type int64")
    if grace is not None and grace < 0:
        grace = 1  # negative grace periods become 1, as in Kubernetes
    policy = request.GET.get("propagationPolicy") or options.get("propagationPolicy")
    orphan = request.GET.get("orphanDependents") or options.get("orphanDependents")
    if policy is None and orphan is not None:
        policy = "Orphan" if str(orphan).lower() == "true" else "Background"
    if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
        raise errors.invalid("DeleteOptions", "", [errors.unsupported("propagationPolicy", policy,
                                                                      ["Foreground", "Background", "Orphan"])])
    preconditions = options.get("preconditions") or {}
    if not isinstance(preconditions, dict):
        raise errors.bad_request("json: cannot unmarshal into Go struct field DeleteOptions.preconditions of type "
                                 "v1.Preconditions")
    dry = dry_run(request) or options.get("dryRun") == ["All"]
    return {"grace": grace, "policy": policy, "preconditions": preconditions, "dry_run": dry}


def delete(request, req: ResourceRequest):
    options = delete_options(request)
    ctx = RequestContext(dry_run=options["dry_run"])
    api = req.target.api()
    with api.store.atomic():
        result = api.delete(req.info.kind, req.namespace, req.name, propagation_policy=options["policy"],
                            grace_period_seconds=options["grace"], preconditions=options["preconditions"], ctx=ctx)
    if result.finished and req.info.kind not in RETURN_DELETED_OBJECT:
        meta = result.object["metadata"]
        details = {"name": req.name, "kind": req.info.plural, "uid": meta.get("uid", "")}
        if req.info.group:
            details["group"] = req.info.group
        return json_response(success_status(details))
    return render(request, req, result.object)


def delete_collection(request, req: ResourceRequest):
    options = delete_options(request)
    ctx = RequestContext(dry_run=options["dry_run"])
    api = req.target.api()
    params = list_params(request)
    params.pop("limit"), params.pop("continue_token")
    deleted = []
    with api.store.atomic():
        listed = api.list(req.info.kind, req.namespace or None, **params)
        for obj in listed["items"]:
            meta = obj["metadata"]
            try:
                result = api.delete(req.info.kind, meta.get("namespace", ""), meta["name"],
                                    propagation_policy=options["policy"], grace_period_seconds=options["grace"],
                                    ctx=ctx)
            except errors.ApiError as exc:
                if exc.code == 404:
                    continue  # gone meanwhile
                raise
            deleted.append(result.object)
    return json_response({"kind": req.info.list_kind, "apiVersion": req.info.api_version,
                          "metadata": {"resourceVersion": listed["metadata"]["resourceVersion"]},
                          "items": [versions.from_storage(req.info, o) for o in deleted]})


# --- subresources ------------------------------------------------------------------------------------

def subresource(request, req: ResourceRequest):
    sub, method = req.subresource, request.method
    if req.info.namespaced and not req.namespace:
        raise not_found_resource()
    if sub == "status":
        return status_subresource(request, req)
    if sub == "scale":
        return scale.handle(request, req)
    if sub == "log":
        if method not in ("GET", "HEAD"):
            raise method_not_allowed()
        return logs.handle(request, req)
    if sub == "binding":
        if method != "POST":
            raise method_not_allowed()
        return binding(request, req)
    if sub == "eviction":
        if method != "POST":
            raise method_not_allowed()
        return eviction(request, req)
    if sub == "finalize":
        if method != "PUT":
            raise method_not_allowed()
        return finalize(request, req)
    if sub == "ephemeralcontainers" and method in ("GET", "HEAD"):
        return get_object(request, req)
    if sub in ("exec", "attach", "portforward"):
        return streams.refusal(request, req)
    if sub == "proxy":
        return proxy.handle(request, req, req.extra[0] if req.extra else "/")
    raise method_not_allowed()


def status_subresource(request, req: ResourceRequest):
    method = request.method
    api = req.target.api()
    if method in ("GET", "HEAD"):
        return render(request, req, api.get(req.info.kind, req.namespace, req.name))
    ctx = context(request)
    if method == "PUT":
        obj = read_object(request, req)
        _check_name(obj, req)
        obj = to_storage(req, obj, ctx)
        with api.store.atomic():
            updated = api.update(obj, namespace=req.namespace or None, subresource="status", ctx=ctx)
        return render(request, req, updated, warnings=ctx.warnings)
    if method == "PATCH":
        patch_type, body = read_patch(request)
        if patch_type == patching.APPLY:
            patch_type = patching.STRATEGIC  # see server_side_apply: managedFields are pending
            body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        with api.store.atomic():
            if versions.is_converted(req.info):
                patched = patch_converted(req, body, patch_type, ctx, subresource="status")
            else:
                patched = api.patch(req.info.kind, req.namespace, req.name, body, patch_type, subresource="status",
                                    ctx=ctx)
        return render(request, req, patched, warnings=ctx.warnings)
    raise method_not_allowed()


def binding(request, req: ResourceRequest):
    body = decode_body(read_body(request), request.headers.get("Content-Type", ""))
    body = check_object(body, req.info, "Binding", "v1")
    target = body.get("target")
    if not isinstance(target, dict) or not target.get("name"):
        raise errors.invalid("Binding", req.name, [errors.required("target.name")])
    if target.get("kind", "Node") not in ("Node", ""):
        raise errors.invalid("Binding", req.name, [errors.invalid_value("target.kind", target.get("kind"),
                                                                        "must be empty or 'Node'")])
    api = req.target.api()
    if dry_run(request):
        api.get("Pod", req.namespace, req.name)
        return json_response(success_status(code=201), status=201)
    with api.store.atomic():
        api.bind(req.namespace, req.name, str(target["name"]))
    return json_response(success_status(code=201), status=201)


def eviction(request, req: ResourceRequest):
    body = decode_body(read_body(request), request.headers.get("Content-Type", ""))
    body = check_object(body, req.info, "Eviction", body.get("apiVersion") if isinstance(body, dict) and
                        body.get("apiVersion") in ("policy/v1", "policy/v1beta1") else "policy/v1")
    options = body.get("deleteOptions") or {}
    grace = options.get("gracePeriodSeconds") if isinstance(options, dict) else None
    api = req.target.api()
    ctx = RequestContext(dry_run=dry_run(request))
    with api.store.atomic():
        # The eviction API: a 429 when a PodDisruptionBudget would be broken (engine.apiserver.eviction).
        api.evict(req.namespace, req.name, grace_period_seconds=grace if isinstance(grace, int) else None, ctx=ctx)
    return json_response(success_status(code=201), status=201)


def finalize(request, req: ResourceRequest):
    body = read_object(request, req)
    _check_name(body, req)
    wanted = (body.get("spec") or {}).get("finalizers") or []
    if not isinstance(wanted, list) or not all(isinstance(f, str) for f in wanted):
        raise errors.bad_request("json: cannot unmarshal into Go struct field NamespaceSpec.spec.finalizers of type "
                                 "[]v1.FinalizerName")
    api = req.target.api()
    with api.store.atomic():
        current = api.get("Namespace", "", req.name)
        current.setdefault("spec", {})["finalizers"] = wanted
        # Once a terminating namespace holds no finalizer, this update is what removes it (engine.store).
        updated = api.store.update(current)
    return render(request, req, updated)
