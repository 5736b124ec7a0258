"""The Kubernetes API of every cluster, under /k8s/<access_key>/, and the kubeconfig download.

kubectl keeps the server URL's path on every request, so a kubeconfig whose
server is `http://host:8000/k8s/<access_key>` reaches exactly that cluster. Over
plain HTTP kubectl sends no credentials at all: the unguessable key is the
credential. Anything else under /k8s/ is a 404 Status.
"""

from django.urls import path, re_path

from cluster.api import discovery, kubeconfig, openapi, resources

K = "k8s/<str:key>/"

urlpatterns = [
    path(K + "version", discovery.version),
    path(K + "version/", discovery.version),
    path(K + "api", discovery.core_root),
    path(K + "apis", discovery.groups_root),
    path(K + "api/<path:rest>", resources.core),
    path(K + "apis/<path:rest>", resources.grouped),
    path(K + "openapi/v2", openapi.v2),
    path(K + "openapi/v3", openapi.v3_index),
    path(K + "openapi/v3/", openapi.v3_index),
    path(K + "openapi/v3/<path:path>", openapi.v3_document),
    re_path(r"^k8s/(?P<key>[^/]+)/(?P<check>healthz|livez|readyz)(?:/.*)?$", resources.health),
    re_path(r"^k8s/(?P<key>[^/]+)(?:/(?P<rest>.*))?$", resources.unknown),
    re_path(r"^k8s/?$", resources.unknown),
    # `kubectl proxy` drops the server URL's path unless told to keep it: say so instead of a bare 404.
    re_path(r"^(?P<rest>apis?(?:/.*)?)$", resources.outside_prefix),
    path("clusters/<slug:name>/kubeconfig", kubeconfig.download, name="cluster-kubeconfig"),
]
