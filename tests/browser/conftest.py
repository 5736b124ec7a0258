"""Browser tests: `manage.py serve` in a subprocess on its own SQLite file, driven by Debian's Chromium.

Playwright cannot download a browser here, so it launches /usr/bin/chromium (KUBEDOJO_CHROMIUM overrides).
Without it the tests skip, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"
CHROMIUM = os.environ.get("KUBEDOJO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LIVE_ALIAS = "live"
URL_LINE = re.compile(r"running at (http://\S+/)")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """`manage.py serve` on a fixed port (so a restarted server is found where the page left it)."""

    tmp: Path
    port: int
    env: dict
    process: subprocess.Popen | None = None
    url: str = ""

    @property
    def sqlite(self) -> Path:
        return Path(self.env["KUBEDOJO_SQLITE"])

    @property
    def log(self) -> Path:
        return self.tmp / "serve.log"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def start(self, timeout: float = 90) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(REPO / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            with self.log.open(errors="replace") as log:
                log.seek(offset)
                found = URL_LINE.search(log.read())
            if found:
                self.url = found.group(1)
                return
            if self.process.poll() is not None:
                pytest.fail(f"manage.py serve exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"manage.py serve did not start in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> int | None:
        """SIGTERM, as a service manager stops it; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"manage.py serve did not stop on SIGTERM:\n{self.log_tail()}")


def server_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "cluster.settings",
        "KUBEDOJO_SQLITE": str(tmp / "kubedojo.sqlite3"),
        "KUBEDOJO_VAR_DIR": str(tmp),
        "KUBEDOJO_EMBEDDED_SIMULATION": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONFAULTHANDLER": "1",
    })
    return env


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if _in_ci():
            pytest.fail(f"{reason}; CI must run the browser tests", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def kubedojo_server(tmp_path_factory) -> LiveServer:
    """`manage.py migrate`, then `manage.py serve` on a fresh SQLite file; stopped with SIGTERM."""
    tmp = tmp_path_factory.mktemp("live")
    server = LiveServer(tmp=tmp, port=free_port(), env=server_env(tmp))
    subprocess.run([sys.executable, str(REPO / "manage.py"), "migrate", "--noinput", "-v", "0"], cwd=REPO,
                   env=server.env, check=True, timeout=120)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class LiveDatabase:
    """The live server's SQLite file as the Django database alias "live".

    Playwright's sync API keeps an event loop running in the test's thread, where Django refuses
    database calls, so `run` does its work in a thread of its own and closes its connection after.
    """

    alias = LIVE_ALIAS

    def run(self, fn, *args):
        from django.db import connections

        def work():
            try:
                return fn(self.alias, *args)
            finally:
                connections[self.alias].close()

        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(work).result(timeout=60)


@pytest.fixture(scope="module")
def live_db(kubedojo_server, django_db_blocker) -> LiveDatabase:
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS, connections

    default = connections.settings[DEFAULT_DB_ALIAS]
    configured = connections.configure_settings({
        DEFAULT_DB_ALIAS: default,
        LIVE_ALIAS: {**default, "NAME": str(kubedojo_server.sqlite), "TEST": {}},
    })
    connections.settings[LIVE_ALIAS] = settings.DATABASES[LIVE_ALIAS] = configured[LIVE_ALIAS]
    try:
        with django_db_blocker.unblock():
            yield LiveDatabase()
    finally:
        with contextlib.suppress(AttributeError):
            del connections[LIVE_ALIAS]
        connections.settings.pop(LIVE_ALIAS, None)
        settings.DATABASES.pop(LIVE_ALIAS, None)


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught script errors of the page (a test asserts there were none)."""
    return []


@pytest.fixture
def page(browser, kubedojo_server, page_errors):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=kubedojo_server.url)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
