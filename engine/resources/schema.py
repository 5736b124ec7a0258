"""Structural checks at the API boundary, against the kubex pydantic model of each kind.

Two things Kubernetes' JSON decoder catches before validation ever runs:

- values of the wrong type (`replicas: "two"`): a 400 worded as Go's decoder
  words it, `json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32`;
- unknown fields (`imagee`), which `fieldValidation` turns into a 400
  (Strict), a warning (Warn) or nothing (Ignore).

Pydantic (strict mode, JSON input) finds the type errors; a walk over the
model's fields finds the unknown ones. This runs once per request, never per
tick.
"""

from __future__ import annotations

import importlib
import json
import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from engine import errors
from engine.resources.quantity import normalize_quantities
from engine.resources.registry import KindInfo

MODEL_ROOT = "kubex.k8s.v1_32"

# ObjectMeta as Kubernetes has it; kubex's ObjectMetadata lacks selfLink and managedFields.
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
})

# Go integer fields that are int64 (the rest of the API's integers are int32); kubex only says `int`.
INT64_FIELDS = frozenset({
    "activeDeadlineSeconds", "terminationGracePeriodSeconds", "deletionGracePeriodSeconds", "generation",
    "observedGeneration", "runAsUser", "runAsGroup", "fsGroup", "supplementalGroups", "startingDeadlineSeconds",
    "expirationSeconds", "gracePeriodSeconds", "revision", "value", "limit", "remainingItemCount",
})

# Kubex class names that differ from the Go type names Kubernetes prints.
GO_TYPE_NAMES = {"ObjectMetadata": "ObjectMeta"}

# Kubex models without fields that stand for any JSON value, decoded by the Go type's own UnmarshalJSON
# (a CRD schema's `default`, `enum`, `additionalProperties: true|{...}`, `items`): not checked here.
OPAQUE_MODELS = frozenset({"JSON", "JSONSchemaPropsOrBool", "JSONSchemaPropsOrArray", "JSONSchemaPropsOrStringArray"})


@cache
def load_model(dotted: str) -> type[BaseModel]:
    """The kubex model class for a registry `model` path, imported on first use."""
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(f"{MODEL_ROOT}.{module}"), name)


def check(obj: dict, info: KindInfo, field_validation: str = "Strict", typed: bool = False) -> list[str]:
    """Check an incoming object's shape; return warnings, raise a 400 ApiError.

    Normalizes in place first: whole-number floats become ints (kubectl's JSON
    never carries `80.0`) and quantities become their canonical strings.
    `typed`: the writer is a controller's typed client (client-go), whose objects
    are Go structs: they cannot carry unknown fields or values of the wrong JSON
    type, so only the normalization applies (the decode checks are most of a
    controller write's cost otherwise).
    """
    if info.model is None:
        return []
    prefix = f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
    _ints_from_floats(obj)
    bad_quantities = normalize_quantities(obj)
    if bad_quantities:
        raise errors.bad_request(prefix + bad_quantities[0][1])
    if typed:
        return []
    model = load_model(info.model)
    type_error = _type_error(model, obj) or _bytes_error(info.kind, obj)
    if type_error:
        raise errors.bad_request(prefix + type_error)
    mode = (field_validation or "Strict").capitalize()
    if mode == "Ignore":
        return []
    unknown = unknown_fields(model, obj)
    if not unknown:
        return []
    messages = [f'unknown field "{path}"' for path in unknown]
    if mode == "Strict":
        raise errors.bad_request(prefix + "strict decoding error: " + ", ".join(messages))
    return messages


# --- unknown fields ----------------------------------------------------------------------------


@cache
def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """alias -> annotation for a model."""
    out = {}
    for name, info in model.model_fields.items():
        out[info.alias or name] = info.annotation
    return out


def _is_object_meta(model) -> bool:
    return model.__name__ == "ObjectMetadata"


@cache
def _managed_fields_model():
    return load_model("meta.v1.managed_fields_entry.ManagedFieldsEntry")


def unknown_fields(model: type[BaseModel], obj: dict) -> list[str]:
    """Paths of fields the model does not know, in document order (`spec.template.spec.containers[0].imagee`)."""
    found: list[str] = []
    _walk_model(model, obj, "", found)
    return found


def _walk_model(model, value, path: str, found: list[str]) -> None:
    if not isinstance(value, dict):
        return
    fields = _fields(model)
    meta = _is_object_meta(model)
    for key, child in value.items():
        child_path = f"{path}.{key}" if path else key
        if key in fields:
            _walk(fields[key], child, child_path, found)
        elif meta and key in OBJECT_META_FIELDS:
            if key == "managedFields" and isinstance(child, list):
                for i, entry in enumerate(child):
                    _walk_model(_managed_fields_model(), entry, f"{child_path}[{i}]", found)
        else:
            found.append(child_path)


def _walk(annotation, value, path: str, found: list[str]) -> None:
    model = _model_in(annotation)
    if model is not None and model.__name__ in OPAQUE_MODELS:
        return
    if model is not None:
        _walk_model(model, value, path, found)
        return
    origin = typing.get_origin(_unwrap_optional(annotation))
    args = typing.get_args(_unwrap_optional(annotation))
    if origin is list and isinstance(value, list) and args:
        for i, item in enumerate(value):
            _walk(args[0], item, f"{path}[{i}]", found)
    elif origin is dict and isinstance(value, dict) and len(args) == 2 and _model_in(args[1]) is not None:
        for key, item in value.items():
            _walk(args[1], item, f"{path}[{key}]", found)


@cache
def _unwrap_optional(annotation):
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


@cache
def _model_in(annotation):
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


# --- type errors -------------------------------------------------------------------------------


def _ints_from_floats(value):
    """Whole floats to ints, in place: YAML `80.0` reaches a real apiserver as JSON `80`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, float) and item.is_integer() and abs(item) < 2**63:
                value[key] = int(item)
            elif isinstance(item, (dict, list)):
                _ints_from_floats(item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, float) and item.is_integer() and abs(item) < 2**63:
                value[i] = int(item)
            elif isinstance(item, (dict, list)):
                _ints_from_floats(item)


def _type_error(model: type[BaseModel], obj: dict) -> str | None:
    """The first type error in document order, worded as Go's encoding/json words it."""
    try:
        model.model_validate_json(json.dumps(obj), strict=True)
        return None
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if err["type"] == "missing" or err.get("input") is None:
                continue  # absent and null are fine for the decoder; validation reports required fields
            if err["type"] == "literal_error" and err["loc"] and err["loc"][-1] in ("apiVersion", "kind"):
                continue  # type metadata is the apiserver's to check against the URL (and ignored when embedded)
            if _through_opaque(model, err["loc"]):
                continue
            problems.append(err)
        if not problems:
            return None
        first = min(problems, key=lambda e: _document_position(obj, e["loc"]))
        return _go_message(model, first)


def _through_opaque(model: type[BaseModel], loc) -> bool:
    """Whether an error's location lies in a field of an OPAQUE_MODELS type (any JSON value is fine there)."""
    annotation: Any = model
    for part in loc:
        inner = _unwrap_optional(annotation)
        sub_model = _model_in(inner)
        if sub_model is not None and sub_model.__name__ in OPAQUE_MODELS:
            return True
        origin = typing.get_origin(inner)
        if sub_model is not None and isinstance(part, str) and part in _fields(sub_model):
            annotation = _fields(sub_model)[part]
        elif origin is list and isinstance(part, int):
            annotation = typing.get_args(inner)[0]
        elif origin is dict and isinstance(part, str):
            annotation = typing.get_args(inner)[1]
    sub_model = _model_in(annotation)
    return sub_model is not None and sub_model.__name__ in OPAQUE_MODELS


def _document_position(obj, loc) -> tuple[int, ...]:
    position = []
    current = obj
    for part in loc:
        if isinstance(current, dict) and part in current:
            position.append(list(current).index(part))
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            position.append(part)
            current = current[part]
    return tuple(position)


def _go_message(model: type[BaseModel], err: dict) -> str:
    struct = _go_name(model)
    annotation: Any = model
    field_path: list[str] = []
    for part in err["loc"]:
        inner = _unwrap_optional(annotation)
        sub_model = _model_in(inner)
        origin = typing.get_origin(inner)
        if sub_model is not None and isinstance(part, str) and part in _fields(sub_model):
            struct = _go_name(sub_model)
            field_path.append(part)
            annotation = _fields(sub_model)[part]
        elif origin is list and isinstance(part, int):
            annotation = typing.get_args(inner)[0]
        elif origin is dict and isinstance(part, str):
            annotation = typing.get_args(inner)[1]
        # anything else is a pydantic union tag ('int', 'str'): skip it
    value = err.get("input")
    go_type = _go_type(annotation, field_path[-1] if field_path else "")
    if go_type == "v1.Time" and isinstance(value, str):
        return f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{value}" as "2006"'
    json_kind = _json_kind(value, go_type)
    if field_path:
        return f"json: cannot unmarshal {json_kind} into Go struct field {struct}.{'.'.join(field_path)} of type {go_type}"
    return f"json: cannot unmarshal {json_kind} into Go value of type {go_type}"


def _go_name(model) -> str:
    return GO_TYPE_NAMES.get(model.__name__, model.__name__)


def _go_package(model) -> str:
    parts = model.__module__.split(".")
    for part in reversed(parts[:-1]):
        if part.startswith("v") and part[1:2].isdigit():
            return part
    return "v1"


def _go_type(annotation, field_name: str) -> str:
    annotation = _unwrap_optional(annotation)
    model = _model_in(annotation)
    if model is not None:
        return f"{_go_package(model)}.{_go_name(model)}"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list:
        return "[]" + _go_type(args[0], field_name)
    if origin is dict:
        return f"map[{_go_type(args[0], '')}]{_go_type(args[1], '')}"
    if origin in (typing.Union, types.UnionType):
        if int in args and str in args:
            return "int32"  # IntOrString decodes anything but a string as an int32
        return _go_type(args[0], field_name)
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int64" if field_name in INT64_FIELDS else "int32"
    if annotation is float:
        return "float64"
    if getattr(annotation, "__name__", "") == "datetime":
        return "v1.Time"
    if annotation is Any:
        return "interface {}"
    return "string"


def _json_kind(value, go_type: str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        if go_type.startswith("int") and not (isinstance(value, int) or float(value).is_integer()):
            return f"number {json.dumps(value)}"
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "value"


# --- []byte fields -----------------------------------------------------------------------------

_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_BYTES_FIELDS = {"Secret": "data", "ConfigMap": "binaryData"}


def _bytes_error(kind: str, obj: dict) -> str | None:
    """Secret data and ConfigMap binaryData are []byte in Go: their strings must be padded base64."""
    values = obj.get(_BYTES_FIELDS.get(kind, ""))
    if not isinstance(values, dict):
        return None
    for value in values.values():
        if isinstance(value, str):
            offset = base64_error_offset(value.encode())
            if offset is not None:
                return f"illegal base64 data at input byte {offset}"
    return None


def base64_error_offset(data: bytes) -> int | None:
    """Where Go's base64.StdEncoding gives up on the input (CorruptInputError), or None if it decodes.

    Go skips CR and LF anywhere and insists on `=` padding.
    """
    i, n = 0, len(data)
    while True:
        quantum = 0  # characters of the current 4-character group read so far
        while quantum < 4:
            if i == n:
                if quantum == 0:
                    return None
                return i - quantum
            c = data[i]
            i += 1
            if c in _BASE64_ALPHABET:
                quantum += 1
                continue
            if c in b"\r\n":
                continue
            if c != ord("="):
                return i - 1
            if quantum < 2:
                return i - 1
            if quantum == 2:  # a second `=` must follow
                while i < n and data[i] in b"\r\n":
                    i += 1
                if i == n:
                    return n
                if data[i] != ord("="):
                    return i - 1
                i += 1
            while i < n and data[i] in b"\r\n":
                i += 1
            return i if i < n else None
