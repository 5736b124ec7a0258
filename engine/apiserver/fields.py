"""Field selectors (`--field-selector`, `fieldSelector=`): only the fields each kind declares."""

from __future__ import annotations

from collections.abc import Callable

from engine import errors
from engine.resources.registry import KindInfo

ALWAYS = ("metadata.name", "metadata.namespace")


def _lookup(obj: dict, path: str) -> str:
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compile_field_selector(text: str | None, info: KindInfo) -> Callable[[dict], bool]:
    if not text or not text.strip():
        return lambda obj: True
    terms = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        if "!=" in raw:
            field, value = raw.split("!=", 1)
            negate = True
        elif "==" in raw:
            field, value = raw.split("==", 1)
            negate = False
        elif "=" in raw:
            field, value = raw.split("=", 1)
            negate = False
        else:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        field = field.strip()
        if field not in ALWAYS and field not in info.selectable_fields:
            raise errors.bad_request(f'field label not supported: {field}')
        terms.append((field, value.strip(), negate))

    def matches(obj: dict) -> bool:
        for field, value, negate in terms:
            actual = _field_value(obj, field)
            if (actual == value) == negate:
                return False
        return True

    return matches


def _field_value(obj: dict, field: str) -> str:
    if field == "source" and obj.get("kind") == "Event":
        return _lookup(obj, "source.component")
    if field == "spec.unschedulable" and obj.get("kind") == "Node":
        return "true" if (obj.get("spec") or {}).get("unschedulable") else "false"
    return _lookup(obj, field)


def only_name(text: str | None) -> str | None:
    """The name a field selector pins (`metadata.name=NAME`, as `kubectl get pod NAME -w` sends), or None: a
    watch then skips other objects' changes without reading them."""
    for raw in (text or "").split(","):
        for op in ("==", "="):
            field, sep, value = raw.partition(op)
            if sep and "!" not in field and field.strip() == "metadata.name":
                return value.strip()
            if sep:
                break
    return None
