"""Field matchers of lesson checks: `status.readyReplicas >= 2`, `spec.template.spec.containers[0].image == nginx:1.27`.

A matcher is `PATH OP VALUE` or `PATH exists` / `PATH absent`.

PATH is dotted, as in `kubectl get -o jsonpath` without the braces:
  `spec.replicas`, `spec.containers[0].image`, `spec.containers[*].image` (any element),
  `status.conditions[type=Ready].status` (the element whose `type` is `Ready`),
  `metadata.annotations["deployment.kubernetes.io/revision"]` (a key with dots or slashes).
OP is one of `==`, `!=`, `>=`, `<=`, `>`, `<`, `=~` (regular expression search) or `in` (a YAML list).
VALUE is read as YAML (`2`, `true`, `nginx:1.27`, `"a b"`, `[Running, Succeeded]`); `field(PATH)`
compares with another field of the same object (`status.numberReady == field(status.desiredNumberScheduled)`).

A path through `[*]` or a missing key yields several or no values; a matcher holds when any value
satisfies it (`absent` when there is none). Numbers compare as numbers, everything else as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "=~", "in")
UNARY = ("exists", "absent")

_MATCHER = re.compile(r"^\s*(?P<path>\S+)\s+(?P<op>==|!=|>=|<=|=~|>|<|in|exists|absent)(?:\s+(?P<value>.*?))?\s*$")
_SEGMENT = re.compile(
    r"""(?P<name>[A-Za-z_$][\w$-]*)           # a plain key
      | \[(?P<index>\d+)\]                    # [0]
      | \[(?P<star>\*)\]                      # [*]
      | \[(?P<fkey>[\w.\-/]+)=(?P<fval>[^\]]*)\]   # [type=Ready]
      | \[(?P<q>["'])(?P<quoted>.*?)(?P=q)\]  # ["a.b/c"]
      | (?P<dot>\.)
    """, re.VERBOSE)
_FIELD_REF = re.compile(r"^field\((?P<path>[^)]+)\)$")


class FieldError(ValueError):
    """A matcher or path that does not parse; the message says where."""


@dataclass(frozen=True)
class Step:
    kind: str  # key | index | star | filter
    key: str = ""
    index: int = 0
    value: str = ""


def parse_path(path: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    pos = 0
    expect_key = True
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if match is None:
            raise FieldError(f"cannot read the path {path!r} at {path[pos:]!r}")
        pos = match.end()
        if match.group("dot"):
            if expect_key:
                raise FieldError(f"unexpected '.' in the path {path!r}")
            expect_key = True
            continue
        if match.group("name") is not None:
            if not expect_key:
                raise FieldError(f"missing '.' before {match.group('name')!r} in the path {path!r}")
            steps.append(Step("key", key=match.group("name")))
        elif match.group("index") is not None:
            steps.append(Step("index", index=int(match.group("index"))))
        elif match.group("star"):
            steps.append(Step("star"))
        elif match.group("fkey") is not None:
            steps.append(Step("filter", key=match.group("fkey"), value=match.group("fval").strip().strip("\"'")))
        else:
            steps.append(Step("key", key=match.group("quoted")))
        expect_key = False
    if not steps or expect_key:
        raise FieldError(f"the path {path!r} is empty or ends with '.'")
    return tuple(steps)


def resolve(obj: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Every value the path reaches in `obj` (none when a key or index is missing)."""
    current = [obj]
    for step in steps:
        following = []
        for value in current:
            if step.kind == "key":
                if isinstance(value, dict) and step.key in value:
                    following.append(value[step.key])
            elif step.kind == "index":
                if isinstance(value, list) and step.index < len(value):
                    following.append(value[step.index])
            elif step.kind == "star":
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, dict):
                    following.extend(value.values())
            elif isinstance(value, list):
                following.extend(item for item in value
                                 if isinstance(item, dict) and _text(item.get(step.key)) == step.value)
        current = following
    return [v for v in current if v is not None]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Matcher:
    text: str
    path: tuple[Step, ...]
    op: str
    value: Any = None
    ref: tuple[Step, ...] | None = None  # field(PATH) on the right

    def values(self, obj: dict) -> list[Any]:
        return resolve(obj, self.path)

    def expected(self, obj: dict) -> list[Any]:
        return resolve(obj, self.ref) if self.ref is not None else [self.value]

    def matches(self, obj: dict) -> bool:
        found = self.values(obj)
        if self.op == "exists":
            return bool(found)
        if self.op == "absent":
            return not found
        expected = self.expected(obj)
        return any(_compare(actual, self.op, want) for actual in found for want in expected)


def _compare(actual: Any, op: str, want: Any) -> bool:
    if op == "in":
        return any(_compare(actual, "==", item) for item in want)
    if op == "=~":
        return re.search(str(want), _text(actual)) is not None
    a, b = _number(actual), _number(want)
    if op in ("==", "!="):
        if isinstance(actual, bool) or isinstance(want, bool):
            # `ready == true` matches both a JSON true and the "True" of a condition's status.
            equal = _text(actual).lower() == _text(want).lower()
        elif a is not None and b is not None:
            equal = a == b
        else:
            equal = _text(actual) == _text(want)
        return equal if op == "==" else not equal
    if a is None or b is None:
        return False
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]


def parse_matcher(text: str) -> Matcher:
    if not isinstance(text, str):
        raise FieldError(f"a field matcher is text such as 'status.readyReplicas >= 2', not {text!r}")
    match = _MATCHER.match(text)
    if match is None:
        raise FieldError(f"cannot read the matcher {text!r}: expected 'PATH OP VALUE' with OP one of "
                         f"{', '.join(OPERATORS)}, or 'PATH exists' / 'PATH absent'")
    path, op, raw = match.group("path"), match.group("op"), match.group("value")
    steps = parse_path(path)
    if op in UNARY:
        if raw:
            raise FieldError(f"{op!r} takes no value in {text!r}")
        return Matcher(text, steps, op)
    if raw is None or raw == "":
        raise FieldError(f"the matcher {text!r} has no value after {op!r}")
    ref = _FIELD_REF.match(raw)
    if ref:
        return Matcher(text, steps, op, ref=parse_path(ref.group("path").strip()))
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise FieldError(f"cannot read the value {raw!r} in {text!r}: {exc}") from None
    if op == "in" and not isinstance(value, list):
        raise FieldError(f"'in' needs a list such as [Running, Succeeded] in {text!r}")
    if op == "=~":
        try:
            re.compile(str(value))
        except re.error as exc:
            raise FieldError(f"bad regular expression {raw!r} in {text!r}: {exc}") from None
    if op in (">=", "<=", ">", "<") and _number(value) is None:
        raise FieldError(f"{op!r} compares numbers, but {raw!r} is not a number in {text!r}")
    return Matcher(text, steps, op, value)


__all__ = ["FieldError", "Matcher", "parse_matcher", "parse_path", "resolve"]
