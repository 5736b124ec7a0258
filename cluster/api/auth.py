"""Who may use a cluster's API.

Over plain HTTP kubectl sends no credentials at all, so there the unguessable key in the path
(`/k8s/<key>/`) is the credential. Over HTTPS kubectl sends the kubeconfig's bearer token, and it must
be this cluster's: no token or an unknown one is 401 Unauthorized (kubectl: "You must be logged in to
the server"), another seat's token 403 Forbidden, as kube-apiserver's authenticator and authorizer answer.
"""

from __future__ import annotations

from engine import errors


def bearer(authorization: str) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def unauthorized() -> errors.ApiError:
    return errors.ApiError(401, "Unauthorized", "Unauthorized")


def _discovery(rel: str) -> bool:
    """What every authenticated user may read (the system:discovery and public-info-viewer roles)."""
    parts = [p for p in rel.split("/") if p]
    if not parts or parts[0] in ("version", "openapi", "healthz", "livez", "readyz"):
        return True
    return (parts[0] == "api" and len(parts) <= 2) or (parts[0] == "apis" and len(parts) <= 3)


def forbidden(user: str, method: str, rel: str, query: str = "") -> errors.ApiError:
    """kube-apiserver's RBAC denial, worded for the request: verb, resource, group, namespace."""
    parts = [p for p in rel.split("/") if p]
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    namespace = ""
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    resource = plural + ("/" + rest[2] if len(rest) > 2 else "")
    watching = "watch=1" in query or "watch=true" in query
    verb = {"GET": "watch" if watching else ("get" if name else "list"), "HEAD": "get" if name else "list",
            "POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    subject = f'{plural} "{name}"' if name else plural
    return errors.ApiError(403, "Forbidden",
                           f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
                           f'"{group}" {where}', name=name, group=group, kind=plural)


def check(key: str, *, secure: bool, authorization: str, path: str, method: str = "GET", query: str = "") -> None:
    """Raise the 401/403 kube-apiserver would give; over HTTP the path key alone admits."""
    if not secure:
        return
    from cluster.models import Cluster, _hash_token

    token = bearer(authorization)
    if not token:
        raise unauthorized()
    owner = Cluster.objects.filter(token_hash=_hash_token(token)).only("name", "access_key").first()
    if owner is None:
        raise unauthorized()
    if owner.access_key != key:
        # Another seat's token: it may read discovery, as any authenticated user may, and nothing else.
        rel = path.split(f"/k8s/{key}", 1)[-1]
        if _discovery(rel):
            return
        user = f"kubedojo:{owner.name}"
        if rel.strip("/").split("/")[0] in ("api", "apis"):
            raise forbidden(user, method, rel, query)
        raise errors.ApiError(403, "Forbidden", f'forbidden: User "{user}" cannot {method.lower()} path "{rel}"')


def check_request(request, key: str) -> None:
    check(key, secure=request.is_secure(), authorization=request.headers.get("Authorization", ""),
          path=request.path, method=request.method, query=request.META.get("QUERY_STRING", ""))


def check_scope(scope: dict, key: str) -> None:
    """The same for a WebSocket (exec, attach, port-forward)."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    check(key, secure=scope.get("scheme") in ("wss", "https"), authorization=headers.get("authorization", ""),
          path=scope.get("path", ""), method="GET")
