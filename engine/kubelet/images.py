"""The simulated container images: what each one listens on, serves, logs, runs and does over time.

Nothing runs for real: an image is data. The kubelet reads `behaviour` to know
whether a container keeps running, exits, crashes or leaks memory until it is
OOMKilled; the network layer reads `ports` and `http`; `kubectl logs` and
`kubectl exec ps` read `logs` and `processes`. An image not in the catalog
cannot be pulled (ErrImagePull, then ImagePullBackOff), as on a real node.

Look images up with `lookup("docker.io/library/nginx:1.25")`; names are
normalised the way containerd does (`nginx` -> `docker.io/library/nginx:latest`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MB = 1000 * 1000
DEFAULT_REGISTRY = "docker.io"

NGINX_WELCOME = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""

HTTPD_IT_WORKS = "<html><body><h1>It works!</h1></body></html>\n"

# `{time}` is filled with the container's start time in the image's own log format.
NGINX_LOGS = (
    "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
    "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
    "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of /etc/nginx/conf.d/default.conf",
    "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in /etc/nginx/conf.d/default.conf",
    "/docker-entrypoint.sh: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
    "/docker-entrypoint.sh: Configuration complete; ready for start up",
    "{time} [notice] 1#1: using the \"epoll\" event method",
    "{time} [notice] 1#1: nginx/{version}",
    "{time} [notice] 1#1: built by gcc 12.2.0 (Debian 12.2.0-14) ",
    "{time} [notice] 1#1: OS: Linux 6.8.0-1015-gcp",
    "{time} [notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576",
    "{time} [notice] 1#1: start worker processes",
    "{time} [notice] 1#1: start worker process 29",
    "{time} [notice] 1#1: start worker process 30",
)

HTTPD_LOGS = (
    "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using {ip}. "
    "Set the 'ServerName' directive globally to suppress this message",
    "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using {ip}. "
    "Set the 'ServerName' directive globally to suppress this message",
    "[{time}] [mpm_event:notice] [pid 1:tid 1] AH00489: Apache/2.4.62 (Unix) configured -- resuming normal operations",
    "[{time}] [core:notice] [pid 1:tid 1] AH00094: Command line: 'httpd -D FOREGROUND'",
)

REDIS_LOGS = (
    "1:C {time} * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
    "1:C {time} * Redis version=7.4.1, bits=64, commit=00000000, modified=0, pid=1, just started",
    "1:C {time} # Warning: no config file specified, using the default config. In order to specify a config file "
    "use redis-server /path/to/redis.conf",
    "1:M {time} * monotonic clock: POSIX clock_gettime",
    "1:M {time} * Running mode=standalone, port=6379.",
    "1:M {time} * Server initialized",
    "1:M {time} * Ready to accept connections tcp",
)


@dataclass(frozen=True)
class Behaviour:
    """What a container does once started.

    kind: "runs" (until stopped), "exits" (with `exit_code` after `after` seconds),
    "oom" (memory grows by `leak_bytes_per_second` until the limit: OOMKilled).
    """

    kind: str = "runs"
    after: float = 0.0
    exit_code: int = 0
    leak_bytes_per_second: int = 0
    message: str = ""  # what it prints before exiting (kubectl logs)


RUNS = Behaviour()


@dataclass(frozen=True)
class Image:
    repository: str  # as normalised: docker.io/library/nginx
    size_bytes: int
    ports: tuple[int, ...] = ()
    http: dict[str, str] = field(default_factory=dict)  # path -> body served on the HTTP ports
    http_ports: tuple[int, ...] | None = None  # ports that answer HTTP; None: the first of `ports`
    logs: tuple[str, ...] = ()
    request_log: str = ""  # a line logged per HTTP request, `{path}` filled in
    processes: tuple[tuple[str, str], ...] = ()  # (user, command); "{per_cpu}" marks one line per CPU
    start_seconds: float = 0.3  # from Started to serving
    stop_seconds: float | None = 1.0  # SIGTERM to exit; None: ignores SIGTERM (killed at the grace period)
    cpu_millis: int = 1
    memory_bytes: int = 5 * MB
    behaviour: Behaviour = RUNS
    shell: bool = False  # has /bin/sh, so `command: ["sh", "-c", ...]` means something
    required_env: tuple[tuple[str, ...], str] | None = None  # (any of these names, error printed if none set)
    version: str = ""
    pull_seconds: float | None = None  # overrides the size-based estimate (slow registries)
    default_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    def speaks_http(self, port: int) -> bool:
        if not self.http or not self.ports:
            return False
        return port in (self.http_ports if self.http_ports is not None else self.ports[:1])

    def realistic_pull_seconds(self) -> float:
        """About 1 s of registry round trips plus the layers at ~20 MB/s."""
        if self.pull_seconds is not None:
            return self.pull_seconds
        return round(1.0 + self.size_bytes / (20 * MB), 1)


CATALOG: dict[str, Image] = {}


def _add(image: Image, *aliases: str) -> None:
    CATALOG[image.repository] = image
    for alias in aliases:
        CATALOG[alias] = image


_add(Image("docker.io/library/nginx", 72_200_000, ports=(80,), http={"/": NGINX_WELCOME}, logs=NGINX_LOGS,
           request_log='{client} - - [{time}] "GET {path} HTTP/1.1" 200 615 "-" "curl/8.5.0" "-"',
           processes=(("root", "nginx: master process nginx -g daemon off;"),
                      ("nginx", "nginx: worker process {per_cpu}")),
           start_seconds=0.2, stop_seconds=0.8, cpu_millis=1, memory_bytes=3 * MB, version="1.27.3",
           default_args=("nginx", "-g", "daemon off;")))
_add(Image("docker.io/library/httpd", 58_500_000, ports=(80,), http={"/": HTTPD_IT_WORKS}, logs=HTTPD_LOGS,
           processes=(("root", "httpd -DFOREGROUND"), ("www-data", "httpd -DFOREGROUND {per_cpu}")),
           start_seconds=0.3, stop_seconds=1.0, memory_bytes=8 * MB, version="2.4.62"))
_add(Image("gcr.io/google-samples/node-hello", 262_000_000, ports=(8080,), http={"/": "Hello Kubernetes!"},
           request_log="Received request for URL: {path}", processes=(("root", "node server.js"),),
           start_seconds=0.5, stop_seconds=None, cpu_millis=1, memory_bytes=11 * MB, pull_seconds=72.0))
_add(Image("docker.io/library/busybox", 2_200_000, processes=(("root", "sh"),), shell=True, stop_seconds=0.1,
           memory_bytes=300_000, behaviour=Behaviour("exits", 0.0, 0), version="1.37.0"))
_add(Image("docker.io/library/alpine", 3_600_000, processes=(("root", "/bin/sh"),), shell=True, stop_seconds=0.1,
           memory_bytes=400_000, behaviour=Behaviour("exits", 0.0, 0), version="3.21.0"))
_add(Image("docker.io/library/redis", 45_000_000, ports=(6379,), logs=REDIS_LOGS,
           processes=(("redis", "redis-server *:6379"),), start_seconds=0.3, stop_seconds=0.5, cpu_millis=3,
           memory_bytes=4 * MB, version="7.4.1"))
_add(Image("docker.io/library/mysql", 170_000_000, ports=(3306, 33060),
           logs=("{time} 0 [Note] [Entrypoint]: Entrypoint script for MySQL Server 9.1.0-1.el9 started.",
                 "{time} 0 [System] [MY-010931] [Server] /usr/sbin/mysqld: ready for connections. Version: '9.1.0'  "
                 "socket: '/var/run/mysqld/mysqld.sock'  port: 3306  MySQL Community Server - GPL."),
           processes=(("mysql", "mysqld"),), start_seconds=8.0, stop_seconds=2.0, cpu_millis=8,
           memory_bytes=380 * MB, version="9.1.0",
           required_env=(("MYSQL_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD"),
                         "{time}+00:00 [ERROR] [Entrypoint]: Database is uninitialized and password option is not "
                         "specified\n    You need to specify one of the following as an environment variable:\n"
                         "    - MYSQL_ROOT_PASSWORD\n    - MYSQL_ALLOW_EMPTY_PASSWORD\n"
                         "    - MYSQL_RANDOM_ROOT_PASSWORD")))
_add(Image("docker.io/library/postgres", 158_000_000, ports=(5432,),
           logs=("PostgreSQL init process complete; ready for start up.",
                 "{time} UTC [1] LOG:  database system is ready to accept connections"),
           processes=(("postgres", "postgres"), ("postgres", "postgres: checkpointer ")), start_seconds=3.0,
           stop_seconds=1.0, cpu_millis=2, memory_bytes=30 * MB, version="17.2",
           required_env=(("POSTGRES_PASSWORD", "POSTGRES_HOST_AUTH_METHOD"),
                         "Error: Database is uninitialized and superuser password is not specified.\n"
                         "       You must specify POSTGRES_PASSWORD to a non-empty value for the\n"
                         "       superuser. For example, \"-e POSTGRES_PASSWORD=password\" on \"docker run\".")))
_add(Image("docker.io/library/php", 190_000_000, ports=(9000,),
           logs=("[{time}] NOTICE: fpm is running, pid 1", "[{time}] NOTICE: ready to handle connections"),
           processes=(("root", "php-fpm: master process (/usr/local/etc/php-fpm.conf)"),
                      ("www-data", "php-fpm: pool www"), ("www-data", "php-fpm: pool www")),
           start_seconds=0.3, stop_seconds=0.5, memory_bytes=12 * MB, version="8.4.1"))
_add(Image("docker.io/kubedojo/crasher", 5_000_000, ports=(8080,), http={"/": "I am about to crash.\n"},
           logs=("starting up...", "listening on :8080"), processes=(("root", "/crasher"),), stop_seconds=0.1,
           behaviour=Behaviour("exits", 5.0, 1, message="panic: something went terribly wrong"), version="1.0"))
_add(Image("docker.io/kubedojo/leaker", 5_000_000, ports=(8080,), http={"/": "I keep everything.\n"},
           logs=("starting up...", "caching every request forever"), processes=(("root", "/leaker"),),
           stop_seconds=0.1, memory_bytes=20 * MB, behaviour=Behaviour("oom", leak_bytes_per_second=4 * 1024 * 1024),
           version="1.0"))

_add(Image("registry.k8s.io/coredns/coredns", 18_000_000, ports=(53, 8080, 8181, 9153),
           http={"/health": "OK", "/ready": "OK"}, http_ports=(8080, 8181, 9153),
           logs=(".:53", "[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c"
                 "0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908",
                 "CoreDNS-1.11.3", "linux/amd64, go1.21.11, a6338e9"),
           processes=(("root", "/coredns -conf /etc/coredns/Corefile"),), start_seconds=0.5, stop_seconds=0.2,
           cpu_millis=2, memory_bytes=14 * MB, version="1.11.3", default_args=("-conf", "/etc/coredns/Corefile")))

# kubernetes.io's "Debugging DNS Resolution" runs this (dnsutils.yaml: `sleep infinity`) for bind's nslookup.
_add(Image("registry.k8s.io/e2e-test-images/jessie-dnsutils", 72_000_000, processes=(("root", "sleep infinity"),),
           shell=True, stop_seconds=None, memory_bytes=1 * MB, behaviour=Behaviour("exits", 0.0, 0), version="1.3"))

# php's tags pick the flavour: php:8-fpm listens on 9000, php:8-apache serves HTTP on 80 (same simulated image).

_REFERENCE = re.compile(r"^(?:(?P<registry>[^/]+\.[^/]+|[^/]+:\d+|localhost)/)?(?P<path>[^:@]+)(?::(?P<tag>[^@]+))?"
                        r"(?:@(?P<digest>sha256:[0-9a-f]+))?$")


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str  # registry/path, e.g. docker.io/library/nginx
    tag: str
    digest: str = ""

    def __str__(self) -> str:
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag}"


_PARSED: dict[str, Reference | None] = {}
_PARSED_MAX = 4096  # distinct references remembered (a cluster uses a few dozen; the bound keeps typos from piling up)


def parse_reference(image: str) -> Reference | None:
    """Parse an image reference the way containerd normalises it; None if it is not a valid reference.

    Memoised per reference string (a Reference is immutable): the kubelet looks images up for every running
    container on every node sync, and a cluster runs few distinct images."""
    try:
        return _PARSED[image]
    except KeyError:
        pass
    except TypeError:  # not hashable: parse it, uncached
        return _parse_reference(image)
    ref = _parse_reference(image)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[image] = ref
    return ref


def _parse_reference(image: str) -> Reference | None:
    match = _REFERENCE.match((image or "").strip())
    if not match or image != image.strip() or any(c.isupper() for c in match.group("path")):
        return None
    registry = match.group("registry") or DEFAULT_REGISTRY
    path = match.group("path")
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    return Reference(registry, f"{registry}/{path}", match.group("tag") or "latest", match.group("digest") or "")


def normalize_reference(image: str) -> str:
    """`nginx` -> `docker.io/library/nginx:latest` (unchanged if it does not parse)."""
    ref = parse_reference(image)
    return str(ref) if ref else image


def lookup(image: str) -> Image | None:
    """The catalog entry for an image reference, whatever its registry prefix, tag or digest."""
    ref = parse_reference(image)
    if ref is None:
        return None
    return CATALOG.get(ref.repository)


def image_digest(repository: str, tag: str = "latest") -> str:
    """A stable fake content digest for an image."""
    return "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()


def image_id(image: str) -> str:
    """What containerStatuses[].imageID shows: `docker.io/library/nginx@sha256:...`."""
    ref = parse_reference(image)
    if ref is None:
        return ""
    return f"{ref.repository}@{ref.digest or image_digest(ref.repository, ref.tag)}"


def node_image_entry(image: str) -> dict | None:
    """The entry a node's status.images gets once the image is pulled."""
    ref = parse_reference(image)
    entry = lookup(image)
    if ref is None or entry is None:
        return None
    return {"names": [f"{ref.repository}@{image_digest(ref.repository, ref.tag)}", str(ref)],
            "sizeBytes": entry.size_bytes}


def pull_error(image: str) -> str:
    """containerd's error for an image that cannot be pulled, as the kubelet reports it (a CRI gRPC error):
    an unknown Docker Hub repository is "pull access denied", a missing tag (or repository elsewhere) "not found"."""
    ref = parse_reference(image)
    if ref is None:
        return f'failed to pull and unpack image "{image}": invalid reference format'
    if ref.registry == DEFAULT_REGISTRY and lookup(image) is None:
        return (f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": failed to resolve '
                f'reference "{ref}": pull access denied, repository does not exist or may require authorization: '
                "server message: insufficient_scope: authorization failed")
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": failed to resolve reference '
            f'"{ref}": {ref}: not found')


# Tags each simulated repository has besides `latest` and its version numbers (any version up to the catalog's
# `version`, optionally with one of the suffixes): `nginx:1.14.2` and `nginx:1.27-alpine` exist,
# `nginx:1.99` and `nginx:doesnotexist` do not.
_TAG_WORDS = {
    "docker.io/library/nginx": ("stable", "mainline", "alpine", "alpine-slim", "perl", "bookworm", "stable-alpine",
                                "mainline-alpine", "stable-perl", "mainline-perl", "alpine-perl"),
    "docker.io/library/httpd": ("alpine", "bookworm"),
    "docker.io/library/busybox": ("stable", "musl", "glibc", "uclibc"),
    "docker.io/library/alpine": ("edge",),
    "docker.io/library/redis": ("alpine", "bookworm"),
    "docker.io/library/mysql": ("lts", "innovation", "oracle", "debian"),
    "docker.io/library/postgres": ("alpine", "bookworm", "bullseye"),
    "docker.io/library/php": ("fpm", "apache", "cli", "zts", "fpm-alpine", "cli-alpine", "alpine"),
    "gcr.io/google-samples/node-hello": ("1.0",),
}
_TAG_SUFFIXES = ("alpine", "alpine-slim", "perl", "bookworm", "bullseye", "slim", "fpm", "apache", "cli", "zts",
                 "fpm-alpine", "cli-alpine", "musl", "glibc", "uclibc", "oracle", "debian")
_VERSION_TAG = re.compile(r"^(\d+(?:\.\d+){0,2})(?:-([a-z0-9.-]+))?$")


def has_tag(image: str) -> bool:
    """Whether the registry has this tag of a catalog image (digests and unknown images are not judged here)."""
    ref = parse_reference(image)
    entry = lookup(image)
    if ref is None or entry is None or ref.digest or ref.tag == "latest":
        return True
    if ref.tag in _TAG_WORDS.get(ref.repository, ()):
        return True
    tag = ref.tag
    if ref.registry != DEFAULT_REGISTRY and tag.startswith("v"):
        tag = tag[1:]  # registry.k8s.io and gcr.io tag releases "v1.11.3"; Docker Hub's official images do not
    match = _VERSION_TAG.match(tag)
    if match is None or not entry.version:
        return False
    suffix = match.group(2)
    if suffix and suffix not in _TAG_SUFFIXES:
        return False
    wanted = tuple(int(part) for part in match.group(1).split("."))
    newest = tuple(int(part) for part in re.findall(r"\d+", entry.version))
    return wanted <= newest[:len(wanted)]


# --- what a container does, given its command ------------------------------------------------------
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)([smhd]?)\b")
_EXIT = re.compile(r"\bexit\s+(\d+)")
_FOREVER = re.compile(r"while\s+(true|:)|sleep\s+infinity|tail\s+-f|--forever|httpd|nginx|redis-server|node\s|"
                      r"python\s+-m\s+http\.server|\bnc\s+-l")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def behaviour_of(container: dict, image: Image) -> Behaviour:
    """What this container will do, from its image and its command/args/env."""
    if image.required_env:
        names, message = image.required_env
        present = {e.get("name") for e in container.get("env") or []}
        if not present.intersection(names) and not container.get("envFrom"):
            return Behaviour("exits", 0.5, 1, message=message)
    command = list(container.get("command") or []) + list(container.get("args") or [])
    if container.get("stdin") and image.shell and len(command) <= 1 and (
            not command or command[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash")):
        return RUNS  # a shell with its stdin held open (`kubectl run -it`) waits for input
    if not command or not image.shell:
        return image.behaviour
    script = " ".join(str(part) for part in command)
    if _FOREVER.search(script):
        return RUNS
    seconds = 0.0
    for amount, unit in _SLEEP.findall(script):
        seconds += float(amount) * _UNITS[unit]
    code = 0
    exits = _EXIT.findall(script)
    if exits:
        code = int(exits[-1])
    elif re.search(r"(^|[;&|\s])false($|[;&|\s])", script):
        code = 1
    return Behaviour("exits", seconds, code)
