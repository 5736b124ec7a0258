"""`kubectl wait --for=condition=...|delete|jsonpath=...`: a Process that ends when the condition holds."""

from __future__ import annotations

from engine import errors
from engine.kubectl import jsonpath
from engine.kubectl.base import ExitError, Process
from engine.kubectl.cmd_logs import _duration
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import BOOL, SLICE, flag
from engine.kubectl.resources import parse_targets
from engine.resources.registry import KindInfo


def _condition(spec: str):
    """A predicate on an object (None means gone) for a --for value."""
    if spec == "delete":
        return lambda obj: obj is None
    if spec.startswith("condition="):
        body = spec[len("condition="):]
        name, _, value = body.partition("=")
        wanted = value or "True"

        def has(obj):
            if obj is None:
                return False
            for cond in (obj.get("status") or {}).get("conditions") or []:
                if cond.get("type", "").lower() == name.lower():
                    return str(cond.get("status", "")).lower() == wanted.lower()
            return False

        return has
    if spec.startswith("jsonpath="):
        body = spec[len("jsonpath="):]
        expr, sep, value = body.rpartition("=") if "}=" in body or not body.startswith("{") else (body, "", "")
        if "}" in value:
            expr, sep, value = body, "", ""
        expr = expr.strip("'")

        def matches(obj):
            if obj is None:
                return False
            found = jsonpath.find(expr, obj)
            if not sep:
                return bool(found)
            return any(jsonpath.text_of(v) == value for v in found)

        return matches
    if spec.startswith("create"):
        return lambda obj: obj is not None
    raise ExitError(f"unrecognized condition: \"{spec}\"")


class WaitProcess(Process):
    def __init__(self, inv: Invocation, items: list[tuple[KindInfo, str, str]], predicate, timeout: float):
        super().__init__(inv.out)
        self.inv = inv
        self.items = items
        self.predicate = predicate
        self.deadline = inv.now + timeout

    def step(self, now: float) -> None:
        left = []
        for info, ns, name in self.items:
            try:
                obj = self.inv.api.get(info.kind, ns, name)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
                obj = None
            if self.predicate(obj):
                group = f".{info.group}" if info.group else ""
                self.output.write(f"{info.kind.lower()}{group}/{name} condition met\n")
            else:
                left.append((info, ns, name))
        self.items = left
        if not left:
            self.finish(0)
        elif now >= self.deadline:
            info, _, name = left[0]
            self.output.error(f"error: timed out waiting for the condition on {info.plural}/{name}\n")
            self.finish(1)


def wait(inv: Invocation) -> Process | None:
    f = inv.flags
    if not f["for"]:
        raise ExitError("--for must be specified")
    predicate = _condition(f["for"])
    items = []
    for t in parse_targets(inv.args):
        ns = inv.namespace if t.info.namespaced else ""
        if t.name:
            items.append((t.info, ns, t.name))
            continue
        listing = inv.api.list(t.info.kind, None if f["all-namespaces"] else (ns or None),
                               label_selector=f["selector"] or None, field_selector=f["field-selector"] or None)
        items.extend((t.info, o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in listing["items"])
    if not items:
        if not inv.args:
            raise inv.usage_error("You must provide one or more resources by argument or filename.")
        raise ExitError("no matching resources found")
    if f["for"] != "delete":
        for info, ns, name in items:
            inv.api.get(info.kind, ns, name)
    timeout = _duration(f["timeout"]) if f["timeout"] else 30.0
    if f["timeout"] in ("-1s", "-1"):
        timeout = 7 * 86400.0
    proc = WaitProcess(inv, items, predicate, timeout)
    proc.step(inv.now)
    if proc.done:
        out, err = proc.output.take()
        inv.write(out)
        if proc.exit_code:
            raise ExitError(err.removeprefix("error: ").rstrip("\n"), proc.exit_code)
        return None
    return proc


COMMAND = Command(
    "wait", "Experimental: Wait for a specific condition on one or many resources",
    usage="kubectl wait ([-f FILENAME] | resource.group/resource.name | resource.group [(-l label | --all)]) "
          "[--for=create|--for=delete|--for condition=available|--for=jsonpath='{}'[=value]] [options]",
    examples="  # Wait for the pod \"busybox1\" to contain the status condition of type \"Ready\"\n"
             "  kubectl wait --for=condition=Ready pod/busybox1\n\n"
             "  # Wait for the pod \"busybox1\" to contain the status phase to be \"Running\"\n"
             "  kubectl wait --for=jsonpath='{.status.phase}'=Running pod/busybox1\n\n"
             "  # Wait for pod \"busybox1\" to be deleted, with a timeout of 60 seconds, after having issued the "
             "\"delete\" command\n  kubectl delete pod/busybox1\n  kubectl wait --for=delete pod/busybox1 "
             "--timeout=60s",
    flags=[flag("for", help="The condition to wait on: [create|delete|condition=condition-name[=condition-value]|"
                "jsonpath='{JSONPath expression}'=[JSONPath value]]."),
           flag("timeout", default="30s", help="The length of time to wait before giving up.  Zero means check once "
                "and don't wait, negative means wait for a week."),
           flag("selector", short="l", help="Selector (label query) to filter on."),
           flag("field-selector", help="Selector (field query) to filter on."),
           flag("all", BOOL, help="Select all resources in the namespace of the specified resource types"),
           flag("all-namespaces", BOOL, short="A", help="If present, list the requested object(s) across all "
                "namespaces."),
           flag("filename", SLICE, short="f", help="identifying the resource."),
           flag("output", short="o", help="Output format.")],
    handler=wait, group="Advanced Commands")
