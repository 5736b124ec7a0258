"""Values rendered as Go's `%#v` renders them in field.Error messages.

Kubernetes prints a bad value with `%q` for strings, `%v` for numbers and
`%#v` for everything else, so a learner reads `map[string]string{"app":"web"}`
or `intstr.IntOrString{Type:1, IntVal:0, StrVal:"50"}`; we print the same.
"""

from __future__ import annotations

import json


def quote(text: str) -> str:
    """Go's %q for plain strings."""
    return json.dumps(text, ensure_ascii=False)


def string_map(value) -> str:
    if not isinstance(value, dict):
        return "map[string]string(nil)"
    items = ", ".join(f"{quote(str(k))}:{quote(str(v))}" for k, v in sorted(value.items()))
    return "map[string]string{" + items + "}"


def int_or_string(value) -> str:
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{quote(value)}}}"
    number = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return f"intstr.IntOrString{{Type:0, IntVal:{number}, StrVal:\"\"}}"


def label_selector(value) -> str:
    value = value if isinstance(value, dict) else {}
    match_labels = value.get("matchLabels")
    labels = string_map(match_labels) if match_labels else "map[string]string(nil)"
    expressions = value.get("matchExpressions") or []
    if expressions:
        parts = []
        for expr in expressions:
            values = expr.get("values")
            rendered = "[]string{" + ", ".join(quote(str(v)) for v in values) + "}" if values else "[]string(nil)"
            parts.append(f"v1.LabelSelectorRequirement{{Key:{quote(str(expr.get('key', '')))}, "
                         f"Operator:{quote(str(expr.get('operator', '')))}, Values:{rendered}}}")
        exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    else:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}"


def service_port(protocol: str, port: int) -> str:
    """The (protocol, port) key Kubernetes reports for duplicate Service ports."""
    return (f"core.ServicePort{{Name:\"\", Protocol:{quote(protocol)}, AppProtocol:(*string)(nil), Port:{port}, "
            "TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}")


def taint(value: dict) -> str:
    return (f"core.Taint{{Key:{quote(str(value.get('key', '')))}, Value:{quote(str(value.get('value', '')))}, "
            f"Effect:{quote(str(value.get('effect', '')))}, TimeAdded:<nil>}}")


def struct(type_name: str, value) -> str:
    """A rough %#v of a nested object, for values Kubernetes prints whole (such as a pod template)."""
    return f"{type_name}{_struct_body(value)}"


def _struct_body(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_go_field(k)}:{_struct_body(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_struct_body(v) for v in value) + "}"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    return str(value)


def _go_field(name: str) -> str:
    return name[:1].upper() + name[1:]
