"""Custom resources: the kinds a cluster's CustomResourceDefinitions add, looked up per store.

The static registry (engine.resources.registry) knows the built-in kinds; a
custom kind is found here, from the Established CustomResourceDefinitions
stored in the same cluster, whenever the registry has no match. What is
served is the CRD's storage version (and only if it is served; no conversion
to other versions, no scale subresource yet). The store
keys objects by kind, so a CRD whose kind is a built-in kind's, or another
CRD's (the older one wins), is not served.

Besides the lookup: the structural schema's work on a custom object
(defaults, unknown fields, types, the common value constraints) and its
Table (additionalPrinterColumns, else NAME and AGE).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from engine import errors
from engine.errors import Cause
from engine.resources import registry
from engine.resources.crd import established
from engine.resources.registry import STANDARD_VERBS, KindInfo

CRD_KIND = "CustomResourceDefinition"


@dataclass(frozen=True)
class CustomKindInfo(KindInfo):
    crd_name: str = ""
    schema: dict | None = field(default=None, compare=False)
    printer_columns: tuple = field(default=(), compare=False)
    crd_uid: str = ""
    terminating: bool = False  # the CRD is being deleted: its instances go, no new one may be created


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def info_from_crd(crd: dict) -> CustomKindInfo | None:
    spec = _dict(crd.get("spec"))
    accepted = _dict(_dict(crd.get("status")).get("acceptedNames"))
    version = next((v for v in _list(spec.get("versions")) if isinstance(v, dict) and v.get("storage") is True), None)
    if version is None or version.get("served") is not True or not accepted.get("kind"):
        return None
    # The status subresource is served; scale (its replicas paths, `kubectl scale`) is not yet.
    subs = ("status",) if "status" in _dict(version.get("subresources")) else ()
    return CustomKindInfo(
        kind=accepted["kind"], group=spec.get("group", ""), version=version.get("name", ""),
        plural=accepted.get("plural", ""), namespaced=spec.get("scope") == "Namespaced",
        short_names=tuple(accepted.get("shortNames") or ()), categories=tuple(accepted.get("categories") or ()),
        subresources=subs, verbs=STANDARD_VERBS, model=None, status_subresource="status" in subs,
        crd_name=crd["metadata"]["name"], schema=_dict(version.get("schema")).get("openAPIV3Schema"),
        printer_columns=tuple(_list(version.get("additionalPrinterColumns"))), crd_uid=crd["metadata"].get("uid", ""),
        terminating=bool(crd["metadata"].get("deletionTimestamp")),
    )


def kinds(store) -> list[CustomKindInfo]:
    """The custom kinds this cluster serves, oldest CRD first."""
    crds, _ = store.list(CRD_KIND)
    crds.sort(key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"]))
    out: list[CustomKindInfo] = []
    taken = {k.kind for k in registry.KINDS}
    for crd in crds:
        if not established(crd):
            continue
        info = info_from_crd(crd)
        if info is None or info.kind in taken:
            continue
        taken.add(info.kind)
        out.append(info)
    return out


def by_kind(store, kind: str) -> CustomKindInfo | None:
    return next((k for k in kinds(store) if k.kind == kind), None)


def by_api_version(store, api_version: str, kind: str) -> CustomKindInfo | None:
    group, _, version = api_version.rpartition("/")
    return next((k for k in kinds(store) if (k.group, k.version, k.kind) == (group, version, kind)), None)


def by_resource(store, group: str, plural: str) -> CustomKindInfo | None:
    return next((k for k in kinds(store) if (k.group, k.plural) == (group, plural)), None)


# --- the structural schema -----------------------------------------------------------------------

_TYPE_NAMES = {"string": str, "boolean": bool, "object": dict, "array": list}


def _json_type_ok(stype: str, value) -> bool:
    if stype == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if stype == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = _TYPE_NAMES.get(stype)
    return expected is None or isinstance(value, expected)


def _go_value(value) -> str:
    """How the apiserver's schema errors render the offending value."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "\"" + ("object" if isinstance(value, dict) else "array") + "\""
    return json.dumps(value)


def apply_defaults(schema: dict | None, value) -> None:
    """Structural defaulting: a property's `default` fills it in when absent, at every level."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        for key, prop in _dict(schema.get("properties")).items():
            if not isinstance(prop, dict):
                continue
            if key not in value and "default" in prop:
                value[key] = json.loads(json.dumps(prop["default"]))
            if key in value:
                apply_defaults(prop, value[key])
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key, item in value.items():
                if key not in _dict(schema.get("properties")):
                    apply_defaults(additional, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(schema["items"], item)


def unknown_fields(schema: dict | None, value, path: str, found: list[str]) -> None:
    """Fields the schema does not specify (what pruning would drop), as strict decoding names them."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields") is True:
        return
    if isinstance(value, dict):
        props = _dict(schema.get("properties"))
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key in props:
                unknown_fields(props[key], item, child, found)
            elif isinstance(additional, dict):
                unknown_fields(additional, item, child, found)
            elif not (additional is True or (not path and key in ("apiVersion", "kind", "metadata"))):
                found.append(child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            unknown_fields(schema["items"], item, f"{path}[{i}]", found)


def prune(schema: dict | None, value, root: bool = True) -> None:
    """Drop what unknown_fields reports, in place (fieldValidation Ignore and Warn store the pruned object)."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields") is True:
        return
    if isinstance(value, dict):
        props = _dict(schema.get("properties"))
        additional = schema.get("additionalProperties")
        for key in list(value):
            if key in props:
                prune(props[key], value[key], False)
            elif isinstance(additional, dict):
                prune(additional, value[key], False)
            elif additional is True or (root and key in ("apiVersion", "kind", "metadata")):
                continue
            else:
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            prune(schema["items"], item, False)


def validate_value(schema: dict | None, value, path: str, causes: list[Cause]) -> None:
    """The OpenAPI value checks every custom object passes: type, enum, bounds, lengths, pattern, required."""
    if not isinstance(schema, dict) or value is None:
        return
    stype = schema.get("type")
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    if int_or_string:
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            causes.append(Cause("FieldValueTypeInvalid", f'Invalid value: {_go_value(value)}: {path} in body must be '
                                                         'of type integer,string: ' + _go_value(value), path))
            return
    elif isinstance(stype, str) and stype and not _json_type_ok(stype, value):
        actual = _json_name(value)
        causes.append(Cause("FieldValueTypeInvalid", f'Invalid value: "{actual}": {path} in body must be of type '
                                                     f'{stype}: "{actual}"', path))
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        supported = ", ".join(_go_value(e) for e in enum)
        causes.append(Cause("FieldValueNotSupported", f"Unsupported value: {_go_value(value)}: supported values: "
                                                      f"{supported}", path))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(schema.get("minimum"), (int, float)) and value < schema["minimum"]:
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {_go_value(value)}: {path} in body should be "
                                                     f"greater than or equal to {_num(schema['minimum'])}", path))
        if isinstance(schema.get("maximum"), (int, float)) and value > schema["maximum"]:
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {_go_value(value)}: {path} in body should be "
                                                     f"less than or equal to {_num(schema['maximum'])}", path))
    if isinstance(value, str):
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            causes.append(Cause("FieldValueTooLong", f"Too long: may not be more than {schema['maxLength']} bytes",
                                path))
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {_go_value(value)}: {path} in body should be at "
                                                     f"least {schema['minLength']} chars long", path))
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True
            if not matched:
                causes.append(Cause("FieldValueInvalid", f"Invalid value: {_go_value(value)}: {path} in body should "
                                                         f"match '{pattern}'", path))
    if isinstance(value, dict):
        for name in _list(schema.get("required")):
            if name not in value:
                causes.append(Cause("FieldValueRequired", "Required value", f"{path}.{name}" if path else name))
        props = _dict(schema.get("properties"))
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if not path and key in ("apiVersion", "kind", "metadata"):
                continue
            if key in props:
                validate_value(props[key], item, child, causes)
            elif isinstance(additional, dict):
                validate_value(additional, item, child, causes)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            causes.append(Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {schema['maxItems']} "
                                                     "items", path))
        for i, item in enumerate(value):
            validate_value(schema["items"], item, f"{path}[{i}]", causes)


def _num(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _json_name(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check(info: CustomKindInfo, obj: dict, field_validation: str) -> list[str]:
    """Unknown fields per fieldValidation (a 400 when Strict, else warnings), then pruning and defaulting."""
    found: list[str] = []
    unknown_fields(info.schema, obj, "", found)
    mode = (field_validation or "Strict").capitalize()
    if found and mode == "Strict":
        raise errors.bad_request(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                                 "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in found))
    prune(info.schema, obj)
    apply_defaults(info.schema, obj)
    return [f'unknown field "{p}"' for p in found] if mode == "Warn" else []


def validate(info: CustomKindInfo, obj: dict) -> list[Cause]:
    causes: list[Cause] = []
    validate_value(info.schema, obj, "", causes)
    return causes


# --- Table ---------------------------------------------------------------------------------------


def _evaluate(json_path: str, obj):
    """A printer column's simple JSONPath (`.spec.replicas`, `.status.conditions[0].type`)."""
    current = obj
    for part in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", json_path.strip().lstrip("{").rstrip("}")):
        key, index = part
        if key:
            current = current.get(key) if isinstance(current, dict) else None
        else:
            current = current[int(index)] if isinstance(current, list) and int(index) < len(current) else None
        if current is None:
            return None
    return current


def table_columns(info: CustomKindInfo) -> list[dict]:
    columns = [{"name": "Name", "type": "string", "format": "name",
                "description": "Name must be unique within a namespace. Is required when creating resources, although "
                               "some resources may allow a client to request the generation of an appropriate name "
                               "automatically. Name is primarily intended for creation idempotence and configuration "
                               "definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/"
                               "overview/working-with-objects/names#names", "priority": 0}]
    printer = [c for c in info.printer_columns if isinstance(c, dict)]
    if not printer:
        printer = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    for column in printer:
        columns.append({"name": column.get("name", ""), "type": column.get("type", ""),
                        "format": column.get("format", ""), "description": column.get("description", ""),
                        "priority": int(column.get("priority") or 0)})
    return columns


def table_cells(info: CustomKindInfo, obj: dict, now: float) -> list:
    cells: list = [_dict(obj.get("metadata")).get("name", "")]
    printer = [c for c in info.printer_columns if isinstance(c, dict)]
    if not printer:
        printer = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    for column in printer:
        cells.append(_cell(column.get("type"), _evaluate(str(column.get("jsonPath", "")), obj), now))
    return cells


def _cell(column_type, value, now: float):
    """The tableconvertor's cellForJSONValue: a value of another JSON type than the column's prints as <none>."""
    from engine.clock import parse_rfc3339
    from engine.resources.tables import human_duration

    if value is None or isinstance(value, bool) != (column_type == "boolean"):
        return None
    if column_type == "integer" and isinstance(value, (int, float)):
        return int(value)
    if column_type == "number" and isinstance(value, (int, float)):
        return float(value)
    if column_type in ("boolean", "string") and isinstance(value, bool if column_type == "boolean" else str):
        return value
    if column_type == "date" and isinstance(value, str):
        when = parse_rfc3339(value)
        return human_duration(now - when) if when is not None else "<invalid>"
    return None


__all__ = ["CustomKindInfo", "by_api_version", "by_kind", "by_resource", "check", "kinds", "table_cells",
           "table_columns", "validate"]
