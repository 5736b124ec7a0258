"""Turning what the learner typed into objects: resource types and names, `-f` files, selectors.

This is kubectl's resource.Builder in small: `pods`, `po nginx`, `deploy/web svc/web`,
`deploy,rs,po`, categories (`all`), and manifests read from the learner's files or stdin.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import yaml

from engine import errors
from engine.kubectl.base import Context, ExitError
from engine.resources import registry, versions
from engine.resources.registry import KindInfo

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# The kinds the cluster's CustomResourceDefinitions add, as discovery finds them for the command running now.
CUSTOM_KINDS: ContextVar[tuple[KindInfo, ...]] = ContextVar("custom_kinds", default=())


def _resolve_custom(word: str) -> KindInfo | None:
    resource, _, group = word.lower().partition(".")
    for info in CUSTOM_KINDS.get():
        if group and info.group != group and not info.group.startswith(group):
            continue
        if resource in (info.plural, info.singular) or resource in info.short_names or word == info.kind:
            return info
    return None


def resolve_kind(word: str) -> KindInfo:
    info = registry.resolve(word) or _resolve_custom(word)
    if info is None:
        for candidate in registry.KINDS:
            if word == candidate.kind:
                return candidate
        raise ExitError(f'the server doesn\'t have a resource type "{word}"')
    return info


def expand_types(word: str) -> list[KindInfo]:
    infos: list[KindInfo] = []
    for part in word.split(","):
        if not part:
            continue
        category = registry.in_category(part.lower())
        if category and registry.resolve(part) is None:
            infos.extend(c for c in category if c not in infos)
            continue
        info = resolve_kind(part)
        if info not in infos:
            infos.append(info)
    return infos


@dataclass
class Target:
    info: KindInfo
    name: str | None  # None: every object of the kind (in scope)


def parse_targets(args: list[str], allow_empty_names: bool = True) -> list[Target]:
    """`pods`, `pods a b`, `pod/a svc/b`, `deploy,rs`, `deploy,svc web` -> targets in order."""
    if not args:
        return []
    slashed = [a for a in args if "/" in a]
    if slashed:
        if len(slashed) != len(args):
            if "/" not in args[0]:
                raise ExitError("there is no need to specify a resource type as a separate argument when passing "
                                "arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead "
                                "of 'kubectl get resource resource/<resource_name>'")
            raise ExitError("arguments in resource/name form must have a single resource and name")
        targets = []
        for arg in args:
            kind, _, name = arg.partition("/")
            if not name:
                raise ExitError("arguments in resource/name form must have a single resource and name")
            for info in expand_types(kind):
                targets.append(Target(info, name))
        return targets
    infos = expand_types(args[0])
    names = args[1:]
    if not names:
        return [Target(info, None) for info in infos]
    return [Target(info, name) for info in infos for name in names]


# --- manifests ---------------------------------------------------------------------------------


@dataclass
class Manifest:
    obj: dict
    source: str  # the file name as kubectl names it in messages ("app.yml", "STDIN")


def _yaml_error(source: str, exc: yaml.YAMLError) -> ExitError:
    line, problem = go_yaml_problem(exc)
    return ExitError(f"error parsing {source}: error converting YAML to JSON: yaml: line {line}: {problem}")


def go_yaml_problem(exc: yaml.YAMLError) -> tuple[int, str]:
    """PyYAML's error as go-yaml (which kubectl and kube-apiserver use) words it: (line, problem)."""
    mark = getattr(exc, "problem_mark", None)
    line = (mark.line + 1) if mark is not None else 0
    problem = getattr(exc, "problem", None) or str(exc)
    if "mapping values are not allowed" in problem:
        problem = "mapping values are not allowed in this context"
    elif "could not find expected ':'" in problem:
        problem = "could not find expected ':'"
    elif "found character that cannot start any token" in problem:
        problem = "found character that cannot start any token"
    elif "did not find expected" in problem:
        problem = problem.split(" while ")[0]
    return line, problem


def parse_documents(text: str, source: str) -> list[dict]:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise _yaml_error(source, exc) from None
    objs: list[dict] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ExitError(f"error validating \"{source}\": error validating data: invalid object to validate; "
                            "if you choose to ignore these errors, turn validation off with --validate=false")
        doc = _plain(doc)
        if doc.get("kind") in ("List",) or (str(doc.get("kind", "")).endswith("List") and "items" in doc):
            for item in doc.get("items") or []:
                if isinstance(item, dict):
                    objs.append(item)
            continue
        objs.append(doc)
    return objs


def _plain(value):
    """YAML's own types as JSON's: dates back to strings, as sigs.k8s.io/yaml reads them."""
    import datetime

    if isinstance(value, dict):
        return {str(k) if not isinstance(k, bool) else ("true" if k else "false"): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def read_manifests(filenames: list[str], context: Context, stdin: str, recursive: bool = False) -> list[Manifest]:
    manifests: list[Manifest] = []
    for name in filenames:
        if name == "-":
            manifests.extend(Manifest(o, "STDIN") for o in parse_documents(stdin, "STDIN"))
            continue
        if name.startswith(("http://", "https://")):
            raise ExitError(f'unable to read URL "{name}", server reported 404 Not Found, status code=404')
        text = context.read_file(name)
        if text is not None:
            manifests.extend(Manifest(o, name) for o in parse_documents(text, name))
            continue
        listing = context.list_dir(name)
        if listing is None:
            raise ExitError(f'the path "{name}" does not exist')
        base = context.path(name).rstrip("/") + "/"
        for key in listing:
            rel = context.path(key)[len(base):]
            if "/" in rel and not recursive:
                continue
            if not key.endswith(MANIFEST_SUFFIXES):
                continue
            shown = name.rstrip("/") + "/" + rel
            manifests.extend(Manifest(o, shown) for o in parse_documents(context.files[key], shown))
    return manifests


def check_manifest(m: Manifest) -> KindInfo:
    obj = m.obj
    if not obj.get("apiVersion"):
        raise ExitError(f'error validating "{m.source}": error validating data: apiVersion not set; if you choose to '
                        "ignore these errors, turn validation off with --validate=false")
    if not obj.get("kind"):
        raise ExitError(f'error validating "{m.source}": error validating data: kind not set; if you choose to '
                        "ignore these errors, turn validation off with --validate=false")
    info = versions.by_api_version(str(obj["apiVersion"]), str(obj["kind"])) or next(  # autoscaling/v1 too
        (k for k in CUSTOM_KINDS.get() if (k.api_version, k.kind) == (obj["apiVersion"], obj["kind"])), None)
    if info is None:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        raise ExitError(f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
                        f'"{meta.get("namespace", "")}" from "{m.source}": no matches for kind "{obj["kind"]}" in '
                        f'version "{obj["apiVersion"]}"\nensure CRDs are installed first')
    return info


def manifest_namespace(info: KindInfo, obj: dict, namespace: str, explicit: bool) -> str:
    """The namespace an object from a file goes to; a clash with an explicit -n is an error."""
    if not info.namespaced:
        return ""
    body_ns = (obj.get("metadata") or {}).get("namespace")
    if body_ns and explicit and body_ns != namespace:
        raise ExitError(f"the namespace from the provided object \"{body_ns}\" does not match the namespace "
                        f"\"{namespace}\". You must pass '--namespace={body_ns}' to perform this operation.")
    return body_ns or namespace


def not_found_error(info: KindInfo, name: str) -> errors.ApiError:
    return errors.not_found(info.plural, name, info.group)
