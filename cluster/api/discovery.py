"""Discovery: /version, /api, /apis and the resource lists, all generated from the registry.

kubectl asks /api and /apis for the aggregated format first (one document per
side listing every group, version, resource and subresource) and falls back to
the legacy documents (APIVersions, APIGroupList, APIResourceList per group
version). Both are served; the aggregated one must carry its exact media type
in Content-Type or kubectl reads it as the legacy format and finds nothing.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cluster.api import metrics
from cluster.api.common import (
    AGGREGATED_DISCOVERY,
    AGGREGATED_DISCOVERY_V2BETA1,
    parse_accept,
    resolve_cluster,
)
from cluster.api.errors import json_response, k8s_view, not_found_resource
from engine import errors
from engine.resources import registry, versions
from engine.resources.registry import KindInfo

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Subresources: (group, version, kind) of what they answer, and their verbs, as a 1.32 apiserver lists them.
# An empty group/version means "the parent's".
SUBRESOURCES: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = {
    "status": (("", "", ""), ("get", "patch", "update")),
    "scale": (("autoscaling", "v1", "Scale"), ("get", "patch", "update")),
    "log": (("", "v1", "Pod"), ("get",)),
    "exec": (("", "v1", "PodExecOptions"), ("create", "get")),
    "attach": (("", "v1", "PodAttachOptions"), ("create", "get")),
    "portforward": (("", "v1", "PodPortForwardOptions"), ("create", "get")),
    "binding": (("", "v1", "Binding"), ("create",)),
    "eviction": (("policy", "v1", "Eviction"), ("create",)),
    "ephemeralcontainers": (("", "", ""), ("get", "patch", "update")),
    "finalize": (("", "", ""), ("update",)),
    "proxy": (("", "v1", ""), ("create", "delete", "get", "patch", "update")),
}
PROXY_KINDS = {"Pod": "PodProxyOptions", "Node": "NodeProxyOptions", "Service": "ServiceProxyOptions"}


def subresource_kind(info: KindInfo, sub: str) -> tuple[str, str, str]:
    (group, version, kind), _verbs = SUBRESOURCES[sub]
    if sub == "proxy":
        return "", "v1", PROXY_KINDS.get(info.kind, f"{info.kind}ProxyOptions")
    if not kind:
        return info.group, info.version, info.kind
    return group, version, kind


def storage_version_hash(info: KindInfo) -> str:
    info = versions.storage_info(info)  # the same for every served version: the stored one's
    digest = hashlib.sha256(f"{info.group}/{info.version}/{info.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def kinds_of(group: str, version: str) -> list[KindInfo]:
    return [k for k in registry.KINDS if k.group == group and k.version == version] + versions.extra_kinds(group,
                                                                                                            version)


def group_versions() -> dict[str, list[str]]:
    """Non-core groups and their versions, in registry order."""
    out: dict[str, list[str]] = {}
    for group, version in registry.groups():
        if group:
            out.setdefault(group, [])
            if version not in out[group]:
                out[group].append(version)
    for group, served in out.items():  # older versions also served (autoscaling/v1), after the preferred one
        served.extend(v for v in versions.extra_versions(group) if v not in served)
    return out


# --- aggregated ------------------------------------------------------------------------------

def _aggregated_resource(info: KindInfo) -> dict:
    out = {
        "resource": info.plural,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": sorted(info.verbs),
    }
    if info.short_names:
        out["shortNames"] = list(info.short_names)
    if info.categories:
        out["categories"] = list(info.categories)
    subs = []
    for sub in info.subresources:
        if sub not in SUBRESOURCES:
            continue
        group, version, kind = subresource_kind(info, sub)
        subs.append({"subresource": sub, "responseKind": {"group": group, "version": version, "kind": kind},
                     "verbs": list(SUBRESOURCES[sub][1])})
    if subs:
        out["subresources"] = subs
    return out


def _aggregated_group(group: str, versions: list[str]) -> dict:
    meta: dict = {"creationTimestamp": None}
    if group:
        meta["name"] = group
    return {
        "metadata": meta,
        "versions": [
            {"version": v, "resources": [_aggregated_resource(k) for k in kinds_of(group, v)], "freshness": "Current"}
            for v in versions
        ],
    }


@cache
def aggregated(core: bool, api_version: str = "apidiscovery.k8s.io/v2") -> dict:
    if core:
        items = [_aggregated_group("", ["v1"])]
    else:
        items = [_aggregated_group(g, vs) for g, vs in group_versions().items()] + [metrics.aggregated_group()]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


def _wants_aggregated(request) -> str | None:
    """The aggregated media type the client asked for first, if any (before plain JSON)."""
    for media in parse_accept(request.headers.get("Accept", "")):
        if media.get("as") == "APIGroupDiscoveryList" and media.get("g") == "apidiscovery.k8s.io":
            if media.get("v") == "v2":
                return AGGREGATED_DISCOVERY
            if media.get("v") == "v2beta1":
                return AGGREGATED_DISCOVERY_V2BETA1
        elif media.type in ("application/json", "*/*", "application/*"):
            return None
    return None


def _aggregated_response(request, core: bool, media: str, extra: list[dict] | None = None):
    version = "apidiscovery.k8s.io/v2" if media == AGGREGATED_DISCOVERY else "apidiscovery.k8s.io/v2beta1"
    body = aggregated(core, version)
    if extra:  # the cluster's custom resource groups, after the built-in ones
        body = {**body, "items": body["items"] + extra}
    return json_response(body, content_type=media, headers={"Vary": "Accept"})


# --- legacy ----------------------------------------------------------------------------------

def _server_addresses(request) -> list[dict]:
    return [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.get_host()}]


def _group_entry(group: str, versions: list[str]) -> dict:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


@cache
def resource_list(group: str, version: str) -> dict:
    resources = []
    for info in kinds_of(group, version):
        entry = {
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": sorted(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        entry["storageVersionHash"] = storage_version_hash(info)
        resources.append(entry)
        for sub in info.subresources:
            if sub not in SUBRESOURCES:
                continue
            sub_group, sub_version, sub_kind = subresource_kind(info, sub)
            sub_entry = {"name": f"{info.plural}/{sub}", "singularName": "", "namespaced": info.namespaced,
                         "kind": sub_kind, "verbs": list(SUBRESOURCES[sub][1])}
            if (sub_group, sub_version) != (info.group, info.version):
                sub_entry["group"], sub_entry["version"] = sub_group, sub_version
            resources.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


# --- views -----------------------------------------------------------------------------------

def _only_get(request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")


@k8s_view
def version(request, key: str):
    resolve_cluster(key)
    _only_get(request)
    return json_response(VERSION_INFO)


@k8s_view
def core_root(request, key: str):
    """GET /api"""
    resolve_cluster(key)
    _only_get(request)
    media = _wants_aggregated(request)
    if media:
        return _aggregated_response(request, True, media)
    return json_response({"kind": "APIVersions", "versions": ["v1"],
                          "serverAddressByClientCIDRs": _server_addresses(request)}, headers={"Vary": "Accept"})


@k8s_view
def groups_root(request, key: str):
    """GET /apis"""
    from cluster.api import custom

    target = resolve_cluster(key)
    _only_get(request)
    media = _wants_aggregated(request)
    if media:
        return _aggregated_response(request, False, media, custom.aggregated_groups(target))
    groups = [_group_entry(g, vs) for g, vs in group_versions().items()] + [_group_entry(metrics.GROUP,
                                                                                         [metrics.VERSION])]
    groups += custom.legacy_groups(target)
    return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}, headers={"Vary": "Accept"})


@k8s_view
def group(request, key: str, group: str):
    """GET /apis/<group>"""
    from cluster.api import custom

    target = resolve_cluster(key)
    _only_get(request)
    versions = group_versions().get(group)
    if not versions:
        found = custom.group(target, group)
        if found is None:
            raise not_found_resource()
        return json_response(found)
    return json_response({"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)})


def group_version_resources(request, group: str, version: str):
    """GET /api/v1 or /apis/<group>/<version> (called by the resource router)."""
    _only_get(request)
    if not kinds_of(group, version):
        raise not_found_resource()
    return json_response(resource_list(group, version))
