"""Credentials: over HTTP the path key admits; over HTTPS the seat's bearer token must be this cluster's."""

from __future__ import annotations

import base64

from tests.api.conftest import make_cluster, status_of

PODS = "/api/v1/namespaces/default/pods"


def _get(k8s, path: str, token: str | None = None, secure: bool = True):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return k8s.client.get(k8s.url(path), secure=secure, HTTP_ACCEPT="application/json", **extra)


def test_plain_http_needs_no_token(k8s):
    assert _get(k8s, PODS, secure=False).status_code == 200
    assert _get(k8s, PODS, token="whatever", secure=False).status_code == 200


def test_https_needs_this_clusters_token(k8s):
    token = k8s.cluster.issue_token()
    assert _get(k8s, PODS, token=token).status_code == 200
    for bad in (None, "not-a-token"):
        body = status_of(_get(k8s, PODS, token=bad))
        assert body["code"] == 401 and body["reason"] == "Unauthorized" and body["message"] == "Unauthorized"


def test_another_seats_token_reads_discovery_only(k8s):
    other = make_cluster("other-seat").issue_token()
    assert _get(k8s, "/api", token=other).status_code == 200
    assert _get(k8s, "/version", token=other).status_code == 200
    body = status_of(_get(k8s, PODS, token=other))
    assert body["code"] == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('pods is forbidden: User "kubedojo:other-seat" cannot list resource "pods" in API '
                               'group "" in the namespace "default"')
    body = status_of(_get(k8s, "/apis/apps/v1/namespaces/default/deployments/web/scale", token=other))
    assert body["message"] == ('deployments "web" is forbidden: User "kubedojo:other-seat" cannot get resource '
                               '"deployments/scale" in API group "apps" in the namespace "default"')
    body = status_of(_get(k8s, "/api/v1/nodes?watch=1", token=other))
    assert body["message"].endswith('cannot watch resource "nodes" in API group "" at the cluster scope')


def test_https_kubeconfig_carries_a_ca_that_signed_the_server_certificate(cluster, tmp_path, settings):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from cluster.api import tls
    from cluster.api.kubeconfig import kubeconfig

    settings.VAR_DIR = tmp_path
    config = kubeconfig(cluster, "https://127.0.0.1:8443/k8s/key", "token")
    ca_pem = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    certs = tls.ensure()
    assert certs.ca.read_bytes() == ca_pem and tls.ensure() == certs  # made once
    ca = x509.load_pem_x509_certificate(ca_pem)
    server = x509.load_pem_x509_certificate(certs.cert.read_bytes())
    ca.public_key().verify(server.signature, server.tbs_certificate_bytes, ec.ECDSA(server.signature_hash_algorithm))
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "certificate-authority-data" not in kubeconfig(cluster, "http://x/k8s/key")["clusters"][0]["cluster"]


def test_endpoint_quotes_colons():
    from pathlib import Path

    from cluster.api import tls

    certs = tls.Certificates(Path("/x/ca"), Path("/c"), Path("/a:b/k"))
    assert tls.endpoint(8443, "::1", certs) == "ssl:port=8443:interface=\\:\\:1:privateKey=/a\\:b/k:certKey=/c"
