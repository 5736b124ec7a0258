"""`kubectl rollout status|history|undo|pause|resume|restart` for Deployments, DaemonSets and StatefulSets."""

from __future__ import annotations

import json

from engine import errors
from engine.apiserver import patch as patching
from engine.clock import format_rfc3339
from engine.kubectl.base import ExitError, Process
from engine.kubectl.cmd_apply import DRY_RUN, OUTPUT, dry_run_mode, dry_suffix, resource_name
from engine.kubectl.command import Command, Invocation
from engine.kubectl.flags import BOOL, INT, SLICE, flag
from engine.kubectl.resources import parse_targets
from engine.kubectl.tabwriter import TabWriter
from engine.resources.registry import KindInfo

SUPPORTED = ("Deployment", "DaemonSet", "StatefulSet")
REVISION = "deployment.kubernetes.io/revision"
SKIPPED_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", REVISION,
                       "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                       "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"}


def _targets(inv: Invocation) -> list[tuple[KindInfo, dict]]:
    if not inv.args and not inv.flags.get("filename"):
        raise inv.usage_error("required resource not specified")
    out = []
    for t in parse_targets(inv.args):
        if not t.name:
            if inv.flags.get("selector"):
                listing = inv.api.list(t.info.kind, inv.namespace, label_selector=inv.flags["selector"])
                out.extend((t.info, o) for o in listing["items"])
                continue
            raise ExitError("resource(s) were provided, but no name was specified")
        out.append((t.info, inv.api.get(t.info.kind, inv.namespace if t.info.namespaced else "", t.name)))
    return out


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def status_message(obj: dict) -> tuple[str, bool]:
    kind = obj["kind"]
    meta, spec, status = obj["metadata"], _dict(obj.get("spec")), _dict(obj.get("status"))
    name = meta["name"]
    generation = meta.get("generation", 0)
    observed = status.get("observedGeneration", 0)
    if kind == "Deployment":
        if generation <= observed:
            for cond in status.get("conditions") or []:
                if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
                    raise ExitError(f'deployment "{name}" exceeded its progress deadline')
            replicas = spec.get("replicas", 1)
            updated = status.get("updatedReplicas", 0)
            if updated < replicas:
                return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {replicas} new replicas '
                        "have been updated...\n"), False
            if status.get("replicas", 0) > updated:
                return (f'Waiting for deployment "{name}" rollout to finish: {status.get("replicas", 0) - updated} old '
                        "replicas are pending termination...\n"), False
            available = status.get("availableReplicas", 0)
            if available < updated:
                return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
                        "are available...\n"), False
            return f'deployment "{name}" successfully rolled out\n', True
        return "Waiting for deployment spec update to be observed...\n", False
    if kind == "DaemonSet":
        strategy = _dict(spec.get("updateStrategy")).get("type", "RollingUpdate")
        if strategy != "RollingUpdate":
            raise ExitError("rollout status is only available for RollingUpdate strategy type")
        if generation <= observed:
            desired = status.get("desiredNumberScheduled", 0)
            updated = status.get("updatedNumberScheduled", 0)
            if updated < desired:
                return (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods have '
                        "been updated...\n"), False
            available = status.get("numberAvailable", 0)
            if available < desired:
                return (f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods are '
                        "available...\n"), False
            return f'daemon set "{name}" successfully rolled out\n', True
        return "Waiting for daemon set spec update to be observed...\n", False
    if kind == "StatefulSet":
        strategy = _dict(spec.get("updateStrategy")).get("type", "RollingUpdate")
        if strategy != "RollingUpdate":
            raise ExitError("rollout status is only available for RollingUpdate strategy type")
        if not observed or generation > observed:
            return "Waiting for statefulset spec update to be observed...\n", False
        replicas = spec.get("replicas", 1)
        ready = status.get("readyReplicas", 0)
        if ready < replicas:
            return f"Waiting for {replicas - ready} pods to be ready...\n", False
        if status.get("updateRevision") != status.get("currentRevision"):
            return (f"waiting for statefulset rolling update to complete {status.get('updatedReplicas', 0)} pods at "
                    f"revision {status.get('updateRevision')}...\n"), False
        return (f"statefulset rolling update complete {status.get('currentReplicas', 0)} pods at revision "
                f"{status.get('currentRevision')}...\n"), True
    raise ExitError(f"no status viewer has been implemented for {kind}")


class StatusProcess(Process):
    def __init__(self, inv: Invocation, info: KindInfo, obj: dict, since: int):
        super().__init__(inv.out)
        self.inv = inv
        self.info = info
        self.name = obj["metadata"]["name"]
        self.namespace = obj["metadata"].get("namespace", "")
        self.since = since

    def step(self, now: float) -> None:
        events, last = self.inv.api.watch(self.info.kind, self.namespace, self.since, None,
                                          f"metadata.name={self.name}")
        self.since = max(self.since, last)
        for event in events:
            if event.type == "DELETED":
                raise ExitError("object has been deleted")
            message, done = status_message(event.object)
            self.output.write(message)
            if done:
                self.finish(0)
                return


def rollout_status(inv: Invocation) -> Process | None:
    targets = _targets(inv)
    info, obj = targets[0]
    if info.kind not in SUPPORTED:
        raise ExitError(f"no status viewer has been implemented for {info.kind}")
    if inv.flags["revision"] and info.kind != "Deployment":
        raise ExitError("revision is not supported for this resource type")
    message, done = status_message(obj)
    inv.write(message)
    if done or not inv.flags["watch"]:
        return None
    proc = StatusProcess(inv, info, obj, int(inv.api.store.revision()))
    return proc


# --- history / undo -------------------------------------------------------------------------------


def owned_replica_sets(inv: Invocation, deployment: dict) -> list[dict]:
    uid = deployment["metadata"]["uid"]
    listing = inv.api.list("ReplicaSet", deployment["metadata"]["namespace"])
    return [rs for rs in listing["items"]
            if any(o.get("uid") == uid and o.get("controller") for o in rs["metadata"].get("ownerReferences") or [])]


def _revision(obj: dict) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _history(inv: Invocation, info: KindInfo, obj: dict) -> dict[int, dict]:
    if info.kind == "Deployment":
        out = {}
        for rs in owned_replica_sets(inv, obj):
            rev = _revision(rs)
            if rev:
                out[rev] = rs
        return out
    uid = obj["metadata"]["uid"]
    revisions = inv.api.list("ControllerRevision", obj["metadata"]["namespace"])["items"]
    return {int(r.get("revision", 0)): r for r in revisions
            if any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])}


def _template_of(info: KindInfo, source: dict) -> dict:
    if info.kind == "Deployment":
        template = json.loads(json.dumps(_dict(source.get("spec")).get("template") or {}))
        labels = _dict(template.get("metadata")).get("labels")
        if isinstance(labels, dict):
            labels.pop("pod-template-hash", None)
        return template
    data = source.get("data") or {}
    return json.loads(json.dumps(_dict(data.get("spec")).get("template") or {}))


def rollout_history(inv: Invocation) -> None:
    revision = inv.flags["revision"]
    if revision < 0:
        raise ExitError(f"revision must be a positive integer: {revision}")
    for info, obj in _targets(inv):
        if info.kind not in SUPPORTED:
            raise ExitError(f"no history viewer has been implemented for {info.kind}")
        history = _history(inv, info, obj)
        name = resource_name(info, obj["metadata"]["name"])
        if not history:
            text = "No rollout history found."
        elif revision > 0:
            source = history.get(revision)
            if source is None:
                raise ExitError("unable to find the specified revision")
            from engine.kubectl.describe import describe_pod_template

            text = describe_pod_template(_template_of(info, source))
        else:
            tw = TabWriter(min_width=0, padding=2, remember_widths=False)
            tw.write("REVISION\tCHANGE-CAUSE\n")
            for rev in sorted(history):
                source = history[rev]
                cause = (source["metadata"].get("annotations") or {}).get("kubernetes.io/change-cause") or "<none>"
                tw.write(f"{rev}\t{cause}\n")
            text = tw.flush()
        with_revision = f"with revision #{revision}" if revision > 0 else ""
        inv.write(f"{name} {with_revision}\n{text}\n")


def rollout_undo(inv: Invocation) -> None:
    to_revision = inv.flags["to-revision"]
    mode = dry_run_mode(inv)
    for info, obj in _targets(inv):
        name = obj["metadata"]["name"]
        if info.kind not in SUPPORTED:
            raise ExitError(f"no rollbacker has been implemented for {{{info.group!r} {info.kind!r}}}".replace("'", '"'))
        if info.kind == "Deployment" and _dict(obj.get("spec")).get("paused"):
            raise ExitError(f"you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume "
                            f"deployment/{name}' and try again")
        history = _history(inv, info, obj)
        if to_revision == 0:
            revisions = sorted(history)
            if len(revisions) < 2:
                raise ExitError(f'no rollout history found for {info.kind.lower()} "{name}"')
            target_rev = revisions[-2]
        else:
            target_rev = to_revision
        source = history.get(target_rev)
        if source is None:
            raise ExitError(f"unable to find specified revision {to_revision} in history")
        template = _template_of(info, source)
        current = _dict(obj.get("spec")).get("template") or {}
        if template == current:
            inv.write(f"{resource_name(info, name)} skipped rollback (current template already matches revision "
                      f"{target_rev})\n")
            continue
        if mode != "client":
            ops = [{"op": "replace", "path": "/spec/template", "value": template}]
            if info.kind == "Deployment":
                annotations = {k: v for k, v in (obj["metadata"].get("annotations") or {}).items()
                               if k in SKIPPED_ANNOTATIONS}
                annotations.update({k: v for k, v in (source["metadata"].get("annotations") or {}).items()
                                    if k not in SKIPPED_ANNOTATIONS})
                ops.append({"op": "replace", "path": "/metadata/annotations", "value": annotations})
            inv.api.patch(info.kind, obj["metadata"]["namespace"], name, ops, patching.JSON,
                          ctx=inv.request("kubectl-rollout", dry_run=mode == "server"))
        inv.write(f"{resource_name(info, name)} rolled back{dry_suffix(mode)}\n")


# --- pause / resume / restart ---------------------------------------------------------------------


def _pause(inv: Invocation, paused: bool) -> None:
    for info, obj in _targets(inv):
        name = obj["metadata"]["name"]
        if info.kind != "Deployment":
            verb = "paused" if paused else "resumed"
            raise ExitError(f"{info.plural}.{info.group} \"{name}\" {'pausing' if paused else 'resuming'} is not "
                            f"supported" if info.kind in SUPPORTED else f"{verb} is not supported")
        current = bool(_dict(obj.get("spec")).get("paused"))
        if current == paused:
            state = "already paused" if paused else "not paused"
            raise ExitError(f'{info.plural}.{info.group} "{name}" is {state}')
        mode = dry_run_mode(inv)
        if mode != "client":
            inv.api.patch(info.kind, obj["metadata"]["namespace"], name, {"spec": {"paused": True if paused else None}},
                          patching.STRATEGIC, ctx=inv.request("kubectl-rollout", dry_run=mode == "server"))
        inv.write(f"{resource_name(info, name)} {'paused' if paused else 'resumed'}{dry_suffix(mode)}\n")


def rollout_pause(inv: Invocation) -> None:
    _pause(inv, True)


def rollout_resume(inv: Invocation) -> None:
    _pause(inv, False)


def rollout_restart(inv: Invocation) -> None:
    for info, obj in _targets(inv):
        name = obj["metadata"]["name"]
        if info.kind not in SUPPORTED:
            raise ExitError("restarting is not supported")
        if _dict(obj.get("spec")).get("paused"):
            raise ExitError(f'{info.plural}.{info.group} "{name}" can\'t restart paused deployment (run rollout resume '
                            "first)")
        mode = dry_run_mode(inv)
        if mode != "client":
            body = {"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": format_rfc3339(inv.now).replace("Z", "Z")}}}}}
            inv.api.patch(info.kind, obj["metadata"]["namespace"], name, body, patching.STRATEGIC,
                          ctx=inv.request("kubectl-rollout", dry_run=mode == "server"))
        inv.write(f"{resource_name(info, name)} restarted{dry_suffix(mode)}\n")


_FILENAME = flag("filename", SLICE, short="f", help="Filename, directory, or URL to files identifying the resource to "
                 "get from a server.")
_SELECTOR = flag("selector", short="l", help="Selector (label query) to filter on.")

COMMAND = Command(
    "rollout", "Manage the rollout of a resource", usage="kubectl rollout SUBCOMMAND [options]",
    long="Manage the rollout of one or many resources.\n\n Valid resource types include:\n\n  *  deployments\n  *  "
         "daemonsets\n  *  statefulsets",
    examples="  # Rollback to the previous deployment\n  kubectl rollout undo deployment/abc\n\n"
             "  # Check the rollout status of a daemonset\n  kubectl rollout status daemonset/foo\n\n"
             "  # Restart a deployment\n  kubectl rollout restart deployment/abc",
    group="Deploy Commands")
COMMAND.add(
    Command("status", "Show the status of the rollout", usage="kubectl rollout status (TYPE NAME | TYPE/NAME) "
            "[flags] [options]",
            examples="  # Watch the rollout status of a deployment\n  kubectl rollout status deployment/nginx",
            flags=[_FILENAME, _SELECTOR,
                   flag("watch", BOOL, short="w", default=True, help="Watch the status of the rollout until it's "
                        "done."),
                   flag("revision", INT, help="Pin to a specific revision for showing its status. Defaults to 0 "
                        "(last revision)."),
                   flag("timeout", default="0s", help="The length of time to wait before ending watch, zero means "
                        "never.")],
            handler=rollout_status),
    Command("history", "View rollout history", usage="kubectl rollout history (TYPE NAME | TYPE/NAME) [flags] "
            "[options]",
            examples="  # View the rollout history of a deployment\n  kubectl rollout history deployment/abc\n\n"
                     "  # View the details of daemonset revision 3\n  kubectl rollout history daemonset/abc "
                     "--revision=3",
            flags=[_FILENAME, _SELECTOR, OUTPUT,
                   flag("revision", INT, help="See the details, including podTemplate of the revision specified")],
            handler=rollout_history),
    Command("undo", "Undo a previous rollout", usage="kubectl rollout undo (TYPE NAME | TYPE/NAME) [flags] [options]",
            examples="  # Roll back to the previous deployment\n  kubectl rollout undo deployment/abc\n\n"
                     "  # Roll back to daemonset revision 3\n  kubectl rollout undo daemonset/abc --to-revision=3",
            flags=[_FILENAME, _SELECTOR, DRY_RUN, OUTPUT,
                   flag("to-revision", INT, help="The revision to rollback to. Default to 0 (last revision).")],
            handler=rollout_undo),
    Command("pause", "Mark the provided resource as paused", usage="kubectl rollout pause RESOURCE [options]",
            examples="  # Mark the nginx deployment as paused\n  # Any current state of the deployment will continue "
                     "its function; new updates\n  # to the deployment will not have an effect as long as the "
                     "deployment is paused\n  kubectl rollout pause deployment/nginx",
            flags=[_FILENAME, _SELECTOR, DRY_RUN, OUTPUT], handler=rollout_pause),
    Command("resume", "Resume a paused resource", usage="kubectl rollout resume RESOURCE [options]",
            examples="  # Resume an already paused deployment\n  kubectl rollout resume deployment/nginx",
            flags=[_FILENAME, _SELECTOR, DRY_RUN, OUTPUT], handler=rollout_resume),
    Command("restart", "Restart a resource", usage="kubectl rollout restart RESOURCE [options]",
            examples="  # Restart all deployments in the test-namespace namespace\n  kubectl rollout restart "
                     "deployment -n test-namespace\n\n  # Restart a deployment\n  kubectl rollout restart "
                     "deployment/nginx",
            flags=[_FILENAME, _SELECTOR, DRY_RUN, OUTPUT], handler=rollout_restart),
)

__all__ = ["COMMAND", "status_message", "errors"]
