"""engine.kubectl's printers, watch streaming, shell sessions and completion."""

from __future__ import annotations

import pytest

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.controllers import default_controllers
from engine.kubectl import Context, complete, run, start
from engine.kubectl.tabwriter import TabWriter
from engine.simulation import Simulation
from engine.store import MemoryStore

# `kubectl create deployment x --image=nginx --dry-run=client -o yaml`, as the real 1.32 prints it offline.
REAL_DRY_RUN_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: null
  labels:
    app: x
  name: x
spec:
  replicas: 1
  selector:
    matchLabels:
      app: x
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: x
    spec:
      containers:
      - image: nginx
        name: nginx
        resources: {}
status: {}
"""

REAL_SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  creationTimestamp: null
  labels:
    app: s
  name: s
spec:
  ports:
  - name: 80-8080
    port: 80
    protocol: TCP
    targetPort: 8080
  selector:
    app: s
  type: NodePort
status:
  loadBalancer: {}
"""


@pytest.fixture(scope="module")
def cluster():
    clock = VirtualClock()
    sim = Simulation(MemoryStore(now=clock.now), clock, seed=3, controllers=default_controllers(), profile="fast")
    bootstrap_cluster(sim.api, nodes=2)
    sim.tick()
    return sim, clock


def k(cluster, line, context=None, stdin=""):
    sim, clock = cluster
    return run(line, sim.api, clock.now(), context or Context(), stdin=stdin)


def test_tabwriter_pads_three_and_remembers_widths():
    tw = TabWriter()
    tw.write("NAME\tREADY\tSTATUS\tAGE\n")
    tw.write("web-1\t0/1\tPending\t0s\n")
    assert tw.flush() == "NAME    READY   STATUS    AGE\nweb-1   0/1     Pending   0s\n"
    tw.write("web-1\t0/1\tContainerCreating\t1s\n")
    assert tw.flush() == "web-1   0/1     ContainerCreating   1s\n"
    tw.write("web-1\t1/1\tRunning\t2s\n")
    assert tw.flush() == "web-1   1/1     Running             2s\n"


def test_client_dry_run_yaml_matches_the_real_kubectl(cluster):
    assert k(cluster, "create deployment x --image=nginx --dry-run=client -o yaml").stdout == REAL_DRY_RUN_YAML
    assert k(cluster, "create service nodeport s --tcp=80:8080 --dry-run=client -o yaml").stdout == REAL_SERVICE_YAML
    cm = k(cluster, "create configmap c --from-literal=a=b --dry-run=client -o yaml").stdout
    assert cm == "apiVersion: v1\ndata:\n  a: b\nkind: ConfigMap\nmetadata:\n  creationTimestamp: null\n  name: c\n"
    pod = k(cluster, "run nginx --image=nginx --port=80 --env=A=b -l a=b --dry-run=client -o yaml").stdout
    assert "  labels:\n    a: b\n" in pod and "  - env:\n    - name: A\n      value: b\n" in pod
    assert "    ports:\n    - containerPort: 80\n" in pod and "  restartPolicy: Always\n" in pod


def test_output_formats(cluster):
    ns = k(cluster, "get ns default -o json").stdout
    assert ns.startswith('{\n    "apiVersion": "v1",\n    "kind": "Namespace",\n')
    listed = k(cluster, "get ns -o yaml").stdout
    assert listed.startswith("apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Namespace\n")
    assert listed.endswith("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
    assert k(cluster, "get ns default kube-system -o name").stdout == "namespace/default\nnamespace/kube-system\n"
    names = k(cluster, "get nodes -o jsonpath={.items[*].metadata.name}").stdout
    assert names == "controlplane node-1 node-2"
    ranged = k(cluster, """get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"\\n"}{end}'""").stdout
    assert ranged == "controlplane\nnode-1\nnode-2\n"
    columns = k(cluster, "get svc -A -o custom-columns=NAME:.metadata.name,PORT:.spec.ports[*].port").stdout
    assert columns.splitlines() == ["NAME         PORT", "kubernetes   443", "kube-dns     53,53,9153"]
    wide = k(cluster, "get nodes -o wide").stdout.splitlines()[0].split()
    assert wide[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    labels = k(cluster, "get ns default --show-labels").stdout.splitlines()
    assert labels[0] == "NAME      STATUS   AGE   LABELS"
    assert labels[1].endswith("kubernetes.io/metadata.name=default")
    multi = k(cluster, "get svc,deploy -n kube-system").stdout
    assert "service/kube-dns" in multi and "\n\nNAME                      READY" in multi


def test_watch_prints_rows_as_changes_arrive(cluster):
    sim, clock = cluster
    ctx = Context(namespace="watch")
    k(cluster, "create namespace watch")
    proc = start("get pods -w", sim.api, clock.now(), ctx)
    out, err = proc.poll(clock.now())
    assert not proc.done and out == ""
    k(cluster, "run web --image=nginx", ctx)
    seen = ""
    for _ in range(20):
        sim.run(0.5)
        chunk, _ = proc.poll(clock.now())
        seen += chunk
        if "Running" in chunk:
            break
    lines = seen.splitlines()
    assert lines[0] == "NAME   READY   STATUS    RESTARTS   AGE"
    assert lines[1].startswith("web    0/1     Pending   0          ")
    assert any("ContainerCreating" in line for line in lines) and "Running" in lines[-1]
    proc.interrupt()
    assert proc.done and proc.exit_code == 130


def test_exec_shell_session_and_completion(cluster):
    sim, clock = cluster
    ctx = Context(namespace="shell")
    k(cluster, "create namespace shell")
    k(cluster, "create configmap site --from-literal=index.html=hello", ctx)
    overrides = ('{"spec":{"volumes":[{"name":"site","configMap":{"name":"site"}}],"containers":[{"name":"box",'
                 '"volumeMounts":[{"name":"site","mountPath":"/data"}]}]}}')
    k(cluster, ["run", "box", "--image=nginx:alpine", f"--overrides={overrides}"], ctx)
    sim.run(5)
    result = k(cluster, "exec -it box -- sh", ctx)
    shell = result.attach
    assert shell is not None and shell.interactive and result.stdout == "/ # "
    shell.write("cd /data")
    shell.write("ls")
    shell.write("cat index.html")
    shell.write("echo $HOSTNAME > /tmp/me && cat /tmp/me")
    shell.write("nosuch")
    out, _ = shell.poll(clock.now())
    assert "/data # index.html\n" in out and "hello" in out and "box\n" in out
    assert "sh: nosuch: not found\n" in out
    shell.write("exit 0")
    assert shell.done and shell.exit_code == 0
    logs = k(cluster, "logs box", ctx)
    assert logs.exit_code == 0 and "Configuration complete; ready for start up" in logs.stdout

    sim_api = sim.api
    assert "get" in complete("kubectl ge", 10, sim_api, ctx)
    assert complete("kubectl get po", 14, sim_api, ctx) == ["pod", "pods", "poddisruptionbudgets", "po"] or \
        {"pods", "po"} <= set(complete("kubectl get po", 14, sim_api, ctx))
    assert complete("kubectl logs b", 14, sim_api, ctx) == ["box"]
    assert "--all-namespaces" in complete("kubectl get pods --all", 22, sim_api, ctx)
    assert complete("kubectl get pods b", 18, sim_api, ctx) == ["box"]
    assert "status" in complete("kubectl rollout st", 18, sim_api, ctx)


def test_nslookup_uses_engine_network_when_the_terminal_passes_the_simulation(cluster):
    sim, clock = cluster
    ctx = Context(namespace="dns", simulation=sim)
    k(cluster, "create namespace dns")
    k(cluster, "run box --image=busybox -- sleep 3600", ctx)
    sim.run(3)
    result = k(cluster, "exec box -- nslookup kubernetes.default", ctx)
    assert "10.96.0.1" in result.stdout or result.exit_code != 0
