"""Label selectors: the string form (`app=web,tier in (a,b),!canary`) and the LabelSelector object form.

Both compile to a `Selector`, a list of requirements all of which must hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine import errors

_OPS_SET = ("in", "notin")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        # Gt / Lt (node affinity only)
        if self.op in ("gt", "lt"):
            try:
                number = int(value) if present else None
            except (TypeError, ValueError):
                return False
            if number is None:
                return False
            limit = int(self.values[0])
            return number > limit if self.op == "gt" else number < limit
        return False


class Selector:
    def __init__(self, requirements: list[Requirement] | None = None, match_nothing: bool = False):
        self.requirements = requirements or []
        self.match_nothing = match_nothing

    def matches(self, labels: dict | None) -> bool:
        if self.match_nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements and not self.match_nothing

    def __str__(self) -> str:
        parts = []
        for r in self.requirements:
            if r.op in ("=", "!="):
                parts.append(f"{r.key}{r.op}{r.values[0]}")
            elif r.op in _OPS_SET:
                parts.append(f"{r.key} {r.op} ({','.join(r.values)})")
            elif r.op == "exists":
                parts.append(r.key)
            else:
                parts.append(f"!{r.key}")
        return ",".join(parts)


EVERYTHING = Selector()

_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


def parse(text: str | None) -> Selector:
    """Parse the string form a `-l` flag or a `labelSelector` query parameter carries."""
    if not text or not text.strip():
        return EVERYTHING
    tokens = [t for t in _TOKEN.findall(text) if t]
    reqs: list[Requirement] = []
    i = 0

    def fail() -> errors.ApiError:
        return errors.bad_request(f"unable to parse requirement: found '{text}', expected: identifier")

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            if i + 1 >= len(tokens):
                raise fail()
            reqs.append(Requirement(tokens[i + 1], "!"))
            i += 2
        else:
            key = tok
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ","
            if nxt in ("=", "==", "!="):
                if i + 2 >= len(tokens) or tokens[i + 2] in (",", "(", ")"):
                    # `key=` selects an empty value
                    reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", ("",)))
                    i += 2
                else:
                    reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (tokens[i + 2],)))
                    i += 3
            elif nxt.lower() in _OPS_SET:
                if i + 2 >= len(tokens) or tokens[i + 2] != "(":
                    raise errors.bad_request(f"unable to parse requirement: found '{text}', expected: '('")
                j = i + 3
                values = []
                while j < len(tokens) and tokens[j] != ")":
                    if tokens[j] != ",":
                        values.append(tokens[j])
                    j += 1
                if j >= len(tokens):
                    raise errors.bad_request(f"unable to parse requirement: found '{text}', expected: ')'")
                reqs.append(Requirement(key, nxt.lower(), tuple(values)))
                i = j + 1
            elif nxt == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            else:
                raise fail()
        if i < len(tokens):
            if tokens[i] != ",":
                raise fail()
            i += 1
    return Selector(reqs)


def from_label_selector(selector: dict | None) -> Selector:
    """Compile a LabelSelector object. A nil selector matches nothing, an empty one everything."""
    if selector is None:
        return Selector(match_nothing=True)
    reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = (expr.get("operator") or "").lower()
        key = expr.get("key", "")
        values = tuple(str(v) for v in expr.get("values") or ())
        if op == "in":
            reqs.append(Requirement(key, "in", values))
        elif op == "notin":
            reqs.append(Requirement(key, "notin", values))
        elif op == "exists":
            reqs.append(Requirement(key, "exists"))
        elif op == "doesnotexist":
            reqs.append(Requirement(key, "!"))
        elif op in ("gt", "lt"):
            reqs.append(Requirement(key, op, values))
    return Selector(reqs)


def selector_string(selector: dict | None) -> str:
    """The string form of a LabelSelector object (what `kubectl describe` prints as Selector)."""
    if not selector:
        return ""
    return str(from_label_selector(selector))
