"""The command tree's building blocks: Command, Invocation, and the help text printer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.apiserver import ApiServer, RequestContext
from engine.kubectl.base import Context, ExitError, Output, Process
from engine.kubectl.flags import ARRAY, BOOL, INT, SLICE, Flag, Parsed


@dataclass
class Command:
    name: str
    short: str
    usage: str = ""
    flags: list[Flag] = field(default_factory=list)
    handler: Callable[[Invocation], Process | None] | None = None
    examples: str = ""
    long: str = ""
    subcommands: dict[str, Command] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    group: str = ""  # the section of `kubectl --help` it is listed in
    parent: Command | None = None

    def add(self, *commands: Command) -> None:
        for c in commands:
            c.parent = self
            self.subcommands[c.name] = c

    @property
    def path(self) -> str:
        if self.parent is None:
            return self.name
        return f"{self.parent.path} {self.name}"

    def find(self, word: str) -> Command | None:
        for c in self.subcommands.values():
            if word == c.name or word in c.aliases:
                return c
        return None


@dataclass
class Invocation:
    api: ApiServer
    now: float
    context: Context
    stdin: str
    command: Command
    flags: Parsed
    out: Output
    namespace: str
    explicit_namespace: bool

    @property
    def args(self) -> list[str]:
        return self.flags.args

    @property
    def path(self) -> str:
        return self.command.path

    def write(self, text: str) -> None:
        self.out.write(text)

    def error(self, text: str) -> None:
        self.out.error(text)

    def request(self, manager: str = "kubectl", dry_run: bool = False) -> RequestContext:
        return RequestContext(field_manager=manager, dry_run=dry_run)

    def usage_error(self, message: str) -> ExitError:
        return ExitError(f"{message}\nSee '{self.path} -h' for help and examples")


def _default_text(spec: Flag) -> str:
    if spec.kind == BOOL:
        return "true" if spec.default else "false"
    if spec.kind == INT:
        return str(spec.default)
    if spec.kind in (ARRAY, SLICE):
        return "[" + ",".join(spec.default or []) + "]"
    return f"'{spec.default}'"


def help_text(cmd: Command) -> str:
    lines: list[str] = []
    lines.append(cmd.long or cmd.short)
    lines.append("")
    if cmd.subcommands and cmd.parent is not None:
        lines.append("Available Commands:")
        width = max(len(c.name) for c in cmd.subcommands.values())
        for c in sorted(cmd.subcommands.values(), key=lambda c: c.name):
            lines.append(f"  {c.name.ljust(width)}   {c.short}")
        lines.append("")
    if cmd.examples:
        lines.append("Examples:")
        lines.extend(cmd.examples.rstrip("\n").split("\n"))
        lines.append("")
    visible = [f for f in sorted(cmd.flags, key=lambda f: f.name) if not f.hidden]
    if visible:
        lines.append("Options:")
        for spec in visible:
            short = f"-{spec.short}, " if spec.short else ""
            lines.append(f"    {short}--{spec.name}={_default_text(spec)}:")
            lines.append(f"\t{spec.help}")
            lines.append("")
    lines.append("Usage:")
    lines.append(f"  {cmd.usage or cmd.path + ' [flags] [options]'}")
    lines.append("")
    if cmd.subcommands and cmd.parent is not None:
        lines.append(f'Use "{cmd.path} <command> --help" for more information about a given command.')
    lines.append('Use "kubectl options" for a list of global command-line options (applies to all commands).')
    return "\n".join(lines) + "\n"
