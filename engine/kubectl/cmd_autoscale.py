"""`kubectl autoscale`: an autoscaling/v1 HorizontalPodAutoscaler for a deployment, replica set, stateful set or
replication controller, as kubectl 1.32 builds it (the apiserver stores it as autoscaling/v2)."""

from __future__ import annotations

import json

from engine import errors
from engine.kubectl import printers
from engine.kubectl.base import ExitError, error_line
from engine.kubectl.cmd_apply import DRY_RUN, LAST_APPLIED, dry_run_mode, dry_suffix, resource_name
from engine.kubectl.cmd_delete import NO_RESOURCES
from engine.kubectl.cmd_get import emit
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import BOOL, INT, SLICE, flag
from engine.kubectl.resources import check_manifest, manifest_namespace, parse_targets, read_manifests
from engine.resources import versions
from engine.resources.registry import KindInfo


def _gvr(info: KindInfo) -> str:
    """schema.GroupVersionResource's String(): `apps/v1, Resource=deployments`, `/v1, Resource=pods`."""
    return f"{info.group}/{info.version}, Resource={info.plural}"


def _targets(inv: Invocation) -> list[tuple[KindInfo, str, str, bool]]:
    """(kind, namespace, name, whether to fetch it) of each object named by the args or -f: kubectl's builder reads
    objects named on the command line from the server, those in files from the files."""
    f = inv.flags
    found: list[tuple[KindInfo, str, str, bool]] = []
    filenames = f.get("filename") or []
    if filenames:
        for m in read_manifests(filenames, inv.context, inv.stdin, f.get("recursive", False)):
            info = check_manifest(m)
            found.append((info, manifest_namespace(info, m.obj, inv.namespace, inv.explicit_namespace),
                          m.obj["metadata"]["name"], False))
        return found
    targets = parse_targets(inv.args)
    if not targets:
        raise ExitError(NO_RESOURCES)
    for t in targets:
        if not t.name:
            raise ExitError("resource(s) were provided, but no name was specified")
        found.append((t.info, inv.namespace if t.info.namespaced else "", t.name, True))
    return found


def hpa_for(info: KindInfo, name: str, flags) -> dict:
    """The autoscaling/v1 HorizontalPodAutoscaler kubectl sends (createHorizontalPodAutoscaler)."""
    spec: dict = {"scaleTargetRef": {"kind": info.kind, "name": name, "apiVersion": info.api_version}}
    if flags["min"] > 0:
        spec["minReplicas"] = flags["min"]
    spec["maxReplicas"] = flags["max"]
    if flags["cpu-percent"] >= 0:
        spec["targetCPUUtilizationPercentage"] = flags["cpu-percent"]
    return {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1",
            "metadata": {"name": flags["name"] or name, "creationTimestamp": None}, "spec": spec,
            "status": {"currentReplicas": 0, "desiredReplicas": 0}}


def _print(inv: Invocation, obj: dict, verb: str, mode: str) -> None:
    output = inv.flags.get("output") or ""
    if output:
        fmt, arg = printers.parse_output(output)
        if fmt == "name":
            inv.write(resource_name(versions.HPA_V1, obj["metadata"]["name"]) + "\n")
        else:
            emit(inv, fmt, arg, obj, [(versions.HPA_V1, obj)])
        return
    inv.write(f"{resource_name(versions.HPA_V1, obj['metadata']['name'])} {verb}{dry_suffix(mode)}\n")


def autoscale(inv: Invocation) -> None:
    f = inv.flags
    if not f.has("max"):
        raise ExitError('required flag(s) "max" not set')
    if f["max"] < 1:
        raise ExitError(f"--max=MAXPODS is required and must be at least 1, max: {f['max']}")
    if f["max"] < f["min"]:
        raise ExitError(f"--max=MAXPODS must be larger or equal to --min=MINPODS, max: {f['max']}, min: {f['min']}")
    mode = dry_run_mode(inv)
    if f["output"]:
        printers.parse_output(f["output"])  # an unknown format fails before anything is sent
    found = _targets(inv)
    errs: list[str] = []
    count = 0
    for info, ns, name, fetch in found:
        try:
            if fetch:
                inv.api.get(info.kind, ns, name)
            if "scale" not in info.subresources:
                raise ExitError(f"cannot autoscale a {info.kind}: could not find scale subresource for {_gvr(info)} "
                                "in discovery information")
            hpa = hpa_for(info, name, f)
            if mode == "client":
                count += 1
                _print(inv, hpa, "created", mode)
                continue
            if f["save-config"]:
                hpa["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(hpa, separators=(",", ":")) + "\n"}
            ctx = inv.request(f["field-manager"], dry_run=mode == "server")
            body = versions.to_storage(versions.HPA_V1, {**hpa, "metadata": {
                k: v for k, v in hpa["metadata"].items() if k != "creationTimestamp"}})
            created = inv.api.create(body, inv.namespace, ctx=ctx)  # kubectl's namespace, not the target's
        except (errors.ApiError, ExitError) as exc:
            errs.append(error_line(exc))
            continue
        count += 1
        _print(inv, versions.from_storage(versions.HPA_V1, created), "autoscaled", mode)
    if errs:
        inv.error("\n".join(errs) + "\n")
        raise ExitError("", 1)
    if count == 0:
        raise ExitError("no objects passed to autoscale")


COMMAND = Command(
    "autoscale", "Auto-scale a deployment, replica set, stateful set, or replication controller",
    long="Creates an autoscaler that automatically chooses and sets the number of pods that run in a Kubernetes "
         "cluster.\n\n Looks up a deployment, replica set, stateful set, or replication controller by name and creates "
         "an autoscaler that uses the given resource as a reference. An autoscaler can automatically increase or "
         "decrease number of pods deployed within the system as needed.",
    usage="kubectl autoscale (-f FILENAME | TYPE NAME | TYPE/NAME) [--min=MINPODS] --max=MAXPODS [--cpu-percent=CPU] "
          "[options]",
    examples='  # Auto scale a deployment "foo", with the number of pods between 2 and 10, no target CPU utilization '
             "specified so a default autoscaling policy will be used\n  kubectl autoscale deployment foo --min=2 "
             '--max=10\n  \n  # Auto scale a replication controller "foo", with the number of pods between 1 and 5, '
             "target CPU utilization at 80%\n  kubectl autoscale rc foo --max=5 --cpu-percent=80",
    flags=[flag("allow-missing-template-keys", BOOL, default=True, help="If true, ignore any errors in templates when "
                "a field or map key is missing in the template. Only applies to golang and jsonpath output formats."),
           flag("cpu-percent", INT, default=-1, help="The target average CPU utilization (represented as a percent of "
                "requested CPU) over all the pods. If it's not specified or negative, a default autoscaling policy "
                "will be used."),
           DRY_RUN,
           flag("field-manager", default="kubectl-autoscale", help="Name of the manager used to track field "
                "ownership."),
           flag("filename", SLICE, short="f", help="Filename, directory, or URL to files identifying the resource to "
                "autoscale."),
           flag("kustomize", short="k", help="Process the kustomization directory. This flag can't be used together "
                "with -f or -R."),
           flag("max", INT, default=-1, help="The upper limit for the number of pods that can be set by the "
                "autoscaler. Required."),
           flag("min", INT, default=-1, help="The lower limit for the number of pods that can be set by the "
                "autoscaler. If it's not specified or negative, the server will apply a default value."),
           flag("name", help="The name for the newly created object. If not specified, the name of the input "
                "resource will be used."),
           flag("output", short="o", help="Output format. One of: (json, yaml, name, go-template, go-template-file, "
                "template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file)."),
           flag("recursive", BOOL, short="R", help="Process the directory used in -f, --filename recursively. Useful "
                "when you want to manage related manifests organized within the same directory."),
           flag("save-config", BOOL, help="If true, the configuration of current object will be saved in its "
                "annotation. Otherwise, the annotation will be unchanged. This flag is useful when you want to perform "
                "kubectl apply on this object in the future."),
           flag("show-managed-fields", BOOL, help="If true, keep the managedFields when printing objects in JSON or "
                "YAML format."),
           flag("template", help="Template string or path to template file to use when -o=go-template, "
                "-o=go-template-file. The template format is golang templates "
                "[http://golang.org/pkg/text/template/#pkg-overview].")],
    handler=autoscale, group="Deploy Commands")
