"""`kubectl logs`, `exec`, `top`, and attaching for `run -it`."""

from __future__ import annotations

import contextlib
import importlib.util
from datetime import UTC, datetime

from engine import errors
from engine.kubectl import containers as cinfo
from engine.kubectl.base import ExitError, Process
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import BOOL, INT, flag
from engine.kubectl.shell import ShellSession
from engine.kubectl.tabwriter import TabWriter

EXEC_USAGE = ("expected 'exec (POD | TYPE/NAME) COMMAND [ARG1] [ARG2] ... [ARGN]'.\nPOD or TYPE/NAME is a required "
              "argument for the exec command")


def _pod_for(inv: Invocation, ref: str) -> dict:
    """A pod by name, or the first pod of `deploy/x`, `rs/x`, `svc/x`, `job/x` (as kubectl picks one)."""
    if "/" not in ref:
        return inv.api.get("Pod", inv.namespace, ref)
    kind, _, name = ref.partition("/")
    from engine.kubectl.resources import resolve_kind

    info = resolve_kind(kind)
    if info.kind == "Pod":
        return inv.api.get("Pod", inv.namespace, name)
    obj = inv.api.get(info.kind, inv.namespace, name)
    spec = obj.get("spec") or {}
    if info.kind == "Service":
        selector = spec.get("selector") or {}
    else:
        selector = (spec.get("selector") or {}).get("matchLabels") or spec.get("selector") or {}
    text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()) if isinstance(v, str))
    pods = inv.api.list("Pod", inv.namespace, label_selector=text or None)["items"] if text else []
    pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    if not pods:
        raise ExitError("timed out waiting for the condition")
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    return sorted(running or pods, key=lambda p: p["metadata"]["name"])[0]


# --- logs ----------------------------------------------------------------------------------------


def _format(lines: list[tuple[float, str]], timestamps: bool, prefix: str) -> str:
    out = []
    for when, text in lines:
        stamp = datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z " if timestamps else ""
        out.append(f"{prefix}{stamp}{text}\n")
    return "".join(out)


class FollowLogs(Process):
    def __init__(self, inv: Invocation, pod: dict, containers: list[dict], printed: dict[str, int], timestamps: bool,
                 prefix: bool):
        super().__init__(inv.out)
        self.inv = inv
        self.pod = pod
        self.containers = containers
        self.printed = printed
        self.timestamps = timestamps
        self.prefix = prefix

    def step(self, now: float) -> None:
        meta = self.pod["metadata"]
        try:
            pod = self.inv.api.get("Pod", meta["namespace"], meta["name"])
        except errors.ApiError:
            self.finish(0)
            return
        if pod["metadata"].get("uid") != meta.get("uid"):
            self.finish(0)
            return
        running = False
        for container in self.containers:
            lines = cinfo.log_lines(pod, container, now)
            seen = self.printed.get(container["name"], 0)
            if len(lines) < seen:
                seen = 0  # restarted: a new run's log
            prefix = f"[pod/{meta['name']}/{container['name']}] " if self.prefix else ""
            self.output.write(_format(lines[seen:], self.timestamps, prefix))
            self.printed[container["name"]] = len(lines)
            state = (cinfo.container_status(pod, container["name"]) or {}).get("state") or {}
            if "running" in state or "waiting" in state:
                running = True
        if not running:
            self.finish(0)


def logs(inv: Invocation) -> Process | None:
    f = inv.flags
    args = inv.args
    if not args and not f["selector"]:
        raise inv.usage_error("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a "
                              "required argument for the logs command")
    if len(args) > 2:
        raise inv.usage_error("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a "
                              "required argument for the logs command")
    container_name = f["container"] or (args[1] if len(args) == 2 else "")
    if f["selector"]:
        pods = inv.api.list("Pod", inv.namespace, label_selector=f["selector"])["items"]
        if not pods:
            inv.write("No resources found in " + inv.namespace + " namespace.\n")
            return None
    else:
        pods = [_pod_for(inv, args[0])]
    out = []
    followers = []
    for pod in pods:
        if f["all-containers"]:
            chosen = list((pod.get("spec") or {}).get("initContainers") or []) + list(pod["spec"]["containers"])
        else:
            chosen = [cinfo.pick_container(pod, container_name or None, inv.error)]
        printed: dict[str, int] = {}
        for container in chosen:
            if f["previous"]:
                cs = cinfo.container_status(pod, container["name"]) or {}
                if not (cs.get("lastState") or {}).get("terminated"):
                    raise errors.ApiError(400, "BadRequest", f'previous terminated container "{container["name"]}" '
                                                             f'in pod "{pod["metadata"]["name"]}" not found')
                lines = cinfo.log_lines(pod, container, inv.now, previous=True)
            else:
                problem = cinfo.waiting_error(pod, container)
                if problem is not None:
                    if f["all-containers"] or f["ignore-errors"]:
                        continue
                    raise problem
                lines = cinfo.log_lines(pod, container, inv.now)
            printed[container["name"]] = len(lines)
            if f["since"]:
                seconds = _duration(f["since"])
                lines = [(t, text) for t, text in lines if t >= inv.now - seconds]
            if f["tail"] >= 0:
                lines = lines[-f["tail"]:] if f["tail"] else []
            elif f["selector"] and f["tail"] == -1:
                lines = lines[-10:]
            prefix = f"[pod/{pod['metadata']['name']}/{container['name']}] " if f["prefix"] else ""
            out.append(_format(lines, f["timestamps"], prefix))
        if f["follow"] and not f["previous"]:
            followers.append(FollowLogs(inv, pod, chosen, printed, f["timestamps"], f["prefix"]))
    inv.write("".join(out))
    if followers:
        return followers[0]
    return None


def _duration(text: str) -> float:
    import re

    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


# --- exec ----------------------------------------------------------------------------------------


class ShellProcess(Process):
    """An interactive shell the terminal drives: `write(line)`, output via `poll`, `prompt` between lines."""

    interactive = True

    def __init__(self, inv: Invocation, session: ShellSession, tty: bool, on_exit=None):
        super().__init__(inv.out)
        self.session = session
        self.tty = tty
        self.on_exit = on_exit
        self.prompt = session.prompt if tty else ""
        session.streaming = tty  # a foreground program (ping) prints as the clock runs, until it ends or ^C
        if tty:
            self.output.write(self.prompt)

    def write(self, data: str) -> None:
        if self.done or self.session.job is not None:  # typed ahead while ping runs: ping does not read it
            return
        for line in data.splitlines() or [""]:
            out, err, _ = self.session.run_line(line)
            self.output.write(out)
            self.output.write(err) if self.tty else self.output.error(err)
            if self.session.done:
                self._end()
                return
            if self.session.job is not None:
                self.prompt = ""
                return
            if self.tty:
                self.prompt = self.session.prompt
                self.output.write(self.prompt)

    def step(self, now: float) -> None:
        self.session.now = now
        if self.session.job is not None:
            out, ended = self.session.job_step(now)
            self.output.write(out)
            if ended:
                self.prompt = self.session.prompt
                self.output.write(self.prompt)

    def interrupt(self) -> None:
        if self.done:
            return
        if self.session.job is not None:  # SIGINT goes to the foreground program; the shell prompts again
            self.output.write("^C" + self.session.job_interrupt(self.session.now))
            self.prompt = self.session.prompt
            self.output.write(self.prompt)
            return
        if self.tty:
            self.output.write("^C\n" + self.session.prompt)
            return
        self._end(130)

    def eof(self) -> None:
        """Ctrl-D."""
        if not self.done:
            if self.tty:
                self.output.write("exit\n" if self.session.family != "busybox" else "\n")
            self._end()

    def _end(self, code: int | None = None) -> None:
        code = self.session.exit_code if code is None else code
        if self.on_exit is not None:
            self.on_exit(self, code)
        if code and code != 130:
            self.output.error(f"command terminated with exit code {code}\n")
        self.finish(code)


def _exec_target(inv: Invocation, pod: dict, container: dict) -> None:
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise ExitError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    cs = cinfo.container_status(pod, container["name"])
    state = (cs or {}).get("state") or {}
    if "running" not in state:
        if not (pod.get("spec") or {}).get("nodeName"):
            raise errors.ApiError(400, "BadRequest", f'pod {pod["metadata"]["name"]} does not have a host assigned')
        raise ExitError(f'unable to upgrade connection: container not found ("{container["name"]}")')


def exec_(inv: Invocation) -> Process | None:
    f = inv.flags
    dash = f.dash_at
    if not inv.args or dash == 0:
        raise inv.usage_error(EXEC_USAGE)
    if dash < 0:
        if len(inv.args) > 1:
            raise ExitError("exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead\n"
                            "See 'kubectl exec -h' for help and examples")
        raise inv.usage_error("you must specify at least one command for the container")
    pod_ref = inv.args[0]
    command = inv.args[dash:]
    if dash > 1:
        raise ExitError("exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead\nSee "
                        "'kubectl exec -h' for help and examples")
    if not command:
        raise inv.usage_error("you must specify at least one command for the container")
    pod = _pod_for(inv, pod_ref)
    container = cinfo.pick_container(pod, f["container"] or None, inv.error)
    _exec_target(inv, pod, container)
    interactive = f["stdin"]
    tty = f["tty"] and interactive
    if f["tty"] and not interactive:
        inv.error("Unable to use a TTY - input is not a terminal or the right kind of file\n")
    session = ShellSession(inv.api, pod, container, inv.now, interactive=tty, shell=command[0].rsplit("/", 1)[-1],
                           simulation=inv.context.simulation, network_config=inv.context.network_config)
    program = command[0]
    if session.has_shell(program) and len(command) == 1 and interactive:
        return ShellProcess(inv, session, tty)
    if program.rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash") and not session.has_shell(program):
        return _exec_failure(inv, program)
    if program.rsplit("/", 1)[-1] not in session.tools() and program.rsplit("/", 1)[-1] not in (
            "echo", "pwd", "true", "false", "test"):
        return _exec_failure(inv, program)
    if interactive and program.rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash") and len(command) == 1:
        return ShellProcess(inv, session, tty)
    out, err, code = session.run_argv(command)
    inv.write(out)
    inv.error(err)
    if code:
        raise ExitError(f"command terminated with exit code {code}", code)
    return None


def _exec_failure(inv: Invocation, program: str) -> None:
    raise ExitError(f"Internal error occurred: error executing command in container: failed to exec in container: "
                    f"failed to start exec \"{'0' * 8}\": OCI runtime exec failed: exec failed: unable to start "
                    f"container process: exec: \"{program}\": executable file not found in $PATH: unknown")


# --- run -it: wait for the pod, then attach -------------------------------------------------------


class AttachRun(Process):
    """`kubectl run -it`: wait until the container runs, then attach a shell; `--rm` deletes the pod after."""

    interactive = True

    def __init__(self, inv: Invocation, pod: dict, tty: bool, remove: bool, quiet: bool):
        super().__init__(inv.out)
        self.inv = inv
        self.pod = pod
        self.tty = tty
        self.remove = remove
        self.quiet = quiet
        self.shell: ShellProcess | None = None
        self.started_at = inv.now
        self.one_shot: tuple[float, int] | None = None  # (when the program exits, its exit code)

    def step(self, now: float) -> None:
        if self.shell is not None:
            self.shell.step(now)
            self.prompt = self.shell.prompt  # back once a foreground ping ends
            return
        if self.one_shot is not None:
            if now + 1e-9 >= self.one_shot[0]:
                if self.remove:  # the program has exited: no session to resume, only --rm's delete
                    self._after(None, self.one_shot[1])
                self.finish(self.one_shot[1])
            return
        meta = self.pod["metadata"]
        pod = self.inv.api.get("Pod", meta["namespace"], meta["name"])
        container = pod["spec"]["containers"][0]
        cs = cinfo.container_status(pod, container["name"]) or {}
        state = cs.get("state") or {}
        if "running" in state or "terminated" in state or (cs.get("lastState") or {}).get("terminated"):
            if not self.quiet:
                self.output.error("If you don't see a command prompt, try pressing enter.\n")
            session = ShellSession(self.inv.api, pod, container, now, interactive=self.tty,
                                   shell=(container.get("args") or container.get("command") or ["sh"])[0],
                                   simulation=self.inv.context.simulation,
                                   network_config=self.inv.context.network_config)
            argv = [str(a) for a in list(container.get("command") or []) + list(container.get("args") or [])]
            from engine.kubelet import images

            image = images.lookup(container.get("image", ""))
            behaviour = images.behaviour_of(container, image) if image is not None else None
            if argv and not (len(argv) == 1 and session.has_shell(argv[0])) and behaviour is not None \
                    and behaviour.kind == "exits":
                # A program that ends (`-- nslookup kubernetes.default`, `-- sh -c "wget -qO- web; sleep 5"`):
                # attach shows what it prints, and the session ends when the container does.
                out, err, code = session.run_argv(argv)
                self.output.write(out)
                self.output.write(err) if self.tty else self.output.error(err)
                self.one_shot = (now + behaviour.after, code)
                self.step(now)
                return
            self.shell = ShellProcess(self.inv, session, self.tty, on_exit=self._after)
            self.prompt = self.shell.prompt
            return
        if now - self.started_at > 60:
            self.output.error("error: timed out waiting for the condition\n")
            self.finish(1)

    def write(self, data: str) -> None:
        if self.shell is not None:
            self.shell.write(data)
            self.prompt = self.shell.prompt
            if self.shell.done:
                self.finish(self.shell.exit_code or 0)

    def interrupt(self) -> None:
        if self.shell is not None:
            self.shell.interrupt()
            self.prompt = self.shell.prompt
            if self.shell.done:
                self.finish(self.shell.exit_code or 0)
            return
        self.finish(130)

    def _after(self, shell: ShellProcess, code: int) -> None:
        meta = self.pod["metadata"]
        if self.remove:
            with contextlib.suppress(errors.ApiError):
                self.inv.api.delete("Pod", meta["namespace"], meta["name"])
            self.output.write(f'pod "{meta["name"]}" deleted\n')
        else:
            c = self.pod["spec"]["containers"][0]["name"]
            self.output.write(f"Session ended, resume using 'kubectl attach {meta['name']} -c {c} -i -t' command when "
                              "the pod is running\n")


# --- top -----------------------------------------------------------------------------------------


def _usage_module():
    if importlib.util.find_spec("engine.kubelet.usage") is None:
        return None
    import engine.kubelet.usage as usage  # type: ignore[import-not-found]

    return usage


def top_node(inv: Invocation) -> None:
    usage = _usage_module()
    if usage is None or not hasattr(usage, "node_usage"):
        raise ExitError("Metrics API not available")
    nodes = inv.api.list("Node", None, label_selector=inv.flags["selector"] or None)["items"]
    if inv.args:
        nodes = [inv.api.get("Node", "", inv.args[0])]
    tw = TabWriter()
    if not inv.flags["no-headers"]:
        tw.write("NAME\tCPU(cores)\tCPU(%)\tMEMORY(bytes)\tMEMORY(%)\n")
    from engine.resources.quantity import parse_quantity

    for node in nodes:
        cpu_m, mem_b = usage.node_usage(inv.api, node, inv.now)
        alloc = (node.get("status") or {}).get("allocatable") or {}
        cpu_total = float(parse_quantity(alloc.get("cpu", "1"))) * 1000
        mem_total = float(parse_quantity(alloc.get("memory", "1")))
        tw.write(f"{node['metadata']['name']}\t{int(cpu_m)}m\t{int(cpu_m * 100 / cpu_total)}%\t"
                 f"{int(mem_b / 1048576)}Mi\t{int(mem_b * 100 / mem_total)}%\n")
    inv.write(tw.flush())


def top_pod(inv: Invocation) -> None:
    usage = _usage_module()
    if usage is None or not hasattr(usage, "pod_usage"):
        raise ExitError("Metrics API not available")
    all_ns = inv.flags["all-namespaces"]
    pods = inv.api.list("Pod", None if all_ns else inv.namespace, label_selector=inv.flags["selector"] or None)["items"]
    if inv.args:
        pods = [inv.api.get("Pod", inv.namespace, inv.args[0])]
    pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    if not pods:
        if inv.args:
            raise ExitError(f"Metrics not available for pod {inv.namespace}/{inv.args[0]}, age: 0s")
        inv.error(f"No resources found in {inv.namespace} namespace.\n" if not all_ns else "No resources found\n")
        return
    tw = TabWriter()
    if not inv.flags["no-headers"]:
        tw.write(("NAMESPACE\t" if all_ns else "") + "NAME\tCPU(cores)\tMEMORY(bytes)\n")
    for pod in pods:
        cpu_m, mem_b = usage.pod_usage(inv.api, pod, inv.now)
        ns = pod["metadata"]["namespace"] + "\t" if all_ns else ""
        tw.write(f"{ns}{pod['metadata']['name']}\t{int(cpu_m)}m\t{int(mem_b / 1048576)}Mi\n")
    inv.write(tw.flush())


LOGS = Command(
    "logs", "Print the logs for a container in a pod",
    usage="kubectl logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER] [options]",
    long="Print the logs for a container in a pod or specified resource. If the pod has only one container, the "
         "container name is optional.",
    examples="  # Return snapshot logs from pod nginx with only one container\n  kubectl logs nginx\n\n"
             "  # Return snapshot of previous terminated ruby container logs from pod web-1\n"
             "  kubectl logs -p -c ruby web-1\n\n"
             "  # Begin streaming the logs of the ruby container in pod web-1\n  kubectl logs -f -c ruby web-1\n\n"
             "  # Display only the most recent 20 lines of output in pod nginx\n  kubectl logs --tail=20 nginx",
    flags=[flag("container", short="c", help="Print the logs of this container"),
           flag("follow", BOOL, short="f", help="Specify if the logs should be streamed."),
           flag("previous", BOOL, short="p", help="If true, print the logs for the previous instance of the container "
                "in a pod if it exists."),
           flag("tail", INT, default=-1, help="Lines of recent log file to display. Defaults to -1 with no selector, "
                "showing all log lines otherwise 10, if a selector is provided."),
           flag("timestamps", BOOL, help="Include timestamps on each line in the log output"),
           flag("since", help="Only return logs newer than a relative duration like 5s, 2m, or 3h. Defaults to all "
                "logs. Only one of since-time / since may be used."),
           flag("since-time", help="Only return logs after a specific date (RFC3339)."),
           flag("all-containers", BOOL, help="Get all containers' logs in the pod(s)."),
           flag("selector", short="l", help="Selector (label query) to filter on."),
           flag("prefix", BOOL, help="Prefix each log line with the log source (pod name and container name)"),
           flag("ignore-errors", BOOL, help="If watching / following pod logs, allow for any errors that occur to be "
                "non-fatal"),
           flag("limit-bytes", INT, help="Maximum bytes of logs to return. Defaults to no limit."),
           flag("max-log-requests", INT, default=5, help="Specify maximum number of concurrent logs to follow when "
                "using by a selector."),
           flag("pod-running-timeout", default="20s", help="The length of time to wait until at least one pod is "
                "running")],
    handler=logs, group="Troubleshooting and Debugging Commands")

EXEC = Command(
    "exec", "Execute a command in a container",
    usage="kubectl exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...] [options]",
    examples="  # Get output from running the 'date' command from pod mypod, using the first container by default\n"
             "  kubectl exec mypod -- date\n\n"
             "  # Get output from running the 'date' command in ruby-container from pod mypod\n"
             "  kubectl exec mypod -c ruby-container -- date\n\n"
             "  # Switch to raw terminal mode; sends stdin to 'bash' in ruby-container from pod mypod\n"
             "  # and sends stdout/stderr from 'bash' back to the client\n"
             "  kubectl exec mypod -c ruby-container -i -t -- bash -il",
    flags=[flag("container", short="c", help="Container name. If omitted, use the kubectl.kubernetes.io/default-"
                "container annotation for selecting the container to be attached or the first container in the pod "
                "will be chosen"),
           flag("stdin", BOOL, short="i", help="Pass stdin to the container"),
           flag("tty", BOOL, short="t", help="Stdin is a TTY"),
           flag("quiet", BOOL, short="q", help="Only print output from the remote session"),
           flag("filename", "strings", short="f", help="to use to exec into the resource"),
           flag("pod-running-timeout", default="1m0s", help="The length of time to wait until at least one pod is "
                "running")],
    handler=exec_, group="Troubleshooting and Debugging Commands")

TOP = Command("top", "Display resource (CPU/memory) usage", usage="kubectl top [flags] [options]",
              long="Display resource (CPU/memory) usage.\n\n The top command allows you to see the resource "
                   "consumption for nodes or pods.\n\n This command requires Metrics Server to be correctly "
                   "configured and working on the server.",
              group="Cluster Management Commands")
TOP.add(
    Command("node", "Display resource (CPU/memory) usage of nodes", aliases=("nodes", "no"),
            usage="kubectl top node [NAME | -l label] [options]",
            flags=[flag("selector", short="l", help="Selector (label query) to filter on."),
                   flag("no-headers", BOOL, help="If present, print output without headers"),
                   flag("sort-by", help="If non-empty, sort nodes list using specified field."),
                   flag("show-capacity", BOOL, help="Print node resources based on Capacity instead of Allocatable")],
            handler=top_node),
    Command("pod", "Display resource (CPU/memory) usage of pods", aliases=("pods", "po"),
            usage="kubectl top pod [NAME | -l label] [options]",
            flags=[flag("selector", short="l", help="Selector (label query) to filter on."),
                   flag("all-namespaces", BOOL, short="A", help="If present, list the requested object(s) across all "
                        "namespaces."),
                   flag("no-headers", BOOL, help="If present, print output without headers."),
                   flag("containers", BOOL, help="If present, print usage of containers within a pod."),
                   flag("sort-by", help="If non-empty, sort pods list using specified field.")],
            handler=top_pod),
)

COMMANDS = [LOGS, EXEC, TOP]
