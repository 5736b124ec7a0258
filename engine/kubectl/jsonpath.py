"""kubectl's JSONPath templates (client-go util/jsonpath): `{.items[*].metadata.name}`,
`{range .items[*]}{.metadata.name}{"\\n"}{end}`, filters `[?(@.type=="Ready")]`, slices, `..`, `*`.
"""

from __future__ import annotations

import json
import re

from engine.kubectl.base import ExitError


class JSONPathError(ExitError):
    pass


# --- parsing -----------------------------------------------------------------------------------

class Text:
    def __init__(self, text: str):
        self.text = text


class Expr:
    def __init__(self, steps: list):
        self.steps = steps  # ("field", name) | ("index", spec) | ("wild",) | ("recursive",) | ("filter", ...)


class Range:
    def __init__(self, expr: Expr, body: list):
        self.expr = expr
        self.body = body


def parse(template: str) -> list:
    nodes, rest = _parse_nodes(template, 0, top=True)
    return nodes


def _parse_nodes(template: str, pos: int, top: bool) -> tuple[list, int]:
    nodes: list = []
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            nodes.append(Text(template[pos:]))
            return nodes, len(template)
        if start > pos:
            nodes.append(Text(template[pos:start]))
        end = _matching_brace(template, start)
        inner = template[start + 1:end].strip()
        pos = end + 1
        if inner == "end":
            if top:
                raise JSONPathError("not in range, nothing to end")
            return nodes, pos
        if inner.startswith("range ") or inner.startswith("range\t"):
            expr = _parse_expr(inner[6:].strip())
            body, pos = _parse_nodes(template, pos, top=False)
            nodes.append(Range(expr, body))
            continue
        if (inner.startswith('"') and inner.endswith('"') and len(inner) >= 2) or \
                (inner.startswith("'") and inner.endswith("'") and len(inner) >= 2):
            nodes.append(Text(_unquote(inner)))
            continue
        nodes.append(_parse_expr(inner))
    if not top:
        raise JSONPathError("unclosed action")
    return nodes, pos


def _matching_brace(template: str, start: int) -> int:
    depth = 0
    quote = ""
    for i in range(start, len(template)):
        ch = template[i]
        if quote:
            if ch == "\\":
                continue
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'" and depth >= 1 and i > start:
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    raise JSONPathError("unclosed action")


def _unquote(text: str) -> str:
    body = text[1:-1]
    return body.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in body else body


_IDENT = re.compile(r"[A-Za-z0-9_\-/$]+")


def _parse_expr(text: str) -> Expr:
    steps: list = []
    i = 0
    if text.startswith("$"):
        i = 1
    if text == "@" or text == "":
        return Expr([])
    while i < len(text):
        ch = text[i]
        if text.startswith("..", i):
            steps.append(("recursive",))
            i += 2
            continue
        if ch == ".":
            i += 1
            if i < len(text) and text[i] == "*":
                steps.append(("wild",))
                i += 1
                continue
            m = _IDENT.match(text, i)
            if not m:
                if i >= len(text):
                    break
                raise JSONPathError(f"unrecognized character in action: {text[i]!r}")
            steps.append(("field", m.group(0)))
            i = m.end()
            continue
        if ch == "[":
            end = _matching_bracket(text, i)
            inner = text[i + 1:end].strip()
            i = end + 1
            steps.append(_parse_bracket(inner))
            continue
        if ch == "@":
            i += 1
            continue
        m = _IDENT.match(text, i)
        if m:
            steps.append(("field", m.group(0)))
            i = m.end()
            continue
        raise JSONPathError(f"unrecognized character in action: U+{ord(ch):04X} {ch!r}")
    return Expr(steps)


def _matching_bracket(text: str, start: int) -> int:
    depth = 0
    quote = ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JSONPathError("unterminated array")


def _parse_bracket(inner: str):
    if inner == "*":
        return ("wild",)
    if inner.startswith("?"):
        body = inner[1:].strip()
        if body.startswith("(") and body.endswith(")"):
            body = body[1:-1].strip()
        m = re.match(r"^(@[^=!<>~]*?)\s*(==|!=|<=|>=|<|>|=~)\s*(.+)$", body)
        if not m:
            return ("filter", _parse_expr(body.strip()), "exists", None)
        left, op, right = m.group(1).strip(), m.group(2), m.group(3).strip()
        if right.startswith(("'", '"')):
            value = right[1:-1]
        elif right.startswith("@"):
            value = _parse_expr(right)
        else:
            try:
                value = int(right)
            except ValueError:
                try:
                    value = float(right)
                except ValueError:
                    value = right
        return ("filter", _parse_expr(left), op, value)
    if (inner.startswith("'") and inner.endswith("'")) or (inner.startswith('"') and inner.endswith('"')):
        names = [part.strip()[1:-1] for part in inner.split(",")]
        return ("fields", names)
    if ":" in inner:
        parts = (inner.split(":") + ["", ""])[:3]
        try:
            nums = [int(p) if p.strip() else None for p in parts]
        except ValueError:
            raise JSONPathError(f"invalid array index {inner}") from None
        return ("slice", nums[0], nums[1], nums[2])
    try:
        return ("indexes", [int(p) for p in inner.split(",")])
    except ValueError:
        raise JSONPathError(f"invalid array index {inner}") from None


# --- evaluation --------------------------------------------------------------------------------

class Missing(Exception):
    pass


def _eval(expr: Expr, values: list, allow_missing: bool) -> list:
    for step in expr.steps:
        kind = step[0]
        out = []
        if kind == "field":
            for v in values:
                if isinstance(v, dict):
                    if step[1] in v:
                        out.append(v[step[1]])
                    elif not allow_missing:
                        raise Missing(f"{step[1]} is not found")
                elif not allow_missing and v is not None:
                    raise Missing(f"{step[1]} is not found")
        elif kind == "fields":
            for v in values:
                if isinstance(v, dict):
                    for name in step[1]:
                        if name in v:
                            out.append(v[name])
                        elif not allow_missing:
                            raise Missing(f"{name} is not found")
        elif kind == "wild":
            for v in values:
                if isinstance(v, dict):
                    out.extend(v[k] for k in sorted(v))
                elif isinstance(v, list):
                    out.extend(v)
        elif kind == "recursive":
            for v in values:
                out.extend(_walk(v))
        elif kind == "indexes":
            for v in values:
                if isinstance(v, list):
                    for index in step[1]:
                        real = index + len(v) if index < 0 else index
                        if 0 <= real < len(v):
                            out.append(v[real])
                        elif not allow_missing:
                            raise Missing(f"array index out of bounds: index {index}, length {len(v)}")
        elif kind == "slice":
            for v in values:
                if isinstance(v, list):
                    start, end, stride = step[1], step[2], step[3]
                    out.extend(v[slice(start, end, stride or None)])
        elif kind == "filter":
            _, left, op, right = step
            for v in values:
                items = v if isinstance(v, list) else [v] if isinstance(v, dict) else []
                for item in items:
                    found = _eval(left, [item], True)
                    if op == "exists":
                        if found and found[0] is not None:
                            out.append(item)
                        continue
                    if not found:
                        continue
                    rhs = _eval(right, [item], True) if isinstance(right, Expr) else [right]
                    if not rhs:
                        continue
                    if _compare(found[0], op, rhs[0]):
                        out.append(item)
        values = out
    return values


def _walk(value) -> list:
    out = [value]
    if isinstance(value, dict):
        for k in sorted(value):
            out.extend(_walk(value[k]))
    elif isinstance(value, list):
        for item in value:
            out.extend(_walk(item))
    return out


def _compare(a, op: str, b) -> bool:
    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, str):
        try:
            b = float(b)
        except ValueError:
            return False
    try:
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        if op == ">=":
            return a >= b
        if op == "=~":
            return isinstance(a, str) and re.search(str(b), a) is not None
    except TypeError:
        return False
    return False


def go_json(value) -> str:
    """encoding/json's compact form (HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def text_of(value) -> str:
    if isinstance(value, (dict, list)):
        return go_json(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)


def execute(template: str, data, allow_missing: bool = True) -> str:
    nodes = parse(template)
    out: list[str] = []
    try:
        _execute(nodes, data, data, out, allow_missing)
    except Missing as exc:
        raise JSONPathError(f'error executing jsonpath "{template}": Error executing template: {exc}. Printing more '
                            "information for debugging the template:\n\ttemplate was:\n\t\t" + template +
                            "\n\tobject given to jsonpath engine was:\n\t\t" + go_json(data) + "\n\n") from None
    return "".join(out)


def _execute(nodes: list, root, current, out: list[str], allow_missing: bool) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Range):
            for item in _results(node.expr, root, current, allow_missing):
                _execute(node.body, root, item, out, allow_missing)
        else:
            results = _results(node, root, current, allow_missing)
            out.append(" ".join(text_of(r) for r in results))


def _results(expr: Expr, root, current, allow_missing: bool) -> list:
    return _eval(expr, [current], allow_missing)


def find(expression: str, data) -> list:
    """The values a relaxed expression (`.metadata.name`, `{.spec.containers[*].image}`) selects."""
    text = relaxed(expression)
    nodes = parse(text)
    values: list = []
    for node in nodes:
        if isinstance(node, Expr):
            values.extend(_eval(node, [data], True))
    return values


def relaxed(expression: str) -> str:
    """RelaxedJSONPathExpression: `metadata.name` and `.metadata.name` become `{.metadata.name}`."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if text and not text.startswith(".") and not text.startswith("["):
        text = "." + text
    return "{" + text + "}"
