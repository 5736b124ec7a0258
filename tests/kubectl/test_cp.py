"""`kubectl cp LOCAL POD:PATH` by the real kubectl: it asks `test -d PATH` over exec, then streams a tar archive
into `tar -xmf - -C DIR`; the files land in the container's writable layer, so exec's cat and ls see them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kubectl

NS = "copying"


@pytest.fixture(scope="module")
def k(kubectl):
    """kubectl in this module's namespace, with a busybox pod and an nginx pod running."""
    kubectl("create", "namespace", NS)

    def run(*args, **kwargs):
        return kubectl("-n", NS, *args, **kwargs)

    run("run", "bb", "--image=busybox", "--", "sleep", "3600")
    run("run", "web", "--image=nginx")
    kubectl.wait_for(lambda out: out.count(" Running ") == 2, "-n", NS, "get", "pods")
    run.kubectl = kubectl
    return run


def test_a_file_copied_into_a_pod_is_there_for_cat_and_ls(k):
    local = k.kubectl.write("notes.txt", "first line\nsecond line\n")
    done = k("cp", str(local), "bb:/tmp/notes.txt")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert k("exec", "bb", "--", "cat", "/tmp/notes.txt").stdout == "first line\nsecond line\n"
    assert "notes.txt" in k("exec", "bb", "--", "ls", "/tmp").stdout.split()
    # Into an existing directory: the file keeps its own name there.
    k("cp", str(local), "bb:/root")
    assert k("exec", "bb", "--", "cat", "/root/notes.txt").stdout == "first line\nsecond line\n"


def test_a_directory_copied_into_a_pod_keeps_its_tree(k):
    site = k.kubectl.workdir / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>copied</h1>\n")
    (site / "css" / "main.css").write_text("h1 { color: red; }\n")
    k("cp", str(site), "web:/usr/share/nginx/html/site")
    assert k("exec", "web", "--", "ls", "/usr/share/nginx/html/site").stdout.split() == ["css", "index.html"]
    assert k("exec", "web", "--", "cat", "/usr/share/nginx/html/site/css/main.css").stdout == "h1 { color: red; }\n"
    # The files are in the container's layer, not only in one exec session: a shell sees them too.
    found = k("exec", "web", "--", "sh", "-c", "test -f /usr/share/nginx/html/site/index.html && echo yes").stdout
    assert found == "yes\n"


def test_copying_into_a_missing_directory_fails_as_tar_does(k):
    local = k.kubectl.write("lost.txt", "nowhere\n")
    done = k("cp", str(local), "web:/no/such/dir/lost.txt", check=False)
    assert done.returncode != 0
    assert "tar: /no/such/dir: Cannot open: No such file or directory" in done.stderr
    missing = k("exec", "web", "--", "ls", "/no", check=False)
    assert missing.returncode == 2 and "No such file or directory" in missing.stderr
    done = k("cp", str(k.kubectl.workdir / "absent.txt"), "web:/tmp/x", check=False)
    assert done.returncode == 1 and "absent.txt doesn't exist in local filesystem" in done.stderr
