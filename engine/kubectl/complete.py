"""Tab completion for the web terminal: commands, subcommands, flags, resource kinds and object names."""

from __future__ import annotations

from engine import errors
from engine.kubectl import flags as flagmod
from engine.kubectl.base import Context
from engine.resources import registry

# Commands whose first argument is a resource type, then names.
TYPED = {"get", "describe", "delete", "edit", "label", "annotate", "patch", "scale", "expose", "wait", "explain"}
POD_ONLY = {"logs", "exec", "attach", "port-forward", "cp"}
NODE_ONLY = {"cordon", "uncordon", "drain", "taint"}


def _kind_words() -> list[str]:
    words = set()
    for info in registry.KINDS:
        words.add(info.plural)
        words.update(info.short_names)
        words.add(info.singular)
    words.add("all")
    return sorted(words)


def _names(api, kind: str, namespace: str) -> list[str]:
    try:
        info = registry.by_kind(kind)
        listing = api.list(kind, namespace if info.namespaced else None)
    except (errors.ApiError, registry.UnknownKind):
        return []
    return sorted(o["metadata"]["name"] for o in listing["items"])


def complete(line: str, cursor: int, api, context: Context) -> list[str]:
    """Candidates for the word under the cursor (whole words, sorted)."""
    from engine.kubectl.cli import root

    text = line[:cursor]
    try:
        words = flagmod.split_command_line(text)
    except ValueError:
        return []
    if text.endswith(" ") or not text:
        words.append("")
    if not words:
        return []
    if words[0] == "kubectl":
        words = words[1:]
        if not words:
            return []
    current = words[-1]
    before = words[:-1]
    namespace = context.namespace
    for i, w in enumerate(before):
        if w in ("-n", "--namespace") and i + 1 < len(before):
            namespace = before[i + 1]
        elif w.startswith("--namespace="):
            namespace = w.split("=", 1)[1]
    cmd = root()
    positional = []
    skip = False
    for w in before:
        if skip:
            skip = False
            continue
        if w.startswith("-"):
            if w in ("-n", "--namespace", "-o", "--output", "-l", "--selector", "-c", "--container", "-f",
                     "--filename") and "=" not in w:
                skip = True
            continue
        sub = cmd.find(w) if cmd.subcommands else None
        if sub is not None and not positional:
            cmd = sub
            continue
        positional.append(w)
    if before and before[-1] in ("-n", "--namespace"):
        return [n for n in _names(api, "Namespace", "") if n.startswith(current)]
    if before and before[-1] in ("-o", "--output"):
        return [o for o in ("json", "yaml", "wide", "name", "jsonpath=", "custom-columns=") if o.startswith(current)]
    if before and before[-1] in ("-f", "--filename"):
        return sorted(k for k in context.files if k.startswith(current))
    if current.startswith("-"):
        names = [f"--{f.name}" for f in cmd.flags + list(flagmod.GLOBAL_FLAGS) if not f.hidden]
        return sorted(n for n in set(names) if n.startswith(current))
    if cmd.subcommands and not positional and cmd.handler is None or (cmd.subcommands and not positional):
        subs = [c.name for c in cmd.subcommands.values() if c.name not in ("options",)]
        found = sorted(s for s in subs if s.startswith(current))
        if found or cmd.handler is None:
            return found
    name = cmd.name
    if name in POD_ONLY:
        return [n for n in _names(api, "Pod", namespace) if n.startswith(current)] if not positional else []
    if name in NODE_ONLY or (cmd.parent is not None and cmd.parent.name == "top" and name == "node"):
        return [n for n in _names(api, "Node", "") if n.startswith(current)]
    if cmd.parent is not None and cmd.parent.name == "top" and name == "pod":
        return [n for n in _names(api, "Pod", namespace) if n.startswith(current)]
    if cmd.parent is not None and cmd.parent.name == "config" and name == "use-context":
        return sorted(c for c in [context.context_name, *context.other_contexts] if c.startswith(current))
    if name in TYPED or (cmd.parent is not None and cmd.parent.name in ("rollout", "set")):
        if "/" in current:
            kind_word, _, prefix = current.partition("/")
            info = registry.resolve(kind_word)
            if info is None:
                return []
            return [f"{kind_word}/{n}" for n in _names(api, info.kind, namespace) if n.startswith(prefix)]
        if not positional:
            if cmd.parent is not None and cmd.parent.name == "rollout":
                kinds = ["deployment", "daemonset", "statefulset", "deploy", "ds", "sts"]
                return sorted(k for k in kinds if k.startswith(current))
            if "," in current:
                head, _, tail = current.rpartition(",")
                return [f"{head},{k}" for k in _kind_words() if k.startswith(tail)]
            return [k for k in _kind_words() if k.startswith(current)]
        info = registry.resolve(positional[0].split(",")[0])
        if info is None:
            return []
        return [n for n in _names(api, info.kind, namespace) if n.startswith(current)]
    return []
