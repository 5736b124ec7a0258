"""What runs behind the pod `exec` and `attach` subresources for a remote client (the real kubectl, the
official clients): the simulated shell of engine.kubectl.shell, with a terminal's line discipline when
a TTY is asked for.

The transport (WebSocket channels) lives in cluster.api; this module only turns request parameters and
stdin bytes into (channel, bytes) output, and ends with the Status a kubelet would send on the error
channel. Pure Python, so it is tested without a server.
"""

from __future__ import annotations

import io
import posixpath
import tarfile

from engine import errors
from engine.kubectl import containers as cinfo
from engine.kubectl.shell import ShellSession
from engine.kubelet import images as catalog

STDOUT = 1
STDERR = 2
SHELLS = ("sh", "bash", "ash", "dash")
# Commands every shell has built in, even when the image's tool list lacks them.
BUILTINS = ("echo", "pwd", "true", "false", "test")
# Most bytes `kubectl cp` may send into a pod (the simulated layer keeps files on the pod object).
MAX_ARCHIVE_BYTES = 4 * 1024 * 1024


class NotRunning(Exception):
    """The kubelet's refusal when the container is not running: plain text, not a Status."""


def locate(api, namespace: str, name: str, container_name: str) -> tuple[dict, dict]:
    """The pod and container a stream request names, refused as kube-apiserver and the kubelet refuse."""
    pod = api.get("Pod", namespace, name)
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not container_name:
        if len(containers) != 1:
            names = " ".join(c.get("name", "") for c in containers)
            message = f"a container name must be specified for pod {name}, choose one of: [{names}]"
            init = " ".join(c.get("name", "") for c in spec.get("initContainers") or [])
            if init:
                message += f" or one of the init containers: [{init}]"
            raise errors.bad_request(message)
        container = containers[0]
    else:
        everything = containers + (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or [])
        container = next((c for c in everything if c.get("name") == container_name), None)
        if container is None:
            raise errors.bad_request(f"container {container_name} is not valid for pod {name}")
    if not spec.get("nodeName"):
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    state = (cinfo.container_status(pod, container["name"]) or {}).get("state") or {}
    if "running" not in state:
        raise NotRunning(f'container not found ("{container["name"]}")')
    return pod, container


def main_command(container: dict) -> list[str]:
    """The container's first process: its command and args, else what its image runs."""
    command = list(container.get("command") or []) + list(container.get("args") or [])
    if command:
        return command
    image = catalog.lookup(container.get("image", ""))
    if image is not None and image.processes:
        return image.processes[0][1].replace("{per_cpu}", "").split()
    return ["sh"]


def exit_status(code: int, command: list[str]) -> dict:
    """The error channel's last word, as the kubelet writes it."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command {_go_list(command)}, "
                       f"exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _go_list(words: list[str]) -> str:
    return "[" + " ".join(words) + "]"


class Terminal:
    """A pseudo-terminal's line discipline: echo, erase, ^C, ^D, and CRLF on output."""

    def __init__(self):
        self.line = ""

    @staticmethod
    def out(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\n", "\r\n")

    def keys(self, text: str):
        """Yield ("echo", text) for what to show and ("line", text) / ("intr", "") / ("eof", "") events."""
        for ch in text:
            if ch in ("\r", "\n"):
                line, self.line = self.line, ""
                yield "echo", "\r\n"
                yield "line", line
            elif ch in ("\x7f", "\b"):
                if self.line:
                    self.line = self.line[:-1]
                    yield "echo", "\b \b"
            elif ch == "\x03":
                self.line = ""
                yield "echo", "^C\r\n"
                yield "intr", ""
            elif ch == "\x04":
                if not self.line:
                    yield "eof", ""
            elif ch == "\x15":  # ^U: kill the line
                yield "echo", "\b \b" * len(self.line)
                self.line = ""
            elif ch == "\x1b" or (ch < " " and ch != "\t"):
                continue  # escape sequences (arrow keys) and other controls: nothing to edit with
            else:
                self.line += ch
                yield "echo", ch


class RemoteCommand:
    """One exec or attach stream. Call `start()`, then `feed(stdin bytes)` / `end_input()`; each returns
    the output frames [(channel, bytes)]. `finished` says when to send `status()` and close."""

    def __init__(self, api, pod: dict, container: dict, command: list[str], *, stdin: bool, tty: bool, now: float,
                 attach: bool = False):
        self.pod = pod
        self.container = container
        self.stdin = stdin
        self.tty = tty and stdin
        self.attach = attach
        if attach:
            command = main_command(container)
        self.command = command
        program = posixpath.basename(command[0]) if command else ""
        self.session = ShellSession(api, pod, container, now, interactive=self.tty, shell=program or "sh")
        self.interactive = stdin and program in SHELLS and len(command) == 1 and self.session.has_shell(command[0])
        self.terminal = Terminal() if self.tty else None
        self.pending = ""  # stdin of a non-TTY shell: bytes until the next newline
        self.extract_to: str | None = None  # `tar -xmf - -C DIR` (kubectl cp into the pod): where stdin unpacks
        self.archive = bytearray()
        self.finished = False
        self.exit_code = 0

    # --- output helpers ----------------------------------------------------------------------------
    def _frames(self, out: str, err: str) -> list[tuple[int, bytes]]:
        frames = []
        if self.tty:
            text = Terminal.out(out + err)
            if text:
                frames.append((STDOUT, text.encode()))
            return frames
        if out:
            frames.append((STDOUT, out.encode()))
        if err:
            frames.append((STDERR, err.encode()))
        return frames

    def _prompt(self) -> list[tuple[int, bytes]]:
        return [(STDOUT, self.session.prompt.encode())] if self.tty else []

    def _finish(self, code: int) -> None:
        self.finished = True
        self.exit_code = code

    # --- the stream --------------------------------------------------------------------------------
    def start(self) -> list[tuple[int, bytes]]:
        if self.interactive:
            # An attached shell printed its prompt before anyone attached: the next Enter shows it again.
            return [] if self.attach else self._prompt()
        if self.attach:
            # A main process that is not a shell: its output goes to the logs; attach just waits.
            return []
        program = posixpath.basename(self.command[0]) if self.command else ""
        if program == "tar" and self.command[1:3] == ["cf", "-"] and len(self.command) > 3:
            data, err, code = self._tar(self.command[3:])  # `kubectl cp POD:PATH LOCAL`
            self._finish(code)
            return ([(STDOUT, data)] if data else []) + ([(STDERR, err.encode())] if err else [])
        target = _extract_target(self.command)
        if program == "tar" and target is not None and self.stdin:  # `kubectl cp LOCAL POD:PATH`
            self.extract_to = self.session._abs(target or ".")
            return []  # the archive arrives on stdin; it is unpacked when stdin closes
        if program in SHELLS and not self.session.has_shell(self.command[0]) or (
                program not in self.session.tools() and program not in BUILTINS):
            raise errors.internal(_not_found_message(self.command[0]))
        out, err, code = self.session.run_argv(self.command)
        frames = self._frames(out, err)
        self._finish(code)
        return frames

    def _tar(self, paths: list[str]) -> tuple[bytes, str, int]:
        """An archive of `paths` as `tar cf -` writes it, read through the shell's own `ls` and `cat`, so it
        holds what `kubectl exec ... cat` would show (image files, mounts, what earlier sessions wrote)."""
        out = io.BytesIO()
        errors_: list[str] = []
        if self.session.family != "busybox" and any(p.startswith("/") for p in paths):
            errors_.append("tar: Removing leading `/' from member names\n")
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for path in paths:
                if not self._tar_add(archive, posixpath.normpath(path), errors_):
                    errors_.append(f"tar: {path}: Cannot stat: No such file or directory\n")
        failed = any("Cannot stat" in e for e in errors_)
        if failed:
            errors_.append("tar: Exiting with failure status due to previous errors\n")
        return out.getvalue(), "".join(errors_), 2 if failed else 0

    def _tar_add(self, archive: tarfile.TarFile, path: str, problems: list[str], depth: int = 0) -> bool:
        name = path.lstrip("/") or "."
        listing, _, code = self.session.run_argv(["ls", "-a", path])
        if code != 0:
            return False
        children = listing.split()
        if "." in children:  # a directory lists itself and its parent
            entry = tarfile.TarInfo(name + "/")
            entry.type, entry.mode, entry.mtime = tarfile.DIRTYPE, 0o755, int(self.session.now)
            archive.addfile(entry)
            for child in children if depth < 20 else []:
                if child not in (".", ".."):
                    self._tar_add(archive, posixpath.join(path, child), problems, depth + 1)
            return True
        content, _, code = self.session.run_argv(["cat", path])
        if code != 0:
            return False
        data = content.encode()
        entry = tarfile.TarInfo(name)
        entry.size, entry.mode, entry.mtime = len(data), 0o644, int(self.session.now)
        archive.addfile(entry, io.BytesIO(data))
        return True

    def _extract(self) -> tuple[str, int]:
        """Unpack the archive read from stdin under `extract_to`, as `tar -xmf -` does: directories and files land
        in the container's writable layer (kept on the pod), so `cat` and `ls` in later sessions see them."""
        session, base = self.session, self.extract_to or "/"
        gnu = session.family != "busybox"
        if not session._is_dir(base):
            if gnu:
                return (f"tar: {base}: Cannot open: No such file or directory\n"
                        "tar: Error is not recoverable: exiting now\n"), 2
            return f"tar: can't change directory to '{base}': No such file or directory\n", 1
        try:
            archive = tarfile.open(fileobj=io.BytesIO(bytes(self.archive)), mode="r:")  # noqa: SIM115 - in memory
            members = archive.getmembers()
        except tarfile.TarError:
            if gnu:
                return ("tar: This does not look like a tar archive\n"
                        "tar: Exiting with failure status due to previous errors\n"), 2
            return "tar: short read\n", 1
        problems: list[str] = []
        for member in members:
            name = posixpath.normpath(member.name.lstrip("/"))
            if name in (".", "") or name.startswith("../"):
                continue
            path = posixpath.normpath(posixpath.join(base, name))
            if member.isdir():
                if session._is_dir(path):
                    continue
                problem = session._persist("mkdir", path)
                if not problem:
                    session.dirs.add(path)
                    session.removed.discard(path)
            elif member.isfile():
                handle = archive.extractfile(member)
                text = (handle.read() if handle is not None else b"").decode("utf-8", "replace")
                problem = session._persist("write", path, text)
                if not problem:
                    session.files[path] = text
                    session.removed.discard(path)
            else:
                continue  # links and devices: nothing in the simulated layer holds them
            if problem:
                problems.append(f"tar: {member.name}: Cannot open: {problem}\n" if gnu
                                else f"tar: can't open '{member.name}': {problem}\n")
        if problems:
            if gnu:
                return "".join(problems) + "tar: Exiting with failure status due to previous errors\n", 2
            return problems[0], 1
        return "", 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self.extract_to is not None and not self.finished:
            self.archive += data
            if len(self.archive) > MAX_ARCHIVE_BYTES:
                self._finish(2 if self.session.family != "busybox" else 1)
                return [(STDERR, b"tar: write error: No space left on device\n")]
            return []
        if self.finished or not self.interactive:
            return []
        text = data.decode("utf-8", "replace")
        if self.terminal is None:
            self.pending += text
            frames: list[tuple[int, bytes]] = []
            while "\n" in self.pending and not self.finished:
                line, self.pending = self.pending.split("\n", 1)
                frames += self._run(line)
            return frames
        frames = []
        for event, value in self.terminal.keys(text):
            if self.finished:
                break
            if event == "echo":
                frames.append((STDOUT, value.encode()))
            elif event == "line":
                frames += self._run(value)
            elif event == "intr":
                frames += self._prompt()
            elif event == "eof":
                # bash says "exit" as it leaves at end of input; busybox sh ends the line; dash says nothing.
                goodbye = {"bash": b"exit\r\n"}.get(self.session.shell, b"\r\n" if self.session.family == "busybox"
                                                    else b"")
                if goodbye:
                    frames.append((STDOUT, goodbye))
                self._finish(self.session.last_status)
        return frames

    def end_input(self) -> list[tuple[int, bytes]]:
        """stdin closed: a shell reading it runs what is left and exits, as `sh < file` does; tar unpacks."""
        if self.extract_to is not None and not self.finished:
            err, code = self._extract()
            self._finish(code)
            return [(STDERR, err.encode())] if err else []
        if self.finished or not self.interactive:
            return []
        frames = self._run(self.pending) if self.pending.strip() and self.terminal is None else []
        self.pending = ""
        if not self.finished:
            self._finish(self.session.last_status)
        return frames

    def _run(self, line: str) -> list[tuple[int, bytes]]:
        out, err, status = self.session.run_line(line)
        frames = self._frames(out, err)
        if self.session.done:
            if self.tty and self.session.shell == "bash":
                frames.append((STDOUT, b"exit\r\n"))  # interactive bash says so as it leaves
            self._finish(self.session.exit_code)
            return frames
        return frames + self._prompt()

    def status(self) -> dict:
        return exit_status(self.exit_code, self.command)


def _extract_target(command: list[str]) -> str | None:
    """For `tar [--no-same-permissions --no-same-owner] -xmf - [-C DIR]` reading stdin: DIR ("" without -C);
    None for any other command line."""
    args = command[1:]
    extract = from_stdin = False
    directory = ""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-C", "--directory"):
            if i + 1 >= len(args):
                return None
            directory, i = args[i + 1], i + 2
            continue
        if arg.startswith("--"):
            if arg not in ("--no-same-permissions", "--no-same-owner", "--extract", "--touch"):
                return None
            extract = extract or arg == "--extract"
        elif arg.startswith("-") and len(arg) > 1 or i == 0 and arg.isalpha():
            letters = arg.lstrip("-")
            if not set(letters) <= set("xmfvop"):
                return None
            extract = extract or "x" in letters
            if letters.endswith("f"):
                if i + 1 >= len(args) or args[i + 1] != "-":
                    return None
                from_stdin, i = True, i + 1
        else:
            return None
        i += 1
    return directory if extract and from_stdin else None


def _not_found_message(program: str) -> str:
    return ("error executing command in container: failed to exec in container: failed to start exec "
            f"\"{'0' * 64}\": OCI runtime exec failed: exec failed: unable to start container process: exec: "
            f"\"{program}\": executable file not found in $PATH: unknown")
