"""The issue's command families beyond the seed flows, by the real kubectl against a live server: rollout
(Deployment, DaemonSet, StatefulSet), describe with Events, edit, patch, replace, set image, expose,
typed creates, delete options, watch, and the worded errors (Invalid with field paths, Conflict).

Everything runs in its own namespace so the seed-flow tests, which share the server, see their own.
"""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from tests.kubectl.test_seed_flows import rows

pytestmark = pytest.mark.kubectl

NS = "cmds"
WORKLOADS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox
        command: ["sh", "-c", "while true; do sleep 10; done"]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: redis
"""
INVALID = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
spec:
  replicas: -1
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: other}
    spec:
      containers:
      - name: bad
        image: nginx
"""


@pytest.fixture(scope="module")
def k(kubectl):
    kubectl("create", "namespace", NS)

    def run(*args, **kwargs):
        return kubectl("-n", NS, *args, **kwargs)

    run.kubectl = kubectl
    return run


def _image(k, kind: str, name: str) -> str:
    return k("get", kind, name, "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout


def test_deployment_rollout_history_undo(k):
    assert k("create", "deployment", "web", "--image=nginx:1.26", "--replicas=2").stdout == \
        "deployment.apps/web created\n"
    assert k("rollout", "status", "deploy/web", "--timeout=60s", timeout=70).stdout.endswith(
        'deployment "web" successfully rolled out\n')
    assert k("set", "image", "deploy/web", "nginx=nginx:1.27").stdout == "deployment.apps/web image updated\n"
    k("annotate", "deploy/web", "kubernetes.io/change-cause=bump to 1.27")
    k("rollout", "status", "deploy/web", "--timeout=60s", timeout=70)
    assert rows(k("rollout", "history", "deploy/web").stdout) == [
        ["deployment.apps/web"], ["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "bump to 1.27"]]
    assert k("rollout", "undo", "deploy/web").stdout == "deployment.apps/web rolled back\n"
    k("rollout", "status", "deploy/web", "--timeout=60s", timeout=70)
    assert _image(k, "deploy", "web") == "nginx:1.26"
    # The old ReplicaSet is reused and takes the next revision: 1 becomes 3.
    history = rows(k("rollout", "history", "deploy/web").stdout)
    assert [r[0] for r in history[2:]] == ["2", "3"]
    assert k("rollout", "undo", "deploy/web", "--to-revision=3").stdout == \
        "deployment.apps/web skipped rollback (current template already matches revision 3)\n"
    done = k("rollout", "undo", "deploy/web", "--to-revision=9", check=False)
    assert done.returncode == 1 and done.stderr == "error: unable to find specified revision 9 in history\n"
    detail = k("rollout", "history", "deploy/web", "--revision=2").stdout
    assert detail.startswith("deployment.apps/web with revision #2\nPod Template:\n") and "nginx:1.27" in detail


def test_deployment_pause_resume_restart(k):
    assert k("rollout", "pause", "deploy/web").stdout == "deployment.apps/web paused\n"
    assert k("get", "deploy", "web", "-o", "jsonpath={.spec.paused}").stdout == "true"
    done = k("rollout", "pause", "deploy/web", check=False)
    assert done.stderr == "error: deployments.apps \"web\" is already paused\n"
    assert k("rollout", "resume", "deploy/web").stdout == "deployment.apps/web resumed\n"
    assert k("rollout", "restart", "deploy/web").stdout == "deployment.apps/web restarted\n"
    annotations = json.loads(k("get", "deploy", "web", "-o", "jsonpath={.spec.template.metadata.annotations}").stdout)
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    k("rollout", "status", "deploy/web", "--timeout=60s", timeout=70)


def test_daemonset_and_statefulset_rollouts(k):
    k.kubectl.write("workloads.yaml", WORKLOADS)
    assert k("apply", "-f", "workloads.yaml").stdout == "daemonset.apps/agent created\nstatefulset.apps/db created\n"
    assert k("rollout", "status", "ds/agent", "--timeout=60s", timeout=70).stdout.endswith(
        'daemon set "agent" successfully rolled out\n')
    assert k("rollout", "status", "sts/db", "--timeout=90s", timeout=100).stdout.endswith(
        "partitioned roll out complete: 2 new pods have been updated...\n")
    k("set", "image", "ds/agent", "agent=busybox:1.36")
    k("rollout", "status", "ds/agent", "--timeout=60s", timeout=70)
    assert [r[0] for r in rows(k("rollout", "history", "ds/agent").stdout)[2:]] == ["1", "2"]
    assert k("rollout", "undo", "ds/agent").stdout == "daemonset.apps/agent rolled back\n"
    assert k("rollout", "restart", "sts/db").stdout == "statefulset.apps/db restarted\n"
    k("rollout", "status", "sts/db", "--timeout=90s", timeout=100)
    assert [r[0] for r in rows(k("rollout", "history", "sts/db").stdout)[2:]] == ["1", "2"]
    done = k("rollout", "pause", "ds/agent", check=False)
    assert done.returncode == 1 and done.stderr == 'error: daemonsets.apps "agent" pausing is not supported\n'
    table = rows(k("get", "ds", "agent").stdout)
    assert table[0] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"]
    assert table[1][1:3] == ["3", "3"]


def test_describe_shows_events(k):
    out = k("describe", "deploy", "web").stdout
    assert re.search(r"^Name:\s+web$", out, re.M) and re.search(r"^Namespace:\s+cmds$", out, re.M)
    assert "Normal  ScalingReplicaSet" in out and "deployment-controller" in out
    pod = k("get", "pods", "-l", "app=db", "-o", "name").stdout.split()[0].split("/")[1]
    out = k("describe", "pod", pod).stdout
    assert f"Successfully assigned {NS}/{pod} to " in out and "Started container db" in out
    for kind in ("sts", "ds", "rs", "node", "ns"):
        assert k("describe", kind).stdout.startswith("Name:")


def test_edit(k):
    env = dict(k.kubectl.env, EDITOR="sed -i s/replicas:\\ 2/replicas:\\ 3/")
    import subprocess

    done = subprocess.run(k.kubectl.args("-n", NS, "edit", "deploy", "web"), env=env, capture_output=True, text=True,
                          timeout=60, cwd=k.kubectl.workdir)
    assert done.stdout == "deployment.apps/web edited\n", done.stderr
    assert k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    done = subprocess.run(k.kubectl.args("-n", NS, "edit", "deploy", "web"), env=dict(env, EDITOR="true"),
                          capture_output=True, text=True, timeout=60)
    assert done.stderr == "Edit cancelled, no changes made.\n"


def test_patch_types(k):
    assert k("patch", "deploy", "web", "-p", '{"spec":{"replicas":2}}').stdout == "deployment.apps/web patched\n"
    assert k("patch", "deploy", "web", "--type=merge", "-p", '{"metadata":{"labels":{"tier":"web"}}}').stdout == \
        "deployment.apps/web patched\n"
    assert k("patch", "deploy", "web", "--type=json", "-p",
             '[{"op":"add","path":"/spec/minReadySeconds","value":1}]').stdout == "deployment.apps/web patched\n"
    got = json.loads(k("get", "deploy", "web", "-o", "json").stdout)
    assert got["spec"]["replicas"] == 2 and got["metadata"]["labels"]["tier"] == "web"
    assert got["spec"]["minReadySeconds"] == 1
    assert k("patch", "deploy", "web", "-p", '{"spec":{"replicas":2}}').stdout == \
        "deployment.apps/web patched (no change)\n"
    # Strategic merge keeps the other containers: lists merge by `name`.
    k("patch", "deploy", "web", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox",'
                                       '"command":["sleep","3600"]}]}}}}')
    names = k("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].name}").stdout
    assert names == "nginx side"


def test_replace_and_conflict(k):
    k("create", "configmap", "settings", "--from-literal=mode=fast")
    current = json.loads(k("get", "cm", "settings", "-o", "json").stdout)
    current["data"]["mode"] = "slow"
    k.kubectl.write("settings.json", json.dumps(current))
    assert k("replace", "-f", "settings.json").stdout == "configmap/settings replaced\n"
    done = k("replace", "-f", "settings.json", check=False)  # its resourceVersion is stale now
    assert done.returncode == 1
    assert done.stderr == ('Error from server (Conflict): error when replacing "settings.json": Operation cannot be '
                           'fulfilled on configmaps "settings": the object has been modified; please apply your '
                           'changes to the latest version and try again\n')


def test_invalid_names_the_field_paths(k):
    k.kubectl.write("bad.yaml", INVALID)
    done = k("apply", "-f", "bad.yaml", check=False)
    assert done.returncode == 1
    assert done.stderr == (
        'The Deployment "bad" is invalid: \n'
        "* spec.replicas: Invalid value: -1: must be greater than or equal to 0\n"
        '* spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not '
        "match template `labels`\n")


def test_expose_and_typed_creates(k):
    assert k("expose", "deploy", "web", "--port=80").stdout == "service/web exposed\n"
    table = rows(k("get", "svc", "web", "-o", "wide").stdout)
    assert table[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert table[1][4] == "80/TCP" and table[1][6] == "app=web"
    assert k("create", "job", "pi", "--image=busybox", "--", "sh", "-c", "echo 3.14").stdout == \
        "job.batch/pi created\n"
    assert k("create", "secret", "generic", "creds", "--from-literal=user=admin").stdout == "secret/creds created\n"
    assert k("get", "secret", "creds", "-o", "jsonpath={.data.user}").stdout == "YWRtaW4="
    k.kubectl.wait_for(lambda out: "Complete" in out, "-n", NS, "get", "job", "pi")
    assert rows(k("get", "job", "pi").stdout)[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]


def test_get_watch_streams_changes(k):
    import threading

    k("create", "configmap", "anchor")  # listed first, so the header and a row show once the watch starts
    watcher = k.kubectl.popen("-n", NS, "get", "cm", "-w", "--output-watch-events")
    guard = threading.Timer(40, watcher.kill)  # a stuck stream ends the test instead of hanging it
    guard.start()
    try:
        header = watcher.stdout.readline()
        assert rows(watcher.stdout.readline())[0][:2] == ["ADDED", "anchor"]
        k("create", "configmap", "watched", "--from-literal=a=b")
        k("label", "cm", "watched", "x=y")
        k("delete", "cm", "watched")
        events = []
        while len(events) < 3:
            line = watcher.stdout.readline()
            if not line:
                break
            if rows(line)[0][1] == "watched":
                events.append(rows(line)[0][0])
    finally:
        guard.cancel()
        watcher.send_signal(signal.SIGINT)
        watcher.communicate(timeout=10)
    assert rows(header)[0] == ["EVENT", "NAME", "DATA", "AGE"]
    assert events == ["ADDED", "MODIFIED", "DELETED"]


def test_delete_options(k):
    k("create", "deployment", "orphaned", "--image=nginx")
    k.kubectl.wait_for(lambda out: "orphaned-" in out, "-n", NS, "get", "rs")
    assert k("delete", "deploy", "orphaned", "--cascade=orphan").stdout == 'deployment.apps "orphaned" deleted\n'
    time.sleep(1)
    assert "orphaned-" in k("get", "rs").stdout  # its ReplicaSet stays
    done = k("delete", "rs", "-l", "app=orphaned")
    assert re.fullmatch(r'replicaset\.apps "orphaned-[a-z0-9]+" deleted\n', done.stdout)
    done = k("delete", "pod", "nope", check=False)
    assert done.returncode == 1 and done.stderr == 'Error from server (NotFound): pods "nope" not found\n'
    assert k("delete", "pod", "nope", "--ignore-not-found").stdout == ""
    assert k("delete", "secret", "--all").stdout == 'secret "creds" deleted\n'
    assert k("delete", "ds", "agent", "--dry-run=server").stdout == 'daemonset.apps "agent" deleted (server dry run)\n'


def test_top_reads_the_metrics_api(k):
    nodes = rows(k("top", "nodes").stdout)
    assert nodes[0] == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"] and len(nodes) == 5
    assert all(re.fullmatch(r"\d+m", r[1]) and re.fullmatch(r"\d+Mi", r[3]) for r in nodes[1:])
    pods = rows(k("top", "pods", "-l", "app=db").stdout)
    assert pods[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"] and sorted(r[0] for r in pods[1:]) == ["db-0", "db-1"]
    assert all(re.fullmatch(r"\d+m", r[1]) and re.fullmatch(r"\d+Mi", r[2]) for r in pods[1:])
    done = k("top", "pod", "nope", check=False)
    assert done.returncode == 1
    assert done.stderr == f'Error from server (NotFound): podmetrics.metrics.k8s.io "{NS}/nope" not found\n'


APPLIED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ap
  labels: {team: a, tier: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: ap}
  template:
    metadata:
      labels: {app: ap}
    spec:
      containers:
      - name: web
        image: nginx
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
      - name: side
        image: busybox
        command: ["sleep", "3600"]
"""


def test_apply_configures_by_strategic_merge(k):
    """What the last-applied configuration drops is deleted; lists merge by their keys (containers and env
    by name); `diff` shows what an apply would change."""
    k.kubectl.write("ap.yaml", APPLIED)
    assert k("apply", "-f", "ap.yaml").stdout == "deployment.apps/ap created\n"
    changed = APPLIED.replace("labels: {team: a, tier: web}", "labels: {team: a}").replace(
        '{name: B, value: "2"}', '{name: C, value: "3"}').split("      - name: side")[0]
    k.kubectl.write("ap.yaml", changed)
    assert k("apply", "-f", "ap.yaml").stdout == "deployment.apps/ap configured\n"
    assert k("apply", "-f", "ap.yaml").stdout == "deployment.apps/ap unchanged\n"
    got = json.loads(k("get", "deploy", "ap", "-o", "json").stdout)
    assert got["metadata"]["labels"] == {"team": "a"}
    (web,) = got["spec"]["template"]["spec"]["containers"]
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    assert k("diff", "-f", "ap.yaml").returncode == 0
    k.kubectl.write("ap.yaml", APPLIED)
    done = k("diff", "-f", "ap.yaml", check=False)
    assert done.returncode == 1 and "+    tier: web\n" in done.stdout and "-        - name: C\n" in done.stdout
