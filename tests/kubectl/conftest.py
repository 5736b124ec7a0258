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
    # The same cluster over HTTPS (`serve --tls-port`): its CA and bearer token in this kubeconfig.
    tls_kubeconfig: Path | None = None

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return _manage(*args, env=self.env)

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

    def terminal(self, *args: str, env: dict | None = None) -> Terminal:
        """kubectl on a pseudo-terminal, as a learner's `-it` runs it."""
        return Terminal(self.args(*args), self.workdir, dict(self.env, **(env or {})))

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


class Terminal:
    """A process on a pseudo-terminal: `expect(text)` reads until the text appears, `send(keys)` types."""

    def __init__(self, argv: list[str], cwd: Path, env: dict):
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become kubectl
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        self.output = ""

    def _read(self, timeout: float) -> str:
        """"data", "idle" (nothing within the timeout) or "closed"."""
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return "idle"
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return "closed"
        self.output += data.decode("utf-8", "replace")
        return "data" if data else "closed"

    def expect(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or self._read(min(0.5, left)) == "closed":
                if text in self.output:
                    break
                raise AssertionError(f"{text!r} did not appear; the terminal shows:\n{self.output!r}")
        return self.output

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self, timeout: float = 30) -> int:
        """Read to the end and return the exit code."""
        deadline = time.monotonic() + timeout
        state = "data"
        while time.monotonic() < deadline:
            if state != "closed":
                state = self._read(0.2)
            else:
                time.sleep(0.05)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                while state == "data":
                    state = self._read(0.1)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"kubectl did not exit; the terminal shows:\n{self.output!r}")


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
        "KUBEDOJO_VAR_DIR": str(base / "var"),  # the HTTPS listener's CA and certificate
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
    tls_port = free_port()
    tls_kubeconfig = base / "kubeconfig-https"
    _manage("kubeconfig", "--cluster", CLUSTER, "--server", f"https://127.0.0.1:{tls_port}", "-o",
            str(tls_kubeconfig), env=env)
    _manage("shell", "-c", f"from cluster.models import Cluster; "
                           f"Cluster.objects.filter(name={CLUSTER!r}).update(speed={SPEED})", env=env)
    log_path = base / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at the end of the session
    server = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port",
                               str(port), "--tls-port", str(tls_port), "--no-demo"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        server_url = _wait_until_serving(kubeconfig, server, log_path)
        workdir = base / "work"
        workdir.mkdir()
        client_env = dict(env, KUBECONFIG=str(kubeconfig))
        yield Kubectl(binary, kubeconfig, base / "cache", workdir, client_env, server_url, tls_kubeconfig)
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
