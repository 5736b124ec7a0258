"""`kubectl get`, including `-w` (the initial table, then one row per change, as it happens)."""

from __future__ import annotations

from dataclasses import dataclass

from engine import errors
from engine.kubectl import jsonpath, printers
from engine.kubectl.base import ExitError, Output, Process, api_error_text, error_line
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import BOOL, SLICE, flag
from engine.kubectl.resources import Target, check_manifest, parse_targets, read_manifests
from engine.kubectl.tabwriter import TabWriter
from engine.resources import tables
from engine.resources.registry import KindInfo

OUTPUT_HELP = ("Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, "
               "jsonpath, jsonpath-as-json, jsonpath-file, custom-columns, custom-columns-file, wide). See custom "
               "columns [https://kubernetes.io/docs/reference/kubectl/#custom-columns], golang template "
               "[http://golang.org/pkg/text/template/#pkg-overview] and jsonpath template "
               "[https://kubernetes.io/docs/reference/kubectl/jsonpath/].")

GET_FLAGS = [
    flag("output", short="o", help=OUTPUT_HELP),
    flag("watch", BOOL, short="w", help="After listing/getting the requested object, watch for changes."),
    flag("watch-only", BOOL, help="Watch for changes to the requested object(s), without listing/getting first."),
    flag("selector", short="l", help="Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'."
         "(e.g. -l key1=value1,key2=value2,key3 in (value3)). Matching objects must satisfy all of the specified "
         "label constraints."),
    flag("field-selector", help="Selector (field query) to filter on, supports '=', '==', and '!='.(e.g. "
         "--field-selector key1=value1,key2=value2). The server only supports a limited number of field queries per "
         "type."),
    flag("all-namespaces", BOOL, short="A", help="If present, list the requested object(s) across all namespaces. "
         "Namespace in current context is ignored even if specified with --namespace."),
    flag("show-labels", BOOL, help="When printing, show all labels as the last column (default hide labels column)"),
    flag("label-columns", SLICE, short="L", help="Accepts a comma separated list of labels that are going to be "
         "presented as columns. Names are case-sensitive. You can also use multiple flag options like -L label1 "
         "-L label2..."),
    flag("no-headers", BOOL, help="When using the default or custom-column output format, don't print headers "
         "(default print headers)."),
    flag("show-kind", BOOL, help="If present, list the resource type for the requested object(s)."),
    flag("sort-by", help="If non-empty, sort list types using this field specification.  The field specification is "
         "expressed as a JSONPath expression (e.g. '{.metadata.name}')."),
    flag("ignore-not-found", BOOL, help="If set to true, suppresses NotFound error for specific objects that do not "
         "exist. Using this flag with commands that query for collections of resources has no effect when no "
         "resources are found."),
    flag("filename", SLICE, short="f", help="Filename, directory, or URL to files identifying the resource to get "
         "from a server."),
    flag("recursive", BOOL, short="R", help="Process the directory used in -f, --filename recursively."),
    flag("chunk-size", "int", default=500, help="Return large lists in chunks rather than all at once."),
    flag("output-watch-events", BOOL, help="Output watch event objects when --watch or --watch-only is used."),
    flag("server-print", BOOL, default=True, help="If true, have the server return the appropriate table output."),
    flag("show-managed-fields", BOOL, help="If true, keep the managedFields when printing objects in JSON or YAML "
         "format."),
    flag("template", help="Template string or path to template file to use when -o=go-template, "
         "-o=go-template-file."),
    flag("allow-missing-template-keys", BOOL, default=True, help="If true, ignore any errors in templates when a "
         "field or map key is missing in the template."),
    flag("raw", help="Raw URI to request from the server.  Uses the transport specified by the kubeconfig file."),
    flag("subresource", help="If specified, gets the subresource of the requested object."),
    flag("kustomize", short="k", help="Process the kustomization directory."),
]


@dataclass
class Found:
    info: KindInfo
    objects: list[dict]
    single: bool  # fetched by name
    revision: str = ""


def _strip_managed(obj: dict, keep: bool) -> dict:
    if keep or "managedFields" not in obj.get("metadata", {}):
        return obj
    obj = dict(obj)
    obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return obj


def _list_error(exc: errors.ApiError, info: KindInfo, selector: str, field_selector: str) -> errors.ApiError:
    """kubectl's resource visitor rewords a list's BadRequest and NotFound, naming what it listed."""
    if exc.code not in (400, 404):
        return exc
    resource = f"{info.group}/{info.version}, Resource={info.plural}"
    if not selector and not field_selector:
        message = f'Unable to list "{resource}": {exc.message}'
    else:
        message = (f'Unable to find "{resource}" that match label selector "{selector}", '
                   f'field selector "{field_selector}": {exc.message}')
    return errors.ApiError(exc.code, exc.reason, message, exc.name, exc.group, exc.kind, list(exc.causes))


def collect(inv: Invocation, targets: list[Target], namespace: str | None, selector: str, field_selector: str,
            ignore_not_found: bool) -> tuple[list[Found], list[Exception]]:
    found: list[Found] = []
    errs: list[Exception] = []
    for target in targets:
        info = target.info
        ns = namespace if info.namespaced else ""
        if target.name is None:
            try:
                listing = inv.api.list(info.kind, ns if ns else None, label_selector=selector or None,
                                       field_selector=field_selector or None)
            except errors.ApiError as exc:
                raise _list_error(exc, info, selector, field_selector) from None
            found.append(Found(info, listing["items"], False, listing["metadata"]["resourceVersion"]))
            continue
        try:
            obj = inv.api.get(info.kind, ns or inv.namespace if info.namespaced else "", target.name)
        except errors.ApiError as exc:
            if exc.code == 404 and ignore_not_found:
                continue
            errs.append(exc)
            continue
        found.append(Found(info, [obj], True))
    return found, errs


def get(inv: Invocation) -> Process | None:
    f = inv.flags
    output = f["output"]
    fmt, arg = printers.parse_output(output) if output else ("", "")
    if fmt and fmt not in printers.OUTPUT_FORMATS:
        raise printers.unknown_output(output)
    if f["show-labels"] and fmt not in ("", "wide"):
        raise ExitError(f"--show-labels option cannot be used with {fmt} printer")
    watching = f["watch"] or f["watch-only"]
    filenames = f["filename"]
    if not inv.args and not filenames and not watching:
        inv.error('You must specify the type of resource to get. Use "kubectl api-resources" for a complete list of '
                  "supported resources.\n\n")
        raise inv.usage_error('Required resource not specified.\nUse "kubectl explain <resource>" for a detailed '
                              "description of that resource (e.g. kubectl explain pods).")
    all_ns = f["all-namespaces"]
    namespace = None if all_ns else inv.namespace
    selector, field_selector = f["selector"], f["field-selector"]
    if filenames:
        if inv.args:
            raise ExitError("when paths, URLs, or stdin is provided as input, you may not specify resource arguments "
                            "as well")
        targets = []
        for m in read_manifests(filenames, inv.context, inv.stdin, f["recursive"]):
            info = check_manifest(m)
            meta = m.obj.get("metadata") or {}
            targets.append(Target(info, meta.get("name")))
            if info.namespaced and meta.get("namespace"):
                namespace = meta["namespace"] if not all_ns else None
    else:
        targets = parse_targets(inv.args)
    if selector and any(t.name for t in targets):
        raise ExitError("name cannot be provided when a selector is specified")
    if watching:
        return _watch(inv, targets, namespace, selector, field_selector, fmt, arg)
    found, errs = collect(inv, targets, namespace, selector, field_selector, f["ignore-not-found"])
    if fmt in ("", "wide"):
        written = _print_human(inv, found, fmt == "wide", all_ns)
        if not written and not errs and not f["ignore-not-found"]:
            if not all_ns and all(x.info.namespaced for x in found):
                inv.error(f"No resources found in {inv.namespace} namespace.\n")
            else:
                inv.error("No resources found\n")
    else:
        single = len(targets) == 1 and targets[0].name is not None and not filenames
        _print_generic(inv, found, fmt, arg, single, errs)
    if errs:
        raise ExitError("\n".join(error_line(e) for e in errs))
    return None


def _sorted(found: Found, sort_by: str) -> list[dict]:
    expr = jsonpath.relaxed(sort_by)

    def key(obj):
        values = jsonpath.find(expr, obj)
        v = values[0] if values else None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (0, v, "")
        return (1, 0, "" if v is None else str(v))

    return sorted(found.objects, key=key)


def _print_human(inv: Invocation, found: list[Found], wide: bool, all_ns: bool) -> bool:
    f = inv.flags
    kinds = {x.info.kind for x in found}
    with_kind = len(kinds) > 1 or f["show-kind"]
    writer = TabWriter()
    printer: printers.TablePrinter | None = None
    last: KindInfo | None = None
    written = False
    text_parts: list[str] = []
    for item in found:
        info = item.info
        if printer is None or last is None or info.kind != last.kind:
            chunk = writer.flush()
            if chunk:
                text_parts.append(chunk)
                written = True
            writer.reset_widths()
            if last is not None and not f["no-headers"] and written:
                pending_separator = True
            else:
                pending_separator = False
            group = f".{info.group}" if info.group else ""
            printer = printers.TablePrinter(writer, wide=wide, with_namespace=all_ns and info.namespaced,
                                            kind_prefix=f"{info.kind.lower()}{group}" if with_kind else "",
                                            show_labels=f["show-labels"], no_headers=f["no-headers"],
                                            label_columns=f["label-columns"])
            last = info
            if pending_separator:
                text_parts.append("\x00SEP")
        objects = _sorted(item, f["sort-by"]) if f["sort-by"] else item.objects
        printer.print_table(tables.table(info, objects, inv.now))
    chunk = writer.flush()
    if chunk:
        text_parts.append(chunk)
    # a separator is written only if something follows it
    out = []
    pending = False
    for part in text_parts:
        if part == "\x00SEP":
            pending = True
            continue
        if pending and out:
            out.append("\n")
        pending = False
        out.append(part)
    text = "".join(out)
    inv.write(text)
    return bool(text)


def _print_generic(inv: Invocation, found: list[Found], fmt: str, arg: str, single: bool, errs: list) -> None:
    keep = inv.flags["show-managed-fields"]
    objects = [(x.info, _strip_managed(o, keep)) for x in found for o in x.objects]
    if single and len(objects) == 1:
        data = objects[0][1]
    elif single and not objects:
        return
    else:
        data = printers.as_list([o for _, o in objects])
    emit(inv, fmt, arg, data, objects)


def emit(inv: Invocation, fmt: str, arg: str, data: dict, objects: list[tuple[KindInfo, dict]]) -> None:
    """Print an object or a List with a non-table printer."""
    if fmt == "yaml":
        inv.write(printers.to_yaml(data))
    elif fmt == "json":
        inv.write(printers.to_json(data))
    elif fmt == "name":
        for info, obj in objects:
            inv.write(printers.name_of(info, obj) + "\n")
    elif fmt in ("jsonpath", "jsonpath-as-json"):
        text = jsonpath.execute(arg, data, inv.flags.get("allow-missing-template-keys", True))
        inv.write(text)
    elif fmt == "custom-columns":
        writer = TabWriter()
        items = data.get("items") if data.get("kind") == "List" else [data]
        printers.CustomColumns(arg).render(items or [], writer, inv.flags.get("no-headers", False))
        inv.write(writer.flush())
    elif fmt in ("go-template", "template", "go-template-file", "templatefile", "jsonpath-file",
                 "custom-columns-file"):
        raise ExitError(f"the {fmt} output format is not supported by this terminal; use jsonpath or custom-columns")
    else:
        raise printers.unknown_output(fmt)


# --- watch ---------------------------------------------------------------------------------------


class WatchProcess(Process):
    def __init__(self, inv: Invocation, info: KindInfo, namespace: str | None, selector: str, field_selector: str,
                 since: int, fmt: str, arg: str, printer: printers.TablePrinter | None, writer: TabWriter,
                 output: Output):
        super().__init__(output)
        self.inv = inv
        self.info = info
        self.namespace = namespace
        self.selector = selector
        self.field_selector = field_selector
        self.since = since
        self.fmt = fmt
        self.arg = arg
        self.printer = printer
        self.writer = writer
        self.printed = 0

    def step(self, now: float) -> None:
        try:
            events, last = self.inv.api.watch(self.info.kind, self.namespace, self.since, self.selector or None,
                                              self.field_selector or None)
        except errors.ApiError as exc:
            self.output.error(api_error_text(exc) + "\n")
            self.finish(1)
            return
        self.since = max(self.since, last)
        for event in events:
            if event.type == "BOOKMARK":
                continue
            self.print_object(event.object, now)

    def print_object(self, obj: dict, now: float) -> None:
        if self.printer is not None:
            self.printer.print_table(tables.table(self.info, [obj], now))
            self.output.write(self.writer.flush())
        else:
            if self.fmt == "yaml":
                if self.printed:
                    self.output.write("---\n")
                self.output.write(printers.to_yaml(_strip_managed(obj, False)))
            elif self.fmt == "json":
                self.output.write(printers.to_json(_strip_managed(obj, False)))
            elif self.fmt == "name":
                self.output.write(printers.name_of(self.info, obj) + "\n")
            elif self.fmt in ("jsonpath", "jsonpath-as-json"):
                self.output.write(jsonpath.execute(self.arg, obj))
            elif self.fmt == "custom-columns":
                printers.CustomColumns(self.arg).render([obj], self.writer, no_headers=self.printed > 0)
                self.output.write(self.writer.flush())
        self.printed += 1


def _watch(inv: Invocation, targets: list[Target], namespace: str | None, selector: str, field_selector: str,
           fmt: str, arg: str) -> Process:
    if not targets:
        inv.error('You must specify the type of resource to get. Use "kubectl api-resources" for a complete list of '
                  "supported resources.\n\n")
        raise inv.usage_error('Required resource not specified.\nUse "kubectl explain <resource>" for a detailed '
                              "description of that resource (e.g. kubectl explain pods).")
    kinds = {t.info.kind for t in targets}
    if len(kinds) > 1:
        raise ExitError("watch is only supported on individual resources and resource collections - more than 1 "
                        "resource was found")
    target = targets[0]
    info = target.info
    names = [t.name for t in targets if t.name]
    if len(names) > 1:
        raise ExitError("watch is only supported on individual resources and resource collections, but a list of "
                        "resources is found")
    ns = namespace if info.namespaced else None
    if names:
        field_selector = ",".join(filter(None, [field_selector, f"metadata.name={names[0]}"]))
        obj = inv.api.get(info.kind, (ns or inv.namespace) if info.namespaced else "", names[0])
        objects = [obj]
        since = int(inv.api.store.revision())
        if info.namespaced and ns is None:
            ns = obj["metadata"].get("namespace")
    else:
        listing = inv.api.list(info.kind, ns, label_selector=selector or None, field_selector=field_selector or None)
        objects = listing["items"]
        since = int(listing["metadata"]["resourceVersion"])
    f = inv.flags
    writer = TabWriter()
    printer = None
    if fmt in ("", "wide"):
        printer = printers.TablePrinter(writer, wide=fmt == "wide",
                                        with_namespace=f["all-namespaces"] and info.namespaced,
                                        show_labels=f["show-labels"], no_headers=f["no-headers"],
                                        label_columns=f["label-columns"])
    proc = WatchProcess(inv, info, ns, selector, field_selector, since, fmt, arg, printer, writer, inv.out)
    if not f["watch-only"]:
        if printer is not None:
            printer.print_table(tables.table(info, objects, inv.now))
            inv.write(writer.flush())
        else:
            for obj in objects:
                proc.print_object(obj, inv.now)
    return proc


COMMAND = Command(
    "get", "Display one or many resources",
    usage="kubectl get [(-o|--output=)json|yaml|name|go-template|go-template-file|template|templatefile|jsonpath|"
          "jsonpath-as-json|jsonpath-file|custom-columns|custom-columns-file|wide] (TYPE[.VERSION][.GROUP] [NAME | -l "
          "label] | TYPE[.VERSION][.GROUP]/NAME ...) [flags] [options]",
    flags=GET_FLAGS, handler=get, group="Basic Commands (Intermediate)",
    long="Display one or many resources.\n\n Prints a table of the most important information about the specified "
         "resources. You can filter the list using a label selector and the --selector flag. If the desired resource "
         "type is namespaced you will only see results in the current namespace unless you pass --all-namespaces.\n\n"
         " By specifying the output as 'template' and providing a Go template as the value of the --template flag, "
         "you can filter the attributes of the fetched resources.\n\nUse \"kubectl api-resources\" for a complete "
         "list of supported resources.",
    examples="  # List all pods in ps output format\n  kubectl get pods\n\n"
             "  # List all pods in ps output format with more information (such as node name)\n"
             "  kubectl get pods -o wide\n\n"
             "  # List a single replication controller with specified NAME in ps output format\n"
             "  kubectl get replicationcontroller web\n\n"
             "  # List deployments in JSON output format, in the \"v1\" version of the \"apps\" API group\n"
             "  kubectl get deployments.v1.apps -o json\n\n"
             "  # List a single pod in JSON output format\n  kubectl get -o json pod web-pod-13je7\n\n"
             "  # Return only the phase value of the specified pod\n"
             "  kubectl get -o template pod/web-pod-13je7 --template={{.status.phase}}\n\n"
             "  # List all replication controllers and services together in ps output format\n"
             "  kubectl get rc,services\n\n"
             "  # List one or more resources by their type and names\n"
             "  kubectl get rc/web service/frontend pods/web-pod-13je7",
)
