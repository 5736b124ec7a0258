"""What every command shares: the Context it runs in, its Result, streaming Processes and error wording.

A command writes to `out`/`err` (plain strings, as kubectl writes to stdout/stderr) and either
finishes or hands back a `Process` that keeps running (`get -w`, `logs -f`, `rollout status`,
`delete` waiting for the object to go, an `exec -it` shell) and that the web terminal pumps.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field

from engine import errors

CLIENT_VERSION = "v1.32.4"
KUSTOMIZE_VERSION = "v5.5.0"
SERVER_VERSION = "v1.32.4"
DEFAULT_SERVER = "https://192.168.49.2:8443"


@dataclass
class Context:
    """The learner's kubeconfig and working directory, as the web terminal keeps them between commands.

    `files` is the learner's virtual file system (path -> text): what the YAML editor saved, for
    `apply -f app.yml` and `-f dir/`. Relative paths are taken from `cwd`.
    """

    namespace: str = "default"
    cluster: str = "kubedojo"
    context_name: str = "kubedojo"
    user: str = "kubedojo"
    server: str = DEFAULT_SERVER
    files: dict[str, str] = field(default_factory=dict)
    cwd: str = "/home/learner"
    # Extra contexts for `config get-contexts` (name -> (cluster, user, namespace)).
    other_contexts: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # The cluster's engine.simulation.Simulation, when the terminal has it: the pod shell's
    # nslookup asks engine.network.dns with it.
    simulation: object | None = None
    # Without the Simulation, the cluster's network settings (engine.network.config.NetworkConfig: its
    # kube-proxy mode above all), for the pod shell's view of the network read from the store.
    network_config: object | None = None

    def path(self, name: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, name))

    def read_file(self, name: str) -> str | None:
        """The text of a learner file (by absolute path, path relative to cwd, or as stored)."""
        for key in (name, self.path(name), name.lstrip("./") if name.startswith("./") else None):
            if key and key in self.files:
                return self.files[key]
        wanted = self.path(name)
        for key, text in self.files.items():
            if self.path(key) == wanted:
                return text
        return None

    def list_dir(self, name: str) -> list[str] | None:
        """Files directly or recursively under a directory (sorted), or None if it is no directory."""
        wanted = self.path(name).rstrip("/") + "/"
        found = sorted(key for key in self.files if self.path(key).startswith(wanted))
        return found or None


@dataclass
class Result:
    stdout: str
    stderr: str
    exit_code: int
    # Set when the command needs the terminal to attach (`exec -it`, `run -it`): drive it with
    # `attach.write(line)` / `attach.poll(now)` until `attach.done`.
    attach: Process | None = None


class ExitError(Exception):
    """A failure that ends the command: printed as kubectl's CheckErr prints it."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(ExitError):
    """`error: <msg>` + `See 'kubectl <cmd> -h' for help and examples`."""

    def __init__(self, message: str, command_path: str):
        super().__init__(message)
        self.command_path = command_path


def api_error_text(exc: errors.ApiError) -> str:
    """How kubectl's CheckErr words an API error (without the trailing newline)."""
    if exc.reason == "Invalid" and exc.code == 422:
        prefix = f'The {exc.kind} "{exc.name}" is invalid' if (exc.kind or exc.name) else "The request is invalid"
        if exc.causes:
            parts = [f"{c.field}: {c.message}" if c.field else c.message for c in exc.causes]
            if len(parts) == 1:
                return f"{prefix}: {parts[0]}"
            return prefix + ": \n" + "\n".join(f"* {p}" for p in parts)
        return prefix
    reason = exc.reason or "Unknown"
    if exc.code == 500 and reason == "InternalError":
        return f"Error from server (InternalError): {exc.message}"
    return f"Error from server ({reason}): {exc.message}"


def error_line(exc: Exception) -> str:
    if isinstance(exc, errors.ApiError):
        return api_error_text(exc)
    message = exc.message if isinstance(exc, ExitError) else str(exc)
    if not message:
        return ""
    if message.startswith(("error: ", "Error from server", "The ", "command terminated with exit code")):
        return message
    return "error: " + message


class Output:
    """stdout and stderr of one command."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()

    def write(self, text: str) -> None:
        self.out.write(text)

    def error(self, text: str) -> None:
        self.err.write(text)

    def take(self) -> tuple[str, str]:
        out, err = self.out.getvalue(), self.err.getvalue()
        self.out, self.err = io.StringIO(), io.StringIO()
        return out, err


class Process:
    """A command still running: the terminal calls `poll(now)` after each simulation tick.

    `poll` returns what it printed since the last poll (stdout, stderr). `interrupt()` is Ctrl-C
    (exit code 130 for watches, as a shell reports a SIGINT'd kubectl). `write(data)` sends a line of
    stdin (shells). `done` and `exit_code` say when and how it ended. `prompt` is what an interactive
    session shows while waiting for input ("" otherwise).
    """

    interactive = False

    def __init__(self, output: Output | None = None):
        self.output = output or Output()
        self.done = False
        self.exit_code: int | None = None
        self.prompt = ""

    def step(self, now: float) -> None:  # pragma: no cover - overridden
        """Do what is due at `now` (write to self.output, call finish)."""

    def poll(self, now: float) -> tuple[str, str]:
        if not self.done:
            try:
                self.step(now)
            except errors.ApiError as exc:
                self.output.error(api_error_text(exc) + "\n")
                self.finish(1)
            except ExitError as exc:
                self.output.error(error_line(exc) + "\n")
                self.finish(exc.code)
        return self.output.take()

    def write(self, data: str) -> None:
        """Input from the terminal; ignored unless the process reads stdin."""

    def interrupt(self) -> None:
        if not self.done:
            self.finish(130)

    def finish(self, code: int = 0) -> None:
        self.done = True
        self.exit_code = code


class FinishedProcess(Process):
    """A command that ended at once, in the streaming form."""

    def __init__(self, stdout: str, stderr: str, code: int):
        super().__init__()
        self.output.write(stdout)
        self.output.error(stderr)
        self.finish(code)


class CallbackProcess(Process):
    """A process whose `step` is a function (now) -> exit code or None while it keeps going."""

    def __init__(self, output: Output, step: Callable[[float], int | None]):
        super().__init__(output)
        self._step = step

    def step(self, now: float) -> None:
        code = self._step(now)
        if code is not None:
            self.finish(code)
