"""The HTTP side of custom resources: discovery, routing and OpenAPI v3 for a cluster's CRD-defined kinds.

The built-in kinds are served from the static registry (cluster.api.discovery,
openapi, resources); a group/version none of them has is looked up here, in
the cluster's Established CustomResourceDefinitions (engine.resources.custom),
on every request: creating or deleting a CRD changes what a fresh discovery
finds at once. The verbs themselves run through the same handlers and the same
ApiServer as every other kind.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cluster.api import discovery
from cluster.api.common import Target, query_bool
from cluster.api.errors import json_response, not_found_resource
from engine.resources import custom
from engine.resources.custom import CustomKindInfo


def kinds(target: Target) -> list[CustomKindInfo]:
    return custom.kinds(target.api().store)


def kinds_of(target: Target, group: str, version: str) -> list[CustomKindInfo]:
    return [k for k in kinds(target) if (k.group, k.version) == (group, version)]


def group_versions(target: Target) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for info in sorted(kinds(target), key=lambda k: k.group):
        versions = out.setdefault(info.group, [])
        if info.version not in versions:
            versions.append(info.version)
    return out


def storage_version_hash(info: CustomKindInfo) -> str:
    digest = hashlib.sha256(f"{info.group}/{info.version}/{info.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


# --- discovery -----------------------------------------------------------------------------------


def aggregated_groups(target: Target) -> list[dict]:
    """APIGroupDiscovery entries of the custom groups, as /apis lists them after the built-in ones."""
    items = []
    for group, versions in group_versions(target).items():
        items.append({
            "metadata": {"creationTimestamp": None, "name": group},
            "versions": [{"version": v, "resources": [discovery._aggregated_resource(k)
                                                      for k in kinds_of(target, group, v)], "freshness": "Current"}
                         for v in versions],
        })
    return items


def legacy_groups(target: Target) -> list[dict]:
    return [discovery._group_entry(group, versions) for group, versions in group_versions(target).items()]


def group(target: Target, name: str) -> dict | None:
    versions = group_versions(target).get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **discovery._group_entry(name, versions)}


def resource_list(target: Target, group: str, version: str) -> dict:
    resources = []
    for info in kinds_of(target, group, version):
        entry = {"name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
                 "kind": info.kind, "verbs": sorted(info.verbs)}
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        entry["storageVersionHash"] = storage_version_hash(info)
        resources.append(entry)
        for sub in info.subresources:
            sub_group, sub_version, sub_kind = discovery.subresource_kind(info, sub)
            sub_entry = {"name": f"{info.plural}/{sub}", "singularName": "", "namespaced": info.namespaced,
                         "kind": sub_kind, "verbs": list(discovery.SUBRESOURCES[sub][1])}
            if (sub_group, sub_version) != (info.group, info.version):
                sub_entry["group"], sub_entry["version"] = sub_group, sub_version
            resources.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
            "resources": resources}


# --- routing -------------------------------------------------------------------------------------


def dispatch(request, target: Target, group: str, version: str, parts: list[str]):
    """/apis/<group>/<version>/... of a custom group: what resources.dispatch does for the built-in ones."""
    from cluster.api import resources

    if not group or not kinds_of(target, group, version):
        raise not_found_resource()
    if not parts:
        if request.method not in ("GET", "HEAD"):
            raise resources.method_not_allowed()
        return json_response(resource_list(target, group, version))
    watch_path = False
    if parts[0] == "watch":
        watch_path, parts = True, parts[1:]
        if not parts:
            raise not_found_resource()
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 2:
        namespace, parts = parts[1], parts[2:]
    info = next((k for k in kinds_of(target, group, version) if k.plural == parts[0]), None)
    if info is None or (namespace and not info.namespaced):
        raise not_found_resource()
    req = resources.ResourceRequest(target, info, namespace, parts[1] if len(parts) > 1 else "",
                                    parts[2] if len(parts) > 2 else "", parts[3:], watch_path)
    if req.extra:
        raise not_found_resource()
    if req.subresource:
        if req.subresource not in info.subresources or (info.namespaced and not namespace):
            raise not_found_resource()
        return resources.status_subresource(request, req)
    if info.namespaced and not namespace and req.name:
        raise not_found_resource()
    method = request.method
    watching = req.watch_path or query_bool(request, "watch")
    if req.collection:
        if method in ("GET", "HEAD"):
            return resources.watch_collection(request, req) if watching else resources.list_collection(request, req)
        if info.namespaced and not namespace:
            raise resources.method_not_allowed()
        if method == "POST":
            return resources.create(request, req)
        if method == "DELETE":
            return resources.delete_collection(request, req)
        raise resources.method_not_allowed()
    if method in ("GET", "HEAD"):
        if watching:
            return resources.watch_collection(request, req, single=True)
        return resources.get_object(request, req)
    handlers = {"PUT": resources.update, "PATCH": resources.patch, "DELETE": resources.delete}
    if method not in handlers:
        raise resources.method_not_allowed()
    return handlers[method](request, req)


# --- OpenAPI v3 ----------------------------------------------------------------------------------


def _schema_for(info: CustomKindInfo) -> dict:
    """The CRD's structural schema, completed as kube-apiserver publishes it (apiVersion, kind, metadata)."""
    from cluster.api.openapi import META

    schema = json.loads(json.dumps(info.schema or {"type": "object"}))
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                                "representation of an object."}
    properties["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource "
                          "this object represents."}
    properties["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{META}.ObjectMeta"}],
                              "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [{"group": info.group, "kind": info.kind, "version": info.version}]
    return schema


def document_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}"


def build_document(target: Target, group: str, version: str) -> dict | None:
    from cluster.api import openapi

    infos = kinds_of(target, group, version)
    if not infos:
        return None
    builder = openapi.SchemaBuilder()
    openapi._common_schemas(builder)
    from kubex_core.models.metadata import ObjectMetadata

    builder.model(ObjectMetadata)  # io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta, which the kinds refer to
    base = "/" + document_key(group, version)
    tag = openapi._camel(group.split(".")[0]) + "_" + version
    paths: dict[str, dict] = {}
    for info in infos:
        item = ".".join(reversed(group.split("."))) + f".{version}.{info.kind}"
        builder.schemas[item] = _schema_for(info)
        builder.list_kind(info, item)
        paths.update(openapi._paths_for(info, base, item, tag))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": dict(sorted(builder.schemas.items())), "securitySchemes": {
            "BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization",
                            "in": "header"}}},
    }


def document_hash(doc: dict) -> str:
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    return hashlib.sha512(raw).hexdigest().upper()


def index_paths(target: Target) -> dict:
    out = {}
    for group, versions in group_versions(target).items():
        for version in versions:
            doc = build_document(target, group, version)
            if doc is not None:
                key = document_key(group, version)
                out[key] = {"serverRelativeURL": f"{target.prefix}/openapi/v3/{key}?hash={document_hash(doc)}"}
    return out


def document(target: Target, key: str) -> dict | None:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "apis":
        return None
    return build_document(target, parts[1], parts[2])


__all__ = ["aggregated_groups", "dispatch", "document", "group", "index_paths", "legacy_groups", "resource_list"]
