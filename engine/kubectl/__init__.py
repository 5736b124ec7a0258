"""The kubectl of the web terminal: kubectl 1.32's commands, flags, output and errors, over engine.apiserver.

    result = run("get pods -o wide", api, now, context)       # Result(stdout, stderr, exit_code, attach)
    proc = start("get pods -w", api, now, context)            # a Process: proc.poll(now) after each tick,
                                                              # proc.interrupt() on Ctrl-C, proc.write(line)
    complete("kubectl get po", 14, api, context)              # ["pod", "pods", "po", ...]

Streaming and waiting commands (`get -w`, `logs -f`, `rollout status`, `delete` while the object
terminates, `wait`, `exec -it`, `run -it`) are Processes; `run()` returns what they printed up to the
moment they would wait, with `Result.attach` set to the still-running Process.
"""

from engine.kubectl.base import Context, Process, Result
from engine.kubectl.cli import run, start
from engine.kubectl.complete import complete
from engine.kubectl.shell import ShellSession

__all__ = ["Context", "Process", "Result", "ShellSession", "complete", "run", "start"]
