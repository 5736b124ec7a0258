"""The YAML editor's server side: parse manifests keeping each node's line, validate them with the
apiserver in dry-run (dryRun=All), apply and delete them as `kubectl apply -f` / `kubectl delete -f` do.

Every problem comes back with Kubernetes' own wording *and* the line and column it belongs to: YAML
syntax errors carry their mark; the apiserver's field paths (`spec.template.spec.containers[0].image`,
`unknown field "spec.replicass"`, `Go struct field DeploymentSpec.spec.replicas`) are walked down the
composed YAML tree to the key they name.

`run(api, text, mode)` with mode "validate" (dry run), "apply" or "delete" returns
`{"ok", "results": [{"document", "line", "kind", "name", "namespace", "action", "message"}],
"errors": [{"document", "line", "column", "field", "message"}], "output": "<kubectl's lines>"}`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from engine import errors
from engine.apiserver import ApiServer, RequestContext
from engine.kubectl.resources import go_yaml_problem
from engine.resources import registry
from engine.resources.registry import KindInfo

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
STRATEGIC = "application/strategic-merge-patch+json"
FIELD_MANAGER = "kubectl-client-side-apply"
MAX_DOCUMENTS = 50
MODES = ("validate", "apply", "delete")


# --- parsing, with positions ---------------------------------------------------------------------------------
@dataclass
class Document:
    index: int  # 1-based position among the non-empty documents
    node: yaml.Node
    data: object
    line: int  # 1-based line where the document starts


@dataclass
class Problem:
    message: str
    line: int = 1
    column: int = 1
    document: int = 0
    field: str = ""

    def as_dict(self) -> dict:
        return {"document": self.document, "line": self.line, "column": self.column, "field": self.field,
                "message": self.message}


class ParseError(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def parse(text: str) -> list[Document]:
    """The non-empty documents of a YAML stream; a syntax error raises ParseError at its line."""
    loader = yaml.SafeLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            documents.append(Document(len(documents) + 1, node, data, node.start_mark.line + 1))
            if len(documents) > MAX_DOCUMENTS:
                raise ParseError(Problem(f"too many documents: at most {MAX_DOCUMENTS} at once", node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        go_line, what = go_yaml_problem(exc)  # go-yaml's wording, as kubectl prints it
        message = f"error converting YAML to JSON: yaml: line {go_line or line}: {what or 'invalid YAML'}"
        raise ParseError(Problem(message, line, column, len(documents) + 1)) from None
    except yaml.YAMLError as exc:
        raise ParseError(Problem(f"error converting YAML to JSON: {exc}", 1, 1, len(documents) + 1)) from None
    finally:
        loader.dispose()
    return documents


_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def path_tokens(path: str) -> list[str | int]:
    """`spec.containers[0].env[FOO]` -> ["spec", "containers", 0, "env", "FOO"]."""
    tokens: list[str | int] = []
    for name, bracket in _TOKEN.findall(path):
        if name:
            tokens.append(name)
        elif bracket.isdigit():
            tokens.append(int(bracket))
        else:
            tokens.append(bracket)
    return tokens


def _mapping_entry(node: yaml.Node, key: str):
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def locate(node: yaml.Node, path: str, want: str = "") -> tuple[int, int]:
    """The (line, column) of the field a Kubernetes path names, or of its deepest existing ancestor.

    A sequence step without an index (Go's `containers.ports`) tries every item; `want` ("string",
    "number", "object", "array", "bool") prefers the item whose value has that JSON type.
    """
    candidates = _walk(node, path_tokens(path), node)
    if not candidates:
        return node.start_mark.line + 1, node.start_mark.column + 1
    if want:
        for depth, mark_node, value in candidates:
            if depth == candidates[0][0] and _json_kind(value) == want:
                return mark_node.start_mark.line + 1, mark_node.start_mark.column + 1
    _, mark_node, _ = candidates[0]
    return mark_node.start_mark.line + 1, mark_node.start_mark.column + 1


def _walk(node, tokens, mark_node, depth: int = 0) -> list[tuple[int, yaml.Node, yaml.Node]]:
    """(depth reached, node to point at, value node) for every way down; deepest first."""
    if not tokens:
        return [(depth, mark_node, node)]
    head, rest = tokens[0], tokens[1:]
    found: list = []
    if isinstance(node, yaml.MappingNode) and isinstance(head, str):
        entry = _mapping_entry(node, head)
        if entry is not None:
            found = _walk(entry[1], rest, entry[0], depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        if isinstance(head, int):
            if 0 <= head < len(node.value):
                found = _walk(node.value[head], rest, node.value[head], depth + 1)
        else:  # Go's paths leave list indices out: try every item
            for item in node.value:
                found.extend(_walk(item, tokens, item, depth))
    if not found:
        return [(depth, mark_node, node)]
    best = max(d for d, _, _ in found)
    return [c for c in found if c[0] == best]


def _json_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "object"
    if isinstance(node, yaml.SequenceNode):
        return "array"
    tag = node.tag.rsplit(":", 1)[-1]
    return {"int": "number", "float": "number", "bool": "bool", "null": "null"}.get(tag, "string")


# Where in a Status message a field path hides.
_UNKNOWN_FIELD = re.compile(r'unknown field "([^"]+)"')
_GO_FIELD = re.compile(r"cannot unmarshal (\w+) into Go struct field \w+\.([\w.]+) of type")
_QUANTITY = re.compile(r'quantities must match the regular expression.*?(?:"([^"]+)")?')


def problems_of(exc: errors.ApiError, doc: Document) -> list[Problem]:
    """One Problem per cause of an ApiError, each at the line its field path names."""
    out: list[Problem] = []
    if exc.causes:
        prefix = _invalid_prefix(exc) if exc.reason == "Invalid" else ""
        for cause in exc.causes:
            line, column = locate(doc.node, cause.field) if cause.field else (doc.line, 1)
            text = f"{cause.field}: {cause.message}" if cause.field else cause.message
            out.append(Problem(f"{prefix}: {text}" if prefix else text, line, column, doc.index, cause.field))
        return out
    unknown = _UNKNOWN_FIELD.findall(exc.message)
    if unknown:
        head = exc.message.split("strict decoding error:", 1)[0] + "strict decoding error: "
        for path in unknown:
            line, column = locate(doc.node, path)
            out.append(Problem(f'{head}unknown field "{path}"', line, column, doc.index, path))
        return out
    go = _GO_FIELD.search(exc.message)
    if go:
        line, column = locate(doc.node, go.group(2), want=go.group(1))
        return [Problem(exc.message, line, column, doc.index, go.group(2))]
    return [Problem(exc.message, doc.line, 1, doc.index)]


# --- validate, apply, delete ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    results: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    error_lines: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"ok": not self.problems, "results": self.results, "errors": [p.as_dict() for p in self.problems],
                "output": "".join(line + "\n" for line in self.lines),
                "error_output": "".join(line + "\n" for line in self.error_lines)}


def resource_name(info: KindInfo, name: str) -> str:
    group = f".{info.group}" if info.group else ""
    return f"{info.kind.lower()}{group}/{name}"


def _key_line(doc: Document, key: str) -> tuple[int, int]:
    return locate(doc.node, key)


def _check_document(doc: Document, namespace: str) -> tuple[KindInfo, dict, str, str]:
    """kubectl's client-side checks of one object: it is a mapping with apiVersion, kind and a name."""
    obj = doc.data
    if not isinstance(obj, dict):
        raise _DocumentError(Problem("error validating data: the document is not an object (expected "
                                     "apiVersion, kind, metadata...)", doc.line, 1, doc.index))
    for key in ("apiVersion", "kind"):
        if not obj.get(key):
            raise _DocumentError(Problem(f"error validating data: {key} not set", doc.line, 1, doc.index, key))
        if not isinstance(obj[key], str):
            line, column = _key_line(doc, key)
            raise _DocumentError(Problem(f"error validating data: {key} must be a string", line, column, doc.index,
                                         key))
    info = registry.by_api_version(obj["apiVersion"], obj["kind"])
    if info is None:
        line, column = _key_line(doc, "kind")
        raise _DocumentError(Problem(f'no matches for kind "{obj["kind"]}" in version "{obj["apiVersion"]}"', line,
                                     column, doc.index, "kind"))
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        line, column = _key_line(doc, "metadata")
        raise _DocumentError(Problem("error validating data: metadata must be an object", line, column, doc.index,
                                     "metadata"))
    name = meta.get("name")
    if not name or not isinstance(name, str):
        line, column = _key_line(doc, "metadata.name") if name else _key_line(doc, "metadata")
        message = ("cannot use generate name with apply" if meta.get("generateName")
                   else "metadata.name: Required value: name is required")
        raise _DocumentError(Problem(message, line, column, doc.index, "metadata.name"))
    ns = ""
    if info.namespaced:
        ns = meta.get("namespace") or namespace
        if not isinstance(ns, str):
            line, column = _key_line(doc, "metadata.namespace")
            raise _DocumentError(Problem("metadata.namespace must be a string", line, column, doc.index,
                                         "metadata.namespace"))
        meta["namespace"] = ns
    else:
        meta.pop("namespace", None)
    return info, obj, ns, name


class _DocumentError(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _three_way_patch(original: dict | None, modified: dict, current: dict) -> dict:
    from engine.kubectl.cmd_apply import three_way_patch

    return three_way_patch(original, modified, current)


def _last_applied(obj: dict) -> str:
    copy = json.loads(json.dumps(obj))
    copy.setdefault("metadata", {}).setdefault("annotations", {}).pop(LAST_APPLIED, None)
    return json.dumps(copy, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"


def _apply_one(api: ApiServer, info: KindInfo, obj: dict, ns: str, name: str, dry_run: bool) -> tuple[str, dict]:
    modified = json.loads(json.dumps(obj))
    modified["metadata"].setdefault("annotations", {})[LAST_APPLIED] = _last_applied(obj)
    ctx = RequestContext(field_manager=FIELD_MANAGER, dry_run=dry_run)
    current = api.store.get(info.kind, ns, name)
    if current is None:
        return "created", api.create(modified, ns or None, ctx=ctx)
    original_text = (current["metadata"].get("annotations") or {}).get(LAST_APPLIED)
    try:
        original = json.loads(original_text) if original_text else None
    except ValueError:
        original = None
    body = _three_way_patch(original, modified, current)
    if not body:
        return "unchanged", current
    return "configured", api.patch(info.kind, ns, name, body, STRATEGIC, ctx=ctx)


def _delete_one(api: ApiServer, info: KindInfo, ns: str, name: str) -> str:
    api.delete(info.kind, ns, name)
    return "deleted"


def run(api: ApiServer, text: str, mode: str, namespace: str = "default") -> dict:
    """Validate (dry run), apply or delete every document of `text`; see the module docstring."""
    if mode not in MODES:
        raise ValueError(mode)
    outcome = Outcome()
    try:
        documents = parse(text)
    except ParseError as exc:
        outcome.problems.append(exc.problem)
        outcome.error_lines.append("error: " + exc.problem.message)
        return outcome.as_dict()
    if not documents:
        problem = Problem("no objects passed to " + ("apply" if mode != "delete" else "delete"), 1, 1, 0)
        outcome.problems.append(problem)
        outcome.error_lines.append("error: " + problem.message)
        return outcome.as_dict()
    suffix = " (server dry run)" if mode == "validate" else ""
    for doc in documents:
        result = {"document": doc.index, "line": doc.line, "kind": "", "name": "", "namespace": "", "action": "",
                  "message": ""}
        outcome.results.append(result)
        try:
            info, obj, ns, name = _check_document(doc, namespace)
            result.update(kind=info.kind, name=name, namespace=ns)
            with api.store.atomic():
                if mode == "delete":
                    action = _delete_one(api, info, ns, name)
                else:
                    action, _stored = _apply_one(api, info, obj, ns, name, dry_run=mode == "validate")
            result["action"] = action
            outcome.lines.append(f"{resource_name(info, name)} {action}{suffix}")
        except _DocumentError as exc:
            result["action"] = "error"
            result["message"] = exc.problem.message
            outcome.problems.append(exc.problem)
            outcome.error_lines.append("error: " + exc.problem.message)
        except errors.ApiError as exc:
            if mode == "delete" and exc.code == 404:
                message = f"Error from server (NotFound): {exc.message}"
            else:
                message = _status_text(exc)
            result["action"] = "error"
            result["message"] = message
            outcome.problems.extend(problems_of(exc, doc))
            outcome.error_lines.append(message)
    return outcome.as_dict()


def _invalid_prefix(exc: errors.ApiError) -> str:
    return f'The {exc.kind} "{exc.name}" is invalid' if (exc.kind or exc.name) else "The request is invalid"


def _status_text(exc: errors.ApiError) -> str:
    """How kubectl prints an API error (its CheckErr)."""
    if exc.reason == "Invalid" and exc.code == 422:
        prefix = _invalid_prefix(exc)
        if exc.causes:
            parts = [f"{c.field}: {c.message}" if c.field else c.message for c in exc.causes]
            if len(parts) == 1:
                return f"{prefix}: {parts[0]}"
            return prefix + ": \n" + "\n".join(f"* {p}" for p in parts)
        return prefix
    return f"Error from server ({exc.reason or 'Unknown'}): {exc.message}"
