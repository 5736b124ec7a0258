"""The command tree and the entry points: `run` (one command, its whole output) and `start` (streaming)."""

from __future__ import annotations

from engine import errors
from engine.apiserver import ApiServer
from engine.kubectl import flags as flagmod
from engine.kubectl.base import (
    Context,
    ExitError,
    FinishedProcess,
    Output,
    Process,
    Result,
    api_error_text,
    error_line,
)
from engine.kubectl.command import Command, Invocation, help_text

GROUP_ORDER = (
    "Basic Commands (Beginner)",
    "Basic Commands (Intermediate)",
    "Deploy Commands",
    "Cluster Management Commands",
    "Troubleshooting and Debugging Commands",
    "Advanced Commands",
    "Settings Commands",
    "Other Commands",
)

# Commands kubectl has that this terminal does not offer, with what it says instead.
UNSUPPORTED = {
    "edit": "kubectl edit opens an editor: use the YAML editor next to this terminal, then `kubectl apply -f`.",
    "port-forward": "port-forward needs a local port on your machine: use \"use your own kubectl\" with the "
                    "downloaded kubeconfig.",
    "proxy": "kubectl proxy serves on your machine: use \"use your own kubectl\" with the downloaded kubeconfig.",
    "attach": "attach is not available in this terminal; use `kubectl logs -f` or `kubectl exec -it`.",
    "cp": "cp is not available in this terminal.",
    "debug": "debug is not available in this terminal; use `kubectl exec -it`.",
    "diff": "diff is not available in this terminal; use `kubectl apply --dry-run=server -o yaml`.",
    "kustomize": "kustomize is not available in this terminal.",
    "plugin": "plugins are not available in this terminal.",
    "certificate": "certificate is not available in this terminal.",
    "auth": "auth is not available in this terminal.",
    "completion": "completion is built into this terminal: press Tab.",
    "events": "use `kubectl get events`.",
}

_ROOT: Command | None = None


def root() -> Command:
    global _ROOT
    if _ROOT is None:
        _ROOT = _build()
    return _ROOT


def _build() -> Command:
    from engine.kubectl import (
        cmd_apply,
        cmd_autoscale,
        cmd_create_rbac,  # noqa: F401  (adds `create role|clusterrole|rolebinding|clusterrolebinding`)
        cmd_delete,
        cmd_describe,
        cmd_get,
        cmd_info,
        cmd_logs,
        cmd_modify,
        cmd_rollout,
        cmd_wait,
    )

    top = Command("kubectl", "kubectl controls the Kubernetes cluster manager.",
                  long="kubectl controls the Kubernetes cluster manager.\n\n Find more information at: "
                       "https://kubernetes.io/docs/reference/kubectl/")
    top.add(cmd_get.COMMAND, *cmd_apply.COMMANDS, cmd_delete.COMMAND, cmd_describe.COMMAND, *cmd_modify.COMMANDS,
            cmd_rollout.COMMAND, *cmd_logs.COMMANDS, *cmd_info.COMMANDS, cmd_wait.COMMAND, cmd_autoscale.COMMAND)
    for name, (short, group) in _UNSUPPORTED_ENTRIES.items():
        top.add(Command(name, short, group=group, handler=_unsupported(name)))
    top.add(Command("help", "Help about any command", handler=_help, usage="kubectl help [command] [flags] [options]"))
    top.add(Command("options", "Print the list of flags inherited by all commands", handler=_options))
    return top


_UNSUPPORTED_ENTRIES = {
    "edit": ("Edit a resource on the server", "Basic Commands (Intermediate)"),
    "certificate": ("Modify certificate resources", "Cluster Management Commands"),
    "attach": ("Attach to a running container", "Troubleshooting and Debugging Commands"),
    "port-forward": ("Forward one or more local ports to a pod", "Troubleshooting and Debugging Commands"),
    "proxy": ("Run a proxy to the Kubernetes API server", "Troubleshooting and Debugging Commands"),
    "cp": ("Copy files and directories to and from containers", "Troubleshooting and Debugging Commands"),
    "auth": ("Inspect authorization", "Troubleshooting and Debugging Commands"),
    "debug": ("Create debugging sessions for troubleshooting workloads and nodes",
              "Troubleshooting and Debugging Commands"),
    "events": ("List events", "Troubleshooting and Debugging Commands"),
    "diff": ("Diff the live version against a would-be applied version", "Advanced Commands"),
    "kustomize": ("Build a kustomization target from a directory or URL", "Advanced Commands"),
    "completion": ("Output shell completion code for the specified shell (bash, zsh, fish, or powershell)",
                   "Settings Commands"),
    "plugin": ("Provides utilities for interacting with plugins", "Other Commands"),
}


def _unsupported(name: str):
    def handler(inv: Invocation) -> None:
        raise ExitError(UNSUPPORTED[name])

    return handler


def top_help() -> str:
    top = root()
    lines = [top.long, ""]
    for group in GROUP_ORDER:
        cmds = [c for c in top.subcommands.values() if c.group == group]
        if not cmds:
            continue
        lines.append(group + ":")
        for c in cmds:
            lines.append(f"  {c.name.ljust(14)}  {c.short}")
        lines.append("")
        if group == "Settings Commands":
            lines.append("Subcommands provided by plugins:")
            lines.append("")
    lines += ["Usage:", "  kubectl [flags] [options]", "",
              'Use "kubectl <command> --help" for more information about a given command.',
              'Use "kubectl options" for a list of global command-line options (applies to all commands).']
    return "\n".join(lines) + "\n"


def _help(inv: Invocation) -> None:
    if not inv.args:
        inv.write(top_help())
        return
    cmd = root()
    for word in inv.args:
        found = cmd.find(word)
        if found is None:
            inv.write(f"Unknown help topic {inv.args!r}\n".replace("'", '"').replace('["', "[").replace('"]', "]"))
            inv.write(top_help())
            return
        cmd = found
    inv.write(help_text(cmd))


def _options(inv: Invocation) -> None:
    lines = ["The following options can be passed to any command:", ""]
    for spec in sorted(flagmod.GLOBAL_FLAGS, key=lambda f: f.name):
        short = f"-{spec.short}, " if spec.short else ""
        default = spec.default
        if spec.kind == flagmod.BOOL:
            shown = "true" if default else "false"
        elif spec.kind in (flagmod.ARRAY, flagmod.SLICE):
            shown = "[]"
        else:
            shown = f"'{default}'"
        lines.append(f"    {short}--{spec.name}={shown}:")
        lines.append(f"\t{spec.help}")
        lines.append("")
    inv.write("\n".join(lines))


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggestions(word: str, cmd: Command) -> list[str]:
    out = []
    for c in cmd.subcommands.values():
        if c.name in ("options",):
            continue
        if _levenshtein(word.lower(), c.name.lower()) <= 2 or c.name.lower().startswith(word.lower()):
            out.append(c.name)
    return out


def _global_value(argv: list[str], long: str, short: str = "") -> str | None:
    """The value of a global flag wherever it appears before `--` (for -n before the command word)."""
    for i, word in enumerate(argv):
        if word == "--":
            break
        if word == f"--{long}" or (short and word == f"-{short}"):
            return argv[i + 1] if i + 1 < len(argv) else None
        if word.startswith(f"--{long}="):
            return word.split("=", 1)[1]
        if short and word.startswith(f"-{short}") and len(word) > 2 and not word.startswith("--"):
            return word[2:].lstrip("=")
    return None


def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """Leading global flags (`kubectl -n x get po`) and the rest, starting at the command word."""
    takes_value = {f"--{f.name}" for f in flagmod.GLOBAL_FLAGS if f.kind != flagmod.BOOL}
    takes_value |= {f"-{f.short}" for f in flagmod.GLOBAL_FLAGS if f.short and f.kind != flagmod.BOOL}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-h", "--help"):
        word = argv[i]
        i += 1
        if word in takes_value:
            i += 1
    return argv[:i], argv[i:]


def start(argv: list[str] | str, api: ApiServer, now: float, context: Context, stdin: str = "",
          files: dict[str, str] | None = None) -> Process:
    """Run a command; return a Process (already finished unless it streams or waits)."""
    if isinstance(argv, str):
        try:
            argv = flagmod.split_command_line(argv)
        except ValueError as exc:
            return FinishedProcess("", f"error: {exc}\n", 1)
    if argv and argv[0] == "kubectl":
        argv = argv[1:]
    if files:
        context.files.update(files)
    output = Output()
    try:
        from engine.kubectl.resources import CUSTOM_KINDS
        from engine.resources.custom import kinds as custom_kinds

        token = CUSTOM_KINDS.set(tuple(custom_kinds(api.store)))
        try:
            proc = _dispatch(list(argv), api, now, context, stdin, output)
        finally:
            CUSTOM_KINDS.reset(token)
    except errors.ApiError as exc:
        output.error(api_error_text(exc) + "\n")
        return _finished(output, 1)
    except ExitError as exc:
        text = error_line(exc)
        output.error(text + ("\n" if text else ""))
        return _finished(output, exc.code)
    if proc is None:
        return _finished(output, 0)
    return proc


def _finished(output: Output, code: int) -> Process:
    out, err = output.take()
    return FinishedProcess(out, err, code)


def run(argv: list[str] | str, api: ApiServer, now: float, context: Context, stdin: str = "",
        files: dict[str, str] | None = None) -> Result:
    """Run a command to the point where it would wait, and return its output.

    A command that keeps running (`get -w`, `logs -f`, `rollout status` mid-rollout, `delete` while the
    object terminates, `exec -it`) comes back with what it printed so far and `attach` set to its Process.
    """
    proc = start(argv, api, now, context, stdin, files)
    out, err = proc.poll(now) if not proc.done else proc.output.take()
    if proc.done:
        return Result(out, err, proc.exit_code or 0)
    return Result(out, err, 0, attach=proc)


def _dispatch(argv: list[str], api: ApiServer, now: float, context: Context, stdin: str,
              output: Output) -> Process | None:
    top = root()
    leading, rest = _split_command(argv)
    if not rest:
        if any(w in ("-h", "--help") for w in argv) or not leading:
            output.write(top_help())
            return None
        parsed = flagmod.parse(leading, [flagmod.flag("version", flagmod.STRING, no_opt="true")], "kubectl")
        if parsed.get("version"):
            from engine.kubectl.base import CLIENT_VERSION, KUSTOMIZE_VERSION

            output.write(f"Client Version: {CLIENT_VERSION}\nKustomize Version: {KUSTOMIZE_VERSION}\n")
            return None
        output.write(top_help())
        return None
    cmd = top
    words = list(rest)
    while words and cmd.subcommands:
        word = words[0]
        if word.startswith("-"):
            break
        found = cmd.find(word)
        if found is None:
            if cmd is top:
                message = f'unknown command "{word}" for "kubectl"'
                hints = suggestions(word, top)
                if hints:
                    message += "\n\nDid you mean this?\n" + "".join(f"\t{h}\n" for h in hints)
                raise ExitError(message.rstrip("\n"))
            break
        cmd = found
        words = words[1:]
    if cmd is top:
        parsed = flagmod.parse(words, [], "kubectl")
        output.write(top_help())
        return None
    parsed = flagmod.parse(leading + words, cmd.flags, cmd.path)
    if parsed.get("help"):
        output.write(help_text(cmd))
        return None
    if cmd.handler is None:
        if parsed.args:
            raise ExitError(f'unknown command "{parsed.args[0]}" for "{cmd.path}"')
        output.write(help_text(cmd))
        return None
    namespace = parsed.get("namespace") or context.namespace
    explicit = bool(parsed.get("namespace"))
    wanted_context = parsed.get("context")
    if wanted_context and wanted_context != context.context_name and wanted_context not in context.other_contexts:
        raise ExitError(f"context was not found for specified context: {wanted_context}")
    inv = Invocation(api, now, context, stdin, cmd, parsed, output, namespace, explicit)
    return cmd.handler(inv)
