"""Commands about the cluster and the client: api-resources, api-versions, version, config, cluster-info,
explain."""

from __future__ import annotations

import re
import types
import typing

from engine.kubectl import printers
from engine.kubectl.base import CLIENT_VERSION, KUSTOMIZE_VERSION, SERVER_VERSION, ExitError
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import BOOL, flag
from engine.kubectl.resources import resolve_kind
from engine.kubectl.tabwriter import TabWriter
from engine.resources import registry

# --- api-resources / api-versions ------------------------------------------------------------------


def api_resources(inv: Invocation) -> None:
    f = inv.flags
    output = f["output"]
    if output not in ("", "wide", "name"):
        raise ExitError(f'--output {output} is not available')
    from engine.kubectl.resources import CUSTOM_KINDS

    rows = []
    for info in registry.KINDS + CUSTOM_KINDS.get():
        if f["api-group"] and info.group != f["api-group"]:
            continue
        if f.has("namespaced") and info.namespaced != f["namespaced"]:
            continue
        if f["verbs"] and not all(v in info.verbs for v in f["verbs"]):
            continue
        if f["categories"] and not any(c in info.categories for c in f["categories"]):
            continue
        rows.append(info)
    sort_by = f["sort-by"]
    if sort_by == "kind":
        rows.sort(key=lambda i: (i.kind, i.plural))
    elif sort_by == "name":
        rows.sort(key=lambda i: (i.plural, i.group))
    else:
        rows.sort(key=lambda i: (i.group, i.plural))
    if output == "name":
        for info in rows:
            inv.write(f"{info.plural}.{info.group}\n" if info.group else f"{info.plural}\n")
        return
    tw = TabWriter()
    if not f["no-headers"]:
        tw.write("NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND" + ("\tVERBS\tCATEGORIES" if output == "wide" else "")
                 + "\n")
    for info in rows:
        line = (f"{info.plural}\t{','.join(info.short_names)}\t{info.api_version}\t"
                f"{'true' if info.namespaced else 'false'}\t{info.kind}")
        if output == "wide":
            line += f"\t{','.join(sorted(info.verbs))}\t{','.join(info.categories)}"
        tw.write(line + "\n")
    inv.write(tw.flush())


def api_versions(inv: Invocation) -> None:
    from engine.kubectl.resources import CUSTOM_KINDS

    versions = sorted({info.api_version for info in registry.KINDS + CUSTOM_KINDS.get()})
    inv.write("".join(v + "\n" for v in versions))


# --- version -------------------------------------------------------------------------------------


def _version_info(version: str) -> dict:
    return {"major": "1", "minor": "32", "gitVersion": version, "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
            "gitTreeState": "clean", "buildDate": "2025-04-22T16:03:51Z", "goVersion": "go1.23.6",
            "compiler": "gc", "platform": "linux/amd64"}


def version(inv: Invocation) -> None:
    f = inv.flags
    output = f["output"]
    data: dict = {"clientVersion": _version_info(CLIENT_VERSION), "kustomizeVersion": KUSTOMIZE_VERSION}
    if not f["client"]:
        data["serverVersion"] = _version_info(SERVER_VERSION)
    if output == "json":
        inv.write(printers.to_json(data))
    elif output == "yaml":
        inv.write(printers.to_yaml(data))
    elif output:
        raise ExitError("--output must be 'yaml' or 'json'")
    else:
        inv.write(f"Client Version: {CLIENT_VERSION}\nKustomize Version: {KUSTOMIZE_VERSION}\n")
        if not f["client"]:
            inv.write(f"Server Version: {SERVER_VERSION}\n")


# --- cluster-info --------------------------------------------------------------------------------

GREEN, YELLOW, RESET = "\x1b[0;32m", "\x1b[0;33m", "\x1b[0m"


def cluster_info(inv: Invocation) -> None:
    if inv.args and inv.args[0] == "dump":
        raise ExitError("cluster-info dump is not available in this terminal")
    server = inv.context.server
    inv.write(f"{GREEN}Kubernetes control plane{RESET} is running at {YELLOW}{server}{RESET}\n")
    services = inv.api.list("Service", "kube-system", label_selector="kubernetes.io/cluster-service=true")["items"]
    for svc in services:
        labels = svc["metadata"].get("labels") or {}
        name = labels.get("kubernetes.io/name") or svc["metadata"]["name"]
        port = ((svc.get("spec") or {}).get("ports") or [{}])[0]
        port_name = port.get("name") or str(port.get("port", ""))
        link = f"{server}/api/v1/namespaces/kube-system/services/{svc['metadata']['name']}:{port_name}/proxy"
        inv.write(f"{GREEN}{name}{RESET} is running at {YELLOW}{link}{RESET}\n")
    inv.write("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n")


# --- config --------------------------------------------------------------------------------------


def config_current_context(inv: Invocation) -> None:
    inv.write(inv.context.context_name + "\n")


def _contexts(inv: Invocation) -> dict[str, tuple[str, str, str]]:
    ctx = inv.context
    out = {ctx.context_name: (ctx.cluster, ctx.user, ctx.namespace)}
    out.update(ctx.other_contexts)
    return out


def config_get_contexts(inv: Invocation) -> None:
    contexts = _contexts(inv)
    names = inv.args or sorted(contexts)
    for name in names:
        if name not in contexts:
            raise ExitError(f'context {name} not found')
    if inv.flags["output"] == "name":
        inv.write("".join(n + "\n" for n in names))
        return
    tw = TabWriter()
    if not inv.flags["no-headers"]:
        tw.write("CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n")
    for name in names:
        cluster, user, ns = contexts[name]
        mark = "*" if name == inv.context.context_name else ""
        tw.write(f"{mark}\t{name}\t{cluster}\t{user}\t{ns}\n")
    inv.write(tw.flush())


def config_use_context(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise inv.usage_error("Unexpected args: " + str(inv.args)) if inv.args else ExitError("empty context names "
                                                                                               "are not allowed")
    name = inv.args[0]
    ctx = inv.context
    if name == ctx.context_name:
        inv.write(f'Switched to context "{name}".\n')
        return
    if name not in ctx.other_contexts:
        raise ExitError(f'no context exists with the name: "{name}"')
    cluster, user, ns = ctx.other_contexts.pop(name)
    ctx.other_contexts[ctx.context_name] = (ctx.cluster, ctx.user, ctx.namespace)
    ctx.context_name, ctx.cluster, ctx.user, ctx.namespace = name, cluster, user, ns or "default"
    inv.write(f'Switched to context "{name}".\n')


def config_set_context(inv: Invocation) -> None:
    ctx = inv.context
    f = inv.flags
    if f["current"]:
        if inv.args:
            raise ExitError("you cannot specify both a context name and --current")
        name = ctx.context_name
    elif inv.args:
        name = inv.args[0]
    else:
        raise inv.usage_error("you must specify a non-empty context name or --current")
    if name == ctx.context_name:
        if f.has("namespace"):
            ctx.namespace = f["namespace"] or "default"
        if f["cluster"]:
            ctx.cluster = f["cluster"]
        if f["user"]:
            ctx.user = f["user"]
        inv.write(f'Context "{name}" modified.\n')
        return
    existed = name in ctx.other_contexts
    cluster, user, ns = ctx.other_contexts.get(name, ("", "", ""))
    ctx.other_contexts[name] = (f["cluster"] or cluster, f["user"] or user, f["namespace"] or ns)
    inv.write(f'Context "{name}" {"modified" if existed else "created"}.\n')


def config_view(inv: Invocation) -> None:
    ctx = inv.context
    contexts = _contexts(inv)
    data = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": "DATA+OMITTED", "server": ctx.server},
                      "name": ctx.cluster}],
        "contexts": [{"context": {k: v for k, v in (("cluster", c), ("namespace", ns), ("user", u)) if v},
                      "name": name} for name, (c, u, ns) in sorted(contexts.items())],
        "current-context": ctx.context_name,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": ctx.user, "user": {"token": "REDACTED"}}],
    }
    if inv.flags["minify"]:
        data["contexts"] = [c for c in data["contexts"] if c["name"] == ctx.context_name]
    output = inv.flags["output"] or "yaml"
    if output == "json":
        inv.write(printers.to_json(data))
    elif output == "yaml":
        inv.write(printers.to_yaml(data))
    elif output.startswith("jsonpath="):
        from engine.kubectl import jsonpath

        inv.write(jsonpath.execute(output.split("=", 1)[1], data))
    else:
        raise printers.unknown_output(output)


def config_get_clusters(inv: Invocation) -> None:
    inv.write(f"NAME\n{inv.context.cluster}\n")


def config_get_users(inv: Invocation) -> None:
    inv.write(f"NAME\n{inv.context.user}\n")


# --- explain -------------------------------------------------------------------------------------

WRAP = 80


def _wrap(text: str, indent: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            lines.append("")
            continue
        words = paragraph.split(" ")
        current = ""
        for word in words:
            if current and len(pad) + len(current) + 1 + len(word) > WRAP:
                lines.append(pad + current)
                current = word
            else:
                current = f"{current} {word}" if current else word
        lines.append(pad + current)
    return lines


def _type_name(annotation) -> tuple[str, object]:
    """(kubectl's type text, the model class to descend into or None)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        if len(real) == 1:
            return _type_name(real[0])
        names = {_type_name(a)[0] for a in real}
        if names <= {"integer", "string"}:
            return "IntOrString", None
        return _type_name(real[0])
    if origin is typing.Literal:
        return ("string" if all(isinstance(a, str) for a in args) else "integer"), None
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, tuple):
        inner, model = _type_name(args[0]) if args else ("Object", None)
        return f"[]{inner}", model
    if origin is dict:
        inner, model = _type_name(args[1]) if len(args) > 1 else ("string", None)
        return f"map[string]{inner}", model
    if annotation is str:
        return "string", None
    if annotation is bool:
        return "boolean", None
    if annotation is int:
        return "integer", None
    if annotation is float:
        return "number", None
    if isinstance(annotation, type):
        from pydantic import BaseModel

        name = annotation.__name__
        if name == "ObjectMetadata":
            name = "ObjectMeta"
        if issubclass(annotation, BaseModel):
            return name, annotation
        return name, None
    return "Object", None


def explain(inv: Invocation) -> None:
    if not inv.args:
        inv.error("You must specify the type of resource to explain. Use \"kubectl api-resources\" for a complete list "
                  "of supported resources.\n\n")
        raise inv.usage_error("Required resource not specified.")
    path = inv.args[0].split(".")
    info = resolve_kind(path[0])
    if info.model is None:
        raise ExitError(f"couldn't find resource for \"{info.api_version}, Kind={info.kind}\"")
    from engine.resources.schema import load_model

    model = load_model(info.model)
    description = model.__doc__ or ""
    field_name, field_type, _required = "", "", False
    for part in path[1:]:
        found = None
        for name, field in model.model_fields.items():
            if (field.alias or name) == part:
                found = field
                break
        if found is None:
            raise ExitError(f'field "{part}" does not exist')
        type_text, sub = _type_name(found.annotation)
        field_name, field_type, _required = part, type_text, found.is_required()
        description = (found.description or "").strip()
        if sub is None:
            model = None
            break
        model = sub
        doc = (model.__doc__ or "").strip()
        if doc:
            description = f"{description}\n{doc}" if description else doc
    lines = ([f"GROUP:      {info.group}"] if info.group else []) + [f"KIND:       {info.kind}",
                                                                        f"VERSION:    {info.version}", ""]
    if field_name:
        lines += [f"FIELD: {field_name} <{field_type}>", "", ""]
    lines.append("DESCRIPTION:")
    lines.extend(_wrap(description.strip() or "<empty>", 4))
    if model is not None and hasattr(model, "model_fields"):
        lines.append("    ")
        lines.append("FIELDS:")
        for name, field in sorted(model.model_fields.items(), key=lambda kv: (kv[1].alias or kv[0])):
            alias = field.alias or name
            type_text, _ = _type_name(field.annotation)
            req = " -required-" if field.is_required() and alias != "metadata" else ""
            lines.append(f"  {alias}\t<{type_text}>{req}")
            lines.extend(_wrap((field.description or "<no description>").strip(), 4))
            lines.append("")
        if lines[-1] == "":
            lines.pop()
    if model is None:
        lines += ["    ", ""]
        inv.write("\n".join(lines) + "\n")
        return
    inv.write("\n".join(lines) + "\n\n\n")


_OUTPUT = flag("output", short="o", help="Output format. One of: (json, yaml, name, go-template, go-template-file, "
               "template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).")

CONFIG = Command("config", "Modify kubeconfig files", usage="kubectl config SUBCOMMAND [options]",
                 long="Modify kubeconfig files using subcommands like \"kubectl config set current-context "
                      "my-context\".", group="Other Commands")
CONFIG.add(
    Command("current-context", "Display the current-context", usage="kubectl config current-context [options]",
            handler=config_current_context),
    Command("get-contexts", "Describe one or many contexts", usage="kubectl config get-contexts [(-o|--output=)name)]"
            " [options]",
            flags=[_OUTPUT, flag("no-headers", BOOL, help="When using the default or custom-column output format, "
                                 "don't print headers (default print headers).")],
            handler=config_get_contexts),
    Command("get-clusters", "Display clusters defined in the kubeconfig", handler=config_get_clusters),
    Command("get-users", "Display users defined in the kubeconfig", handler=config_get_users),
    Command("use-context", "Set the current-context in a kubeconfig file", aliases=("use",),
            usage="kubectl config use-context CONTEXT_NAME [options]", handler=config_use_context),
    Command("set-context", "Set a context entry in kubeconfig",
            usage="kubectl config set-context [NAME | --current] [--cluster=cluster_nickname] "
                  "[--user=user_nickname] [--namespace=namespace] [options]",
            examples="  # Set the user field on the gce context entry without touching other values\n"
                     "  kubectl config set-context gce --user=cluster-admin",
            flags=[flag("current", BOOL, help="Modify the current context")],
            handler=config_set_context),
    Command("view", "Display merged kubeconfig settings or a specified kubeconfig file",
            usage="kubectl config view [flags] [options]",
            flags=[_OUTPUT, flag("minify", BOOL, help="Remove all information not used by current-context from the "
                                 "output"),
                   flag("raw", BOOL, help="Display raw byte data and sensitive data"),
                   flag("flatten", BOOL, help="Flatten the resulting kubeconfig file into self-contained output")],
            handler=config_view),
)

COMMANDS = [
    Command("api-resources", "Print the supported API resources on the server",
            usage="kubectl api-resources [flags] [options]",
            examples="  # Print the supported API resources\n  kubectl api-resources\n\n"
                     "  # Print the supported API resources with more information\n  kubectl api-resources -o wide",
            flags=[flag("output", short="o", help="Output format. One of: (wide, name)."),
                   flag("api-group", help="Limit to resources in the specified API group."),
                   flag("namespaced", BOOL, default=True, help="If false, non-namespaced resources will be returned, "
                        "otherwise returning namespaced resources by default."),
                   flag("verbs", "strings", help="Limit to resources that support the specified verbs."),
                   flag("categories", "strings", help="Limit to resources that belong to the specified categories."),
                   flag("no-headers", BOOL, help="When using the default or custom-column output format, don't "
                        "print headers (default print headers)."),
                   flag("sort-by", help="If non-empty, sort list of resources using specified field. The field can "
                        "be either 'name' or 'kind'."),
                   flag("cached", BOOL, help="Use the cached list of resources if available.")],
            handler=api_resources, group="Other Commands"),
    Command("api-versions", "Print the supported API versions on the server, in the form of \"group/version\"",
            usage="kubectl api-versions [options]", handler=api_versions, group="Other Commands"),
    Command("version", "Print the client and server version information",
            usage="kubectl version [flags] [options]",
            long="Print the client and server version information for the current context.",
            examples="  # Print the client and server versions for the current context\n  kubectl version",
            flags=[flag("client", BOOL, help="If true, shows client version only (no server required)."),
                   flag("output", short="o", help="One of 'yaml' or 'json'.")],
            handler=version, group="Other Commands"),
    Command("cluster-info", "Display cluster information", usage="kubectl cluster-info [flags] [options]",
            long="Display addresses of the control plane and services with label kubernetes.io/cluster-service=true. "
                 "To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.",
            handler=cluster_info, group="Cluster Management Commands"),
    Command("explain", "Get documentation for a resource",
            usage="kubectl explain TYPE [--recursive=FALSE|TRUE] [--api-version=api-version-group] "
                  "[-o|--output=plaintext|plaintext-openapiv2] [options]",
            examples="  # Get the documentation of the resource and its fields\n  kubectl explain pods\n\n"
                     "  # Get the documentation of a specific field of a resource\n  kubectl explain pods.spec.containers",
            flags=[flag("recursive", BOOL, help="When true, print the name of all the fields recursively. Otherwise, "
                        "print the available fields with their description."),
                   flag("api-version", help="Use given api-version (group/version) of the resource."),
                   flag("output", short="o", default="plaintext", help="Format in which to render the schema. Valid "
                        "values are: (plaintext, plaintext-openapiv2).")],
            handler=explain, group="Basic Commands (Intermediate)"),
    CONFIG,
]

__all__ = ["COMMANDS", "re"]
