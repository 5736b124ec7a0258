"""Patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge merges lists by their Kubernetes merge key (containers by `name`,
ports by `containerPort` ...) and honours the `$patch`, `$setElementOrder` and
`$retainKeys` directives kubectl sends.
"""

from __future__ import annotations

import jsonpatch

from engine import errors

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON, MERGE, STRATEGIC, APPLY)


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict, operations) -> dict:
    if not isinstance(operations, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        return jsonpatch.apply_patch(target, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
        raise errors.ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {exc}") from None


# Merge keys of the list fields kubectl patches most, by field name. Lists not named here are replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "env": "name",
    "ports": None,  # containerPort for containers, port for services: decided by element shape
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "tolerations": None,  # atomic in practice: replaced
    "conditions": "type",
    "ownerReferences": "uid",
    "finalizers": None,
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "readinessGates": None,
}


def _merge_key(field: str, items: list) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        if "containerPort" in sample:
            return "containerPort"
        if "port" in sample:
            return "port"
        return None
    return MERGE_KEYS.get(field)


def strategic_merge(target, patch, field: str = ""):
    if not isinstance(patch, dict):
        return patch
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key, orders.get(key))
        else:
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
    for name, order in orders.items():
        if name not in patch and isinstance(result.get(name), list):
            result[name] = _merge_list(result.get(name), [], name, order)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current, patch_items: list, field: str, order: list | None):
    key = _merge_key(field, patch_items or (current or []))
    if key is None or not isinstance(current, list):
        items = [i for i in patch_items if not (isinstance(i, dict) and i.get("$patch") == "delete")]
        if order is not None and key is not None:
            return _reorder(items, order, key)
        return items
    merged = [dict(i) if isinstance(i, dict) else i for i in current]
    for item in patch_items:
        if not isinstance(item, dict) or key not in item:
            merged.append(item)
            continue
        index = next((n for n, existing in enumerate(merged) if isinstance(existing, dict)
                      and existing.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                merged.pop(index)
            continue
        if index is None:
            merged.append(strategic_merge({}, item, field))
        else:
            merged[index] = strategic_merge(merged[index], item, field)
    if order is not None:
        merged = _reorder(merged, order, key)
    return merged


def _reorder(items: list, order: list, key: str) -> list:
    ranks = {str(o.get(key)) if isinstance(o, dict) else str(o): n for n, o in enumerate(order)}
    position = {id(item): n for n, item in enumerate(items)}

    def rank(item):
        value = str(item.get(key)) if isinstance(item, dict) else str(item)
        return (ranks.get(value, len(ranks)), position[id(item)])

    return sorted(items, key=rank)


def apply_patch(current: dict, patch, patch_type: str) -> dict:
    if patch_type == MERGE:
        if not isinstance(patch, dict):
            raise errors.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
        return merge_patch(current, patch)
    if patch_type == JSON:
        return json_patch(current, patch)
    if patch_type == STRATEGIC:
        if not isinstance(patch, dict):
            raise errors.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
        return strategic_merge(current, patch)
    raise errors.unsupported_media_type(patch_type)
