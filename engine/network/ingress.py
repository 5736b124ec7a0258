"""A simulated ingress-nginx controller, configured as minikube's ingress addon ships it.

It serves every Ingress whose class is an IngressClass with `spec.controller: k8s.io/ingress-nginx`
(`install_ingress_class` creates minikube's `nginx` class, marked default), whose legacy
`kubernetes.io/ingress.class` annotation says `nginx`, or that names no class at all
(`--watch-ingress-without-class`). It listens on ports 80 and 443 of the control-plane node (hostPort,
as the addon does) and writes that node's address into `status.loadBalancer.ingress` (the ADDRESS of
`kubectl get ingress`), with a `Sync` event on each change.

Routing, as nginx does it: the Host picks the server (exact host, then a `*.domain` wildcard for one
label, then rules without a host); within it the longest matching path wins, an Exact path beating a
Prefix of the same length. Prefix matches whole path elements (`/foo` matches `/foo` and `/foo/bar`,
not `/foobar`); ImplementationSpecific is nginx's plain prefix. No match: an Ingress `defaultBackend`
if one is set, else the controller's 404. The chosen Service's ready endpoints are balanced round
robin, straight to the pods (nginx does not go through the ClusterIP); none: 503. A host listed under
`tls` is redirected from HTTP to HTTPS (308) unless `nginx.ingress.kubernetes.io/ssl-redirect: "false"`;
over HTTPS it presents the Secret's certificate, or the controller's "Kubernetes Ingress Controller
Fake Certificate" when the Secret is missing or not a `kubernetes.io/tls` Secret. With
`nginx.ingress.kubernetes.io/use-regex` or `rewrite-target`, paths are case-insensitive regular
expressions and `rewrite-target` rewrites the upstream path (`/$2`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine import errors
from engine.controllers.base import Controller, Key
from engine.events import NORMAL
from engine.kubelet.nodes import CONTROL_PLANE_LABEL, internal_ip
from engine.network.endpointslices import SERVICE_NAME_LABEL
from engine.network.state import state_of
from engine.store import Change, copy_json

CONTROLLER = "k8s.io/ingress-nginx"
CLASS_NAME = "nginx"
CONTROLLER_NAMESPACE = "ingress-nginx"
CONTROLLER_LABELS = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
SSL_REDIRECT_ANNOTATION = "nginx.ingress.kubernetes.io/ssl-redirect"
REWRITE_ANNOTATION = "nginx.ingress.kubernetes.io/rewrite-target"
USE_REGEX_ANNOTATION = "nginx.ingress.kubernetes.io/use-regex"
FAKE_CERTIFICATE = "Kubernetes Ingress Controller Fake Certificate"
EVENT_SOURCE = "nginx-ingress-controller"


def ingress_class() -> dict:
    """minikube's `nginx` IngressClass (`minikube addons enable ingress`)."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
                         "labels": {"app.kubernetes.io/component": "controller",
                                    "app.kubernetes.io/instance": "ingress-nginx",
                                    "app.kubernetes.io/name": "ingress-nginx"}},
            "spec": {"controller": CONTROLLER}}


def install_ingress_class(api) -> dict:
    """Create the `nginx` IngressClass unless it exists."""
    try:
        return api.get("IngressClass", "", CLASS_NAME)
    except errors.ApiError as exc:
        if exc.code != 404:
            raise
    return api.create(ingress_class())


def is_ours(cache, ing: dict) -> bool:
    spec = ing.get("spec") or {}
    class_name = spec.get("ingressClassName")
    if class_name:
        klass = cache.get("IngressClass", "", class_name)
        return klass is not None and (klass.get("spec") or {}).get("controller") == CONTROLLER
    legacy = (ing["metadata"].get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
    if legacy:
        return legacy == CLASS_NAME
    return True  # --watch-ingress-without-class, as minikube's addon runs it


def installed(cache) -> bool:
    """Whether the controller runs: its IngressClass exists, or some Ingress is there for it to serve."""
    return any((c.get("spec") or {}).get("controller") == CONTROLLER for c in cache.list("IngressClass")) \
        or cache.count("Ingress") > 0


def controller_address(cache) -> str:
    nodes = sorted(cache.list("Node"), key=lambda n: n["metadata"]["name"])
    for node in nodes:
        if CONTROL_PLANE_LABEL in (node["metadata"].get("labels") or {}):
            return internal_ip(node)
    return internal_ip(nodes[0]) if nodes else ""


def our_ingresses(cache) -> list[dict]:
    found = [i for i in cache.list("Ingress") if is_ours(cache, i) and not i["metadata"].get("deletionTimestamp")]
    return sorted(found, key=lambda i: (i["metadata"].get("creationTimestamp", ""), i["metadata"].get("namespace", ""),
                                        i["metadata"]["name"]))


class IngressController(Controller):
    name = "ingress-nginx-controller"
    component = "ingress-nginx"
    primary_kind = "Ingress"

    def __init__(self, sim):
        super().__init__(sim)
        self._synced_generation: dict[tuple[str, str], int] = {}

    def handle(self, change: Change) -> None:
        if change.kind == "Ingress":
            self.enqueue("Ingress", change.namespace, change.name)
        elif change.kind in ("IngressClass", "Node"):
            for ing in self.sim.cache.list("Ingress"):
                self.enqueue_object(ing)

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        ing = self.sim.cache.get("Ingress", namespace, name)
        if ing is None:
            self._synced_generation.pop((namespace, name), None)
            return
        client = self.sim.client(self.component)
        ours = is_ours(self.sim.cache, ing) and not ing["metadata"].get("deletionTimestamp")
        address = controller_address(self.sim.cache) if ours else ""
        wanted = {"ingress": [{"ip": address}]} if address else {}
        generation = int(ing["metadata"].get("generation") or 1)
        if ours and self._synced_generation.get((namespace, name)) != generation:
            self._synced_generation[(namespace, name)] = generation
            self.sim.events.record(ing, NORMAL, "Sync", "Scheduled for sync", EVENT_SOURCE)
        current = (ing.get("status") or {}).get("loadBalancer") or {}
        if current != wanted and (ours or current.get("ingress")):
            status = copy_json(ing.get("status") or {})
            status["loadBalancer"] = wanted
            client.update_status({**ing, "status": status})


# --- routing -------------------------------------------------------------------------------------------
@dataclass
class Route:
    status: int = 0  # 0: proxied to `backend`; else the controller answers this status itself
    ingress: str = ""  # namespace/name of the Ingress whose rule matched
    rule: str = ""  # e.g. "host shop.example.com, path /cart (Prefix)"
    namespace: str = ""
    service: str = ""
    service_port: int | str = ""
    backend: object = None  # state.Backend
    location: str = ""  # redirect target
    certificate: str = ""  # what HTTPS presents
    upstream_path: str = ""
    detail: str = ""


def _host_matches(rule_host: str, host: str) -> bool:
    if rule_host.startswith("*."):
        suffix = rule_host[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and host != suffix[1:]
    return rule_host == host


def _path_match(path_type: str, rule_path: str, path: str, regex: bool = False) -> tuple[bool, int, int]:
    """(matches, length, precedence) for nginx's choice: longer first, Exact before Prefix."""
    rule_path = rule_path or "/"
    if regex and path_type != "Exact":
        # With use-regex or rewrite-target, ingress-nginx writes `location ~* "^<path>"`.
        try:
            return re.match(rule_path, path, re.IGNORECASE) is not None, len(rule_path), 0
        except re.error:
            return False, 0, 0
    if path_type == "Exact":
        return path == rule_path, len(rule_path), 2
    if path_type == "Prefix":
        base = rule_path.rstrip("/") or "/"
        if base == "/":
            return True, 1, 1
        ok = path == base or path.startswith(base + "/")
        return ok, len(base), 1
    return path.startswith(rule_path), len(rule_path), 0


def address_for_host(sim, host: str) -> str:
    """The controller's address if an Ingress of ours names `host` (how the learner's /etc/hosts has it)."""
    host = host.lower().rstrip(".")
    for ing in our_ingresses(sim.cache):
        for rule in (ing.get("spec") or {}).get("rules") or []:
            if rule.get("host") and _host_matches(rule["host"].lower(), host):
                return controller_address(sim.cache)
    return ""


def route(sim, host: str, path: str, scheme: str = "http") -> Route:
    """Where the controller sends `scheme://host/path`."""
    host = (host or "").lower().split(":", 1)[0]
    path_only = (path or "/").split("?", 1)[0] or "/"
    ingresses = our_ingresses(sim.cache)
    servers: list[tuple[int, dict, dict]] = []  # (host precedence, ingress, rule)
    for ing in ingresses:
        for rule in (ing.get("spec") or {}).get("rules") or []:
            rule_host = (rule.get("host") or "").lower()
            if rule_host and rule_host == host:
                servers.append((2, ing, rule))
            elif rule_host and _host_matches(rule_host, host):
                servers.append((1, ing, rule))
            elif not rule_host:
                servers.append((0, ing, rule))
    best_host = max((p for p, _, _ in servers), default=None)
    candidates = [(ing, rule) for p, ing, rule in servers if p == best_host]
    matched = None
    for ing, rule in candidates:
        annotations = ing["metadata"].get("annotations") or {}
        regex = annotations.get(USE_REGEX_ANNOTATION) == "true" or bool(annotations.get(REWRITE_ANNOTATION))
        for rule_path in ((rule.get("http") or {}).get("paths") or []):
            ok, length, precedence = _path_match(rule_path.get("pathType") or "ImplementationSpecific",
                                                 rule_path.get("path") or "/", path_only, regex)
            if ok and (matched is None or (length, precedence) > matched[0]):
                matched = ((length, precedence), ing, rule, rule_path)
    result = Route()
    tls_ing = next((ing for ing, _ in candidates for t in (ing.get("spec") or {}).get("tls") or []
                    if host in [h.lower() for h in t.get("hosts") or []]), None)
    if tls_ing is not None:
        secret_name = next(t.get("secretName") for t in tls_ing["spec"]["tls"]
                           if host in [h.lower() for h in t.get("hosts") or []])
        redirect = (tls_ing["metadata"].get("annotations") or {}).get(SSL_REDIRECT_ANNOTATION, "true") != "false"
        if scheme == "http" and redirect:
            return Route(status=308, ingress=_name(tls_ing), location=f"https://{host}{path or '/'}",
                         detail=f"{host} is listed under tls in Ingress {_name(tls_ing)}: HTTP is redirected "
                                f"to HTTPS")
        secret = sim.cache.get("Secret", tls_ing["metadata"].get("namespace", ""), secret_name or "")
        if secret is not None and secret.get("type") == "kubernetes.io/tls":
            result.certificate = f"secret {tls_ing['metadata'].get('namespace')}/{secret_name}"
        else:
            result.certificate = FAKE_CERTIFICATE
    elif scheme == "https":
        result.certificate = FAKE_CERTIFICATE
    if matched is not None:
        _, ing, rule, rule_path = matched
        backend = rule_path.get("backend") or {}
        result.ingress = _name(ing)
        result.rule = (f"host {rule.get('host') or '*'}, path {rule_path.get('path') or '/'} "
                       f"({rule_path.get('pathType') or 'ImplementationSpecific'})")
        result.upstream_path = _rewrite(ing, rule_path, path or "/")
    else:
        default = next((ing for ing in ingresses if (ing.get("spec") or {}).get("defaultBackend")), None)
        if default is None:
            result.status = 404
            result.detail = f"no Ingress rule matches host {host or '-'} and path {path_only}: the controller's " \
                            f"default backend answers 404"
            return result
        backend = default["spec"]["defaultBackend"]
        result.ingress = _name(default)
        result.rule = "defaultBackend"
        result.upstream_path = path or "/"
    return _pick_backend(sim, result, backend)


def _name(ing: dict) -> str:
    return f"{ing['metadata'].get('namespace', '')}/{ing['metadata']['name']}"


def _rewrite(ing: dict, rule_path: dict, path: str) -> str:
    target = (ing["metadata"].get("annotations") or {}).get(REWRITE_ANNOTATION)
    if not target:
        return path
    pattern = rule_path.get("path") or "/"
    try:
        match = re.match(pattern, path)
    except re.error:
        match = None
    if match is None:
        return target
    return re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "" if int(m.group(1)) <= len(match.groups())
                  else "", target)


def _pick_backend(sim, result: Route, backend: dict) -> Route:
    service = backend.get("service")
    namespace = result.ingress.split("/", 1)[0]
    if not service:
        result.status = 503
        result.detail = "the backend is a resource, not a Service: nothing to proxy to"
        return result
    result.namespace, result.service = namespace, service.get("name", "")
    port = service.get("port") or {}
    result.service_port = port.get("number") or port.get("name") or ""
    svc = sim.cache.get("Service", namespace, result.service)
    if svc is None:
        result.status = 503
        result.detail = f"service {namespace}/{result.service} does not exist"
        return result
    svc_port = next((p for p in (svc.get("spec") or {}).get("ports") or []
                     if p.get("port") == port.get("number") or (port.get("name") and p.get("name") == port.get("name"))),
                    None)
    if svc_port is None:
        result.status = 503
        result.detail = f"service {namespace}/{result.service} has no port {result.service_port}"
        return result
    from engine.network.state import Backend

    ready = []
    for es in sim.cache.list("EndpointSlice", namespace):
        if (es["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) != result.service:
            continue
        number = next((p.get("port") for p in es.get("ports") or [] if (p.get("name") or "") == (svc_port.get("name")
                                                                                                 or "")), None)
        if number is None:
            continue
        for ep in es.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            ref = ep.get("targetRef") or {}
            for ip in ep.get("addresses") or []:
                ready.append(Backend(ip, int(number), node=ep.get("nodeName") or "",
                                     pod=f"{ref.get('namespace', namespace)}/{ref['name']}" if ref.get("name") else ""))
    if not ready:
        result.status = 503
        result.detail = f"service {namespace}/{result.service} has no ready endpoints"
        return result
    ready.sort(key=lambda b: b.key)
    state = state_of(sim)
    upstream = f"{namespace}-{result.service}-{result.service_port}"
    index = state.ingress_rr.get(upstream, 0) % len(ready)
    state.ingress_rr[upstream] = index + 1
    result.backend = ready[index]
    return result
