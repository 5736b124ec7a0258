"""A container's simulated filesystem: its image's files, what its own command writes, what a learner changed.

Nothing is stored on disk. A container's files at a moment are:

- the image's base files (`base_files`: a Debian or busybox userland, the image's own binaries, nginx's
  `/usr/share/nginx/html/index.html` and so on);
- what the container's own shell script does (`touch /tmp/healthy; sleep 30; rm -f /tmp/healthy`), replayed
  from its start time (`script_changes`);
- what a learner did through `kubectl exec` (`rm`, `echo > file`, `mkdir`), kept on the pod in the annotation
  `kubedojo.io/fs-<container>` with the container's restartCount: a restarted container gets a fresh
  writable layer, as with a real runtime, so those changes are gone after a restart;
- volumes mounted over the image: an emptyDir starts empty, keeps its changes across container restarts
  (annotation `kubedojo.io/fs-volume-<volume>`) and is shared by every container that mounts it; configMap
  and secret volumes show their keys as read-only files; a persistentVolumeClaim's files live on its
  PersistentVolume (annotation `kubedojo.io/fs-data`, where the kubelet copies what the pod wrote), so the
  next pod that mounts the claim (a StatefulSet's replacement pod) finds them; a hostPath volume's files
  live on the node (annotation `kubedojo.io/fs-hostpath` on the Node, one entry per path), shared by every
  pod on that node that mounts the path, and by none elsewhere.

Probes (`engine.kubelet.probes`) and the exec shell read the same view: `container_fs(pod, "nginx")` and
`fs.exists(path, at)`, `fs.read(path, at)`, `fs.listdir(path, at)`; `http_response(fs, image, path, at)` is
what the container's web server answers. Writes go through `remove`/`write`/`mkdir` (pure: they return the
annotations to merge) or `set_file_removed`/`set_file_written`, which store them through the apiserver.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from engine.kubelet import downward
from engine.kubelet import images as catalog
from engine.kubelet.nodes import micro_time, parse_micro_time

ANNOTATION_PREFIX = "kubedojo.io/fs-"
VOLUME_ANNOTATION_PREFIX = "kubedojo.io/fs-volume-"
VOLUME_DATA_ANNOTATION = "kubedojo.io/fs-data"  # on a PersistentVolume: the files written to it
HOST_PATH_ANNOTATION = "kubedojo.io/fs-hostpath"  # on a Node: host path -> the files written under it
_PERSISTENT = ("emptyDir", "persistentVolumeClaim", "hostPath")  # volumes whose writes outlive the container
READ_ONLY = "Read-only file system"

Lookup = Callable[[str, str, str], dict | None]  # (kind, namespace, name) -> object, e.g. the informer's get


# --- what each image holds ----------------------------------------------------------------------
_COMMON_TOOLS = ("cat", "ls", "echo", "test", "[", "true", "false", "sleep", "grep", "touch", "rm", "mkdir", "env",
                 "hostname", "df", "head", "tail", "date", "id", "whoami", "cp", "mv", "chmod", "chown", "find",
                 "uname", "pwd", "printenv", "kill", "du", "wc", "sort", "tr", "sed", "ps")
_BUSYBOX = ("sh", "ash", "wget", "nc", "ping", "nslookup", "vi", "top", "free", "awk") + _COMMON_TOOLS
_DEBIAN = ("sh", "dash", "bash", "awk") + _COMMON_TOOLS


@dataclass(frozen=True)
class WebRoot:
    """A web server that serves files from a document root."""

    docroot: str
    missing_index: int  # what GET of a directory without index.html answers: 403 (nginx) or 200 (a listing)
    server: str  # its name in error pages


# flavour: "busybox" (sh is busybox ash), "debian" (sh is dash, GNU coreutils) or "scratch" (no shell at all)
_IMAGES: dict[str, dict] = {
    "docker.io/library/nginx": {
        "flavour": "debian",
        "binaries": ("/usr/sbin/nginx", "/usr/bin/curl", "/docker-entrypoint.sh"),
        "files": {"/usr/share/nginx/html/50x.html": "<!DOCTYPE html>\n<html>\n<head>\n<title>Error</title>\n"
                  "</head>\n<body>\n<h1>An error occurred.</h1>\n</body>\n</html>\n",
                  "/etc/nginx/nginx.conf": "user  nginx;\nworker_processes  auto;\n",
                  "/etc/nginx/conf.d/default.conf": "server {\n    listen       80;\n    listen  [::]:80;\n"
                  "    server_name  localhost;\n\n    location / {\n        root   /usr/share/nginx/html;\n"
                  "        index  index.html index.htm;\n    }\n}\n"},
        "web": WebRoot("/usr/share/nginx/html", 403, "nginx"),
    },
    "docker.io/library/httpd": {
        "flavour": "debian",
        "binaries": ("/usr/local/apache2/bin/httpd", "/usr/local/bin/httpd-foreground"),
        "files": {"/usr/local/apache2/conf/httpd.conf": "ServerRoot \"/usr/local/apache2\"\nListen 80\n"},
        "web": WebRoot("/usr/local/apache2/htdocs", 200, "Apache/2.4.62 (Unix)"),
    },
    "gcr.io/google-samples/node-hello": {
        "flavour": "debian",
        "binaries": ("/usr/local/bin/node",),
        "files": {"/server.js": "var http = require('http');\n"},
    },
    "docker.io/library/busybox": {"flavour": "busybox", "binaries": (), "files": {}},
    "docker.io/library/alpine": {"flavour": "busybox", "binaries": ("/sbin/apk",), "files": {}},
    "docker.io/library/redis": {
        "flavour": "debian",
        "binaries": ("/usr/local/bin/redis-server", "/usr/local/bin/redis-cli"),
        "dirs": ("/data",),
    },
    "docker.io/library/mysql": {
        "flavour": "debian",
        "binaries": ("/usr/sbin/mysqld", "/usr/bin/mysql", "/usr/bin/mysqladmin"),
        "dirs": ("/var/lib/mysql",),
    },
    "docker.io/library/postgres": {
        "flavour": "debian",
        "binaries": ("/usr/lib/postgresql/17/bin/postgres", "/usr/bin/pg_isready", "/usr/bin/psql"),
        "dirs": ("/var/lib/postgresql/data",),
    },
    "docker.io/library/php": {
        "flavour": "debian",
        "binaries": ("/usr/local/sbin/php-fpm", "/usr/local/bin/php"),
        "dirs": ("/var/www/html",),
    },
    "registry.k8s.io/e2e-test-images/jessie-dnsutils": {
        "flavour": "debian",
        "binaries": ("/usr/bin/nslookup", "/usr/bin/dig", "/usr/bin/host"),
    },
    "docker.io/kubedojo/crasher": {"flavour": "scratch", "binaries": ("/crasher",)},
    "docker.io/kubedojo/leaker": {"flavour": "scratch", "binaries": ("/leaker",)},
}

_OS_RELEASE = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    "busybox": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.21.0\nPRETTY_NAME="Alpine Linux v3.21"\n',
}
_SKELETON_DIRS = ("/", "/bin", "/dev", "/etc", "/home", "/proc", "/root", "/sys", "/tmp", "/usr", "/usr/bin",
                  "/usr/local", "/usr/local/bin", "/var", "/var/log")


def flavour_of(image: str) -> str:
    """busybox, debian or scratch: which userland (and which error messages) the image's shell tools have."""
    ref = catalog.parse_reference(image)
    if ref is None:
        return "scratch"
    info = _IMAGES.get(ref.repository)
    if info is None:
        return "debian"
    if info["flavour"] == "debian" and "alpine" in ref.tag:
        return "busybox"  # nginx:alpine, redis:7-alpine ...
    return info["flavour"]


def web_root(image: str) -> WebRoot | None:
    ref = catalog.parse_reference(image)
    return (_IMAGES.get(ref.repository) or {}).get("web") if ref else None


def base_files(image: str) -> tuple[dict[str, str], set[str]]:
    """The image's files (path -> content) and directories, before anything runs (the caller's own copies)."""
    files, dirs = _base_files(image)
    return dict(files), set(dirs)


@functools.lru_cache(maxsize=512)
def _base_files(image: str) -> tuple[dict[str, str], frozenset[str]]:
    """`base_files`, shared: a pure function of the reference, and rebuilt for every container model (each
    request the traffic generator sends builds one), it was a fifth of a workshop cluster's time. Never
    change what it returns."""
    ref = catalog.parse_reference(image)
    info = _IMAGES.get(ref.repository, {}) if ref else {}
    entry = catalog.lookup(image)
    flavour = flavour_of(image)
    files: dict[str, str] = {}
    dirs: set[str] = set()
    if flavour != "scratch":
        dirs.update(_SKELETON_DIRS)
        tools, where = (_BUSYBOX, "/bin") if flavour == "busybox" else (_DEBIAN, "/usr/bin")
        for tool in tools:
            files[f"{where}/{tool}"] = ""
        files["/etc/os-release"] = _OS_RELEASE[flavour]
        files["/etc/passwd"] = "root:x:0:0:root:/root:/bin/sh\n"
    for binary in info.get("binaries", ()):
        files[binary] = ""
    files.update(info.get("files") or {})
    dirs.update(info.get("dirs", ()))
    web = info.get("web")
    if web is not None and entry is not None:
        for url_path, body in entry.http.items():
            files[web.docroot + ("/index.html" if url_path == "/" else url_path)] = body
    for path in list(files) + list(dirs):
        parent = posixpath.dirname(path)
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = posixpath.dirname(parent) if parent != "/" else ""
    dirs.add("/")
    return files, frozenset(dirs)


# --- changes over time ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FileChange:
    at: float
    op: str  # "write", "append", "rm", "mkdir"
    path: str
    content: str = ""


_SLEEP = re.compile(r"^sleep\s+(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SPLIT = re.compile(r"\s*(?:;|&&|\|\||\n)\s*")


def shell_script(container: dict) -> str | None:
    """The script of a `sh -c "..."` container (command and args together), or None."""
    argv = [str(a) for a in list(container.get("command") or []) + list(container.get("args") or [])]
    if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "ash", "bash", "dash") and argv[1] == "-c":
        return argv[2]
    return None


def script_changes(container: dict, started: float) -> list[FileChange]:
    """What the container's own shell script does to files, and when (touch, rm, echo > file, mkdir)."""
    script = shell_script(container)
    if not script:
        return []
    out: list[FileChange] = []
    offset = 0.0
    for step in _SPLIT.split(script.strip()):
        if not step:
            continue
        sleep = _SLEEP.match(step)
        if sleep:
            offset += float(sleep.group(1)) * _UNITS[sleep.group(2)]
            continue
        if step.startswith(("while ", "for ", "do ", "done")):
            break  # a loop: nothing after it is reached in a way we can replay
        try:
            words = shlex.split(step)
        except ValueError:
            continue
        if not words:
            continue
        at = started + offset
        name, rest = words[0], words[1:]
        if ">" in rest or ">>" in rest:
            append = ">>" in rest
            index = rest.index(">>" if append else ">")
            if index + 1 < len(rest) and name == "echo":
                text = " ".join(rest[:index]) + "\n"
                out.append(FileChange(at, "append" if append else "write", _abs(rest[index + 1]), text))
            continue
        targets = [w for w in rest if not w.startswith("-")]
        if name == "touch":
            out += [FileChange(at, "append", _abs(t), "") for t in targets]
        elif name == "rm":
            out += [FileChange(at, "rm", _abs(t)) for t in targets]
        elif name == "mkdir":
            out += [FileChange(at, "mkdir", _abs(t)) for t in targets]
    return out


def _abs(path: str, cwd: str = "/") -> str:
    return posixpath.normpath(posixpath.join(cwd, path))


# --- mounts -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mount:
    path: str
    volume: str
    kind: str  # emptyDir, configMap, secret, projected, downwardAPI, persistentVolumeClaim, hostPath, other
    read_only: bool
    files: tuple[tuple[str, str], ...] = ()  # relative path -> content (configMap / secret keys)
    claim: str = ""  # the claim's name (persistentVolumeClaim), or the path on the node (hostPath)


def _mounts(pod: dict, container: dict, lookup: Lookup | None) -> list[Mount]:
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    namespace = pod["metadata"].get("namespace", "")
    out = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        kind, files, claim = "other", (), ""
        if "emptyDir" in volume:
            kind = "emptyDir"
        elif "configMap" in volume or "secret" in volume:
            kind = "configMap" if "configMap" in volume else "secret"
            files = _source_files(volume, kind, namespace, lookup)
        elif "projected" in volume or "downwardAPI" in volume:
            kind = "projected" if "projected" in volume else "downwardAPI"
            files = projected_files(pod, volume, lookup)
        elif "persistentVolumeClaim" in volume:
            kind, claim = "persistentVolumeClaim", volume["persistentVolumeClaim"].get("claimName", "")
        elif "hostPath" in volume:
            kind, claim = "hostPath", posixpath.normpath(volume["hostPath"].get("path") or "/")
        out.append(Mount(_abs(mount.get("mountPath") or "/"), mount.get("name", ""), kind,
                         bool(mount.get("readOnly")) or kind in _READ_ONLY_KINDS, files, claim))
    out.sort(key=lambda m: -len(m.path))  # the deepest mount wins
    return out


_READ_ONLY_KINDS = ("configMap", "secret", "projected", "downwardAPI")


def _source_files(volume: dict, kind: str, namespace: str, lookup: Lookup | None) -> tuple[tuple[str, str], ...]:
    source = volume.get(kind) or {}
    name = source.get("name") if kind == "configMap" else source.get("secretName")
    return _object_files(kind, name, source.get("items"), namespace, lookup)


def _object_files(kind: str, name: str | None, items, namespace: str,
                  lookup: Lookup | None) -> tuple[tuple[str, str], ...]:
    """A ConfigMap's or Secret's keys as files (all of them, or the `items` chosen, under their `path`)."""
    obj = lookup("Secret" if kind == "secret" else "ConfigMap", namespace, name) if lookup and name else None
    if obj is None:
        return ()
    data = dict(obj.get("data") or {})
    if kind == "secret":
        decoded = {}
        for key, value in data.items():
            try:
                decoded[key] = base64.b64decode(value).decode("utf-8", "replace")
            except ValueError:
                decoded[key] = ""
        data = decoded
    if items:
        return tuple((item.get("path") or item.get("key"), data.get(item.get("key"), "")) for item in items
                     if item.get("key") in data)
    return tuple(sorted(data.items()))


def _label_lines(values: dict) -> str:
    """How the downward API writes labels and annotations: one `key="value"` per line, sorted by key."""
    return "\n".join(f'{key}="{value}"' for key, value in sorted((values or {}).items()))


def downward_field(pod: dict, field_path: str) -> str | None:
    """A downwardAPI volume file's content for a fieldRef (labels and annotations as whole files too)."""
    meta = pod["metadata"]
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "metadata.labels": _label_lines(meta.get("labels")),
              "metadata.annotations": _label_lines(meta.get("annotations"))}
    if field_path in simple:
        return simple[field_path]
    found = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", field_path)
    if found:
        return (meta.get(found.group(1)) or {}).get(found.group(2))
    return None


def _downward_files(pod: dict, items, lookup: Lookup | None) -> list[tuple[str, str]]:
    files = []
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    node = lookup("Node", "", (pod.get("spec") or {}).get("nodeName") or "") if lookup else None
    allocatable = ((node or {}).get("status") or {}).get("allocatable") or {}
    for item in items or []:
        if item.get("fieldRef"):
            value = downward_field(pod, item["fieldRef"].get("fieldPath", ""))
        elif item.get("resourceFieldRef"):
            ref = item["resourceFieldRef"]
            value = downward.resource_field_value(containers.get(ref.get("containerName")) or {}, allocatable, ref)
        else:
            value = None
        if value is not None and item.get("path"):
            files.append((item["path"], value))
    return files


def service_account_token(pod: dict) -> str:
    """A bound service account token as the kubelet projects it (a JWT; not signed by anything real)."""
    meta = pod["metadata"]
    claims = {"aud": ["https://kubernetes.default.svc.cluster.local"], "iss": "https://kubernetes.default.svc."
              "cluster.local", "kubernetes.io": {"namespace": meta.get("namespace", "default"),
                                                 "pod": {"name": meta.get("name"), "uid": meta.get("uid")},
                                                 "serviceaccount": {"name": (pod.get("spec") or {}).get(
                                                     "serviceAccountName") or "default"}},
              "sub": f"system:serviceaccount:{meta.get('namespace', 'default')}:"
                     f"{(pod.get('spec') or {}).get('serviceAccountName') or 'default'}"}

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': 'kubedojo'})}.{part(claims)}.c2lnbmF0dXJl"


def projected_files(pod: dict, volume: dict, lookup: Lookup | None) -> tuple[tuple[str, str], ...]:
    """The files of a downwardAPI volume, or of a projected one (its configMap, secret, downwardAPI and
    serviceAccountToken sources merged, as in the kube-api-access-* volume every pod gets)."""
    namespace = pod["metadata"].get("namespace", "")
    if "downwardAPI" in volume:
        return tuple(sorted(_downward_files(pod, (volume["downwardAPI"] or {}).get("items"), lookup)))
    files: dict[str, str] = {}
    for source in (volume.get("projected") or {}).get("sources") or []:
        if "configMap" in source or "secret" in source:
            kind = "configMap" if "configMap" in source else "secret"
            ref = source[kind] or {}
            files.update(_object_files(kind, ref.get("name"), ref.get("items"), namespace, lookup))
        elif "downwardAPI" in source:
            files.update(_downward_files(pod, (source["downwardAPI"] or {}).get("items"), lookup))
        elif "serviceAccountToken" in source:
            files[(source["serviceAccountToken"] or {}).get("path") or "token"] = service_account_token(pod)
    return tuple(sorted(files.items()))


def bound_volume(pod: dict, claim_name: str, lookup: Lookup | None) -> dict | None:
    """The PersistentVolume a pod's claim is bound to (None when unbound or unknown)."""
    if lookup is None or not claim_name:
        return None
    claim = lookup("PersistentVolumeClaim", pod["metadata"].get("namespace", ""), claim_name)
    volume_name = ((claim or {}).get("spec") or {}).get("volumeName")
    return lookup("PersistentVolume", "", volume_name) if volume_name else None


def _holder(pod: dict, kind: str, source: str, lookup: Lookup | None) -> dict | None:
    """The object a volume's files are kept on: the bound PersistentVolume, or the pod's Node for a hostPath."""
    if kind == "persistentVolumeClaim":
        return bound_volume(pod, source, lookup)
    node = (pod.get("spec") or {}).get("nodeName")
    return lookup("Node", "", node) if lookup is not None and node else None


def _held(holder: dict | None, kind: str, source: str) -> list[dict]:
    annotations = ((holder or {}).get("metadata") or {}).get("annotations") or {}
    if kind == "persistentVolumeClaim":
        return list(_decode(annotations.get(VOLUME_DATA_ANNOTATION)).get("changes") or [])
    return list(_decode(annotations.get(HOST_PATH_ANNOTATION)).get(source) or [])


def stored_changes(pod: dict, kind: str, source: str, lookup: Lookup | None) -> list[dict]:
    """The changes (relative to the volume's root) kept for a claim's volume or a host path on the pod's node."""
    return _held(_holder(pod, kind, source, lookup), kind, source)


def volume_data_to_store(pod: dict, lookup: Lookup) -> list[tuple[dict, dict]]:
    """(PersistentVolume or Node, annotations to merge into it) for what the pod wrote to its claims and host
    paths that they do not hold yet: what the kubelet copies out, so the files outlive the pod."""
    annotations = pod["metadata"].get("annotations") or {}
    out = []
    for volume_spec in (pod.get("spec") or {}).get("volumes") or []:
        written = _decode(annotations.get(VOLUME_ANNOTATION_PREFIX + volume_spec.get("name", ""))).get("changes")
        if "persistentVolumeClaim" in volume_spec:
            kind, source = "persistentVolumeClaim", volume_spec["persistentVolumeClaim"].get("claimName", "")
        elif "hostPath" in volume_spec:
            kind, source = "hostPath", posixpath.normpath(volume_spec["hostPath"].get("path") or "/")
        else:
            continue
        holder = _holder(pod, kind, source, lookup) if written else None
        if holder is None:
            continue
        stored = _held(holder, kind, source)
        new = [c for c in written if c not in stored]
        if not new:
            continue
        if kind == "persistentVolumeClaim":
            value = {"changes": stored + new}
            out.append((holder, {VOLUME_DATA_ANNOTATION: json.dumps(value, separators=(",", ":"))}))
        else:
            paths = _decode((holder["metadata"].get("annotations") or {}).get(HOST_PATH_ANNOTATION))
            paths[source] = stored + new
            out.append((holder, {HOST_PATH_ANNOTATION: json.dumps(paths, separators=(",", ":"))}))
    return out


# --- the view ----------------------------------------------------------------------------------------
class ContainerFS:
    """One container instance's files at any moment of its life."""

    def __init__(self, pod: dict, container: dict, restart_count: int = 0, started: float | None = None,
                 lookup: Lookup | None = None):
        self.pod = pod
        self.container = container
        self.name = container.get("name", "")
        self.image = container.get("image") or ""
        self.flavour = flavour_of(self.image)
        self.restart_count = restart_count
        self.started = started
        self.lookup = lookup
        self.mounts = _mounts(pod, container, lookup)
        self._base_files, self._base_dirs = _base_files(self.image)  # shared: copied before any change
        self.changes = self._changes()

    def _changes(self) -> list[FileChange]:
        annotations = self.pod["metadata"].get("annotations") or {}
        changes = []
        if self.started is not None:
            changes += script_changes(self.container, self.started)
        layer = _decode(annotations.get(ANNOTATION_PREFIX + self.name))
        if layer.get("restartCount", 0) == self.restart_count:
            changes += _parse_changes(layer.get("changes"))
        for mount in self.mounts:
            if mount.kind in _PERSISTENT:
                vol = _decode(annotations.get(VOLUME_ANNOTATION_PREFIX + mount.volume))
                raw = list(vol.get("changes") or [])
                if mount.kind != "emptyDir":  # what earlier pods wrote, kept on the volume or the node
                    stored = stored_changes(self.pod, mount.kind, mount.claim, self.lookup)
                    raw = stored + [c for c in raw if c not in stored]
                changes += [FileChange(c.at, c.op, _abs(c.path.lstrip("/"), mount.path), c.content)
                            for c in _parse_changes(raw)]
        changes.sort(key=lambda c: c.at)
        return changes

    def change_times(self) -> list[float]:
        """When the files change (for probes: their outcome can only change at these moments)."""
        return sorted({c.at for c in self.changes})

    def mount_for(self, path: str) -> Mount | None:
        for mount in self.mounts:
            if path == mount.path or path.startswith(mount.path.rstrip("/") + "/"):
                return mount
        return None

    def snapshot(self, at: float | None = None) -> tuple[dict[str, str], set[str]]:
        """(files, dirs) at `at` (None: with every change applied)."""
        files = dict(self._base_files)
        dirs = set(self._base_dirs)
        for mount in self.mounts:  # a mount hides what the image has under it
            prefix = mount.path.rstrip("/") + "/"
            for path in [p for p in files if p.startswith(prefix)]:
                del files[path]
            dirs = {d for d in dirs if not d.startswith(prefix)}
            dirs.add(mount.path)
            for rel, content in mount.files:
                files[_abs(rel, mount.path)] = content
        for change in self.changes:
            if at is not None and change.at > at + 1e-9:
                break
            _apply(files, dirs, change)
        return files, dirs

    def exists(self, path: str, at: float | None = None) -> bool:
        files, dirs = self.snapshot(at)
        path = _abs(path)
        return path in files or path in dirs

    def is_dir(self, path: str, at: float | None = None) -> bool:
        return _abs(path) in self.snapshot(at)[1]

    def read(self, path: str, at: float | None = None) -> str | None:
        return self.snapshot(at)[0].get(_abs(path))

    def listdir(self, path: str, at: float | None = None) -> list[str] | None:
        files, dirs = self.snapshot(at)
        path = _abs(path)
        if path not in dirs:
            return None
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in list(files) + list(dirs) if p.startswith(prefix)}
        return sorted(n for n in names if n)

    def which(self, command: str, at: float | None = None) -> str | None:
        """Where `command` is found on the PATH (or the path itself if it is one and exists)."""
        files = self.snapshot(at)[0]
        if "/" in command:
            return command if _abs(command) in files else None
        for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            if f"{directory}/{command}" in files:
                return f"{directory}/{command}"
        return None


def _apply(files: dict[str, str], dirs: set[str], change: FileChange) -> None:
    path = change.path
    if change.op == "rm":
        files.pop(path, None)
        prefix = path.rstrip("/") + "/"
        for child in [p for p in files if p.startswith(prefix)]:
            del files[child]
        if path != "/":
            dirs.discard(path)
            for child in [d for d in dirs if d.startswith(prefix)]:
                dirs.discard(child)
    elif change.op == "mkdir":
        while path and path not in dirs:
            dirs.add(path)
            path = posixpath.dirname(path) if path != "/" else ""
    elif posixpath.dirname(path) in dirs:  # write / append: only into an existing directory
        files[path] = (files.get(path, "") if change.op == "append" else "") + change.content


def _decode(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _parse_changes(raw) -> list[FileChange]:
    out = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not item.get("path"):
            continue
        at = parse_micro_time(item.get("at"))
        if at is None:
            continue
        out.append(FileChange(at, item.get("op") or "write", _abs(str(item["path"])), str(item.get("content") or "")))
    return out


def container_fs(pod: dict, container_name: str, lookup: Lookup | None = None,
                 started: float | None = None) -> ContainerFS | None:
    """The current instance of a container (from the pod's status), or None if the pod has no such container."""
    spec = pod.get("spec") or {}
    container = next((c for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
                      if c.get("name") == container_name), None)
    if container is None:
        return None
    status = pod.get("status") or {}
    cs = next((s for s in list(status.get("containerStatuses") or []) + list(status.get("initContainerStatuses")
                                                                           or [])
               if s.get("name") == container_name), {})
    if started is None:
        running = (cs.get("state") or {}).get("running") or {}
        started = parse_micro_time(running.get("startedAt"))
    return ContainerFS(pod, container, int(cs.get("restartCount") or 0), started, lookup)


# --- who owns what: securityContext (runAsUser, runAsGroup, fsGroup, supplementalGroups) -----------------
@dataclass(frozen=True)
class Identity:
    """The container's process: its uid, gid and supplementary groups (what `id` prints)."""

    uid: int
    gid: int
    groups: tuple[int, ...]  # beyond the user's own groups in the image's /etc/group


def _security(pod: dict, container: dict, key: str):
    value = (container.get("securityContext") or {}).get(key)
    return value if value is not None else ((pod.get("spec") or {}).get("securityContext") or {}).get(key)


def fs_group(pod: dict) -> int | None:
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return int(value) if value is not None else None


def identity(pod: dict, container: dict) -> Identity:
    """runAsUser / runAsGroup (the container's own over the pod's; root when unset), and as supplementary groups
    the pod's fsGroup and supplementalGroups, as the container runtime sets them up."""
    uid = int(_security(pod, container, "runAsUser") or 0)
    gid = int(_security(pod, container, "runAsGroup") or 0)
    extra = [g for g in [fs_group(pod)] if g is not None]
    extra += [int(g) for g in ((pod.get("spec") or {}).get("securityContext") or {}).get("supplementalGroups") or []]
    return Identity(uid, gid, tuple(dict.fromkeys(extra)))


def owner_name(uid_or_gid: int) -> str:
    """How `ls -l` names an owner: root by name, anyone else by number (the image's /etc/passwd knows no one)."""
    return "root" if uid_or_gid == 0 else str(uid_or_gid)


@dataclass(frozen=True)
class Attributes:
    mode: str  # drwxrwsrwx
    links: int
    owner: str
    group: str


# Directories of a Linux root whose modes differ from drwxr-xr-x.
_SPECIAL_MODES = {"/proc": "dr-xr-xr-x", "/sys": "dr-xr-xr-x", "/root": "drwx------", "/tmp": "drwxrwxrwt"}


def attributes(pod: dict, container: dict, path: str, is_dir: bool) -> Attributes:
    """What `ls -l` shows for a path: the image's files belong to root; what the container (or an exec session)
    made belongs to its user; volumes the kubelet set up belong to root, and with an fsGroup to that group, with
    the setgid bit on (drwxrwsrwx) so that what is created inside inherits the group."""
    path = _abs(path)
    group_id = fs_group(pod)
    mounts = _mounts(pod, container, None)
    mount = next((m for m in mounts if path == m.path or path.startswith(m.path.rstrip("/") + "/")), None)
    volume_group = owner_name(group_id) if group_id is not None and mount is not None else None
    if mount is not None and path == mount.path:  # configMap and secret volumes hold a ..data link too: 3 links
        return Attributes("drwxrwsrwx" if group_id is not None else "drwxrwxrwx", 2 if mount.kind == "emptyDir" else 3,
                          "root", volume_group or "root")
    fs = container_fs(pod, container.get("name", ""))
    made = fs is not None and any(c.path == path and c.op != "rm" for c in fs.changes)
    if made:
        who = identity(pod, container)
        group = volume_group if volume_group is not None and mount.kind == "emptyDir" else owner_name(who.gid)
        setgid = volume_group is not None and mount.kind == "emptyDir"
        mode = ("drwxr-sr-x" if setgid else "drwxr-xr-x") if is_dir else "-rw-r--r--"
        return Attributes(mode, 2 if is_dir else 1, owner_name(who.uid), group)
    if is_dir:
        return Attributes(_SPECIAL_MODES.get(path, "drwxr-xr-x"), 2, "root", "root")
    return Attributes("-rw-r--r--", 1, "root", "root")


# --- what the container's web server answers ---------------------------------------------------------------
def _error_page(code: int, text: str, server: str) -> str:
    if server == "nginx":
        return (f"<html>\r\n<head><title>{code} {text}</title></head>\r\n<body>\r\n<center><h1>{code} {text}</h1>"
                f"</center>\r\n<hr><center>nginx/{catalog.lookup('nginx').version}</center>\r\n</body>\r\n</html>\r\n")
    return (f'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>{code} {text}</title>\n'
            f"</head><body>\n<h1>{text}</h1>\n</body></html>\n")


_STATUS_TEXT = {200: "OK", 403: "Forbidden", 404: "Not Found"}


def http_response(fs: ContainerFS | None, image: str, path: str, at: float | None = None) -> tuple[int, str]:
    """(status code, body) of `GET path` on the container's HTTP port."""
    entry = catalog.lookup(image)
    path = (path or "/").split("?", 1)[0] or "/"
    web = web_root(image)
    if web is None or fs is None:
        http = entry.http if entry else {}
        if path in http:
            return 200, http[path]
        if entry is not None and entry.repository == "gcr.io/google-samples/node-hello":
            return 200, http.get("/", "")  # its server.js answers every path
        return 404, "Cannot GET " + path + "\n" if http else ""
    target = _abs(path.lstrip("/"), web.docroot)
    files, dirs = fs.snapshot(at)
    if target in dirs:
        index = target.rstrip("/") + "/index.html"
        if index in files:
            return 200, files[index]
        if web.missing_index == 403:
            return 403, _error_page(403, "Forbidden", web.server)
        names = fs.listdir(target, at) or []
        return 200, "<html><head><title>Index of {0}</title></head><body><h1>Index of {0}</h1><ul>{1}</ul>" \
                    "</body></html>\n".format(path, "".join(f'<li><a href="{n}">{n}</a></li>' for n in names))
    if target in files:
        return 200, files[target]
    return 404, _error_page(404, "Not Found", web.server)


# --- writes (pure: they return the annotations to merge into the pod) ----------------------------------------
class FilesystemError(Exception):
    """What the shell prints when a write is refused (e.g. `Read-only file system`)."""


def _record(pod: dict, container_name: str, change: dict, lookup: Lookup | None) -> dict[str, str]:
    fs = container_fs(pod, container_name, lookup)
    if fs is None:
        raise FilesystemError(f'container {container_name} not found in pod {pod["metadata"]["name"]}')
    path = _abs(change["path"])
    mount = fs.mount_for(path)
    annotations = pod["metadata"].get("annotations") or {}
    if mount is not None and mount.read_only:
        raise FilesystemError(READ_ONLY)
    if mount is not None and mount.kind in _PERSISTENT:
        key = VOLUME_ANNOTATION_PREFIX + mount.volume
        layer = _decode(annotations.get(key))
        rel = posixpath.relpath(path, mount.path)
        entry = {**change, "path": "/" if rel == "." else "/" + rel}
        layer = {"changes": list(layer.get("changes") or []) + [entry]}
    else:
        key = ANNOTATION_PREFIX + container_name
        layer = _decode(annotations.get(key))
        if layer.get("restartCount", 0) != fs.restart_count:
            layer = {}  # the previous instance's writable layer is gone
        layer = {"restartCount": fs.restart_count, "changes": list(layer.get("changes") or []) + [
            {**change, "path": path}]}
    return {key: json.dumps(layer, separators=(",", ":"))}


def _stamp(now: float) -> str:
    """`now` to the microsecond, rounded down: a change stamped a fraction of a microsecond after the moment
    it was made would not be seen by a request made at that same moment (`rm index.html && curl localhost`)."""
    return micro_time(math.floor(now * 1_000_000) / 1_000_000)


def remove(pod: dict, container: str, path: str, now: float, lookup: Lookup | None = None) -> dict[str, str]:
    """`rm -rf path` inside the container: the annotations to merge into the pod."""
    return _record(pod, container, {"op": "rm", "path": path, "at": _stamp(now)}, lookup)


def write(pod: dict, container: str, path: str, content: str, now: float, append: bool = False,
          lookup: Lookup | None = None) -> dict[str, str]:
    """`echo ... > path` (or `>>` with append) inside the container."""
    return _record(pod, container, {"op": "append" if append else "write", "path": path, "content": content,
                                    "at": _stamp(now)}, lookup)


def mkdir(pod: dict, container: str, path: str, now: float, lookup: Lookup | None = None) -> dict[str, str]:
    return _record(pod, container, {"op": "mkdir", "path": path, "at": _stamp(now)}, lookup)


def store(sim, namespace: str, name: str, annotations: dict[str, str]) -> dict:
    """Persist changes on the pod (a merge patch of its annotations, written as the kubelet would see them)."""
    return sim.client("kubelet").patch("Pod", namespace, name, {"metadata": {"annotations": annotations}},
                                       "application/merge-patch+json")


def set_file_removed(sim, namespace: str, name: str, container: str, path: str) -> dict:
    """Remove a file (or directory) in a running container, as `kubectl exec ... -- rm -rf path` does."""
    pod = sim.api.get("Pod", namespace, name)
    return store(sim, namespace, name, remove(pod, container, path, sim.clock.now(), sim.cache.get))


def set_file_written(sim, namespace: str, name: str, container: str, path: str, content: str,
                     append: bool = False) -> dict:
    pod = sim.api.get("Pod", namespace, name)
    return store(sim, namespace, name, write(pod, container, path, content, sim.clock.now(), append, sim.cache.get))
