"""The exec side of `kubectl cp LOCAL POD:PATH`: `test -d` and `tar -xmf - -C DIR` reading an archive on stdin."""

from __future__ import annotations

import io
import tarfile

import pytest

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.kubectl.remote import RemoteCommand
from engine.simulation import Simulation
from engine.store import MemoryStore


@pytest.fixture(scope="module")
def sim():
    clock = VirtualClock(start=1_700_000_000.0)
    sim = Simulation(MemoryStore("tar", now=clock.now), clock, seed=1, profile="fast")
    bootstrap_cluster(sim.api, nodes=1)
    for name, image in (("web", "nginx"), ("bb", "busybox")):
        sim.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                        "spec": {"containers": [{"name": name, "image": image, "command": ["sleep", "3600"]}
                                                if image == "busybox" else {"name": name, "image": image}]}})
    sim.run(30, step=1.0)
    return sim


def execute(sim, pod: str, command: list[str], stdin: bytes | None = None) -> tuple[str, str, int]:
    obj = sim.api.get("Pod", "default", pod)
    remote = RemoteCommand(sim.api, obj, obj["spec"]["containers"][0], command, stdin=stdin is not None, tty=False,
                           now=sim.clock.now())
    frames = remote.start()
    if stdin is not None and not remote.finished:
        frames += remote.feed(stdin) + remote.end_input()
    assert remote.finished
    out = b"".join(d for c, d in frames if c == 1).decode()
    err = b"".join(d for c, d in frames if c == 2).decode()
    return out, err, remote.exit_code


def archive(entries: dict[str, str | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in entries.items():
            info = tarfile.TarInfo(name)
            if text is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                data = text.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_test_builtin_checks_files_and_directories(sim):
    assert execute(sim, "bb", ["test", "-d", "/tmp"])[2] == 0
    assert execute(sim, "bb", ["test", "-d", "/etc/hostname"])[2] == 1
    assert execute(sim, "bb", ["test", "-f", "/etc/hostname"])[2] == 0
    assert execute(sim, "bb", ["test", "-e", "/nope"])[2] == 1
    assert execute(sim, "bb", ["test", "!", "-e", "/nope"])[2] == 0
    assert execute(sim, "bb", ["test", "3", "-gt", "2"])[2] == 0


def test_an_archive_on_stdin_is_unpacked_into_the_containers_layer(sim):
    data = archive({"site": None, "site/index.html": "<h1>copied</h1>\n", "site/css/main.css": "h1 {}\n"})
    command = ["tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-", "-C", "/usr/share/nginx/html"]
    assert execute(sim, "web", command, data) == ("", "", 0)
    assert execute(sim, "web", ["cat", "/usr/share/nginx/html/site/css/main.css"]) == ("h1 {}\n", "", 0)
    assert execute(sim, "web", ["ls", "/usr/share/nginx/html/site"])[0].split() == ["css", "index.html"]
    # What the runtime serves reads the same layer.
    assert execute(sim, "web", ["curl", "-s", "localhost/site/index.html"])[0] == "<h1>copied</h1>\n"


def test_a_missing_directory_is_refused_as_each_tar_refuses_it(sim):
    data = archive({"x.txt": "x\n"})
    assert execute(sim, "web", ["tar", "-xmf", "-", "-C", "/no/dir"], data) == (
        "", "tar: /no/dir: Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now\n", 2)
    assert execute(sim, "bb", ["tar", "-xmf", "-", "-C", "/no/dir"], data) == (
        "", "tar: can't change directory to '/no/dir': No such file or directory\n", 1)
    out, err, code = execute(sim, "web", ["tar", "-xmf", "-", "-C", "/tmp"], b"not a tar archive" * 40)
    assert code == 2 and err.startswith("tar: This does not look like a tar archive\n")
