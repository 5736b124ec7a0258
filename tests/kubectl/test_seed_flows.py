"""The seed lessons' commands, run by the real kubectl against a live KubeDojo server.

The tests share one cluster and run in file order, as a learner would type them: the Deployment
applied early is what the later commands look at.
"""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from tests.kubectl.conftest import free_port

pytestmark = pytest.mark.kubectl

APP_YML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bootcamp
spec:
  replicas: 2
  selector:
    matchLabels:
      app: bootcamp
  template:
    metadata:
      labels:
        app: bootcamp
    spec:
      containers:
      - name: bootcamp-app
        image: gcr.io/google-samples/node-hello:1.0
        ports:
          - containerPort: 8080
      restartPolicy: Always
"""

SERVICE_YML = """\
apiVersion: v1
kind: Service
metadata:
  name: bootcamp-svc
spec:
  type: ClusterIP
  ports:
  - port: 80
    protocol: TCP
    targetPort: 8080
  selector:
    app: bootcamp
"""

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx
"""


def rows(output: str) -> list[list[str]]:
    """Table output as rows of columns (header first); columns are separated by 2+ spaces or more."""
    return [re.split(r"\s{2,}|\t", line.strip()) for line in output.splitlines() if line.strip()]


def running_pods(output: str, prefix: str = "") -> list[str]:
    return [r[0] for r in rows(output)[1:] if r[0].startswith(prefix) and r[2] == "Running" and r[1] == "1/1"]


def test_version(kubectl):
    done = kubectl("version", "-o", "json")
    info = json.loads(done.stdout)
    assert info["serverVersion"]["gitVersion"] == "v1.32.4"
    assert info["clientVersion"]["gitVersion"].startswith("v1.32.")


def test_api_resources(kubectl):
    out = kubectl("api-resources").stdout
    table = rows(out)
    assert table[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    by_name: dict[str, list[str]] = {}
    for r in table[1:]:
        by_name.setdefault(r[0], r)  # `pods` and `nodes` come again from metrics.k8s.io, after the core group
    assert ["nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics"] in table
    assert ["pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics"] in table
    assert by_name["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert by_name["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert by_name["nodes"] == ["nodes", "no", "v1", "false", "Node"]
    assert by_name["jobs"] == ["jobs", "batch/v1", "true", "Job"]


def test_api_versions(kubectl):
    versions = kubectl("api-versions").stdout.split()
    assert {"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"} <= set(versions)


def test_config_get_contexts(kubectl):
    table = rows(kubectl("config", "get-contexts").stdout)
    assert table[0] == ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
    assert table[1][0].startswith("*")
    assert "kubedojo-kubectl-test" in table[1][0] + table[1][1] and table[1][-1] == "default"


def test_get_nodes(kubectl):
    table = rows(kubectl("get", "nodes").stdout)
    assert table[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    nodes = table[1:]
    assert len(nodes) == 4
    assert all(n[1] == "Ready" for n in nodes), nodes
    control = [n for n in nodes if n[2] == "control-plane"]
    assert len(control) == 1 and control[0][0] == "controlplane"
    assert sum(1 for n in nodes if n[2] == "<none>") == 3


def test_no_pods_yet(kubectl):
    done = kubectl("get", "pods")
    assert done.stdout == "" and done.stderr.strip() == "No resources found in default namespace."


def test_apply_deployment_and_watch_pods_start(kubectl):
    kubectl.write("app.yml", APP_YML)
    watcher = kubectl.popen("get", "pods", "-w")
    try:
        time.sleep(1.0)  # let the watch list and start watching
        assert kubectl("apply", "-f", "app.yml").stdout.strip() == "deployment.apps/bootcamp created"
        kubectl.wait_for(lambda out: len(running_pods(out, "bootcamp-")) == 2, "get", "pods")
        time.sleep(0.5)
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            out, err = watcher.communicate(timeout=10)
        except Exception:
            watcher.kill()
            out, err = watcher.communicate()
    lines = rows(out)
    assert lines[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], (out, err)
    statuses = [line[2] for line in lines[1:]]
    assert "Running" in statuses and set(statuses) & {"Pending", "ContainerCreating"}, out
    assert all(line[0].startswith("bootcamp-") for line in lines[1:])


def test_apply_again_is_unchanged(kubectl):
    assert kubectl("apply", "-f", "app.yml").stdout.strip() == "deployment.apps/bootcamp unchanged"


def test_apply_service_and_get_svc(kubectl):
    kubectl.write("service.yml", SERVICE_YML)
    assert kubectl("apply", "-f", "service.yml").stdout.strip() == "service/bootcamp-svc created"
    table = rows(kubectl("get", "svc").stdout)
    assert table[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    svc = next(r for r in table if r[0] == "bootcamp-svc")
    assert svc[1] == "ClusterIP" and re.fullmatch(r"10\.\d+\.\d+\.\d+", svc[2])
    assert svc[3:5] == ["<none>", "80/TCP"]


def test_delete_pod_is_replaced(kubectl):
    before = running_pods(kubectl("get", "pods").stdout, "bootcamp-")
    victim = before[0]
    done = kubectl("delete", "pods", victim, timeout=60)
    assert done.stdout.strip() == f'pod "{victim}" deleted'
    out = kubectl.wait_for(lambda o: len(running_pods(o, "bootcamp-")) == 2 and victim not in o, "get", "pods")
    assert victim not in out


def test_create_pod_and_duplicate(kubectl):
    kubectl.write("pod.yaml", POD_YAML)
    assert kubectl("create", "-f", "pod.yaml").stdout.strip() == "pod/nginx created"
    done = kubectl("create", "-f", "pod.yaml", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == ('Error from server (AlreadyExists): error when creating "pod.yaml": '
                                   'pods "nginx" already exists')
    kubectl.wait_for(lambda o: running_pods(o, "nginx") == ["nginx"], "get", "pods")


def test_get_all(kubectl):
    out = kubectl("get", "all").stdout
    sections = [s for s in out.split("\n\n") if s.strip()]
    headers = [rows(s)[0][0] for s in sections]
    assert headers == ["NAME"] * len(sections)
    names = [r[0] for s in sections for r in rows(s)[1:]]
    assert "pod/nginx" in names and "service/bootcamp-svc" in names and "service/kubernetes" in names
    assert "deployment.apps/bootcamp" in names
    assert any(n.startswith("replicaset.apps/bootcamp-") for n in names)
    deploy = next(r for s in sections for r in rows(s) if r[0] == "deployment.apps/bootcamp")
    assert deploy[1:4] == ["2/2", "2", "2"]


def test_get_deploy_rs_po(kubectl):
    out = kubectl("get", "deploy,rs,po").stdout
    sections = [rows(s) for s in out.split("\n\n") if s.strip()]
    assert sections[0][0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert sections[1][0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert sections[2][0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    for kind in ("deploy", "rs", "po"):
        assert kubectl("get", kind).stdout.startswith("NAME")


def test_output_formats(kubectl):
    as_yaml = kubectl("get", "pod", "nginx", "-o", "yaml").stdout
    assert "kind: Pod" in as_yaml and "name: nginx" in as_yaml
    listed = json.loads(kubectl("get", "pods", "-o", "json").stdout)
    assert listed["kind"] == "List" and len(listed["items"]) == 3
    wide = rows(kubectl("get", "pods", "-o", "wide").stdout)
    assert wide[0][:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    names = kubectl("get", "pods", "-o", "name").stdout.split()
    assert "pod/nginx" in names and len(names) == 3
    jsonpath = kubectl("get", "deploy", "bootcamp", "-o", "jsonpath={.spec.replicas}").stdout
    assert jsonpath == "2"


def test_get_missing_pod(kubectl):
    done = kubectl("get", "pod", "nope", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_label_and_annotate(kubectl):
    assert kubectl("label", "pod", "nginx", "tier=front").stdout.strip() == "pod/nginx labeled"
    assert kubectl("annotate", "pod", "nginx", "note=hello").stdout.strip() == "pod/nginx annotated"
    table = rows(kubectl("get", "pod", "nginx", "--show-labels").stdout)
    assert table[0][-1] == "LABELS" and "tier=front" in table[1][-1]
    assert kubectl("get", "pods", "-l", "tier=front", "-o", "name").stdout.split() == ["pod/nginx"]
    note = kubectl("get", "pod", "nginx", "-o", "jsonpath={.metadata.annotations.note}").stdout
    assert note == "hello"


def test_scale(kubectl):
    done = kubectl("scale", "deploy", "bootcamp", "--replicas=3")
    assert done.stdout.strip() == "deployment.apps/bootcamp scaled"
    kubectl.wait_for(lambda o: len(running_pods(o, "bootcamp-")) == 3, "get", "pods")
    table = rows(kubectl("get", "deploy", "bootcamp").stdout)
    assert table[1][1] == "3/3"


def test_unknown_field_is_refused_by_strict_validation(kubectl):
    kubectl.write("typo.yaml", POD_YAML.replace("name: nginx\nspec", "name: typo\nspec").replace(
        "image: nginx", "image: nginx\n    imagee: nginx"))
    done = kubectl("apply", "-f", "typo.yaml", check=False)
    assert done.returncode == 1
    assert 'unknown field "spec.containers[0].imagee"' in done.stderr
    assert kubectl("get", "pod", "typo", check=False).returncode == 1


def test_explain(kubectl):
    out = kubectl("explain", "pods.spec").stdout
    assert "KIND:" in out and "Pod" in out
    assert "containers" in out


def test_logs(kubectl):
    out = kubectl("logs", "nginx").stdout
    assert "Configuration complete; ready for start up" in out
    assert len(kubectl("logs", "nginx", "--tail=2").stdout.splitlines()) == 2


def test_rollout_status(kubectl):
    out = kubectl("rollout", "status", "deploy/bootcamp", "--timeout=30s", timeout=40).stdout
    assert out.strip().endswith('deployment "bootcamp" successfully rolled out')


def test_proxy_to_the_service(kubectl):
    import urllib.request

    port = free_port()
    proxy = kubectl.popen("proxy", f"--port={port}", "--append-server-path")
    try:
        url = f"http://127.0.0.1:{port}/api/v1/namespaces/default/services/bootcamp-svc/proxy/"
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.read() == b"Hello Kubernetes!"
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        proxy.terminate()
        proxy.communicate(timeout=10)


def test_server_side_apply(kubectl):
    kubectl.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n")
    assert kubectl("apply", "--server-side", "-f", "cm.yaml").stdout.strip() == "configmap/settings serverside-applied"
    kubectl.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: slow\n")
    kubectl("apply", "--server-side", "-f", "cm.yaml")
    assert kubectl("get", "cm", "settings", "-o", "jsonpath={.data.mode}").stdout == "slow"


def test_exec_env_and_ps(kubectl):
    """The minikube hands-on's `kubectl exec nginx -- env`."""
    env = kubectl("exec", "nginx", "--", "env").stdout
    assert "HOSTNAME=nginx\n" in env and "BOOTCAMP_SVC_SERVICE_HOST=" in env


def test_typed_creates(kubectl):
    """Typed `kubectl create <kind>` commands send protobuf bodies."""
    assert kubectl("create", "deployment", "web", "--image=nginx", "--replicas=1").stdout.strip() == \
        "deployment.apps/web created"
    assert kubectl("create", "namespace", "dev").stdout.strip() == "namespace/dev created"
    assert kubectl("create", "configmap", "cfg", "--from-literal=mode=fast", "-n", "dev").stdout.strip() == \
        "configmap/cfg created"
    assert kubectl("create", "service", "clusterip", "web", "--tcp=80:80").stdout.strip() == "service/web created"
    done = kubectl("create", "deployment", "web", "--image=nginx", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == 'error: failed to create deployment: deployments.apps "web" already exists'
    kubectl.wait_for(lambda o: len(running_pods(o, "web-")) == 1, "get", "pods")
    assert kubectl("get", "cm", "cfg", "-n", "dev", "-o", "jsonpath={.data.mode}").stdout == "fast"
    kubectl("delete", "deployment", "web")
    kubectl("delete", "service", "web")


def test_delete_by_file(kubectl):
    assert kubectl("delete", "-f", "pod.yaml", timeout=60).stdout.strip() == 'pod "nginx" deleted'
    assert kubectl("delete", "-f", "service.yml").stdout.strip() == 'service "bootcamp-svc" deleted'
    assert kubectl("delete", "-f", "app.yml").stdout.strip() == 'deployment.apps "bootcamp" deleted'
    kubectl.wait_for(lambda o: "bootcamp-" not in o and "nginx" not in o, "get", "pods")
