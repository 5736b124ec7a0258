"""A simulated shell inside a container, for `kubectl exec` and `kubectl run -it`.

Nothing runs: commands read the pod (its env, mounts, image catalog entry) and a small file view.
What rm, touch, mkdir and `echo ... > file` change is kept on the pod by `engine.kubelet.filesystem` (until
the container restarts, as a runtime's writable layer), so the app, its probes and later sessions see it.
The networking commands (nslookup, wget, curl, nc, ping) go through the simulated network (`engine.network`):
CoreDNS's records, kube-proxy's choice of endpoint, NetworkPolicy and the listening container answer,
and /etc/resolv.conf and /etc/hosts are what the kubelet writes for the pod; `ip` shows the pod's eth0 and
routes as the CNI set them up. In the web terminal (a driver that sets `streaming`), `ping` runs in the
foreground, one echo per second of virtual time, until it ends or Ctrl-C. They use the running
Simulation when the caller passes it, else a `NetworkView` of the store (the web terminal).
"""

from __future__ import annotations

import base64
import posixpath
import re
import shlex
from datetime import UTC, datetime
from types import SimpleNamespace

from engine import errors
from engine.kubectl import containers as cinfo
from engine.kubelet import filesystem
from engine.kubelet import images as catalog
from engine.network import clients, dns, icmp, interfaces
from engine.network.config import NetworkConfig
from engine.network.view import NetworkView

NGINX_CONF = """server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
"""
DEBIAN_RELEASE = ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
                  'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
                  'HOME_URL="https://www.debian.org/"\nSUPPORT_URL="https://www.debian.org/support"\n'
                  'BUG_REPORT_URL="https://bugs.debian.org/"\n')
ALPINE_RELEASE = ('NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.21.0\nPRETTY_NAME="Alpine Linux v3.21"\n'
                  'HOME_URL="https://alpinelinux.org/"\nBUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/'
                  '-/issues"\n')
BASE_DIRS = ("/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/media", "/mnt", "/opt", "/proc", "/root", "/run",
             "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var")
BUSYBOX_TOOLS = {"ls", "cat", "env", "printenv", "ps", "df", "rm", "echo", "hostname", "sleep", "pwd", "whoami",
                 "id", "touch", "mkdir", "date", "uname", "nslookup", "wget", "which", "head", "tail", "wc", "grep",
                 "true", "false", "clear", "sh", "ash", "top", "ping", "nc", "free", "mount", "rmdir", "cp", "mv",
                 "find", "base64", "ip", "ifconfig", "test", "seq", "expr", "kill"}
DEBIAN_TOOLS = {"ls", "cat", "env", "printenv", "df", "rm", "echo", "hostname", "sleep", "pwd", "whoami", "id",
                "touch", "mkdir", "date", "uname", "head", "tail", "wc", "grep", "true", "false", "clear", "sh",
                "bash", "dash", "rmdir", "cp", "mv", "find", "base64", "test", "seq", "expr", "kill", "mount",
                "which"}
IMAGE_EXTRA_TOOLS = {"nginx": {"curl", "nginx"}, "httpd": {"httpd"}, "redis": {"redis-cli", "redis-server"},
                     "postgres": {"psql"}, "mysql": {"mysql"}, "node-hello": {"node", "npm", "curl", "wget"},
                     "jessie-dnsutils": {"nslookup"}}
NOT_SHELL_IMAGES = {"crasher", "leaker", "coredns"}


class ShellSession:
    """One shell (or one command) in a container. `run_line(line)` -> (stdout, stderr, exit code)."""

    def __init__(self, api, pod: dict, container: dict, now: float, interactive: bool = True, shell: str = "sh",
                 simulation=None, network_config: NetworkConfig | None = None):
        self.api = api
        self.simulation = simulation
        self.network_config = network_config or NetworkConfig()  # for the store's view, without the Simulation
        self.pod = pod
        self.container = container
        self.now = now
        self.interactive = interactive
        self.family = cinfo.image_family(container.get("image", ""))
        self.image = catalog.lookup(container.get("image", ""))
        self.shell = shell
        self.cwd = container.get("workingDir") or ("/" if self.family == "busybox" else "/")
        self.env = dict(cinfo.environment(api, pod, container))
        self.env_order = list(self.env)
        self.files: dict[str, str] = {}
        self.dirs: set[str] = set()
        self.removed: set[str] = set()
        self.done = False
        self.exit_code = 0
        self.last_status = 0
        self._view: NetworkView | None = None
        self._stdin: str | None = None  # what the previous command of a pipeline wrote
        self._piped = False  # stdout goes into a pipe, not to the terminal
        # A driver that steps the session with the clock (the web terminal's ShellProcess) sets `streaming`:
        # a program that runs until it ends or is interrupted (ping) then becomes the foreground `job`.
        self.streaming = False
        self.job: _PingJob | None = None
        self._alone = False  # the line being run is one simple command (no pipe, list or redirection)
        self._build_files()

    # --- the file view ------------------------------------------------------------------------------------
    def _build_files(self) -> None:
        meta = self.pod["metadata"]
        ns = meta.get("namespace", "default")
        hostname = (self.pod.get("spec") or {}).get("hostname") or meta["name"]
        self.files["/etc/hostname"] = hostname + "\n"
        # What the kubelet writes for the pod (dnsPolicy, dnsConfig, hostAliases, subdomain); only the
        # cluster's network settings are needed, not its objects.
        settings = self.simulation if self.simulation is not None else SimpleNamespace(network_config=self.network_config)
        self.files["/etc/hosts"] = dns.etc_hosts(settings, self.pod)
        self.files["/etc/resolv.conf"] = dns.resolv_conf(settings, self.pod)
        self.files["/etc/os-release"] = ALPINE_RELEASE if self.family == "busybox" else DEBIAN_RELEASE
        self.files["/etc/passwd"] = "root:x:0:0:root:/root:/bin/sh\n"
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        self.files[f"{sa}/namespace"] = ns
        self.files[f"{sa}/token"] = "eyJhbGciOiJSUzI1NiIsImtpZCI6Imt1YmVkb2pvIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6" \
                                    + ns + "ZGVmYXVsdCJ9.c2lnbmF0dXJl"
        self.files[f"{sa}/ca.crt"] = "-----BEGIN CERTIFICATE-----\nMIIDBjCCAe6gAwIBAgIBATANBgkqhkiG9w0BAQsFADAVMRMw\n" \
                                     "-----END CERTIFICATE-----\n"
        name = self.image.name if self.image else ""
        if name == "nginx":
            html = self.image.http.get("/", "") if self.image else ""
            self.files["/usr/share/nginx/html/index.html"] = html
            self.files["/usr/share/nginx/html/50x.html"] = "<!DOCTYPE html>\n<html>\n<head>\n<title>Error</title>\n"
            self.files["/etc/nginx/conf.d/default.conf"] = NGINX_CONF
            self.files["/etc/nginx/nginx.conf"] = "user  nginx;\nworker_processes  auto;\n"
        elif name == "httpd":
            self.files["/usr/local/apache2/htdocs/index.html"] = self.image.http.get("/", "") if self.image else ""
        elif name == "node-hello":
            self.files["/server.js"] = ("var http = require('http');\nvar handleRequest = function(request, response) "
                                        "{\n  response.writeHead(200);\n  response.end('Hello Kubernetes!');\n};\n"
                                        "var www = http.createServer(handleRequest);\nwww.listen(8080);\n")
        for d in BASE_DIRS:
            self.dirs.add(d)
        self.dirs.update({"/usr/local", "/usr/local/bin", "/usr/bin", "/var/run", "/var/log", "/root"})
        for mount in self.container.get("volumeMounts") or []:
            self._mount(mount)
        self._replay_layer()

    # --- the container's writable layer, kept on the pod ------------------------------------------------------
    def _lookup(self, kind: str, namespace: str, name: str) -> dict | None:
        try:
            return self.api.get(kind, namespace, name)
        except errors.ApiError:
            return None

    def _replay_layer(self) -> None:
        """Show what earlier sessions and the container's own script changed (engine.kubelet.filesystem keeps it
        on the pod): a file removed in one `kubectl exec` is gone in the next, as it is for probes and the app."""
        fs = filesystem.container_fs(self.pod, self.container.get("name", ""), self._lookup)
        if fs is None:
            return
        for change in fs.changes:
            if change.at > self.now + 1e-9:
                break
            if change.op == "rm":
                self._forget(change.path)
            elif change.op == "mkdir":
                self.dirs.add(change.path)
                self.removed.discard(change.path)
            else:
                old = self.files.get(change.path, "") if change.path not in self.removed else ""
                self.files[change.path] = (old if change.op == "append" else "") + change.content
                self.removed.discard(change.path)

    def _forget(self, path: str) -> None:
        self.removed.add(path)
        prefix = path.rstrip("/") + "/"
        for f in list(self.files) + list(self.dirs):
            if f.startswith(prefix):
                self.removed.add(f)

    def _persist(self, op: str, path: str, content: str = "") -> str:
        """Record a change on the pod so the app and the kubelet's probes see it (nginx answers 403 once its
        index.html is gone). Returns why it was refused ("Read-only file system"), or ""."""
        meta = self.pod["metadata"]
        namespace, name, container = meta.get("namespace", "default"), meta["name"], self.container.get("name", "")
        try:
            current = self.api.get("Pod", namespace, name)
            if op == "rm":
                annotations = filesystem.remove(current, container, path, self.now, self._lookup)
            elif op == "mkdir":
                annotations = filesystem.mkdir(current, container, path, self.now, self._lookup)
            else:
                annotations = filesystem.write(current, container, path, content, self.now, op == "append",
                                               self._lookup)
        except filesystem.FilesystemError as exc:
            return str(exc)
        except errors.ApiError:
            return ""  # the pod is going away: nothing to keep the change on
        try:
            stored = self.api.patch("Pod", namespace, name, {"metadata": {"annotations": annotations}},
                                    "application/merge-patch+json")
        except errors.ApiError:
            return ""
        self.pod = stored
        cache = getattr(self.simulation, "cache", None)
        if cache is not None:
            cache.observe(stored)  # the next request in this session already sees it, as the kernel would
        return ""

    def _mount(self, mount: dict) -> None:
        path = mount.get("mountPath", "")
        volume = next((v for v in (self.pod.get("spec") or {}).get("volumes") or []
                       if v.get("name") == mount.get("name")), None)
        self.dirs.add(path)
        if not mount.get("subPath"):  # a volume mounted over a directory hides what the image has there
            prefix = path.rstrip("/") + "/"
            for hidden in [f for f in self.files if f.startswith(prefix)]:
                del self.files[hidden]
        if volume is None:
            return
        ns = self.pod["metadata"].get("namespace", "default")
        source = volume.get("configMap") or volume.get("secret")
        if source is None:
            if "projected" in volume or "downwardAPI" in volume:  # files as the kubelet writes them
                for rel, content in filesystem.projected_files(self.pod, volume, self._lookup):
                    self.files[posixpath.join(path, rel)] = content
            return
        kind = "ConfigMap" if "configMap" in volume else "Secret"
        name = source.get("name") or source.get("secretName", "")
        try:
            obj = self.api.get(kind, ns, name)
        except errors.ApiError:
            return
        data = cinfo._data(obj)
        if kind == "ConfigMap":
            for key, value in (obj.get("binaryData") or {}).items():
                data[key] = base64.b64decode(value).decode("utf-8", "replace")
        items = source.get("items")
        if items:
            data = {i.get("path", i.get("key")): data.get(i.get("key"), "") for i in items if i.get("key") in data}
        sub = mount.get("subPath")
        if sub:
            if sub in data:
                self.files[path] = data[sub]
            return
        for key, value in data.items():
            self.files[posixpath.join(path, key)] = value

    def _abs(self, path: str) -> str:
        if path.startswith("~"):
            path = "/root" + path[1:]
        return posixpath.normpath(posixpath.join(self.cwd, path))

    def _is_dir(self, path: str) -> bool:
        if path == "/":
            return True
        if path in self.removed:
            return False
        if path in self.dirs:
            return True
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) and p not in self.removed for p in list(self.files) + list(self.dirs))

    def _exists(self, path: str) -> bool:
        return (path in self.files and path not in self.removed) or self._is_dir(path)

    def _children(self, path: str) -> list[str]:
        prefix = "/" if path == "/" else path.rstrip("/") + "/"
        names = set()
        for p in list(self.files) + list(self.dirs):
            if p in self.removed or not p.startswith(prefix) or p == path:
                continue
            rest = p[len(prefix):]
            if rest:
                names.add(rest.split("/")[0])
        return sorted(names)

    # --- the prompt --------------------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        if self.family == "busybox":
            return f"{self.cwd} # "
        if self.shell == "bash":
            return f"root@{self.pod['metadata']['name']}:{self.cwd}# "
        return "# "

    def tools(self) -> set[str]:
        base = set(BUSYBOX_TOOLS if self.family == "busybox" else DEBIAN_TOOLS)
        if self.image is not None:
            base |= IMAGE_EXTRA_TOOLS.get(self.image.name, set())
        return base

    def has_shell(self, name: str) -> bool:
        if self.image is not None and self.image.name in NOT_SHELL_IMAGES:
            return False
        if name in ("sh", "/bin/sh"):
            return True
        if name in ("bash", "/bin/bash"):
            return self.family == "debian"
        if name in ("ash", "/bin/ash"):
            return self.family == "busybox"
        return False

    # --- running ---------------------------------------------------------------------------------------
    def run_argv(self, argv: list[str]) -> tuple[str, str, int]:
        """Run one command as exec does (no shell parsing of the words)."""
        return self._command(argv, "")

    def run_line(self, line: str) -> tuple[str, str, int]:
        self._alone = not re.search(r"[|;&<>]", line)
        out: list[str] = []
        err: list[str] = []
        status = 0
        for segment, op in _split_operators(line):
            if op == "&&" and status != 0:
                continue
            if op == "||" and status == 0:
                continue
            stdout, stderr, status = self._run_segment(segment)
            self.last_status = status  # `cmd; echo $?`
            if self.interactive:  # one terminal: each command's output lands in the order written
                out.append(stdout + stderr)
            else:
                out.append(stdout)
                err.append(stderr)
            if self.done:
                break
        self.last_status = status
        return "".join(out), "".join(err), status

    def _expand(self, text: str) -> str:
        def var(m: re.Match) -> str:
            name = m.group(1) or m.group(2)
            if name == "?":
                return str(self.last_status)
            if name == "HOSTNAME":
                return self.env.get("HOSTNAME", "")
            return self.env.get(name, "")

        text = re.sub(r"\$\(hostname\)", self.pod["metadata"]["name"], text)
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*|\?)", var, text)

    def _run_segment(self, segment: str) -> tuple[str, str, int]:
        stages = _split_pipeline(segment)
        if len(stages) == 1:
            return self._run_stage(segment)
        # `wget -O - svc | head -4`: each stage's stdout is the next one's stdin; what the stages write to
        # stderr reaches the terminal directly, ahead of what the last stage prints.
        side: list[str] = []
        data: str | None = None
        out, err, code = "", "", 0
        for index, stage in enumerate(stages):
            last = index == len(stages) - 1
            self._stdin, self._piped = data, not last
            try:
                out, err, code = self._run_stage(stage)
            finally:
                self._stdin, self._piped = None, False
            if not last:
                side.append(err)
                data = out
            if self.done:
                break
        if self.interactive:
            return "".join(side) + out, err, code
        return out, "".join(side) + err, code

    def _run_stage(self, segment: str) -> tuple[str, str, int]:
        segment = segment.strip()
        if not segment or segment.startswith("#"):
            return "", "", 0
        redirect = None
        m = re.match(r"^(.*?)\s*(>>|>)\s*(\S+)\s*$", segment)
        if m and m.group(1).count("'") % 2 == 0 and m.group(1).count('"') % 2 == 0:
            segment, redirect = m.group(1), (m.group(2), m.group(3))
        try:
            words = shlex.split(self._expand(segment))
        except ValueError:
            return "", f"{self._name()}: syntax error: unterminated quoted string\n", 2
        if not words:
            return "", "", 0
        out, err, code = self._command(words, segment)
        if redirect is not None:
            target = self._expand(redirect[1])
            path = self._abs(target)
            if path == "/dev/null":
                return "", err, code
            if path in ("/dev/stdout", "/dev/stderr"):
                return ("", err + out, code) if path == "/dev/stderr" else (out, err, code)
            problem = self._persist("append" if redirect[0] == ">>" else "write", path, out)
            if problem:
                return "", err + f"{self._name()}: can't create {target}: {problem}\n", 1
            if redirect[0] == ">>":
                self.files[path] = self.files.get(path, "") + out
            else:
                self.files[path] = out
            self.removed.discard(path)
            out = ""
        return out, err, code

    def _name(self) -> str:
        return "sh" if self.shell in ("sh", "ash") or self.family == "busybox" else self.shell

    def _not_found(self, word: str) -> tuple[str, str, int]:
        if self.family == "busybox":
            return "", f"sh: {word}: not found\n", 127
        if self.shell == "bash":
            return "", f"bash: {word}: command not found\n", 127
        return "", f"sh: 1: {word}: not found\n", 127

    def _command(self, words: list[str], raw: str) -> tuple[str, str, int]:
        cmd, args = words[0], words[1:]
        base = posixpath.basename(cmd)
        if "=" in cmd and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", cmd) and not args:
            key, _, value = cmd.partition("=")
            self._set_env(key, value)
            return "", "", 0
        if base in ("exit", "logout"):
            self.done = True
            self.exit_code = int(args[0]) if args and args[0].isdigit() else self.last_status
            return "", "", self.exit_code
        if base == "cd":
            target = self._abs(args[0] if args else "/root")
            if not self._is_dir(target):
                msg = f"sh: cd: can't cd to {args[0]}: No such file or directory\n" if self.family == "busybox" \
                    else f"sh: 1: cd: can't cd to {args[0]}\n"
                return "", msg, 2 if self.family != "busybox" else 1
            self.cwd = target
            return "", "", 0
        if base == "export":
            for item in args:
                key, _, value = item.partition("=")
                self._set_env(key, value)
            return "", "", 0
        if base == "unset":
            for key in args:
                self.env.pop(key, None)
            return "", "", 0
        if base not in self.tools() and base not in ("echo", "pwd", "true", "false", "test", "["):
            return self._not_found(cmd)
        handler = getattr(self, "_cmd_" + base.replace("-", "_"), None)
        if handler is None:
            return "", "", 0
        return handler(args)

    def _set_env(self, key: str, value: str) -> None:
        if key not in self.env:
            self.env_order.append(key)
        self.env[key] = value

    # --- commands -----------------------------------------------------------------------------------------
    def _cmd_echo(self, args):
        newline, escapes = True, False
        options = self.family == "busybox" or self._name() == "bash"
        if not options:  # dash: only -n, and backslash escapes always apply
            if args and args[0] == "-n":
                newline, args = False, args[1:]
            escapes = True
        while options and args and re.fullmatch(r"-[neE]+", args[0]):
            newline = newline and "n" not in args[0]
            escapes = ("e" in args[0] and "E" not in args[0]) or (escapes and "E" not in args[0])
            args = args[1:]
        text = " ".join(args)
        if escapes:  # echo -e: backslash escapes (\c stops the output there)
            text, stop, _ = text.partition("\\c")
            text = re.sub(r"\\(0[0-7]{0,3}|[abefnrtv\\])", _echo_escape, text)
            if stop:
                newline = False
        return text + ("\n" if newline else ""), "", 0

    def _cmd_pwd(self, args):
        return self.cwd + "\n", "", 0

    def _cmd_true(self, args):
        return "", "", 0

    def _cmd_false(self, args):
        return "", "", 1

    def _cmd_clear(self, args):
        return "\x1b[H\x1b[2J", "", 0

    def _cmd_hostname(self, args):
        if args and args[0] == "-i":
            return (self.pod.get("status") or {}).get("podIP", "") + "\n", "", 0
        return self.pod["metadata"]["name"] + "\n", "", 0

    def _cmd_whoami(self, args):
        uid = filesystem.identity(self.pod, self.container).uid
        if uid == 0:
            return "root\n", "", 0
        if self.family == "busybox":
            return "", f"whoami: unknown uid {uid}\n", 1
        return "", f"whoami: cannot find name for user ID {uid}\n", 1

    def _cmd_id(self, args):
        who = filesystem.identity(self.pod, self.container)  # runAsUser, runAsGroup, fsGroup, supplementalGroups

        def named(n: int) -> str:  # only root has a name in the image's /etc/passwd and /etc/group
            return "0(root)" if n == 0 else str(n)

        if who.uid == 0 and who.gid == 0:
            base = ("0(root),1(bin),2(daemon),3(sys),4(adm),6(disk),10(wheel),11(floppy),20(dialout),26(tape),"
                    "27(video)" if self.family == "busybox" else "0(root)")
            groups = ",".join([base] + [named(g) for g in who.groups if g != 0])
            return f"uid=0(root) gid=0(root) groups={groups}\n", "", 0
        groups = ",".join(named(g) for g in sorted(set(who.groups) | {who.gid}))
        return f"uid={named(who.uid)} gid={named(who.gid)} groups={groups}\n", "", 0

    def _cmd_sleep(self, args):
        return "", "", 0

    def _cmd_date(self, args):
        return datetime.fromtimestamp(self.now, tz=UTC).strftime("%a %b %d %H:%M:%S UTC %Y") + "\n", "", 0

    def _cmd_uname(self, args):
        if "-a" in args:
            return (f"Linux {self.pod['metadata']['name']} 6.8.0-1015-gcp #17-Ubuntu SMP Mon Sep  2 14:54:06 UTC 2024 "
                    "x86_64 " + ("Linux" if self.family == "busybox" else "GNU/Linux") + "\n"), "", 0
        if "-r" in args:
            return "6.8.0-1015-gcp\n", "", 0
        return "Linux\n", "", 0

    def _cmd_env(self, args):
        return "".join(f"{k}={self.env[k]}\n" for k in self.env_order if k in self.env), "", 0

    def _cmd_printenv(self, args):
        if args:
            values = [self.env[a] for a in args if a in self.env]
            return "".join(v + "\n" for v in values), "", 0 if len(values) == len(args) else 1
        return self._cmd_env(args)

    def _cmd_which(self, args):
        out = []
        for a in args:
            if a in self.tools():
                out.append(("/bin/" if self.family == "busybox" else "/usr/bin/") + a)
        return "".join(o + "\n" for o in out), "", 0 if len(out) == len(args) else 1

    def _cmd_ls(self, args):
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        paths = [a for a in args if not a.startswith("-")] or ["."]
        out, err, code = [], [], 0
        for p in paths:
            path = self._abs(p)
            if not self._exists(path):
                err.append(f"ls: {p}: No such file or directory\n" if self.family == "busybox" else
                           f"ls: cannot access '{p}': No such file or directory\n")
                code = 1 if self.family == "busybox" else 2
                continue
            if not self._is_dir(path):
                out.append(self._ls_entry(path, p, "l" in flags) + "\n")
                continue
            names = self._children(path)
            if "a" in flags:
                names = [".", ".."] + names
            if len(paths) > 1:
                out.append(f"{p}:\n")
            if "l" in flags:
                out.append(f"total {4 * len(names)}\n")
                for n in names:
                    out.append(self._ls_entry(posixpath.join(path, n), n, True) + "\n")
            elif names:
                out.append("\n".join(names) + "\n" if not self.interactive else "  ".join(names) + "\n")
        return "".join(out), "".join(err), code

    def _ls_entry(self, path: str, shown: str, long: bool) -> str:
        if not long:
            return shown
        when = datetime.fromtimestamp(self.now, tz=UTC)
        stamp = f"{when:%b} {when.day:>2} {when:%H:%M}"
        is_dir = self._is_dir(path)
        # Mode and owners follow the pod's securityContext (fsGroup volumes, runAsUser files).
        attrs = filesystem.attributes(self.pod, self.container, path, is_dir)
        size = 4096 if is_dir else len(self.files.get(path, "").encode())
        return f"{attrs.mode}{attrs.links:>5} {attrs.owner:<8} {attrs.group:<8} {size:>9} {stamp} {shown}"

    def _read(self, p: str, tool: str) -> tuple[str | None, str]:
        if p == "-" and self._stdin is not None:
            return self._stdin, ""
        path = self._abs(p)
        if self._is_dir(path):
            return None, f"{tool}: read error: Is a directory\n" if self.family == "busybox" else \
                f"{tool}: {p}: Is a directory\n"
        if path not in self.files or path in self.removed:
            return None, f"{tool}: can't open '{p}': No such file or directory\n" if self.family == "busybox" else \
                f"{tool}: {p}: No such file or directory\n"
        return self.files[path], ""

    def _from_stdin(self, files: list[str]) -> list[str]:
        """No file operands: read the pipe, as `cmd | head` does."""
        return files if files or self._stdin is None else ["-"]

    def _cmd_cat(self, args):
        out, err, code = [], [], 0
        for p in self._from_stdin(list(args)):
            text, problem = self._read(p, "cat")
            if text is None:
                err.append(problem)
                code = 1
            else:
                out.append(text)
        return "".join(out), "".join(err), code

    def _cmd_head(self, args, tail: bool = False):
        count = 10
        files = []
        i = 0
        while i < len(args):
            if args[i] == "-n" and i + 1 < len(args):
                count = int(args[i + 1].lstrip("+-") or 10)
                i += 2
                continue
            if re.match(r"^-\d+$", args[i]):
                count = int(args[i][1:])
            elif args[i] != "-f":
                files.append(args[i])
            i += 1
        out, err = [], []
        for p in self._from_stdin(files):
            text, problem = self._read(p, "tail" if tail else "head")
            if text is None:
                err.append(problem)
                continue
            lines = text.splitlines(keepends=True)
            out.extend(lines[-count:] if tail else lines[:count])
        return "".join(out), "".join(err), 1 if err else 0

    def _cmd_tail(self, args):
        return self._cmd_head(args, tail=True)

    def _cmd_wc(self, args):
        files = [a for a in args if not a.startswith("-")]
        out = []
        for p in self._from_stdin(files):
            text, problem = self._read(p, "wc")
            if text is None:
                return "", problem, 1
            name = "" if p == "-" and not files else f" {p}"
            if "-l" in args:
                out.append(f"{text.count(chr(10))}{name}\n")
            else:
                out.append(f"{text.count(chr(10)):>7} {len(text.split()):>7} {len(text.encode()):>7}{name}\n")
        return "".join(out), "", 0

    def _cmd_grep(self, args):
        opts = [a for a in args if a.startswith("-")]
        rest = [a for a in args if not a.startswith("-")]
        if not rest:
            return "", "Usage: grep [OPTIONS] PATTERN [FILE]...\n", 2
        pattern, files = rest[0], rest[1:]
        flags = re.I if "-i" in opts else 0
        out = []
        for p in self._from_stdin(files):
            text, problem = self._read(p, "grep")
            if text is None:
                return "".join(out), problem, 2
            for line in text.splitlines():
                if bool(re.search(pattern, line, flags)) != ("-v" in opts):
                    out.append((f"{p}:" if len(files) > 1 else "") + line + "\n")
        return "".join(out), "", 0 if out else 1

    def _cmd_test(self, args):
        """test / [: file tests (-e -f -d -s -r -w), string tests (-n -z = !=), integer comparisons, and `!`."""
        negate = False
        while args and args[0] == "!":
            negate, args = not negate, args[1:]
        result = self._test(args)
        if result is None:
            return "", f"{self._name()}: test: syntax error\n" if self.family != "busybox" else "", 2
        return "", "", 0 if result != negate else 1

    def _test(self, args: list[str]) -> bool | None:
        if not args:
            return False
        if len(args) == 1:
            return args[0] != ""
        if len(args) == 2:
            op, operand = args
            path = self._abs(operand) if operand else ""
            checks = {"-e": lambda: bool(operand) and self._exists(path), "-d": lambda: bool(operand) and self._is_dir(path),
                      "-f": lambda: bool(operand) and path in self.files and path not in self.removed,
                      "-s": lambda: bool(self.files.get(path)) and path not in self.removed,
                      "-r": lambda: bool(operand) and self._exists(path), "-w": lambda: bool(operand) and self._exists(path),
                      "-n": lambda: operand != "", "-z": lambda: operand == ""}
            return checks[op]() if op in checks else None
        if len(args) == 3:
            left, op, right = args
            if op in ("=", "=="):
                return left == right
            if op == "!=":
                return left != right
            numeric = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__,
                       "-gt": int.__gt__, "-ge": int.__ge__}
            if op in numeric:
                try:
                    return numeric[op](int(left), int(right))
                except ValueError:
                    return None
        return None

    def _cmd_touch(self, args):
        for p in args:
            path = self._abs(p)
            problem = self._persist("append", path)
            if problem:
                return "", f"touch: {p}: {problem}\n", 1
            self.files.setdefault(path, "")
            self.removed.discard(path)
        return "", "", 0

    def _cmd_mkdir(self, args):
        for p in [a for a in args if not a.startswith("-")]:
            path = self._abs(p)
            if self._exists(path) and "-p" not in args:
                return "", f"mkdir: can't create directory '{p}': File exists\n", 1
            problem = self._persist("mkdir", path)
            if problem:
                return "", f"mkdir: can't create directory '{p}': {problem}\n", 1
            self.dirs.add(path)
            self.removed.discard(path)
        return "", "", 0

    def _cmd_rm(self, args):
        recursive = any(a.startswith("-") and ("r" in a or "R" in a) for a in args)
        force = any(a.startswith("-") and "f" in a for a in args)
        err, code = [], 0
        for p in [a for a in args if not a.startswith("-")]:
            path = self._abs(p)
            if not self._exists(path):
                if not force:
                    err.append(f"rm: can't remove '{p}': No such file or directory\n" if self.family == "busybox"
                               else f"rm: cannot remove '{p}': No such file or directory\n")
                    code = 1
                continue
            if self._is_dir(path) and not recursive:
                err.append(f"rm: '{p}' is a directory\n" if self.family == "busybox"
                           else f"rm: cannot remove '{p}': Is a directory\n")
                code = 1
                continue
            problem = self._persist("rm", path)
            if problem:
                err.append(f"rm: can't remove '{p}': {problem}\n" if self.family == "busybox"
                           else f"rm: cannot remove '{p}': {problem}\n")
                code = 1
                continue
            self._forget(path)
        return "", "".join(err), code

    def _cmd_ps(self, args):
        if self.family != "busybox":
            return self._not_found("ps")
        rows = [(1, "root", self._main_command())]
        pid = 29 if self.image and self.image.name == "nginx" else 7
        if self.image is not None:
            for user, command in self.image.processes[1:]:
                if "{per_cpu}" in command:
                    for _ in range(2):
                        rows.append((pid, user, command.replace("{per_cpu}", "").strip()))
                        pid += 1
                else:
                    rows.append((pid, user, command))
                    pid += 1
        if self.interactive:
            rows.append((pid, "root", self.shell))
            pid += 1
        rows.append((pid, "root", "ps" + ("" if not args else " " + " ".join(args))))
        lines = ["PID   USER     TIME  COMMAND"] + [f"{p:>5} {u:<8} {'0:00':>5} {c}" for p, u, c in rows]
        return "\n".join(lines) + "\n", "", 0

    def _main_command(self) -> str:
        command = list(self.container.get("command") or []) + list(self.container.get("args") or [])
        if self.image is not None and self.image.processes and (
                not command or tuple(command) == self.image.default_args or command[0] == self.image.name):
            # the image's own program (nginx renames its master process)
            return self.image.processes[0][1].replace("{per_cpu}", "").strip()
        if command:
            return " ".join(command)
        if self.image is not None and self.image.processes:
            return self.image.processes[0][1].replace("{per_cpu}", "").strip()
        return "sh"

    def _cmd_df(self, args):
        human = "-h" in args
        if human:
            rows = [("Filesystem", "Size", "Used", "Avail", "Use%", "Mounted on"),
                    ("overlay", "98G", "12G", "82G", "13%", "/"), ("tmpfs", "64M", "0", "64M", "0%", "/dev"),
                    ("shm", "64M", "0", "64M", "0%", "/dev/shm"),
                    ("/dev/root", "98G", "12G", "82G", "13%", "/etc/hosts"),
                    ("tmpfs", "3.8G", "12K", "3.8G", "1%", "/run/secrets/kubernetes.io/serviceaccount")]
            for mount in self.container.get("volumeMounts") or []:
                rows.insert(-1, ("/dev/root", "98G", "12G", "82G", "13%", mount.get("mountPath", "")))
            lines = [f"{r[0]:<16}{r[1]:>7}{r[2]:>6}{r[3]:>6}{r[4]:>5} {r[5]}" for r in rows]
            return "\n".join(lines) + "\n", "", 0
        rows = [("Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted on"),
                ("overlay", "102626232", "12582912", "85824436", "13%", "/"),
                ("tmpfs", "65536", "0", "65536", "0%", "/dev"),
                ("shm", "65536", "0", "65536", "0%", "/dev/shm"),
                ("/dev/root", "102626232", "12582912", "85824436", "13%", "/etc/hosts"),
                ("tmpfs", "3984588", "12", "3984576", "1%", "/run/secrets/kubernetes.io/serviceaccount")]
        lines = [f"{r[0]:<20}{r[1]:>10}{r[2]:>10}{r[3]:>10}{r[4]:>5} {r[5]}" for r in rows]
        return "\n".join(lines) + "\n", "", 0

    def _cmd_base64(self, args):
        files = [a for a in args if not a.startswith("-")]
        if not files:
            return "", "", 0
        text, problem = self._read(files[0], "base64")
        if text is None:
            return "", problem, 1
        if "-d" in args:
            try:
                return base64.b64decode(text).decode("utf-8", "replace"), "", 0
            except ValueError:
                return "", "base64: invalid input\n", 1
        return base64.b64encode(text.encode()).decode() + "\n", "", 0

    def _cmd_kill(self, args):
        return "", "", 0

    def _cmd_sh(self, args):
        if "-c" in args and args.index("-c") + 1 < len(args):
            inner = ShellSession(self.api, self.pod, self.container, self.now, interactive=self.interactive,
                                 shell=self.shell, simulation=self.simulation, network_config=self.network_config)
            inner.cwd, inner.env, inner.env_order = self.cwd, dict(self.env), list(self.env_order)
            inner.files, inner.dirs, inner.removed = self.files, self.dirs, self.removed
            inner._view = self._view
            out, err, code = inner.run_line(args[args.index("-c") + 1])
            return out, err, code
        return "", "", 0

    _cmd_bash = _cmd_sh
    _cmd_ash = _cmd_sh
    _cmd_dash = _cmd_sh

    def _cmd_nginx(self, args):
        if "-v" in args or "-V" in args:
            return "", f"nginx version: nginx/{self.image.version if self.image else ''}\n", 0
        if "-t" in args:
            return "", ("nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"
                        "nginx: configuration file /etc/nginx/nginx.conf test is successful\n"), 0
        return "", "", 0

    # --- networking ---------------------------------------------------------------------------------------------
    def _network(self):
        """The cluster as the network sees it now: the Simulation, or a view of the store kept for the session."""
        if self.simulation is not None:
            return self.simulation
        if self._view is None:
            self._view = NetworkView(self.api.store, self.now, self.network_config)
        else:
            self._view.refresh(self.now)
        return self._view

    def _client_run(self, run: clients.Run, tool: str = "") -> tuple[str, str, int]:
        for path, text in run.files.items():  # `wget URL`, `curl -o FILE URL`
            target = self._abs(path)
            problem = self._persist("write", target, text)
            if problem:  # what each program says when it cannot create its output file
                refusal = {"curl": ("curl: (23) Failure writing output to destination\n", 23),
                           "busybox-wget": (f"wget: can't open '{path}': {problem}\n", 1)}
                message, code = refusal.get(tool, (f"{path}: {problem}\n", 3))
                return run.stdout, run.stderr + message, code
            self.files[target] = text
            self.removed.discard(target)
        return run.stdout, run.stderr, run.code

    def _cmd_nslookup(self, args):
        return self._client_run(clients.nslookup(self._network(), self.pod, args, self.container.get("image", "")))

    def _cmd_wget(self, args):
        def exists(path: str) -> bool:
            return self._exists(self._abs(path))

        busybox = self.family == "busybox"
        wget = clients.busybox_wget if busybox else clients.gnu_wget
        return self._client_run(wget(self._network(), self.pod, args, tty=self._tty(), exists=exists),
                                "busybox-wget" if busybox else "gnu-wget")

    def _cmd_curl(self, args):
        return self._client_run(clients.curl(self._network(), self.pod, args, tty=self._tty()), "curl")

    def _cmd_ip(self, args):
        return interfaces.busybox_ip(self._network(), self._current_pod(), args)

    def _current_pod(self) -> dict:
        """The pod as the network sees it now (its IP and node), else as the session started."""
        meta = self.pod["metadata"]
        current = self._network().cache.get("Pod", meta.get("namespace", "default"), meta["name"])
        return current or self.pod

    def _cmd_nc(self, args):
        run = clients.busybox_nc(self._network(), self.pod, args, self._stdin)
        if self._tty():  # one terminal: "HOST (IP:PORT) open" comes before what the server sent
            return run.stderr + run.stdout, "", run.code
        return run.stdout, run.stderr, run.code

    def _cmd_ping(self, args):
        if self.family != "busybox":
            return self._not_found("ping")
        try:
            ping = icmp.ping(self._network(), self.pod, args, self.now)
        except icmp.PingError as exc:
            return "", exc.message, exc.code
        if self.streaming and self._alone and self.interactive:
            self.job = _PingJob(ping)  # replies appear as the clock runs; Ctrl-C prints the statistics
            return ping.header + ping.lines(-1.0, 0.0), "", 0
        if ping.ends_after() is not None:
            out, code = ping.complete()
            return out, "", code
        # Without -c or -w, ping runs until interrupted, and nothing here streams or interrupts it: it ends
        # just before its second echo request, after the first one's reply (or loss).
        stats, code = ping.statistics(ping.interval - 1e-6)
        return ping.header + ping.lines(-1.0, ping.interval - 1e-6) + stats, "", code

    # --- the foreground program ---------------------------------------------------------------------------------
    def job_step(self, now: float) -> tuple[str, bool]:
        """Run the foreground program (a streaming ping) up to `now`: what it printed, and whether it ended."""
        if self.job is None:
            return "", True
        self.now = now
        out, code = self.job.step(now)
        if code is not None:
            self.job, self.last_status = None, code
        return out, code is not None

    def job_interrupt(self, now: float) -> str:
        """Ctrl-C: the foreground program prints what it prints on SIGINT (ping: its statistics) and ends."""
        if self.job is None:
            return ""
        self.now = max(self.now, now)
        out, code = self.job.interrupt(self.now)
        self.job, self.last_status = None, code
        return out

    def _tty(self) -> bool:
        """Whether the program's stdout and stderr are the terminal (not a pipe, not kubectl exec without -t)."""
        return self.interactive and not self._piped


def _echo_escape(m: re.Match) -> str:
    code = m.group(1)
    if code[0] == "0":
        return chr(int(code[1:] or "0", 8))
    return {"a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\"}[code]


class _PingJob:
    """A ping in the foreground of a streaming terminal: one echo per second of virtual time."""

    def __init__(self, ping: icmp.Ping):
        self.ping = ping
        self.shown = 0.0  # seconds after the start up to which the replies are printed

    def step(self, now: float) -> tuple[str, int | None]:
        ping = self.ping
        elapsed = now - ping.start
        ends = ping.ends_after()
        if ends is not None and elapsed + 1e-9 >= ends:
            stats, code = ping.statistics(ends)
            return ping.lines(self.shown, ends) + stats, code
        out = ping.lines(self.shown, elapsed)
        self.shown = max(self.shown, elapsed)
        return out, None

    def interrupt(self, now: float) -> tuple[str, int]:
        ping = self.ping
        elapsed = max(self.shown, now - ping.start)
        ends = ping.ends_after()
        if ends is not None:
            elapsed = min(elapsed, ends)
        stats, code = ping.statistics(elapsed)
        return ping.lines(self.shown, elapsed) + stats, code


def _split_pipeline(segment: str) -> list[str]:
    """Split a command at | outside quotes (|| is split off before, by _split_operators)."""
    stages: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in segment:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "|":
            stages.append("".join(current))
            current = []
        else:
            current.append(ch)
    stages.append("".join(current))
    return stages


def _split_operators(line: str) -> list[tuple[str, str]]:
    """Split a line at ;, && and || outside quotes: (segment, operator before it)."""
    parts: list[tuple[str, str]] = []
    current: list[str] = []
    quote = ""
    op = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif line.startswith("&&", i) or line.startswith("||", i):
            parts.append(("".join(current), op))
            op = line[i:i + 2]
            current = []
            i += 2
            continue
        elif ch == ";":
            parts.append(("".join(current), op))
            op = ";"
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append(("".join(current), op))
    return parts
