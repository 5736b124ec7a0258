"""`kubectl delete`: prints `pod "x" deleted` as soon as the delete is accepted, then waits for the object
to be gone (as kubectl 1.32 does with --wait=true): the returned Process ends when it is."""

from __future__ import annotations

from engine import errors
from engine.kubectl.base import ExitError, Process, api_error_text
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import BOOL, INT, SLICE, flag
from engine.kubectl.resources import Target, check_manifest, manifest_namespace, parse_targets, read_manifests
from engine.resources.registry import KindInfo

NO_RESOURCES = ("You must provide one or more resources by argument or filename.\nExample resource specifications "
                "include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
FORCE_WARNING = ("Warning: Immediate deletion does not wait for confirmation that the running resource has been "
                 "terminated. The resource may continue to run on the cluster indefinitely.\n")


def kind_word(info: KindInfo) -> str:
    return f"{info.kind.lower()}.{info.group}" if info.group else info.kind.lower()


class WaitGone(Process):
    """Ends when every deleted object (by uid) is gone from the API."""

    def __init__(self, inv: Invocation, pending: list[tuple[KindInfo, str, str, str]], code: int):
        super().__init__(inv.out)
        self.inv = inv
        self.pending = pending
        self.code = code

    def step(self, now: float) -> None:
        left = []
        for info, ns, name, uid in self.pending:
            try:
                obj = self.inv.api.get(info.kind, ns, name)
            except errors.ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            if obj["metadata"].get("uid") == uid:
                left.append((info, ns, name, uid))
        self.pending = left
        if not left:
            self.finish(self.code)


def delete(inv: Invocation) -> Process | None:
    f = inv.flags
    filenames = f["filename"]
    if not inv.args and not filenames:
        raise ExitError(NO_RESOURCES)
    cascade = f["cascade"]
    policy = {"background": "Background", "true": "Background", "foreground": "Foreground", "orphan": "Orphan",
              "false": "Orphan"}.get(str(cascade).lower())
    if policy is None:
        raise ExitError(f'invalid cascade value ({cascade}). Must be "background", "foreground", or "orphan".')
    if str(cascade).lower() == "false":
        inv.error("warning: --cascade=false is deprecated (boolean value) and can be replaced with --cascade=orphan.\n")
    grace = f["grace-period"]
    force = f["force"]
    if f["now"]:
        if grace != -1:
            raise ExitError("--now and --grace-period cannot be specified together")
        grace = 1
    if grace == 0 and not force:
        grace = 1
    if force and grace < 0:
        grace = 0
    if force and grace == 0:
        inv.error(FORCE_WARNING)
    dry_run = f["dry-run"]
    mode = "none" if dry_run in ("none", "", "false") else ("server" if dry_run == "server" else "client")
    all_ns = f["all-namespaces"]
    selector = f["selector"]
    field_selector = f["field-selector"]
    items: list[tuple[KindInfo, str, str]] = []
    errs: list[str] = []
    if filenames:
        if inv.args:
            raise ExitError("when paths, URLs, or stdin is provided as input, you may not specify resource arguments "
                            "as well")
        for m in read_manifests(filenames, inv.context, inv.stdin, f["recursive"]):
            info = check_manifest(m)
            ns = manifest_namespace(info, m.obj, inv.namespace, inv.explicit_namespace)
            items.append((info, ns, (m.obj.get("metadata") or {}).get("name", "")))
    else:
        targets: list[Target] = parse_targets(inv.args)
        named = [t for t in targets if t.name]
        unnamed = [t for t in targets if not t.name]
        if named and (selector or f["all"]):
            raise ExitError("name cannot be provided when a selector is specified" if selector else
                            "name cannot be provided when --all is specified")
        if unnamed and not (selector or f["all"] or field_selector):
            raise ExitError("resource(s) were provided, but no name was specified")
        for t in named:
            items.append((t.info, inv.namespace if t.info.namespaced else "", t.name))
        for t in unnamed:
            ns = None if all_ns else inv.namespace
            listing = inv.api.list(t.info.kind, ns if t.info.namespaced else None, label_selector=selector or None,
                                   field_selector=field_selector or None)
            for obj in listing["items"]:
                items.append((t.info, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
        if unnamed and not items and not named:
            inv.write("No resources found\n")
            return None
    pending: list[tuple[KindInfo, str, str, str]] = []
    for info, ns, name in items:
        try:
            current = inv.api.get(info.kind, ns, name)
        except errors.ApiError as exc:
            if exc.code == 404 and f["ignore-not-found"]:
                continue
            errs.append(api_error_text(exc))
            continue
        suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")
        verb = "force deleted" if force and grace == 0 else "deleted"
        if mode == "client":
            inv.write(f'{kind_word(info)} "{name}" {verb}{suffix}\n')
            continue
        try:
            inv.api.delete(info.kind, ns, name, propagation_policy=policy,
                           grace_period_seconds=grace if grace >= 0 else None,
                           preconditions=None, ctx=inv.request("kubectl", dry_run=mode == "server"))
        except errors.ApiError as exc:
            if exc.code == 404 and f["ignore-not-found"]:
                continue
            errs.append(api_error_text(exc))
            continue
        if f["output"] == "name":
            group = f".{info.group}" if info.group else ""
            inv.write(f"{info.kind.lower()}{group}/{name}\n")
        else:
            inv.write(f'{kind_word(info)} "{name}" {verb}{suffix}\n')
        if mode == "none":
            pending.append((info, ns, name, current["metadata"].get("uid", "")))
    code = 0
    if errs:
        inv.error("\n".join(errs) + "\n")
        code = 1
    if pending and f["wait"]:
        proc = WaitGone(inv, pending, code)
        proc.step(inv.now)
        if not proc.done:
            return proc
        if code:
            raise ExitError("", code)
        return None
    if code:
        raise ExitError("", code)
    return None


COMMAND = Command(
    "delete", "Delete resources by file names, stdin, resources and names, or by resources and label selector",
    usage="kubectl delete ([-f FILENAME] | [-k DIRECTORY] | TYPE [(NAME | -l label | --all)]) [options]",
    long="Delete resources by file names, stdin, resources and names, or by resources and label selector.\n\n JSON "
         "and YAML formats are accepted. Only one type of argument may be specified: file names, resources and names, "
         "or resources and label selector.",
    examples="  # Delete a pod using the type and name specified in pod.json\n  kubectl delete -f ./pod.json\n\n"
             "  # Delete pods and services with same names \"baz\" and \"foo\"\n  kubectl delete pod,service baz foo\n\n"
             "  # Delete pods and services with label name=myLabel\n  kubectl delete pods,services -l name=myLabel\n\n"
             "  # Delete a pod with minimal delay\n  kubectl delete pod foo --now\n\n"
             "  # Force delete a pod on a dead node\n  kubectl delete pod foo --force\n\n"
             "  # Delete all pods\n  kubectl delete pods --all",
    flags=[flag("filename", SLICE, short="f", help="containing the resource to delete."),
           flag("recursive", BOOL, short="R", help="Process the directory used in -f, --filename recursively."),
           flag("selector", short="l", help="Selector (label query) to filter on."),
           flag("field-selector", help="Selector (field query) to filter on."),
           flag("all", BOOL, help="Delete all resources, in the namespace of the specified resource types."),
           flag("all-namespaces", BOOL, short="A", help="If present, list the requested object(s) across all "
                "namespaces."),
           flag("ignore-not-found", BOOL, help="Treat \"resource not found\" as a successful delete."),
           flag("grace-period", INT, default=-1, help="Period of time in seconds given to the resource to terminate "
                "gracefully. Ignored if negative. Set to 1 for immediate shutdown. Can only be set to 0 when --force "
                "is true (force deletion)."),
           flag("now", BOOL, help="If true, resources are signaled for immediate shutdown (same as "
                "--grace-period=1)."),
           flag("force", BOOL, help="If true, immediately remove resources from API and bypass graceful deletion. "
                "Note that immediate deletion of some resources may result in inconsistency or data loss and requires "
                "confirmation."),
           flag("cascade", default="background", no_opt="background", help="Must be \"background\", \"orphan\", or "
                "\"foreground\". Selects the deletion cascading strategy for the dependents (e.g. Pods created by a "
                "ReplicationController). Defaults to background."),
           flag("wait", BOOL, default=True, help="If true, wait for resources to be gone before returning. This waits "
                "for finalizers."),
           flag("timeout", default="0s", help="The length of time to wait before giving up on a delete, zero means "
                "determine a timeout from the size of the object"),
           flag("output", short="o", help="Output mode. Use \"-o name\" for shorter output (resource/name)."),
           flag("dry-run", default="none", no_opt="unchanged", help="Must be \"none\", \"server\", or \"client\"."),
           flag("interactive", BOOL, short="i", help="If true, delete resource only when user confirms."),
           flag("raw", help="Raw URI to DELETE to the server."),
           flag("kustomize", short="k", help="Process a kustomization directory.")],
    handler=delete, group="Basic Commands (Intermediate)")
