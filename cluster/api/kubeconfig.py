"""Kubeconfigs for the real kubectl: `manage.py kubeconfig` and the page's download link.

The server is `<base>/k8s/<access_key>`: over plain HTTP kubectl sends no
credentials, so the unguessable key in the path is what admits it. The user
entry also carries a bearer token (`Cluster.issue_token()`) for when the API is
served over HTTPS (`manage.py serve --tls-port`), where kubectl does send it and
the server requires it (cluster.api.auth); an `https://` server also gets the
CA (cluster.api.tls). Issuing a token replaces the previous one.
"""

from __future__ import annotations

import ipaddress
import os

import yaml
from django.conf import settings
from django.http import Http404, HttpResponse

DEFAULT_PORT = "8000"


def entry_name(cluster) -> str:
    return f"kubedojo-{cluster.name}"


def default_base_url() -> str:
    """KUBEDOJO_PUBLIC_URL if set, else the address `make run` serves on."""
    public = getattr(settings, "KUBEDOJO_PUBLIC_URL", "") or os.environ.get("KUBEDOJO_PUBLIC_URL", "")
    if public:
        return public
    return f"http://127.0.0.1:{os.environ.get('PORT') or DEFAULT_PORT}"


def server_url(cluster, base: str | None = None) -> str:
    base = (base or default_base_url()).rstrip("/")
    if "/k8s/" in base:
        return base  # already a cluster's API URL
    return f"{base}/k8s/{cluster.access_key}"


def kubeconfig(cluster, server: str, token: str | None = None, namespace: str = "default") -> dict:
    name = entry_name(cluster)
    user: dict = {"token": token} if token else {}
    entry: dict = {"server": server}
    if server.startswith("https://"):
        from cluster.api import tls

        entry["certificate-authority-data"] = tls.ensure().ca_data()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": entry}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
        "users": [{"name": name, "user": user}],
        "preferences": {},
    }


def kubeconfig_yaml(cluster, server: str, token: str | None = None, namespace: str = "default") -> str:
    header = (f"# KubeDojo cluster {cluster.name!r}: save as ~/.kube/config (or pass --kubeconfig FILE).\n"
              "# The URL is this cluster's key: share it only with whoever may use the cluster.\n")
    return header + yaml.safe_dump(kubeconfig(cluster, server, token, namespace), sort_keys=False,
                                   default_flow_style=False)


# --- the download -----------------------------------------------------------------------------------------

SESSION_KEY = "kubedojo_clusters"  # cluster names (or pks) this browser session may use, set by the frontend


def _is_loopback(request) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def may_download(request, cluster) -> bool:
    """Staff; a session the frontend admitted to this cluster; or the demo cluster from this machine."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    session = getattr(request, "session", None)
    allowed = session.get(SESSION_KEY, []) if session is not None else []
    if cluster.name in allowed or cluster.pk in allowed:
        return True
    return cluster.name == settings.KUBEDOJO_DEMO_CLUSTER and _is_loopback(request)


def download(request, name: str):
    """GET /clusters/<name>/kubeconfig: the file, for whoever may use the cluster (404 for anyone else)."""
    from cluster.models import Cluster

    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None or request.method not in ("GET", "HEAD") or not may_download(request, cluster):
        raise Http404("no such cluster")
    public = getattr(settings, "KUBEDOJO_PUBLIC_URL", "")
    base = public or request.build_absolute_uri("/").rstrip("/")
    text = kubeconfig_yaml(cluster, server_url(cluster, base), cluster.issue_token())
    response = HttpResponse(text.encode(), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kubeconfig-{cluster.name}.yaml"'
    response["Cache-Control"] = "no-store"
    return response
