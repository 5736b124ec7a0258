"""API errors, worded and shaped as Kubernetes' `Status` objects.

Every failure a learner can cause ends in one of these; the HTTP layer turns
`ApiError.status()` into the response body and `code` into the HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cause:
    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, FieldValueForbidden ...
    message: str
    field: str = ""

    def as_dict(self) -> dict:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    name: str = ""
    group: str = ""
    kind: str = ""  # the plural resource, as Kubernetes fills details.kind
    causes: list[Cause] = field(default_factory=list)
    retry_after: int | None = None

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict:
        details: dict = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.as_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        out = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            out["details"] = details
        return out


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(plural, group)} "{name}" not found', name, group, plural)


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(plural, group)} "{name}" already exists', name, group, plural)


def conflict(plural: str, name: str, group: str = "", detail: str | None = None) -> ApiError:
    detail = detail or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        409, "Conflict", f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {detail}',
        name, group, plural,
    )


def gone(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415, "UnsupportedMediaType",
        f'the body of the request was in an unknown format ({content_type or "no Content-Type"}) - accepted media types '
        "include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
    )


def forbidden(plural: str, name: str, group: str, reason: str) -> ApiError:
    who = f'{_qualified(plural, group)} "{name}"' if name else _qualified(plural, group)
    return ApiError(403, "Forbidden", f"{who} is forbidden: {reason}", name, group, plural)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def too_many_requests(message: str, retry_after: int = 1) -> ApiError:
    return ApiError(429, "TooManyRequests", message, retry_after=retry_after)


def request_entity_too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


# --- Invalid (422) -----------------------------------------------------------


def invalid_value(path: str, value, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {format_value(value)}: {detail}", path)


def required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def unsupported(path: str, value, supported: list[str]) -> Cause:
    quoted = ", ".join(f'"{s}"' for s in supported)
    return Cause("FieldValueNotSupported", f"Unsupported value: {format_value(value)}: supported values: {quoted}", path)


def forbidden_field(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)


def duplicate(path: str, value) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {format_value(value)}", path)


def too_long(path: str, value, limit: int) -> Cause:
    return Cause("FieldValueTooLong", f"Too long: may not be more than {limit} bytes", path)


def format_value(value) -> str:
    """Render a value the way field.Error does: strings quoted, numbers bare."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def invalid(qualified_kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """`Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: ...`"""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    kind = qualified_kind.split(".")[0]
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', name, group, kind, causes)
