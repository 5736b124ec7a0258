"""`services/<name>/proxy/<path>` and `pods/<name>/proxy/<path>`: what `kubectl proxy` users curl.

The answer comes from the simulated image catalog: a ready endpoint pod is
picked, the container listening on the target port is found, and the page its
image serves at that path is returned (`Hello Kubernetes!` for node-hello,
nginx's welcome page...). Failures are worded as kube-apiserver's proxy words
them: no ready endpoint is a 503 `no endpoints available for service "x"`,
nothing listening is a 503 `connection refused`. Honest limits: only GET and
HEAD, no traffic accounting (the network simulation owns that), no node proxy.
"""

from __future__ import annotations

import random

from django.http import HttpResponse

from engine import errors, labels

NOT_FOUND_PAGE = "404 page not found\n"


def _unavailable(message: str) -> errors.ApiError:
    return errors.ApiError(503, "ServiceUnavailable", message)


def _split_target(name: str) -> tuple[str, str, str]:
    """`[scheme:]name[:port]` as the proxy path allows it."""
    parts = name.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "", name, ""


def _ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp") or status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _container_for_port(pod: dict, port) -> tuple[dict | None, int | None]:
    """The container and numeric port a target port (number or name) reaches."""
    containers = (pod.get("spec") or {}).get("containers") or []
    for container in containers:
        for declared in container.get("ports") or []:
            if port in (declared.get("name"), declared.get("containerPort")):
                return container, declared.get("containerPort")
    if isinstance(port, int):
        from engine.kubelet import images

        for container in containers:
            image = images.lookup(container.get("image", ""))
            if image is not None and port in image.ports:
                return container, port
        return (containers[0] if containers else None), port
    return None, None


def _serve(pod: dict, port, path: str, method: str) -> HttpResponse:
    from engine.kubelet import images

    ip = (pod.get("status") or {}).get("podIP", "")
    container, number = _container_for_port(pod, port)
    if container is None or number is None:
        raise _unavailable(f"error trying to reach service: port {port} is not exposed by pod "
                           f"\"{pod['metadata']['name']}\"")
    image = images.lookup(container.get("image", ""))
    if image is None or number not in image.ports:
        raise _unavailable(f"error trying to reach service: dial tcp {ip}:{number}: connect: connection refused")
    if method not in ("GET", "HEAD"):
        return HttpResponse(b"405 method not allowed\n", status=405, content_type="text/plain; charset=utf-8")
    body = image.http.get(path or "/")
    if body is None:
        return HttpResponse(NOT_FOUND_PAGE.encode(), status=404, content_type="text/plain; charset=utf-8")
    kind = "text/html" if body.lstrip().startswith("<") else "text/plain"
    return HttpResponse(body.encode(), content_type=f"{kind}; charset=utf-8")


def handle(request, req, path: str) -> HttpResponse:
    api = req.target.api()
    _scheme, name, port_text = _split_target(req.name)
    if req.info.kind == "Pod":
        pod = api.get("Pod", req.namespace, name)
        port: int | str = int(port_text) if port_text.isdigit() else (port_text or 80)
        if not _ready(pod) and (pod.get("status") or {}).get("phase") != "Running":
            raise _unavailable(f"pod {name} is not running")
        return _serve(pod, port, path, request.method)
    if req.info.kind == "Service":
        svc = api.get("Service", req.namespace, name)
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        chosen = ports[0] if ports else None
        if port_text:
            chosen = next((p for p in ports if port_text in (p.get("name"), str(p.get("port")))), None)
            if chosen is None:
                raise _unavailable(f"no endpoints available for service \"{name}\"")
        selector = spec.get("selector") or {}
        pods = []
        if chosen is not None and selector:
            listed, _ = api.store.list("Pod", req.namespace)
            match = labels.parse(",".join(f"{k}={v}" for k, v in sorted(selector.items())))
            pods = [p for p in listed if match.matches(p["metadata"].get("labels")) and _ready(p)]
        if not pods:
            raise _unavailable(f"no endpoints available for service \"{name}\"")
        target = chosen.get("targetPort", chosen.get("port"))
        return _serve(random.choice(pods), target, path, request.method)
    api.get(req.info.kind, req.namespace, name)  # a missing node is a 404, as anywhere
    raise _unavailable(f"proxying to {req.info.plural} is not simulated")
