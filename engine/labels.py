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

# The lexer of apimachinery's labels.Parse: special symbols, and identifiers running up to one.
_SPECIAL = "=!(),><"
_SYMBOLS = ("!=", "==", "=", "!", "(", ")", ",", ">", "<")


def _lex(text: str) -> list[tuple[str, str]]:
    """(token, literal) pairs: token is the symbol or keyword itself, "id" for an identifier, "end" last."""
    items: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            items.append(("end", ""))
            return items
        if text[i] in _SPECIAL:
            j = i
            best = ""
            while j < n and text[j] in _SPECIAL:
                candidate = text[i:j + 1]
                if candidate in _SYMBOLS:
                    best = candidate
                elif best:
                    break
                j += 1
            if not best:
                items.append(("error", f"error expected: keyword found '{text[i:j]}'"))
                i = j
            else:
                items.append((best, best))
                i += len(best)
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in " \t\r\n":
            j += 1
        word = text[i:j]
        items.append((word if word in _OPS_SET else "id", word))
        i = j


class _ParseError(Exception):
    pass


def _key_error(key: str) -> str | None:
    from engine.resources.names import is_qualified_name

    problems = is_qualified_name(key)
    return f'<nil>: Invalid value: "{_go_escape(key)}": ' + "; ".join(problems) if problems else None


def _go_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _requirement(key: str, op: str, values: list[str]) -> Requirement:
    """NewRequirement's checks of the values (the key was checked as it was read)."""
    from engine.resources.names import is_valid_label_value

    problems: list[str] = []
    rendered = "[]string{" + ", ".join(f'"{_go_escape(v)}"' for v in values) + "}"
    if op in _OPS_SET and not values:
        problems.append(f"values: Invalid value: {rendered}: for 'in', 'notin' operators, values set can't be empty")
    if op in ("gt", "lt"):
        for i, value in enumerate(values):
            if not re.fullmatch(r"[+-]?\d+", value):
                problems.append(f'values[{i}]: Invalid value: "{_go_escape(value)}": '
                                "for 'Gt', 'Lt' operators, the value must be an integer")
    for i, value in enumerate(values):
        errs = is_valid_label_value(value)
        if errs:
            problems.append(f'values[{i}][{key}]: Invalid value: "{_go_escape(value)}": ' + "; ".join(errs))
    if problems:
        raise _ParseError(problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
    return Requirement(key, op, tuple(values))


_OPERATORS = {"in": "in", "notin": "notin", "=": "=", "==": "=", "!=": "!=", ">": "gt", "<": "lt"}


def _parse_requirement(items: list[tuple[str, str]], pos: int) -> tuple[Requirement, int]:
    tok, lit = items[pos]
    pos += 1
    negated = tok == "!"
    if negated:
        tok, lit = items[pos]
        pos += 1
    if tok not in ("id", "in", "notin"):
        raise _ParseError(f"found '{lit}', expected: identifier")
    key = lit
    problem = _key_error(key)
    if problem:
        raise _ParseError(problem)
    if items[pos][0] in ("end", ","):
        return Requirement(key, "!" if negated else "exists"), pos
    tok, lit = items[pos]
    pos += 1
    op = _OPERATORS.get(tok)
    if op is None:
        raise _ParseError(f"found '{lit}', expected: '=', '!=', '==', 'in', notin'")
    values: list[str] = []
    if op in _OPS_SET:
        tok, lit = items[pos]
        pos += 1
        if tok != "(":
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = items[pos]
        if tok == ")":
            values, pos = [""], pos + 1
        elif tok in ("id", "in", "notin", ","):
            collected: set[str] = set()
            while True:
                tok, lit = items[pos]
                pos += 1
                if tok in ("id", "in", "notin"):
                    collected.add(lit)
                    nxt, nxt_lit = items[pos]
                    if nxt == ",":
                        continue
                    if nxt == ")":
                        break
                    raise _ParseError(f"found '{nxt_lit}', expected: ',' or ')'")
                if tok == ",":
                    if not collected:
                        collected.add("")
                    if items[pos][0] == ")":
                        collected.add("")
                        break
                    if items[pos][0] == ",":
                        pos += 1
                        collected.add("")
                    continue
                raise _ParseError(f"found '{lit}', expected: ',', or identifier")
            pos += 1  # the ')'
            values = sorted(collected)
        else:
            raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")
    else:
        tok, lit = items[pos]
        if tok in ("end", ","):
            values = [""]
        else:
            pos += 1
            if tok not in ("id", "in", "notin"):
                raise _ParseError(f"found '{lit}', expected: identifier")
            values = [lit]
    return _requirement(key, op, values), pos


def parse(text: str | None) -> Selector:
    """Parse the string form a `-l` flag or a `labelSelector` query parameter carries (labels.Parse).

    A malformed selector is a 400 with the parser's own message, as kube-apiserver answers it.
    """
    if not text or not text.strip():
        return EVERYTHING
    items = _lex(text)
    reqs: list[Requirement] = []
    pos = 0
    while True:
        tok, lit = items[pos]
        if tok == "end":
            return Selector(reqs)
        if tok not in ("id", "!", "in", "notin"):
            raise errors.bad_request(f"found '{lit}', expected: !, identifier, or 'end of string'")
        try:
            requirement, pos = _parse_requirement(items, pos)
        except _ParseError as exc:
            raise errors.bad_request(f"unable to parse requirement: {exc}") from None
        except IndexError:
            raise errors.bad_request("unable to parse requirement: found '', expected: identifier") from None
        reqs.append(requirement)
        tok, lit = items[pos]
        pos += 1
        if tok == "end":
            return Selector(reqs)
        if tok != ",":
            raise errors.bad_request(f"found '{lit}', expected: ',' or 'end of string'")
        nxt, nxt_lit = items[pos]
        if nxt not in ("id", "!", "in", "notin"):
            raise errors.bad_request(f"found '{nxt_lit}', expected: identifier after ','")


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
