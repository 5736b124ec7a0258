"""The API over HTTPS (`manage.py serve --tls-port`), by the real kubectl: the kubeconfig carries the CA
and the seat's bearer token; a wrong token is 401, another seat's token 403, worded as kube-apiserver's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.kubectl

NS = "secure"


def _with_token(source: Path, token: str, target: Path) -> Path:
    target.write_text(re.sub(r"token: .*", f"token: {token}", source.read_text()))
    return target


@pytest.fixture(scope="module")
def tls(kubectl):
    def run(*args, kubeconfig: Path | None = None, **kwargs):
        config = kubeconfig or kubectl.tls_kubeconfig
        return kubectl("--kubeconfig", str(config), "--cache-dir", str(kubectl.cache_dir) + "-" + config.name,
                       *args, **kwargs)

    return run


def test_kubectl_over_https_with_the_seats_token(tls, kubectl):
    assert "certificate-authority-data:" in kubectl.tls_kubeconfig.read_text()
    assert tls("get", "nodes", "-o", "name").stdout.split()[0] == "node/controlplane"
    tls("create", "namespace", NS)
    tls("-n", NS, "run", "sec", "--image=busybox", "--", "sleep", "3600")
    kubectl.wait_for(lambda out: " Running " in out, "-n", NS, "get", "pod", "sec")
    assert tls("-n", NS, "exec", "sec", "--", "hostname").stdout == "sec\n"  # WebSocket over TLS


def test_an_unknown_token_is_unauthorized(tls, kubectl, tmp_path):
    bad = _with_token(kubectl.tls_kubeconfig, "not-a-token", tmp_path / "bad")
    done = tls("get", "pods", kubeconfig=bad, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == ("error: You must be logged in to the server (the server has asked for "
                                            "the client to provide credentials)")


def test_another_seats_token_is_forbidden(tls, kubectl, tmp_path):
    other = tmp_path / "other"
    kubectl.manage("kubeconfig", "--cluster", "another-seat", "--create", "--server", "https://127.0.0.1:1", "-o",
                   str(other))
    token = re.search(r"token: (\S+)", other.read_text()).group(1)
    cross = _with_token(kubectl.tls_kubeconfig, token, tmp_path / "cross")
    done = tls("get", "pods", "-n", NS, kubeconfig=cross, check=False)
    assert done.returncode == 1
    assert done.stderr == ('Error from server (Forbidden): pods is forbidden: User "kubedojo:another-seat" cannot '
                           f'list resource "pods" in API group "" in the namespace "{NS}"\n')
    done = tls("delete", "pod", "sec", "-n", NS, kubeconfig=cross, check=False)
    assert done.stderr == ('Error from server (Forbidden): pods "sec" is forbidden: User "kubedojo:another-seat" '
                           f'cannot delete resource "pods" in API group "" in the namespace "{NS}"\n')
