"""The seeds' kubectl sessions replayed on engine.kubectl, command by command, with kubectl 1.32's exact output.

Outputs were checked against the real kubectl 1.32 pointed at a KubeDojo server holding the same state.
"""

from __future__ import annotations

import re

import pytest

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.controllers import default_controllers
from engine.kubectl import Context, run
from engine.simulation import Simulation
from engine.store import MemoryStore

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

POD_NGINX = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx:alpine
    imagePullPolicy: Always
    command: []
    args: ["nginx", "-g", "daemon off;"]
    env:
    - name: woot
      value: wai
    ports:
    - containerPort: 80
      protocol: TCP
    workingDir: /tmp
"""


class Terminal:
    def __init__(self):
        self.clock = VirtualClock()
        self.sim = Simulation(MemoryStore(now=self.clock.now), self.clock, seed=7, controllers=default_controllers(),
                              profile="fast")
        bootstrap_cluster(self.sim.api, nodes=3)
        self.sim.tick()
        self.context = Context(files={"app.yml": APP_YML, "service.yml": SERVICE_YML, "pod-nginx.yaml": POD_NGINX})

    def __call__(self, line: str, stdin: str = ""):
        return run(line, self.sim.api, self.clock.now(), self.context, stdin=stdin)

    def advance(self, seconds: float) -> None:
        self.sim.run(seconds, step=0.5)

    def until(self, line: str, predicate, timeout: float = 60) -> str:
        waited = 0.0
        while True:
            out = self(line).stdout
            if predicate(out) or waited >= timeout:
                return out
            self.advance(1)
            waited += 1


@pytest.fixture
def k():
    return Terminal()


def running(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:] if line.split()[2] == "Running"]


def test_bootcamp_apply_get_delete_heal(k):
    empty = k("get pods")
    assert (empty.stdout, empty.stderr, empty.exit_code) == ("", "No resources found in default namespace.\n", 0)

    created = k("kubectl apply -f app.yml")
    assert (created.stdout, created.exit_code) == ("deployment.apps/bootcamp created\n", 0)
    out = k.until("get pods", lambda o: len(running(o)) == 2)
    lines = out.splitlines()
    assert lines[0] == "NAME                      READY   STATUS    RESTARTS   AGE"
    for line in lines[1:]:
        assert re.fullmatch(r"bootcamp-[a-z0-9]{8,10}-[a-z0-9]{5}   1/1     Running   0          \d+s", line), line

    assert k("apply -f app.yml").stdout == "deployment.apps/bootcamp unchanged\n"
    assert k("apply -f service.yml").stdout == "service/bootcamp-svc created\n"
    svc = k("get svc").stdout.splitlines()
    assert svc[0] == "NAME           TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)   AGE"[:len(svc[0])] or \
        svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert [r.split()[0] for r in svc[1:]] == ["bootcamp-svc", "kubernetes"]

    victim = running(out)[0]
    deleted = k(f"delete pods {victim}")
    assert deleted.stdout == f'pod "{victim}" deleted\n' and deleted.exit_code == 0
    assert deleted.attach is not None  # kubectl waits for the pod to be gone
    for _ in range(80):
        k.advance(0.5)
        deleted.attach.poll(k.clock.now())
        if deleted.attach.done:
            break
    assert deleted.attach.done and deleted.attach.exit_code == 0
    healed = k.until("get pods", lambda o: len(running(o)) == 2 and victim not in o)
    assert victim not in healed and len(running(healed)) == 2


def test_minikube_pod_create_exec_and_get_all(k):
    assert k("create -f pod-nginx.yaml").stdout == "pod/nginx created\n"
    dup = k("create -f pod-nginx.yaml")
    assert dup.exit_code == 1
    assert dup.stderr == ('Error from server (AlreadyExists): error when creating "pod-nginx.yaml": pods "nginx" '
                          "already exists\n")
    k.until("get pod", lambda o: "Running" in o)
    out = k("get pod").stdout.splitlines()
    assert out[0] == "NAME    READY   STATUS    RESTARTS   AGE"
    assert re.fullmatch(r"nginx   1/1     Running   0          \d+s", out[1])

    everything = k("get all").stdout
    sections = everything.split("\n\n")
    assert sections[0].splitlines()[0] == "NAME        READY   STATUS    RESTARTS   AGE"
    assert sections[0].splitlines()[1].startswith("pod/nginx   1/1     Running   0  ")
    assert sections[1].splitlines()[0] == "NAME                 TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE"
    assert sections[1].splitlines()[1].startswith("service/kubernetes   ClusterIP   10.96.0.1    <none>        443/TCP  ")

    env = k("exec nginx -- env")
    assert env.exit_code == 0 and "woot=wai\n" in env.stdout
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1\n" in env.stdout and env.stdout.startswith("PATH=")

    ps = k("exec nginx -- ps")
    assert ps.stdout.splitlines()[0] == "PID   USER     TIME  COMMAND"
    assert ps.stdout.splitlines()[1] == "    1 root      0:00 nginx: master process nginx -g daemon off;"
    assert ps.stdout.splitlines()[-1].endswith(" root      0:00 ps")

    # The seed's `kubectl exec -- nginx ps` worked on old clients; kubectl 1.32 rejects it.
    old_style = k("exec -- nginx ps")
    assert old_style.exit_code == 1
    assert old_style.stderr == ("error: expected 'exec (POD | TYPE/NAME) COMMAND [ARG1] [ARG2] ... [ARGN]'.\n"
                                "POD or TYPE/NAME is a required argument for the exec command\n"
                                "See 'kubectl exec -h' for help and examples\n")
    missing = k("exec nginx -- sh -c 'exit 3'")
    assert (missing.exit_code, missing.stderr) == (3, "command terminated with exit code 3\n")

    gone = k("delete pod/nginx")
    assert gone.stdout == 'pod "nginx" deleted\n'
    k.until("get pod", lambda o: "nginx" not in o)
    assert k("get pod").stderr == "No resources found in default namespace.\n"


def test_rollout_history_and_undo(k):
    assert k("create deployment nginx --image=nginx --replicas=2").stdout == "deployment.apps/nginx created\n"
    k.until("get deploy nginx", lambda o: "2/2" in o)
    status = k("rollout status deploy nginx")
    assert status.stdout == 'deployment "nginx" successfully rolled out\n'
    assert k("set image deployment/nginx nginx=nginx:1.25").stdout == "deployment.apps/nginx image updated\n"
    waiting = k("rollout status deployment/nginx")
    assert waiting.stdout.startswith("Waiting for deployment ")
    proc = waiting.attach
    assert proc is not None
    for _ in range(120):
        k.advance(0.5)
        out, _ = proc.poll(k.clock.now())
        if proc.done:
            break
    assert proc.done and proc.exit_code == 0 and out.endswith('deployment "nginx" successfully rolled out\n')
    history = k("rollout history deploy nginx").stdout
    assert history == "deployment.apps/nginx \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    assert k("rollout undo deploy nginx --to-revision 1").stdout == "deployment.apps/nginx rolled back\n"
    k.until("get deploy nginx -o jsonpath={.status.updatedReplicas}", lambda o: o == "2", timeout=30)
    image = k("get deploy nginx -o jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert image == "nginx"
    assert k("rollout pause deploy nginx").stdout == "deployment.apps/nginx paused\n"
    again = k("rollout pause deploy nginx")
    assert (again.exit_code, again.stderr) == (1, 'error: deployments.apps "nginx" is already paused\n')
    assert k("rollout resume deploy nginx").stdout == "deployment.apps/nginx resumed\n"
    assert k("scale deploy nginx --replicas=3").stdout == "deployment.apps/nginx scaled\n"


def test_errors_exit_codes_and_info_commands(k):
    unknown = k("foo")
    assert unknown.exit_code == 1
    assert unknown.stderr == 'error: unknown command "foo" for "kubectl"\n\nDid you mean this?\n\ttop\n'
    assert k("xyzzy").stderr == 'error: unknown command "xyzzy" for "kubectl"\n'
    bogus = k("get pods --bogus")
    assert (bogus.exit_code, bogus.stderr) == (1, "error: unknown flag: --bogus\nSee 'kubectl get --help' for usage.\n")
    podz = k("get podz")
    assert (podz.exit_code, podz.stderr) == (1, 'error: the server doesn\'t have a resource type "podz"\n')
    missing = k("get pods x")
    assert (missing.exit_code, missing.stderr) == (1, 'Error from server (NotFound): pods "x" not found\n')
    nothing = k("get")
    assert nothing.exit_code == 1 and nothing.stderr.endswith("See 'kubectl get -h' for help and examples\n")
    version = k("version").stdout
    assert version == "Client Version: v1.32.4\nKustomize Version: v5.5.0\nServer Version: v1.32.4\n"
    resources = k("api-resources").stdout.splitlines()
    assert resources[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert resources[1].split() == ["configmaps", "cm", "v1", "true", "ConfigMap"]
    assert any(r.split() == ["deployments", "deploy", "apps/v1", "true", "Deployment"] for r in resources)
    assert "apps/v1\n" in k("api-versions").stdout
    assert k("config current-context").stdout == "kubedojo\n"
    assert k("config set-context --current --namespace=kube-system").stdout == 'Context "kubedojo" modified.\n'
    assert "coredns" in k("get deploy").stdout
    contexts = k("config get-contexts").stdout.splitlines()
    assert contexts == ["CURRENT   NAME       CLUSTER    AUTHINFO   NAMESPACE",
                        "*         kubedojo   kubedojo   kubedojo   kube-system"]
    assert k("help").stdout.startswith("kubectl controls the Kubernetes cluster manager.")
    assert "Usage:\n  kubectl get [(-o|--output=)" in k("get --help").stdout
    explain = k("explain pods.spec.containers").stdout
    assert explain.startswith("KIND:       Pod\nVERSION:    v1\n\nFIELD: containers <[]Container>\n\n\nDESCRIPTION:\n")
    assert k("top pods").stderr == "error: Metrics API not available\n" or k("top pods").exit_code == 0
