"""`kubectl describe`."""

from __future__ import annotations

from engine import errors
from engine.kubectl.base import ExitError, api_error_text
from engine.kubectl.command import Command, Invocation
from engine.kubectl.describe import describe as render
from engine.kubectl.flags import BOOL, SLICE, flag
from engine.kubectl.resources import check_manifest, manifest_namespace, parse_targets, read_manifests


def describe(inv: Invocation) -> None:
    f = inv.flags
    if not inv.args and not f["filename"]:
        inv.error('You must specify the type of resource to describe. Use "kubectl api-resources" for a complete '
                  "list of supported resources.\n\n")
        raise inv.usage_error("Required resource not specified.")
    all_ns = f["all-namespaces"]
    items = []
    errs = []
    if f["filename"]:
        for m in read_manifests(f["filename"], inv.context, inv.stdin, f["recursive"]):
            info = check_manifest(m)
            ns = manifest_namespace(info, m.obj, inv.namespace, inv.explicit_namespace)
            try:
                items.append((info, inv.api.get(info.kind, ns, m.obj["metadata"]["name"])))
            except errors.ApiError as exc:
                errs.append(api_error_text(exc))
    else:
        for t in parse_targets(inv.args):
            ns = inv.namespace if t.info.namespaced else ""
            if t.name is None:
                listing = inv.api.list(t.info.kind, None if all_ns or not t.info.namespaced else ns,
                                       label_selector=f["selector"] or None)
                items.extend((t.info, o) for o in listing["items"])
                continue
            try:
                items.append((t.info, inv.api.get(t.info.kind, ns, t.name)))
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
                # describe falls back to a prefix match on names, as kubectl does
                listing = inv.api.list(t.info.kind, ns or None)["items"]
                matches = [o for o in listing if o["metadata"]["name"].startswith(t.name)]
                if not matches:
                    errs.append(api_error_text(exc))
                items.extend((t.info, o) for o in matches)
    texts = [render(inv.api, info, obj, inv.now) for info, obj in items]
    if texts:
        inv.write("\n\n".join(texts))
    elif not errs:
        if all_ns:
            inv.error("No resources found\n")
        else:
            inv.error(f"No resources found in {inv.namespace} namespace.\n")
    if errs:
        raise ExitError("\n".join(errs))


COMMAND = Command(
    "describe", "Show details of a specific resource or group of resources",
    usage="kubectl describe (-f FILENAME | TYPE [NAME_PREFIX | -l label] | TYPE/NAME) [options]",
    long="Show details of a specific resource or group of resources.\n\n Print a detailed description of the selected "
         "resources, including related resources such as events or controllers. You may select a single object by "
         "name, all objects of that type, provide a name prefix, or label selector.",
    examples="  # Describe a node\n  kubectl describe nodes kubernetes-node-emt8.c.myproject.internal\n\n"
             "  # Describe a pod\n  kubectl describe pods/nginx\n\n"
             "  # Describe pods by label name=myLabel\n  kubectl describe pods -l name=myLabel",
    flags=[flag("filename", SLICE, short="f", help="Filename, directory, or URL to files containing the resource to "
                "describe"),
           flag("recursive", BOOL, short="R", help="Process the directory used in -f, --filename recursively."),
           flag("selector", short="l", help="Selector (label query) to filter on."),
           flag("all-namespaces", BOOL, short="A", help="If present, list the requested object(s) across all "
                "namespaces."),
           flag("show-events", BOOL, default=True, help="If true, display events related to the described object."),
           flag("chunk-size", "int", default=500, help="Return large lists in chunks rather than all at once.")],
    handler=describe, group="Troubleshooting and Debugging Commands")
