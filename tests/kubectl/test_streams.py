"""The streaming commands, by the real kubectl against a live server: exec (with and without a TTY), run
-it --rm, attach, port-forward (pod and `svc/NAME`), logs.

Everything runs in its own namespace so the seed-flow tests, which share the server, see their own.
"""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from tests.kubectl.conftest import free_port

pytestmark = pytest.mark.kubectl

NS = "streams"
HELLO = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 1
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
      - name: hello
        image: gcr.io/google-samples/node-hello:1.0
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: hello-svc
spec:
  selector: {app: hello}
  ports:
  - port: 80
    targetPort: 8080
"""


@pytest.fixture(scope="module")
def k(kubectl):
    """kubectl in this module's namespace, with an nginx pod, a busybox pod and the hello Deployment running."""
    kubectl("create", "namespace", NS)

    def run(*args, **kwargs):
        return kubectl("-n", NS, *args, **kwargs)

    run("run", "nginx", "--image=nginx")
    run("run", "bb", "--image=busybox", "--", "sleep", "3600")
    kubectl.write("hello.yaml", HELLO)
    run("apply", "-f", "hello.yaml")
    kubectl.wait_for(lambda out: out.count(" Running ") == 3, "-n", NS, "get", "pods")
    run.kubectl = kubectl
    return run


def test_exec_prints_the_command_output(k):
    done = k("exec", "nginx", "--", "env")
    assert "HOSTNAME=nginx\n" in done.stdout and "NGINX_VERSION=" in done.stdout and done.stderr == ""


def test_exec_passes_the_exit_code_on(k):
    done = k("exec", "bb", "--", "sh", "-c", "exit 3", check=False)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr == "command terminated with exit code 3\n"
    done = k("exec", "nginx", "--", "ls", "/nope", check=False)
    assert done.returncode == 2 and "No such file or directory" in done.stderr


def test_exec_refusals_read_as_the_apiservers(k):
    done = k("exec", "nginx", "-c", "nope", "--", "ls", check=False)
    assert done.returncode == 1
    assert done.stderr == "Error from server (BadRequest): container nope is not valid for pod nginx\n"
    done = k("exec", "nginx", "--", "nosuchtool", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: Internal error occurred: error executing command in container: ")
    assert 'exec: "nosuchtool": executable file not found in $PATH' in done.stderr


def test_exec_with_stdin_runs_a_shell_script(k):
    import subprocess

    kubectl = k.kubectl
    done = subprocess.run(kubectl.args("-n", NS, "exec", "-i", "bb", "--", "sh"), input="echo hi\nhostname\n",
                          capture_output=True, text=True, env=kubectl.env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\nbb\n"


def test_exec_it_is_an_interactive_shell(k):
    term = k.kubectl.terminal("-n", NS, "exec", "-it", "bb", "--", "sh")
    term.expect("/ # ")
    term.send("cd /etc; pwd\r")
    term.expect("/etc\r\n/etc # ")
    term.send("exit 4\r")
    assert term.wait() == 4
    assert term.output.endswith("command terminated with exit code 4\r\n")


def test_exec_it_bash_in_a_named_container(k):
    """The hands-on note's `kubectl exec -it <pod> -c <container> -- bash`."""
    term = k.kubectl.terminal("-n", NS, "exec", "-it", "nginx", "-c", "nginx", "--", "bash")
    term.expect("root@nginx:/# ")
    term.send("echo $HOSTNAME\r")
    term.expect("nginx\r\nroot@nginx:/# ")
    term.send("exit\r")
    assert term.wait() == 0
    assert "exit\r\n" in term.output


def test_run_it_rm_attaches_then_deletes(k):
    term = k.kubectl.terminal("-n", NS, "run", "-it", "--rm", "scratch", "--image=busybox", "--", "sh")
    term.expect("If you don't see a command prompt, try pressing enter.")
    term.send("\r")
    term.expect("/ # ")
    term.send("echo from-inside\r")
    term.expect("from-inside\r\n/ # ")
    term.send("exit\r")
    assert term.wait(timeout=90) == 0
    assert "Session ended, resume using 'kubectl attach scratch -c scratch -i -t' command when the pod is running" \
        in term.output
    assert term.output.rstrip().endswith('pod "scratch" deleted')


def test_run_i_rm_of_a_command_prints_its_output(k):
    done = k("run", "-i", "--rm", "once", "--image=busybox", "--restart=Never", "--", "echo", "hello", timeout=90)
    assert done.stdout == 'hello\npod "once" deleted\n'


def test_attach_to_a_shell_waiting_on_stdin(k):
    k("run", "waiter", "--image=busybox", "--stdin", "--tty", "--attach=false", "--", "sh")
    k.kubectl.wait_for(lambda out: " Running " in out, "-n", NS, "get", "pod", "waiter")
    term = k.kubectl.terminal("-n", NS, "attach", "waiter", "-it")
    term.expect("If you don't see a command prompt, try pressing enter.")
    term.send("\r")
    term.expect("/ # ")
    term.send("exit\r")
    assert term.wait() == 0
    assert "Session ended, resume using 'kubectl attach waiter -c waiter -i -t' command when the pod is running" \
        in term.output


def _forward(k, *args: str):
    """Start `kubectl port-forward`; return the process and the local port it listens on."""
    proc = k.kubectl.popen("-n", NS, "port-forward", *args)
    line = proc.stdout.readline()
    match = re.match(r"Forwarding from (?:127\.0\.0\.1|0\.0\.0\.0):(\d+) -> (\d+)", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    if "127.0.0.1" in line:  # the IPv6 listener's line follows
        assert proc.stdout.readline() == f"Forwarding from [::1]:{match.group(1)} -> {match.group(2)}\n"
    return proc, int(match.group(1)), int(match.group(2))


def _get(port: int, path: str = "/") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.status, response.read().decode()


def test_port_forward_to_a_pod(k):
    port = free_port()
    proc, local, remote = _forward(k, "pod/nginx", f"{port}:80")
    try:
        assert (local, remote) == (port, 80)
        status, body = _get(port)
        assert status == 200 and "<title>Welcome to nginx!</title>" in body
        with pytest.raises(urllib.error.HTTPError) as missing:
            _get(port, "/nope")
        assert missing.value.code == 404
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"Handling connection for {port}" in out


def test_port_forward_to_a_service(k):
    """The bootcamp's `kubectl port-forward service/bootcamp-svc --address=0.0.0.0 :80`."""
    proc, local, remote = _forward(k, "service/hello-svc", "--address=0.0.0.0", ":80")
    try:
        assert remote == 8080
        assert _get(local) == (200, "Hello Kubernetes!")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_port_forward_to_a_port_nothing_listens_on(k):
    port = free_port()
    proc, _, _ = _forward(k, "nginx", f"{port}:81")
    try:
        with pytest.raises(OSError):
            _get(port)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert f"an error occurred forwarding {port} -> 81: error forwarding port 81 to pod " in err
    assert "connect: connection refused" in err
    assert err.rstrip().endswith("error: lost connection to pod")
    assert proc.returncode == 1


def test_logs_options(k):
    lines = k("logs", "nginx").stdout.splitlines()
    assert any("Configuration complete; ready for start up" in line for line in lines)
    assert k("logs", "nginx", "--tail=1").stdout.splitlines() == lines[-1:]
    assert k("logs", "nginx", "-c", "nginx").stdout.splitlines() == lines
    stamped = k("logs", "nginx", "--timestamps", "--tail=1").stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z " + re.escape(lines[-1]) + "\n", stamped)
    done = k("logs", "nginx", "--previous", check=False)
    assert done.returncode == 1
    assert done.stderr == ('Error from server (BadRequest): previous terminated container "nginx" in pod "nginx" '
                           'not found\n')
    done = k("logs", "nginx", "-c", "nope", check=False)
    assert done.stderr == "error: container nope is not valid for pod nginx\n"


def test_logs_follow_keeps_streaming(k):
    proc = k.kubectl.popen("-n", NS, "logs", "-f", "nginx")
    try:
        first = proc.stdout.readline()
        assert "docker-entrypoint" in first or first.strip()
        time.sleep(1)
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_logs_of_a_finished_command(k):
    k("run", "echoer", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo one; echo two")
    k.kubectl.wait_for(lambda out: "Completed" in out, "-n", NS, "get", "pod", "echoer")
    assert k("logs", "echoer").stdout == "one\ntwo\n"


def test_cp_from_a_pod(k):
    """`kubectl cp POD:PATH LOCAL` reads a tar stream through exec: files and whole directories."""
    out = k.kubectl.workdir / "copied"
    k("cp", "nginx:/etc/nginx/conf.d/default.conf", str(out / "default.conf"))
    assert "listen       80;" in (out / "default.conf").read_text()
    k("cp", "nginx:/etc/nginx", str(out / "nginx"))
    assert sorted(p.relative_to(out / "nginx").as_posix() for p in (out / "nginx").rglob("*")) == [
        "conf.d", "conf.d/default.conf", "nginx.conf"]
    k("exec", "bb", "--", "sh", "-c", "echo written > /tmp/note")
    k("cp", "bb:/tmp/note", str(out / "note"))
    assert (out / "note").read_text() == "written\n"
