"""CustomResourceDefinition (apiextensions.k8s.io/v1): defaults, validation and the status on create.

As the apiextensions-apiserver has them: `SetDefaults_CustomResourceDefinitionSpec`
(singular, listKind, conversion), the strategy's PrepareForCreate (an empty status
but for the storage version) and `ValidateCustomResourceDefinition` for the
mistakes people make in a manifest: the name must be `<plural>.<group>`, names
must be lowercase RFC 1035 labels, exactly one storage version, a v1 schema
that is structural, printer columns of a known type. The naming and
establishing controllers' conditions are written by engine.controllers.crd.
"""

from __future__ import annotations

from engine.errors import Cause, format_value, invalid_value, required, unsupported
from engine.resources import names

GROUP = "apiextensions.k8s.io"
SCOPES = ["Cluster", "Namespaced"]
CONVERSION_STRATEGIES = ["None", "Webhook"]
# sets.NewString(...).List(): sorted.
PRINTER_COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
PRINTER_COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]
SCHEMA_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str:
    return value if isinstance(value, str) else ""


# --- defaults and create -------------------------------------------------------------------------


def default(obj: dict) -> None:
    """SetDefaults_CustomResourceDefinitionSpec and SetDefaults_ServiceReference."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec_names = spec.get("names")
    if isinstance(spec_names, dict):
        kind = _str(spec_names.get("kind"))
        if not spec_names.get("singular"):
            spec_names["singular"] = kind.lower()
        if not spec_names.get("listKind") and kind:
            spec_names["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    conversion = _dict(spec.get("conversion"))
    if conversion.get("strategy") == "Webhook":
        webhook = _dict(conversion.get("webhook"))
        if webhook and not webhook.get("conversionReviewVersions"):
            webhook["conversionReviewVersions"] = ["v1"]
        service = _dict(_dict(webhook.get("clientConfig")).get("service"))
        if service and service.get("port") is None:
            service["port"] = 443


def storage_version(obj: dict) -> str | None:
    for version in _list(_dict(obj.get("spec")).get("versions")):
        if isinstance(version, dict) and version.get("storage") is True:
            return _str(version.get("name"))
    return None


def initial_status(obj: dict) -> dict:
    """The strategy's PrepareForCreate: no conditions yet, no accepted names, the storage version stored."""
    stored = storage_version(obj)
    return {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": [stored] if stored else []}


def mark_terminating(obj: dict, now: float) -> dict:
    """The CRD registry's first DELETE: the cleanup finalizer and a Terminating condition, before the instances go."""
    from engine.clock import format_rfc3339

    meta = obj["metadata"]
    if CLEANUP_FINALIZER not in (meta.get("finalizers") or []):
        meta["finalizers"] = list(meta.get("finalizers") or []) + [CLEANUP_FINALIZER]
    status = obj.setdefault("status", {})
    conditions = [c for c in _list(status.get("conditions")) if _dict(c).get("type") != "Terminating"]
    conditions.append({"type": "Terminating", "status": "True", "lastTransitionTime": format_rfc3339(now),
                       "reason": "InstanceDeletionPending",
                       "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will begin "
                                  "soon"})
    status["conditions"] = conditions
    return obj


def established(obj: dict) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in _list(_dict(obj.get("status")).get("conditions")) if isinstance(c, dict))


# --- validation ----------------------------------------------------------------------------------


def validate(obj: dict) -> list[Cause]:
    """ValidateCustomResourceDefinition after ObjectMeta's generic checks (done by the caller)."""
    meta = _dict(obj.get("metadata"))
    spec = _dict(obj.get("spec"))
    spec_names = _dict(spec.get("names"))
    causes: list[Cause] = []
    name = _str(meta.get("name"))
    if name and name != f"{_str(spec_names.get('plural'))}.{_str(spec.get('group'))}":
        causes.append(invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    causes += _validate_spec(spec)
    stored = _list(_dict(obj.get("status")).get("storedVersions"))
    if not stored:
        causes.append(Cause("FieldValueInvalid", "Invalid value: []string{}: must have at least one stored version",
                            "status.storedVersions"))
    return causes


def validate_update(new: dict, old: dict) -> list[Cause]:
    """ValidateCustomResourceDefinitionUpdate's immutable fields."""
    spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    causes: list[Cause] = []
    if established(old) and spec.get("scope") != old_spec.get("scope"):
        causes.append(invalid_value("spec.scope", _str(spec.get("scope")), "field is immutable"))
    if spec.get("group") != old_spec.get("group"):
        causes.append(invalid_value("spec.group", _str(spec.get("group")), "field is immutable"))
    return causes


def _validate_spec(spec: dict) -> list[Cause]:
    causes: list[Cause] = []
    group = _str(spec.get("group"))
    if not group:
        causes.append(required("spec.group"))
    elif errs := names.is_dns1123_subdomain(group):
        causes.append(invalid_value("spec.group", group, ",".join(errs)))
    elif len(group.split(".")) < 2:
        causes.append(invalid_value("spec.group", group, "should be a domain with at least one dot"))
    scope = _str(spec.get("scope"))
    if not scope:
        causes.append(required("spec.scope"))
    elif scope not in SCOPES:
        causes.append(unsupported("spec.scope", scope, SCOPES))
    versions = [v for v in _list(spec.get("versions")) if isinstance(v, dict)]
    if not versions:
        causes.append(Cause("FieldValueInvalid", "Invalid value: []apiextensions.CustomResourceDefinitionVersion"
                                                 "(nil): must have exactly one version marked as storage version",
                            "spec.versions"))
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        vname = _str(version.get("name"))
        if vname in seen:
            unique = False
        seen.add(vname)
        if errs := names.is_dns1035_label(vname):
            causes.append(invalid_value(f"{path}.name", vname, ",".join(errs)))
        causes += _validate_version(version, path)
    if versions:
        if not unique:
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {_versions_value(versions)}: must contain "
                                                     "unique version names", "spec.versions"))
        if sum(1 for v in versions if v.get("storage") is True) != 1:
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {_versions_value(versions)}: must have exactly "
                                                     "one version marked as storage version", "spec.versions"))
    spec_names = _dict(spec.get("names"))
    causes += _validate_names(spec_names)
    for field in ("plural", "singular", "kind", "listKind"):
        if not _str(spec_names.get(field)):
            causes.append(required(f"spec.names.{field}"))
    strategy = _str(_dict(spec.get("conversion")).get("strategy"))
    if strategy not in CONVERSION_STRATEGIES:
        causes.append(unsupported("spec.conversion.strategy", strategy, CONVERSION_STRATEGIES))
    elif strategy == "Webhook" and not _dict(spec.get("conversion")).get("webhook"):
        causes.append(required("spec.conversion.webhook", "required when strategy is set to Webhook"))
    elif strategy == "None" and _dict(spec.get("conversion")).get("webhook"):
        causes.append(Cause("FieldValueForbidden", "Forbidden: should not be set when strategy is not set to Webhook",
                            "spec.conversion.webhook"))
    return causes


def _versions_value(versions: list[dict]) -> str:
    """field.Error's %#v of the versions slice, with its pointer fields left out (Go prints their addresses)."""
    items = [f'apiextensions.CustomResourceDefinitionVersion{{Name:{format_value(_str(v.get("name")))}, '
             f'Served:{str(v.get("served") is True).lower()}, Storage:{str(v.get("storage") is True).lower()}, '
             f'Deprecated:{str(v.get("deprecated") is True).lower()}, ...}}' for v in versions]
    return "[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(items) + "}"


def _validate_names(spec_names: dict) -> list[Cause]:
    """ValidateCustomResourceDefinitionNames."""
    causes: list[Cause] = []
    for field in ("plural", "singular"):
        value = _str(spec_names.get(field))
        if value and (errs := names.is_dns1035_label(value)):
            causes.append(invalid_value(f"spec.names.{field}", value, ",".join(errs)))
    for field in ("kind", "listKind"):
        value = _str(spec_names.get(field))
        if value and (errs := names.is_dns1035_label(value.lower())):
            causes.append(invalid_value(f"spec.names.{field}", value,
                                        "may have mixed case, but should otherwise match: " + ",".join(errs)))
    for i, short in enumerate(_list(spec_names.get("shortNames"))):
        if errs := names.is_dns1035_label(_str(short)):
            causes.append(invalid_value(f"spec.names.shortNames[{i}]", _str(short), ",".join(errs)))
    kind = _str(spec_names.get("kind"))
    if kind and kind == spec_names.get("listKind"):
        causes.append(invalid_value("spec.names.listKind", kind, "kind and listKind may not be the same"))
    for i, category in enumerate(_list(spec_names.get("categories"))):
        if errs := names.is_dns1035_label(_str(category)):
            causes.append(invalid_value(f"spec.names.categories[{i}]", _str(category), ",".join(errs)))
    return causes


def _validate_version(version: dict, path: str) -> list[Cause]:
    causes: list[Cause] = []
    schema = _dict(version.get("schema")).get("openAPIV3Schema")
    if not isinstance(schema, dict):
        causes.append(required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
    else:
        causes += _structural(schema, f"{path}.schema.openAPIV3Schema", root=True)
    for i, column in enumerate(_list(version.get("additionalPrinterColumns"))):
        causes += _validate_column(_dict(column), f"{path}.additionalPrinterColumns[{i}]")
    return causes


def _validate_column(column: dict, path: str) -> list[Cause]:
    """ValidateCustomResourceColumnDefinition."""
    causes: list[Cause] = []
    if not _str(column.get("name")):
        causes.append(required(f"{path}.name"))
    ctype = _str(column.get("type"))
    if not ctype:
        causes.append(required(f"{path}.type", "must be one of " + ",".join(PRINTER_COLUMN_TYPES)))
    elif ctype not in PRINTER_COLUMN_TYPES:
        causes.append(unsupported(f"{path}.type", ctype, PRINTER_COLUMN_TYPES))
    fmt = _str(column.get("format"))
    if fmt and fmt not in PRINTER_COLUMN_FORMATS:
        causes.append(unsupported(f"{path}.format", fmt, PRINTER_COLUMN_FORMATS))
    json_path = _str(column.get("jsonPath"))
    if not json_path:
        causes.append(required(f"{path}.jsonPath"))
    return causes


def _structural(schema: dict, path: str, root: bool = False, context: str = "") -> list[Cause]:
    """The structural-schema rules most manifests trip over: every specified node has a type."""
    causes: list[Cause] = []
    stype = _str(schema.get("type"))
    untyped_ok = schema.get("x-kubernetes-int-or-string") is True or schema.get(
        "x-kubernetes-preserve-unknown-fields") is True
    if root:
        if not stype:
            causes.append(required(f"{path}.type", "must not be empty at the root"))
        elif stype != "object":
            causes.append(invalid_value(f"{path}.type", stype, "must be object at the root"))
    elif not stype and not untyped_ok:
        causes.append(required(f"{path}.type", f"must not be empty for specified {context}"))
    if stype and stype not in SCHEMA_TYPES:
        causes.append(unsupported(f"{path}.type", stype, SCHEMA_TYPES))
    if stype == "array" and not isinstance(schema.get("items"), dict):
        causes.append(required(f"{path}.items", "must be specified"))
    for key, child in _dict(schema.get("properties")).items():
        if isinstance(child, dict):
            causes += _structural(child, f"{path}.properties[{key}]", context="object fields")
    items = schema.get("items")
    if isinstance(items, dict):
        causes += _structural(items, f"{path}.items", context="array items")
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        causes += _structural(additional, f"{path}.additionalProperties", context="object fields")
    return causes


__all__ = ["CLEANUP_FINALIZER", "GROUP", "default", "mark_terminating", "established", "initial_status", "storage_version", "validate", "validate_update"]
