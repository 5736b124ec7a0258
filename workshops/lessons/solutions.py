"""Run a step's solution against a cluster's apiserver with the web terminal's kubectl (engine.kubectl).

Solutions are written as a learner would type them (`kubectl apply -f app.yml`), so the instructor
can reveal them as they are, and they run as typed: the lesson tests and "reset a seat to the start
of a step" hand each command to engine.kubectl, whose writes pass the same ApiServer (admission,
defaulting, validation) as any other. When the lessons load, each command is checked against the
subset solutions may use, so a lesson with a typo fails at load, not in front of a class:

    kubectl apply -f FILE / create -f FILE / delete -f FILE
    kubectl delete KIND NAME... | -l SELECTOR [--grace-period=N] [--wait=false]
    kubectl scale deployment/NAME --replicas=N          (deployment, replicaset, statefulset)
    kubectl set image deployment/NAME CONTAINER=IMAGE
    kubectl rollout pause|resume|restart|undo deployment/NAME [--to-revision=N]
    kubectl label|annotate KIND NAME key=value | key-  [--overwrite]
    kubectl taint node NAME key=value:Effect | key:Effect-
    kubectl cordon|uncordon NODE
    read-only or interactive commands (get, describe, logs, rollout status|history, exec, run --rm,
    api-resources, api-versions, explain, top, wait) and lines starting with `#`: skipped

Every command takes `-n NAMESPACE` / `--namespace=NAMESPACE`. FILE names one of the step's files
(multi-document YAML).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from engine import errors, labels

SKIPPED_VERBS = frozenset({"get", "describe", "logs", "exec", "run", "api-resources", "api-versions", "explain",
                           "top", "wait", "port-forward", "proxy", "cluster-info", "version", "config", "events",
                           "auth", "attach", "debug", "diff"})
ROLLOUT_READ_ONLY = frozenset({"status", "history"})
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# `kubectl get pods` words -> kinds.
_KIND_WORDS = {
    "po": "Pod", "pod": "Pod", "pods": "Pod",
    "deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment",
    "rs": "ReplicaSet", "replicaset": "ReplicaSet", "replicasets": "ReplicaSet",
    "svc": "Service", "service": "Service", "services": "Service",
    "no": "Node", "node": "Node", "nodes": "Node",
    "ns": "Namespace", "namespace": "Namespace", "namespaces": "Namespace",
    "cm": "ConfigMap", "configmap": "ConfigMap", "configmaps": "ConfigMap",
    "secret": "Secret", "secrets": "Secret",
    "sts": "StatefulSet", "statefulset": "StatefulSet", "statefulsets": "StatefulSet",
    "ds": "DaemonSet", "daemonset": "DaemonSet", "daemonsets": "DaemonSet",
    "job": "Job", "jobs": "Job",
    "cj": "CronJob", "cronjob": "CronJob", "cronjobs": "CronJob",
    "pvc": "PersistentVolumeClaim", "persistentvolumeclaim": "PersistentVolumeClaim",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "pv": "PersistentVolume", "persistentvolume": "PersistentVolume", "persistentvolumes": "PersistentVolume",
    "ing": "Ingress", "ingress": "Ingress", "ingresses": "Ingress",
    "ep": "Endpoints", "endpoints": "Endpoints",
}
_SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet")


class SolutionError(Exception):
    """A command that cannot run (it does not parse, or the cluster refused it)."""


@dataclass
class Invocation:
    verb: str
    args: list[str]
    namespace: str | None = None
    flags: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    selector: str | None = None


_VALUE_FLAGS = {"-n": "namespace", "--namespace": "namespace", "-f": "filename", "--filename": "filename",
                "-l": "selector", "--selector": "selector", "--replicas": "replicas", "--to-revision": "to-revision",
                "--grace-period": "grace-period", "--wait": "wait", "--overwrite": "overwrite", "--force": "force",
                "--timeout": "timeout", "-o": "output", "--output": "output", "--image": "image", "-c": "container"}
_BOOL_FLAGS = {"--overwrite", "--force", "--all", "-w", "--watch", "-it", "-i", "-t", "--rm", "--now",
               "--ignore-daemonsets", "--delete-emptydir-data"}


def _verb_of(words: list[str]) -> tuple[str, list[str]]:
    """The command word and the words after it, skipping leading global flags (`-n ns get pods`)."""
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-n", "--namespace", "--context", "--kubeconfig"):
            i += 2
        elif word.startswith("-"):
            i += 1
        else:
            return word, [w for w in words[i + 1:] if not w.startswith("-")]
    return "", []


def parse(command: str) -> Invocation | None:
    """None for a line that is skipped (a comment, a read-only command); SolutionError if it does not parse."""
    text = command.strip()
    if not text or text.startswith("#"):
        return None
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise SolutionError(f"cannot split the command: {exc}") from None
    if words[0] != "kubectl":
        raise SolutionError("only kubectl commands can be run (put explanations in the step's text)")
    rest = words[1:]
    if "--" in rest:
        rest = rest[:rest.index("--")]
    verb, args = _verb_of(rest)
    if verb in SKIPPED_VERBS or (verb == "rollout" and args[:1] and args[0] in ROLLOUT_READ_ONLY):
        return None  # read-only or interactive: whatever its flags, nothing to run
    inv = Invocation(verb="", args=[])
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("-"):
            name, eq, value = word.partition("=")
            if name in _BOOL_FLAGS and not eq:
                inv.flags[name.lstrip("-")] = "true"
                i += 1
                continue
            if name not in _VALUE_FLAGS:
                raise SolutionError(f"the flag {name} is not supported in solutions")
            if not eq:
                if i + 1 >= len(rest):
                    raise SolutionError(f"the flag {name} needs a value")
                value = rest[i + 1]
                i += 1
            key = _VALUE_FLAGS[name]
            if key == "namespace":
                inv.namespace = value
            elif key == "filename":
                inv.files.append(value)
            elif key == "selector":
                inv.selector = value
            else:
                inv.flags[key] = value
        elif not inv.verb:
            inv.verb = word
        else:
            inv.args.append(word)
        i += 1
    if not inv.verb:
        raise SolutionError("no command word after kubectl")
    return inv


def _kind(word: str) -> str:
    kind = _KIND_WORDS.get(word.lower().split(".")[0])
    if kind is None:
        raise SolutionError(f"unknown resource type {word!r}")
    return kind


def _target(args: list[str], start: int = 0) -> tuple[str, list[str]]:
    """`deployment/web` or `deployment web` -> ("Deployment", ["web"]); the rest of the args follow."""
    if start >= len(args):
        raise SolutionError("a resource (such as deployment/web) is required")
    word = args[start]
    if "/" in word:
        kind_word, _, name = word.partition("/")
        return _kind(kind_word), [name, *args[start + 1:]]
    return _kind(word), args[start + 1:]


def _validate(inv: Invocation, files: dict[str, str]) -> None:
    """Raise SolutionError for what `run` could not do; touches no cluster."""
    for name in inv.files:
        if name not in files:
            raise SolutionError(f"-f {name}: the solution has no file of that name (files: {', '.join(files) or 'none'})")
    verb, args = inv.verb, inv.args
    if verb in ("apply", "create"):
        if not inv.files:
            raise SolutionError(f"kubectl {verb} needs -f FILE in solutions")
    elif verb == "delete":
        if inv.files:
            return
        kind, names = _target(args)
        if not names and not inv.selector and "all" not in inv.flags:
            raise SolutionError("delete needs names, -l SELECTOR or -f FILE")
        if inv.selector:
            labels.parse(inv.selector)
    elif verb == "scale":
        kind, names = _target(args)
        if kind not in _SCALABLE or len(names) != 1:
            raise SolutionError("scale takes one deployment, replicaset or statefulset")
        if not inv.flags.get("replicas", "").isdigit():
            raise SolutionError("scale needs --replicas=N")
    elif verb == "set":
        if args[:1] != ["image"]:
            raise SolutionError("only `kubectl set image` is supported")
        kind, rest = _target(args, 1)
        if len(rest) < 2 or not all("=" in a for a in rest[1:]):
            raise SolutionError("set image needs KIND/NAME CONTAINER=IMAGE")
    elif verb == "rollout":
        if not args or args[0] not in ("pause", "resume", "restart", "undo"):
            raise SolutionError("rollout takes pause, resume, restart, undo (status and history are skipped)")
        kind, names = _target(args, 1)
        if len(names) != 1:
            raise SolutionError("rollout takes one resource")
        if "to-revision" in inv.flags and not inv.flags["to-revision"].isdigit():
            raise SolutionError("--to-revision takes a number")
    elif verb in ("label", "annotate"):
        kind, rest = _target(args)
        if len(rest) < 2:
            raise SolutionError(f"{verb} needs KIND NAME key=value")
        for pair in rest[1:]:
            if "=" not in pair and not pair.endswith("-"):
                raise SolutionError(f"{pair!r} is neither key=value nor key-")
    elif verb == "taint":
        kind, rest = _target(args)
        if kind != "Node" or len(rest) < 2:
            raise SolutionError("taint needs node NAME key=value:Effect")
        for spec in rest[1:]:
            key, _, effect = spec.rstrip("-").partition(":")
            if not key or effect not in TAINT_EFFECTS:
                raise SolutionError(f"invalid taint spec: {spec}")
    elif verb in ("cordon", "uncordon"):
        if len(args) != 1:
            raise SolutionError(f"{verb} takes one node name")
    else:
        raise SolutionError(f"`kubectl {verb}` is not supported in solutions")


def check_command(command: str, files: dict[str, str]) -> str | None:
    """What is wrong with a solution command (None: it can run)."""
    try:
        inv = parse(command)
        if inv is not None:
            _validate(inv, files)
    except SolutionError as exc:
        return str(exc)
    except errors.ApiError as exc:
        return exc.message
    return None


def manifests(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def check_manifest_file(text: str) -> str | None:
    from engine.resources import registry

    try:
        docs = manifests(text)
    except yaml.YAMLError as exc:
        return f"not valid YAML: {exc}"
    if not docs:
        return "holds no manifest"
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            return f"document {index + 1} is not a mapping"
        for key in ("apiVersion", "kind"):
            if not doc.get(key):
                return f"document {index + 1} has no {key}"
        if not (doc.get("metadata") or {}).get("name"):
            return f"document {index + 1} ({doc['kind']}) has no metadata.name"
        if registry.by_api_version(str(doc["apiVersion"]), str(doc["kind"])) is None:
            return f"document {index + 1}: no kind {doc['kind']!r} in {doc['apiVersion']!r}"
    return None


# --- running ----------------------------------------------------------------------------------------------

def run(api, commands: list[str], files: dict[str, str], namespace: str = "default",
        on_error: Callable[[str, Exception], None] | None = None) -> list[str]:
    """Run every command through the web terminal's kubectl (engine.kubectl), with the step's files in its
    working directory; returns what kubectl printed. A command kubectl refuses raises SolutionError unless
    `on_error` takes it (reset: a step's solution that cannot apply yet is skipped, not fatal)."""
    from engine import kubectl

    context = kubectl.Context(namespace=namespace, files=dict(files))
    out: list[str] = []
    for command in commands:
        try:
            inv = parse(command)
            if inv is None:
                continue
            _validate(inv, files)
            result = kubectl.run(command, api, api.now(), context)
            if result.attach is not None:
                # `delete` waits for the object to go, `rollout restart` may print and wait: the request was
                # made, which is all a solution needs; the simulation carries the rest out.
                result.attach.interrupt()
            if result.exit_code:
                raise SolutionError(result.stderr.strip() or f"exit code {result.exit_code}")
            out.extend(line for line in result.stdout.splitlines() if line)
        except (SolutionError, errors.ApiError) as exc:
            if on_error is None:
                message = exc.message if isinstance(exc, errors.ApiError) else str(exc)
                raise SolutionError(f"{command}: {message}") from exc
            on_error(command, exc)
    return out
