"""The web terminal's WebSocket: a small shell around `engine.kubectl`, one per browser tab.

The browser (xterm.js) edits the line itself (history, cursor keys, Ctrl-C, Tab) and sends whole lines;
this consumer runs them and streams what they print. Messages, browser -> server:

    {"type": "run", "line": "kubectl get pods -w"}      run a command line
    {"type": "input", "data": "ls /"}                   a line for the running interactive process (exec -it)
    {"type": "interrupt"}                               Ctrl-C
    {"type": "complete", "line": "kubectl get po", "cursor": 14}
    {"type": "files", "files": {"app.yml": "..."}}      the YAML editor's files, for `kubectl apply -f app.yml`

server -> browser:

    {"type": "ready", "cwd", "namespace"}
    {"type": "output", "stdout": "...", "stderr": "..."}
    {"type": "attached", "prompt": "root@nginx:/# "}    an interactive session started (or its prompt changed)
    {"type": "exit", "code": 0}                         the command finished: show the prompt again
    {"type": "completions", "line", "cursor", "items": [...], "replace": [start, end]}

A command that keeps running (`get -w`, `logs -f`, `rollout status`, an exec shell) is polled after
every simulation tick (the cluster's "cluster.delta" messages) and at least once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import shlex

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cluster.models import Cluster
from cluster.runtime import api_for, group_name, virtual_now
from frontend.access import may_view

log = logging.getLogger("frontend")

CLOSE_NOT_FOUND = 4404
# COMMAND_HOOKS: hook(cluster, line) for every command line run in a terminal (in Channels' database thread; a
# failing hook is logged and the line still runs). The workshops app records its seats' lines here.
COMMAND_HOOKS: list = []
POLL_SECONDS = 1.0
MAX_LINE = 8192
MAX_FILES = 50
MAX_FILE_BYTES = 256 * 1024
HOME = "/home/learner"

HELP = """\
This terminal runs kubectl against this cluster. Try:
  kubectl get nodes
  kubectl get pods -A
  kubectl apply -f app.yml        (files saved from the YAML editor)
  kubectl get pods -w             (Ctrl-C stops watching)
  kubectl exec -it <pod> -- sh
Other commands: ls, cat FILE, pwd, history, clear, help. `k` is short for kubectl.
"""


def _kubectl():
    """engine.kubectl's entry points, or None while it is not there."""
    try:
        from engine.kubectl import cli
        from engine.kubectl.base import Context
    except ImportError:
        return None
    return cli, Context


def _completer():
    for module, attr in (("engine.kubectl", "complete"), ("engine.kubectl.complete", "complete"),
                         ("engine.kubectl.completion", "complete"), ("engine.kubectl.cli", "complete")):
        try:
            found = getattr(__import__(module, fromlist=[attr]), attr, None)
        except ImportError:
            continue
        if callable(found):
            return found
    return None


class Session:
    """One terminal's state: the kubectl Context (namespace, files), history, and the running process."""

    def __init__(self):
        found = _kubectl()
        self.context = found[1]() if found else None
        self.process = None
        self.history: list[str] = []


class TerminalConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        self.session = Session()
        self._poller: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        pk = await self.visible_cluster(self.scope["url_route"]["kwargs"]["name"])
        if pk is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.cluster_pk = pk
        self.group = group_name(pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        context = self.session.context
        await self.send_json({"type": "ready", "cwd": context.cwd if context else HOME,
                              "namespace": context.namespace if context else "default",
                              "kubectl": context is not None})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self._poller is not None:
            self._poller.cancel()
        process = getattr(self, "session", None) and self.session.process
        if process is not None and not process.done:
            with contextlib.suppress(Exception):
                process.interrupt()

    # --- messages from the browser ---------------------------------------------------------------
    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "run":
                await self.run_line(str(content.get("line") or "")[:MAX_LINE])
            elif kind == "input":
                await self.input_line(str(content.get("data") or "")[:MAX_LINE])
            elif kind == "interrupt":
                await self.interrupt()
            elif kind == "complete":
                await self.complete(str(content.get("line") or "")[:MAX_LINE], content.get("cursor"))
            elif kind == "files":
                self.put_files(content.get("files"))
        except Exception:
            log.exception("terminal: %s failed", kind)
            await self.send_json({"type": "output", "stdout": "", "stderr": "error: the terminal failed to run that; "
                                                                              "see the server log\n"})
            await self.finish(1)

    def put_files(self, files) -> None:
        context = self.session.context
        if context is None or not isinstance(files, dict):
            return
        for name, text in list(files.items())[:MAX_FILES]:
            if isinstance(name, str) and isinstance(text, str) and name and len(text) <= MAX_FILE_BYTES:
                context.files[context.path(name)] = text

    async def run_line(self, line: str) -> None:
        async with self._lock:
            if self.session.process is not None and not self.session.process.done:
                return  # one command at a time, as in a shell
            stripped = line.strip()
            if not stripped:
                await self.finish(0)
                return
            self.session.history.append(stripped)
            if COMMAND_HOOKS:
                await self.db_record(stripped)
            self.session.history = self.session.history[-500:]
            try:
                words = shlex.split(stripped)
            except ValueError as exc:
                await self.output("", f"bash: syntax error: {exc}\n")
                await self.finish(2)
                return
            if any(w in ("|", "||", "&&", ";", ">", ">>", "<") for w in words):
                await self.output("", "bash: pipes and redirections are not available in this terminal; "
                                      "kubectl's own -o jsonpath, -l and --field-selector can often help\n")
                await self.finish(1)
                return
            command = words[0]
            if command in ("kubectl", "k"):
                await self.start_kubectl(stripped.split(None, 1)[1] if " " in stripped else "")
            else:
                code = self.builtin(command, words[1:])
                await self.finish(code)

    def builtin(self, command: str, args: list[str]) -> int:
        context = self.session.context
        out: list[str] = []
        err: list[str] = []
        code = 0
        if command == "help":
            out.append(HELP)
        elif command == "clear":
            out.append("\x1b[2J\x1b[3J\x1b[H")
        elif command == "history":
            out.extend(f"{i + 1:5d}  {h}\n" for i, h in enumerate(self.session.history))
        elif command == "pwd":
            out.append((context.cwd if context else HOME) + "\n")
        elif command == "ls":
            files = sorted(context.files) if context else []
            shown = [posixpath.relpath(f, context.cwd) if f.startswith(context.cwd + "/") else f for f in files]
            if shown:
                out.append("  ".join(shown) + "\n")
        elif command == "cat":
            for name in args:
                text = context.read_file(name) if context else None
                if text is None:
                    err.append(f"cat: {name}: No such file or directory\n")
                    code = 1
                else:
                    out.append(text if text.endswith("\n") else text + "\n")
        elif command == "echo":
            out.append(" ".join(args) + "\n")
        else:
            err.append(f"bash: {command}: command not found\n")
            code = 127
        self._pending = ("".join(out), "".join(err))
        return code

    async def start_kubectl(self, args: str) -> None:
        found = _kubectl()
        if found is None or self.session.context is None:
            await self.output("", "kubectl: not available yet in this terminal\n")
            await self.finish(1)
            return
        process = await self.db_start(args)
        self.session.process = process
        out, err = await self.db_poll(process, first=True)
        await self.output(out, err)
        if process.done:
            self.session.process = None
            await self.finish(process.exit_code or 0)
            return
        if getattr(process, "interactive", False):
            await self.send_json({"type": "attached", "prompt": getattr(process, "prompt", "") or ""})
        self.ensure_poller()

    async def input_line(self, data: str) -> None:
        async with self._lock:
            process = self.session.process
            if process is None or process.done:
                return
            await self.db_write(process, data + "\n" if not data.endswith("\n") else data)
            await self.pump(process)

    async def interrupt(self) -> None:
        async with self._lock:
            process = self.session.process
            if process is None or process.done:
                await self.send_json({"type": "exit", "code": 130})
                return
            process.interrupt()
            await self.pump(process)

    async def complete(self, line: str, cursor) -> None:
        cursor = cursor if isinstance(cursor, int) and 0 <= cursor <= len(line) else len(line)
        items, replace = await self.db_complete(line, cursor)
        await self.send_json({"type": "completions", "line": line, "cursor": cursor, "items": items,
                              "replace": replace})

    # --- streaming --------------------------------------------------------------------------------
    async def cluster_delta(self, event):
        process = self.session.process
        if process is not None and not process.done:
            async with self._lock:
                await self.pump(process)

    async def cluster_resync(self, event):
        pass

    def ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_loop())

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            process = self.session.process
            if process is None or process.done:
                return
            async with self._lock:
                await self.pump(process)

    async def pump(self, process) -> None:
        out, err = await self.db_poll(process)
        await self.output(out, err)
        if process.done:
            if self.session.process is process:
                self.session.process = None
            await self.finish(process.exit_code or 0)
        elif getattr(process, "interactive", False):
            await self.send_json({"type": "attached", "prompt": getattr(process, "prompt", "") or ""})

    async def output(self, stdout: str, stderr: str) -> None:
        if stdout or stderr:
            await self.send_json({"type": "output", "stdout": stdout, "stderr": stderr})

    async def finish(self, code: int) -> None:
        pending = getattr(self, "_pending", None)
        if pending:
            self._pending = None
            await self.output(*pending)
        context = self.session.context
        await self.send_json({"type": "exit", "code": code, "namespace": context.namespace if context else "default"})

    # --- database work (in Channels' thread) --------------------------------------------------------
    @database_sync_to_async
    def visible_cluster(self, name: str) -> int | None:
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None or not may_view(cluster, self.scope.get("user"), self.scope.get("session")):
            return None
        return cluster.pk

    @database_sync_to_async
    def db_record(self, line: str) -> None:
        cluster = Cluster.objects.filter(pk=self.cluster_pk).first()
        for hook in list(COMMAND_HOOKS) if cluster is not None else ():
            try:
                hook(cluster, line)
            except Exception:
                log.exception("terminal: command hook %r failed", hook)

    def _cluster(self) -> Cluster:
        return Cluster.objects.get(pk=self.cluster_pk)

    @database_sync_to_async
    def db_start(self, args: str):
        cli, _context = _kubectl()
        cluster = self._cluster()
        api = api_for(cluster)
        with api.store.atomic():
            return cli.start(args, api, virtual_now(cluster), self.session.context)

    @database_sync_to_async
    def db_write(self, process, data: str) -> None:
        """A line for the interactive process: a pod shell's command reads the store (and its curl the network)."""
        process.write(data)

    @database_sync_to_async
    def db_poll(self, process, first: bool = False):
        if process.done:
            return process.output.take()
        cluster = Cluster.objects.filter(pk=self.cluster_pk).first()
        if cluster is None:
            process.finish(1)
            return "", "error: the cluster was deleted\n"
        return process.poll(virtual_now(cluster))

    @database_sync_to_async
    def db_complete(self, line: str, cursor: int) -> tuple[list[str], list[int]]:
        completer = _completer()
        words_start = line.rfind(" ", 0, cursor) + 1
        if completer is None or self.session.context is None:
            return _builtin_completions(line, cursor), [words_start, cursor]
        cluster = self._cluster()
        api = api_for(cluster)
        try:
            result = completer(line, cursor, api, self.session.context)
        except Exception:
            log.exception("terminal: completion failed")
            return [], [words_start, cursor]
        return _normalise_completions(result, line, cursor)


COMMANDS = ("kubectl", "k", "help", "clear", "history", "ls", "cat", "pwd", "echo")


def _builtin_completions(line: str, cursor: int) -> list[str]:
    head = line[:cursor]
    if " " in head.strip() or head != head.lstrip():
        return []
    return [c for c in COMMANDS if c.startswith(head)]


def _normalise_completions(result, line: str, cursor: int) -> tuple[list[str], list[int]]:
    """Whatever engine.kubectl's `complete` returns, as (candidates, [start, end] of the text they replace)."""
    start = line.rfind(" ", 0, cursor) + 1
    end = cursor
    items = result
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], int | tuple | list):
        items, where = result
        if isinstance(where, int):
            start = where
        elif len(where) == 2:
            start, end = int(where[0]), int(where[1])
    elif hasattr(result, "candidates"):
        items = result.candidates
        start = getattr(result, "start", start)
        end = getattr(result, "end", end)
    elif isinstance(result, dict):
        items = result.get("candidates") or result.get("items") or []
        start = result.get("start", start)
        end = result.get("end", end)
    out = [str(i) for i in items or []][:200]
    return out, [start, end]
