"""OpenAPI: the v3 index, one v3 document per group version, and a JSON v2 document.

kubectl needs them for more than `explain`: with its default `--validate=strict`,
`apply` and `create -f` read the v3 document of the object's group version and
look for the PATCH operation carrying the kind's `x-kubernetes-group-version-kind`
and a `fieldValidation` query parameter; finding it, kubectl sends
`?fieldValidation=Strict` and leaves the checking to the server.

The schemas are generated from the registry and the kubex pydantic models,
walked field by field so that names (`io.k8s.api.core.v1.PodSpec`), references
(`allOf: [{$ref}]`) and int-or-string follow Kubernetes' own documents; that is
what `kubectl explain pods.spec` renders.

The PATCH operations deliberately do not offer `application/strategic-merge-patch+json`
in their request body: kubectl then computes client-side-apply patches from the
Go types compiled into it (exactly the patches a real cluster receives) instead
of from our schemas, which carry no patch-merge-key extensions. The server still
accepts strategic merge patches.

Documents are static: generated once per process and kept in memory.
"""

from __future__ import annotations

import hashlib
import json
import threading
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel

from cluster.api.common import parse_accept, resolve_cluster
from cluster.api.discovery import VERSION_INFO, group_versions, kinds_of, subresource_kind
from cluster.api.errors import json_response, k8s_view, not_acceptable, not_found_resource
from engine import errors
from engine.resources import registry
from engine.resources.registry import KindInfo
from engine.resources.schema import INT64_FIELDS, load_model

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
TIME = f"{META}.Time"
REF_PREFIX = "#/components/schemas/"
KUBEX_ROOT = "kubex.k8s.v1_32."
# Kubex names that differ from the Go type names Kubernetes publishes.
RENAMES = {"ObjectMetadata": "ObjectMeta", "ListMetadata": "ListMeta"}
KUBEX_CORE_TYPES = {"Scale": "io.k8s.api.autoscaling.v1", "ScaleSpec": "io.k8s.api.autoscaling.v1",
                    "ScaleStatus": "io.k8s.api.autoscaling.v1"}

_lock = threading.Lock()
_documents: dict[str, dict] = {}  # "api/v1", "apis/apps/v1" -> document
_hashes: dict[str, str] = {}


# --- schemas from the kubex models ---------------------------------------------------------------

def schema_name(model: type[BaseModel]) -> str:
    name = RENAMES.get(model.__name__, model.__name__)
    module = model.__module__
    if module.startswith(KUBEX_ROOT):
        group, version = module[len(KUBEX_ROOT):].split(".")[:2]
        if group == "meta":
            return f"{META}.{name}"
        return f"io.k8s.api.{group.replace('_', '.')}.{version}.{name}"
    if name in KUBEX_CORE_TYPES:
        return f"{KUBEX_CORE_TYPES[name]}.{name}"
    return f"{META}.{name}"


def _ref(name: str) -> dict:
    return {"$ref": REF_PREFIX + name}


def _unwrap_optional(annotation):
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


class SchemaBuilder:
    """Collects `components.schemas` for one document."""

    def __init__(self):
        self.schemas: dict[str, dict] = {}
        self._models: dict[str, type] = {}

    def model(self, model: type[BaseModel]) -> str:
        name = schema_name(model)
        known = self._models.get(name)
        if known is model:
            return name
        if known is not None:  # two kubex classes, one Kubernetes name: keep both, distinctly
            name = f"{name}.{model.__module__.rsplit('.', 1)[-1]}"
            if self._models.get(name) is model:
                return name
        self._models[name] = model
        self.schemas[name] = {}  # reserve first: models refer to themselves (JSONSchemaProps)
        properties, required = {}, []
        for field_name, info in model.model_fields.items():
            alias = info.alias or field_name
            prop = self.annotation(info.annotation, alias)
            if alias in ("apiVersion", "kind"):
                prop = {"type": "string"}
            description = info.description
            if description:
                prop = dict(prop)
                prop["description"] = description
            properties[alias] = prop
            if info.is_required() and alias not in ("apiVersion", "kind", "metadata"):
                required.append(alias)
        if name == f"{META}.ObjectMeta":
            self._complete_object_meta(properties)
        schema: dict[str, Any] = {"type": "object", "properties": dict(sorted(properties.items()))}
        doc = (model.__dict__.get("__doc__") or "").strip()
        if doc:
            schema = {"description": doc, **schema}
        if required:
            schema["required"] = sorted(required)
        self.schemas[name] = schema
        return name

    def annotation(self, annotation, field_name: str = "") -> dict:
        annotation = _unwrap_optional(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return {"allOf": [_ref(self.model(annotation))], "default": {}}
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is list:
            return {"type": "array", "items": self.annotation(args[0] if args else Any, field_name)}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.annotation(args[1] if len(args) == 2 else Any, "")}
        if origin in (typing.Union, types.UnionType):
            if int in args and str in args:
                self.schemas.setdefault(INT_OR_STRING, {"type": "string", "format": "int-or-string",
                                                        "description": "IntOrString is a type that can hold an "
                                                                       "int32 or a string."})
                return {"allOf": [_ref(INT_OR_STRING)]}
            return self.annotation(args[0], field_name)
        if origin is Literal:
            return {"type": "string", "enum": [str(a) for a in args]}
        if annotation is bool:
            return {"type": "boolean"}
        if annotation is int:
            return {"type": "integer", "format": "int64" if field_name in INT64_FIELDS else "int32"}
        if annotation is float:
            return {"type": "number", "format": "double"}
        if getattr(annotation, "__name__", "") in ("datetime", "date"):
            self.schemas.setdefault(TIME, {"type": "string", "format": "date-time", "description":
                                           "Time is a wrapper around time.Time which supports correct marshaling "
                                           "to YAML and JSON."})
            return {"allOf": [_ref(TIME)]}
        if annotation is str or annotation is bytes:
            return {"type": "string"}
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

    def _complete_object_meta(self, properties: dict) -> None:
        """kubex's ObjectMetadata lacks two fields of ObjectMeta."""
        properties.setdefault("selfLink", {"type": "string", "description": "Deprecated: selfLink is a legacy "
                                           "read-only field that is no longer populated by the system."})
        entry = load_model("meta.v1.managed_fields_entry.ManagedFieldsEntry")
        properties.setdefault("managedFields", {
            "type": "array", "items": {"allOf": [_ref(self.model(entry))], "default": {}},
            "description": "ManagedFields maps workflow-id and version to the set of fields that are managed by "
                           "that workflow. This is mostly for internal housekeeping, and users typically shouldn't "
                           "need to set or understand this field."})

    def kind(self, info: KindInfo) -> str:
        name = self.model(load_model(info.model))
        self.schemas[name]["x-kubernetes-group-version-kind"] = [
            {"group": info.group, "kind": info.kind, "version": info.version}]
        return name

    def list_kind(self, info: KindInfo, item: str) -> str:
        name = item + "List"
        self.schemas[name] = {
            "description": f"{info.kind}List is a list of {info.kind} objects.",
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this "
                               "representation of an object."},
                "items": {"type": "array", "items": {"allOf": [_ref(item)], "default": {}},
                          "description": f"List of {info.plural}."},
                "kind": {"type": "string", "description": "Kind is a string value representing the REST resource "
                         "this object represents."},
                "metadata": {"allOf": [_ref(f"{META}.ListMeta")], "default": {},
                             "description": "Standard list metadata."},
            },
            "required": ["items"],
            "x-kubernetes-group-version-kind": [{"group": info.group, "kind": info.list_kind,
                                                 "version": info.version}],
        }
        return name


def _common_schemas(builder: SchemaBuilder) -> None:
    builder.schemas.setdefault(f"{META}.ListMeta", {
        "description": "ListMeta describes metadata that synthetic resources must have, including lists and "
                       "various status objects.",
        "type": "object",
        "properties": {
            "continue": {"type": "string"},
            "remainingItemCount": {"type": "integer", "format": "int64"},
            "resourceVersion": {"type": "string"},
            "selfLink": {"type": "string"},
        },
    })
    builder.schemas[f"{META}.Patch"] = {
        "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
        "type": "object",
    }
    builder.schemas[f"{META}.Status"] = {
        "description": "Status is a return value for calls that don't return other objects.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"}, "code": {"type": "integer", "format": "int32"},
            "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "kind": {"type": "string"}, "message": {"type": "string"},
            "metadata": {"allOf": [_ref(f"{META}.ListMeta")], "default": {}},
            "reason": {"type": "string"}, "status": {"type": "string"},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}],
    }
    builder.schemas[f"{META}.DeleteOptions"] = {
        "description": "DeleteOptions may be provided when deleting an API object.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "dryRun": {"type": "array", "items": {"type": "string", "default": ""}},
            "gracePeriodSeconds": {"type": "integer", "format": "int64"},
            "kind": {"type": "string"},
            "orphanDependents": {"type": "boolean"},
            "preconditions": {"type": "object", "properties": {"resourceVersion": {"type": "string"},
                                                               "uid": {"type": "string"}}},
            "propagationPolicy": {"type": "string"},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "DeleteOptions", "version": "v1"}],
    }
    builder.schemas[f"{META}.WatchEvent"] = {
        "description": "Event represents a single event to a watched resource.",
        "type": "object",
        "properties": {"object": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                       "type": {"type": "string", "default": ""}},
        "required": ["type", "object"],
    }


# --- paths --------------------------------------------------------------------------------------

def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "description": description, "schema": schema or {"type": "string"},
            "uniqueItems": True}


DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted. Valid values: All")
FIELD_MANAGER = _query("fieldManager", "fieldManager is a name associated with the actor or entity that is making "
                                       "these changes.")
FIELD_VALIDATION = _query(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict")
FORCE = _query("force", "Force is going to \"force\" Apply requests.", {"type": "boolean"})
PRETTY = _query("pretty", "If 'true', then the output is pretty printed.")
LIST_PARAMS = [
    _query("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
           {"type": "boolean"}),
    _query("continue", "The continue option should be set when retrieving more results from the server."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels."),
    _query("limit", "limit is a maximum number of responses to return for a list call.", {"type": "integer"}),
    _query("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be "
                              "served from."),
    _query("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    _query("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.",
           {"type": "boolean"}),
    _query("timeoutSeconds", "Timeout for the list/watch call.", {"type": "integer"}),
    _query("watch", "Watch for changes to the described resources and return them as a stream of add, update, "
                    "and remove notifications.", {"type": "boolean"}),
]
JSON_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")


def _content(schema_name: str, types_=JSON_TYPES) -> dict:
    return {t: {"schema": _ref(schema_name)} for t in types_}


def _responses(schema_name: str, *codes: int) -> dict:
    words = {200: "OK", 201: "Created", 202: "Accepted"}
    out = {str(c): {"description": words[c], "content": _content(schema_name)} for c in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _gvk(group: str, version: str, kind: str) -> dict:
    return {"group": group, "kind": kind, "version": version}


def _op(action: str, op_id: str, gvk: dict, responses: dict, params=(), body: str | None = None,
        body_types=JSON_TYPES, tag: str = "") -> dict:
    op: dict[str, Any] = {"tags": [tag], "description": f"{action} {gvk['kind']}", "operationId": op_id}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = {"content": _content(body, body_types), "required": True}
    op["responses"] = responses
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = gvk
    return op


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", ".").split("."))


def _paths_for(info: KindInfo, base: str, item: str, tag: str) -> dict:
    gvk = _gvk(info.group, info.version, info.kind)
    gv = _camel(info.group.split(".")[0]) + _camel(info.version) if info.group else "Core" + _camel(info.version)
    scope = "Namespaced" if info.namespaced else ""
    paths: dict[str, dict] = {}
    ns_param = [{"name": "namespace", "in": "path", "required": True, "description": "object name and auth scope",
                 "schema": {"type": "string"}, "uniqueItems": True}] if info.namespaced else []
    name_param = [{"name": "name", "in": "path", "required": True, "description": f"name of the {info.kind}",
                   "schema": {"type": "string"}, "uniqueItems": True}]
    collection = f"{base}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{base}/{info.plural}"
    verbs = set(info.verbs)
    ops: dict[str, Any] = {"parameters": [*ns_param, PRETTY]}
    if "list" in verbs:
        ops["get"] = _op("list", f"list{gv}{scope}{info.kind}", _gvk(info.group, info.version, info.kind),
                         _responses(item + "List", 200), LIST_PARAMS, tag=tag)
    if "create" in verbs:
        ops["post"] = _op("post", f"create{gv}{scope}{info.kind}", gvk, _responses(item, 200, 201, 202),
                          [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], body=item, tag=tag)
    if "deletecollection" in verbs:
        ops["delete"] = _op("deletecollection", f"deletecollection{gv}{scope}{info.kind}", gvk,
                            _responses(f"{META}.Status", 200), [DRY_RUN, *LIST_PARAMS],
                            body=f"{META}.DeleteOptions", tag=tag)
    paths[collection] = ops
    obj = {"parameters": [*name_param, *ns_param, PRETTY]}
    if "get" in verbs:
        obj["get"] = _op("get", f"read{gv}{scope}{info.kind}", gvk, _responses(item, 200), tag=tag)
    if "update" in verbs:
        obj["put"] = _op("put", f"replace{gv}{scope}{info.kind}", gvk, _responses(item, 200, 201),
                         [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], body=item, tag=tag)
    if "patch" in verbs:
        obj["patch"] = _op("patch", f"patch{gv}{scope}{info.kind}", gvk, _responses(item, 200, 201),
                           [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE], body=f"{META}.Patch",
                           body_types=PATCH_TYPES, tag=tag)
    if "delete" in verbs:
        obj["delete"] = _op("delete", f"delete{gv}{scope}{info.kind}", gvk, _responses(item, 200, 202),
                            [DRY_RUN, _query("gracePeriodSeconds", "The duration in seconds before the object "
                                                                   "should be deleted.", {"type": "integer"}),
                             _query("propagationPolicy", "Whether and how garbage collection will be performed.")],
                            body=f"{META}.DeleteOptions", tag=tag)
    paths[f"{collection}/{{name}}"] = obj
    if info.namespaced and "list" in verbs:
        paths[f"{base}/{info.plural}"] = {
            "parameters": [PRETTY],
            "get": _op("list", f"list{gv}{info.kind}ForAllNamespaces", gvk, _responses(item + "List", 200),
                       LIST_PARAMS, tag=tag),
        }
    for sub in info.subresources:
        if sub not in ("status", "scale"):
            continue
        group, version, kind = subresource_kind(info, sub)
        sub_gvk = _gvk(group, version, kind)
        schema = item if sub == "status" else "io.k8s.api.autoscaling.v1.Scale"
        suffix = _camel(sub)
        paths[f"{collection}/{{name}}/{sub}"] = {
            "parameters": [*name_param, *ns_param, PRETTY],
            "get": _op("get", f"read{gv}{scope}{info.kind}{suffix}", sub_gvk, _responses(schema, 200), tag=tag),
            "put": _op("put", f"replace{gv}{scope}{info.kind}{suffix}", sub_gvk, _responses(schema, 200, 201),
                       [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], body=schema, tag=tag),
            "patch": _op("patch", f"patch{gv}{scope}{info.kind}{suffix}", sub_gvk, _responses(schema, 200, 201),
                         [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE], body=f"{META}.Patch",
                         body_types=PATCH_TYPES, tag=tag),
        }
    return paths


# --- documents ----------------------------------------------------------------------------------

def _doc_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def build_document(group: str, version: str) -> dict:
    builder = SchemaBuilder()
    _common_schemas(builder)
    base = "/" + _doc_key(group, version)
    tag = (_camel(group.split(".")[0]) if group else "core") + "_" + version
    paths: dict[str, dict] = {}
    for info in kinds_of(group, version):
        if not info.model:
            continue
        item = builder.kind(info)
        builder.list_kind(info, item)
        if "scale" in info.subresources:
            from kubex_core.models.scale import Scale

            scale = builder.model(Scale)
            builder.schemas[scale]["x-kubernetes-group-version-kind"] = [_gvk("autoscaling", "v1", "Scale")]
        paths.update(_paths_for(info, base, item, tag))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {"schemas": dict(sorted(builder.schemas.items())), "securitySchemes": {
            "BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization",
                            "in": "header"}}},
    }


def _group_versions() -> list[tuple[str, str]]:
    served = [(g, v) for g, v in registry.groups()]
    served += [(g, v) for g, vs in group_versions().items() for v in vs if (g, v) not in served]  # autoscaling/v1
    return [(g, v) for g, v in served if any(k.model for k in kinds_of(g, v))]


def document(key: str) -> dict | None:
    """The v3 document for "api/v1" or "apis/<group>/<version>", generated once."""
    with _lock:
        if key not in _documents:
            for group, version in _group_versions():
                if _doc_key(group, version) == key:
                    doc = build_document(group, version)
                    _documents[key] = doc
                    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
                    _hashes[key] = hashlib.sha512(raw).hexdigest().upper()
                    break
            else:
                return None
        return _documents[key]


def index(prefix: str) -> dict:
    paths = {}
    for group, version in _group_versions():
        key = _doc_key(group, version)
        document(key)
        paths[key] = {"serverRelativeURL": f"{prefix}/openapi/v3/{key}?hash={_hashes[key]}"}
    return {"paths": paths}


def swagger_v2() -> dict:
    """One Swagger 2.0 document of everything, for clients that read v2 as JSON (kubectl itself asks protobuf)."""
    paths, definitions = {}, {}
    for group, version in _group_versions():
        doc = document(_doc_key(group, version))
        text = json.dumps(doc).replace(REF_PREFIX, "#/definitions/")
        converted = json.loads(text)
        definitions.update(converted["components"]["schemas"])
        for path, item in converted["paths"].items():
            out = {}
            for method, op in item.items():
                if method == "parameters":
                    out[method] = [_v2_param(p) for p in op]
                    continue
                op = dict(op)
                op["parameters"] = [_v2_param(p) for p in op.get("parameters", [])]
                body = op.pop("requestBody", None)
                if body:
                    media, content = next(iter(body["content"].items()))
                    op["parameters"].append({"name": "body", "in": "body", "required": True,
                                             "schema": content["schema"]})
                    op["consumes"] = list(body["content"])
                op["produces"] = ["application/json", "application/yaml"]
                op["responses"] = {
                    code: ({"description": r["description"], "schema": next(iter(r["content"].values()))["schema"]}
                           if "content" in r else r) for code, r in op["responses"].items()}
                out[method] = op
            paths[path] = out
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
            "paths": paths, "definitions": dict(sorted(definitions.items()))}


def _v2_param(param: dict) -> dict:
    out = {k: v for k, v in param.items() if k != "schema"}
    out["type"] = param.get("schema", {}).get("type", "string")
    return out


# --- views --------------------------------------------------------------------------------------

def _require_json(request) -> None:
    accept = parse_accept(request.headers.get("Accept", ""))
    if accept and not any(m.type in ("application/json", "*/*", "application/*") for m in accept):
        raise not_acceptable(request.headers.get("Accept", ""))


def _only_get(request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")


@k8s_view
def v3_index(request, key: str):
    from cluster.api import custom

    target = resolve_cluster(key)
    _only_get(request)
    _require_json(request)
    body = index(target.prefix)
    body["paths"].update(custom.index_paths(target))  # the cluster's CustomResourceDefinitions' group versions
    return json_response(body)


@k8s_view
def v3_document(request, key: str, path: str):
    from cluster.api import custom

    target = resolve_cluster(key)
    _only_get(request)
    _require_json(request)
    doc = document(path.strip("/"))
    if doc is None:
        doc = custom.document(target, path.strip("/"))
        if doc is None:
            raise not_found_resource()
        response = json_response(doc)
        response["Etag"] = f'"{custom.document_hash(doc)}"'
        return response
    response = json_response(doc)
    if request.GET.get("hash"):
        # The hash names this exact content: clients may cache it for good.
        response["Cache-Control"] = "public, immutable"
        response["Expires"] = "Thu, 01 Jan 2099 00:00:00 GMT"
    response["Etag"] = f'"{_hashes[path.strip("/")]}"'
    return response


_v2_cache: list[dict] = []


@k8s_view
def v2(request, key: str):
    resolve_cluster(key)
    _only_get(request)
    _require_json(request)  # kubectl asks protobuf only: a 406 sends it to v3 or to its compiled-in types
    if not _v2_cache:
        _v2_cache.append(swagger_v2())
    return json_response(_v2_cache[0])
