"""The real kubectl against a live server: `manage.py serve` in a subprocess, on a free port, on a
temporary SQLite database, with a fresh kubectl cache directory for the session.

The installed /usr/bin/kubectl is required in CI (CI=true); elsewhere its absence skips these tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "kubectl-test"
# Virtual time runs this much faster than the wall clock: what containers themselves take (node-hello
# ignores SIGTERM, so deleting its pod waits out the 30 s grace period) stays short in wall time.
SPEED = 20


def _kubectl_binary() -> str | None:
    for candidate in ("/usr/bin/kubectl", shutil.which("kubectl")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Kubectl:
    binary: str
    kubeconfig: Path
    cache_dir: Path
    workdir: Path
    env: dict
    server_url: str

    def args(self, *args: str) -> list[str]:
        return [self.binary, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]

    def __call__(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(self.args(*args), cwd=self.workdir, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}\n"
                                 f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
        return done

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.args(*args), cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def write(self, name: str, text: str) -> Path:
        path = self.workdir / name
        path.write_text(text)
        return path

    def wait_for(self, predicate, *args: str, timeout: float = 45, interval: float = 0.5) -> str:
        """Run `kubectl *args` until predicate(stdout) holds; return that stdout."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            last = self(*args, check=False).stdout
            if predicate(last):
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out waiting on `kubectl {' '.join(args)}`; last output:\n{last}")


def _manage(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="session")
def kubectl(tmp_path_factory) -> Kubectl:
    binary = _kubectl_binary()
    if binary is None:
        reason = "the real kubectl is not installed (/usr/bin/kubectl)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason}; CI must run the kubectl tests", pytrace=False)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("kubectl")
    home = base / "home"
    home.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "DJANGO_SETTINGS"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "cluster.settings",
        "KUBEDOJO_SQLITE": str(base / "kubedojo.sqlite3"),
        "KUBEDOJO_PROFILE": "fast",
        "KUBEDOJO_TICK_SECONDS": "0.1",
        "KUBEDOJO_EMBEDDED_SIMULATION": "1",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(home),  # kubectl's dispatcher and client keep their caches under HOME
    })
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    _manage("migrate", "--noinput", env=env)
    kubeconfig = base / "kubeconfig"
    _manage("kubeconfig", "--cluster", CLUSTER, "--create", "--server", f"http://127.0.0.1:{port}",
            "-o", str(kubeconfig), env=env)
    _manage("shell", "-c", f"from cluster.models import Cluster; "
                           f"Cluster.objects.filter(name={CLUSTER!r}).update(speed={SPEED})", env=env)
    log_path = base / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at the end of the session
    server = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port",
                               str(port), "--no-demo"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        server_url = _wait_until_serving(kubeconfig, server, log_path)
        workdir = base / "work"
        workdir.mkdir()
        client_env = dict(env, KUBECONFIG=str(kubeconfig))
        yield Kubectl(binary, kubeconfig, base / "cache", workdir, client_env, server_url)
    finally:
        _stop(server)
        log.close()


def _server_from(kubeconfig: Path) -> str:
    for line in kubeconfig.read_text().splitlines():
        if line.strip().startswith("server:"):
            return line.split("server:", 1)[1].strip()
    raise AssertionError("no server in the kubeconfig")


def _wait_until_serving(kubeconfig: Path, server: subprocess.Popen, log_path: Path) -> str:
    url = _server_from(kubeconfig)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}):\n{log_path.read_text()[-4000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/version", timeout=2) as response:
            if response.status == 200:
                return url
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within 60 s:\n{log_path.read_text()[-4000:]}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5)
