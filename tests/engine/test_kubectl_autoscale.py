"""`kubectl autoscale` in the web terminal (engine.kubectl): kubectl 1.32's output and errors, checked against the
real kubectl pointed at a KubeDojo server (tests/kubectl/test_autoscale.py runs the same commands there)."""

from __future__ import annotations

import pytest

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.controllers import default_controllers
from engine.kubectl import Context, run
from engine.simulation import Simulation
from engine.store import MemoryStore

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        resources:
          requests: {cpu: 100m}
"""


class Terminal:
    def __init__(self):
        self.clock = VirtualClock()
        self.sim = Simulation(MemoryStore(now=self.clock.now), self.clock, seed=7, controllers=default_controllers(),
                              profile="fast")
        bootstrap_cluster(self.sim.api, nodes=3)
        self.sim.tick()
        self.context = Context(files={"web.yaml": WEB})

    def __call__(self, line: str):
        return run(line, self.sim.api, self.clock.now(), self.context)


@pytest.fixture
def k():
    term = Terminal()
    assert term("kubectl apply -f web.yaml").exit_code == 0
    assert term("kubectl create configmap settings").exit_code == 0
    return term


def test_autoscale_creates_the_hpa(k):
    out = k("kubectl autoscale deployment web --cpu-percent=50 --min=1 --max=5")
    assert (out.stdout, out.stderr, out.exit_code) == ("horizontalpodautoscaler.autoscaling/web autoscaled\n", "", 0)
    hpa = k.sim.api.get("HorizontalPodAutoscaler", "default", "web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"] == {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                           "minReplicas": 1, "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {
                               "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}


def test_the_controller_fills_in_get_hpa(k):
    k("kubectl autoscale deploy/web --max=3")
    assert k("kubectl get hpa").stdout.splitlines()[1].split()[2:4] == ["cpu:", "<unknown>/80%"]
    k.sim.run(60, step=0.5)
    header, row = k("kubectl get hpa").stdout.splitlines()
    assert header.split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    cells = row.split()
    assert cells[:3] == ["web", "Deployment/web", "cpu:"] and cells[3].endswith("%/80%")
    assert cells[4:7] == ["1", "3", "1"]


def test_dry_runs_and_output_formats(k):
    out = k("kubectl autoscale deployment web --max=3 --name=dry --dry-run=client -o yaml")
    assert out.stdout == """\
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  creationTimestamp: null
  name: dry
spec:
  maxReplicas: 3
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
status:
  currentReplicas: 0
  desiredReplicas: 0
"""
    assert k("kubectl autoscale deployment web --max=3 --name=dry --dry-run=client").stdout == (
        "horizontalpodautoscaler.autoscaling/dry created (dry run)\n")
    assert k("kubectl autoscale deployment web --max=3 --name=dry --dry-run=server").stdout == (
        "horizontalpodautoscaler.autoscaling/dry autoscaled (server dry run)\n")
    assert k("kubectl get hpa dry").exit_code == 1
    assert k("kubectl autoscale deployment web --max=2 --name=named -o name").stdout == (
        "horizontalpodautoscaler.autoscaling/named\n")
    created = k("kubectl autoscale deployment web --max=2 --min=2 --cpu-percent=70 --name=js -o yaml").stdout
    assert "apiVersion: autoscaling/v1\n" in created and "  targetCPUUtilizationPercentage: 70\n" in created
    assert "  minReplicas: 2\n" in created


def test_save_config_records_what_was_sent(k):
    k("kubectl autoscale deployment web --max=3 --save-config")
    annotations = k.sim.api.get("HorizontalPodAutoscaler", "default", "web")["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/last-applied-configuration"] == (
        '{"kind":"HorizontalPodAutoscaler","apiVersion":"autoscaling/v1","metadata":{"name":"web",'
        '"creationTimestamp":null},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"web","apiVersion":"apps/v1"},'
        '"maxReplicas":3},"status":{"currentReplicas":0,"desiredReplicas":0}}\n')


@pytest.mark.parametrize(("line", "stderr"), [
    ("kubectl autoscale deployment web", 'error: required flag(s) "max" not set\n'),
    ("kubectl autoscale deployment web --max=0", "error: --max=MAXPODS is required and must be at least 1, max: 0\n"),
    ("kubectl autoscale deployment web --max=2 --min=3",
     "error: --max=MAXPODS must be larger or equal to --min=MINPODS, max: 2, min: 3\n"),
    ("kubectl autoscale --max=3", "error: You must provide one or more resources by argument or filename.\n"
     "Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n"
     "   '<resource>'\n"),
    ("kubectl autoscale deployment missing --max=3", 'Error from server (NotFound): deployments.apps "missing" not found\n'),
    ("kubectl autoscale configmap settings --max=3",
     "error: cannot autoscale a ConfigMap: could not find scale subresource for /v1, Resource=configmaps in discovery "
     "information\n"),
    ("kubectl autoscale deployment web --max=3 --cpu-percent=0",
     'The HorizontalPodAutoscaler "web" is invalid: spec.metrics[0].resource.target.averageUtilization: Invalid value: '
     "0: must be greater than 0\n"),
])
def test_errors(k, line, stderr):
    out = k(line)
    assert (out.stdout, out.stderr, out.exit_code) == ("", stderr, 1)
    assert k.sim.api.list("HorizontalPodAutoscaler", None)["items"] == []


def test_one_failure_does_not_stop_the_others(k):
    out = k("kubectl autoscale deployment web missing web --max=3 --name=one")
    assert out.stdout == "horizontalpodautoscaler.autoscaling/one autoscaled\n"
    assert out.stderr == ('Error from server (NotFound): deployments.apps "missing" not found\n'
                          'Error from server (AlreadyExists): horizontalpodautoscalers.autoscaling "one" already '
                          "exists\n")
    assert out.exit_code == 1


def test_help_is_no_longer_a_placeholder(k):
    out = k("kubectl autoscale --help")
    assert out.stdout.startswith("Creates an autoscaler that automatically chooses and sets the number of pods")
    assert "    --cpu-percent=-1:\n" in out.stdout
    assert "Deploy Commands:\n" in k("kubectl help").stdout
    assert "  autoscale       Auto-scale a deployment" in k("kubectl help").stdout


def test_describe_hpa_as_kubectl_prints_it(k):
    k("kubectl autoscale deployment web --cpu-percent=50 --max=5")
    k.sim.run(60, step=0.5)
    out = k("kubectl describe hpa web").stdout
    head, events = out.split("Events:", 1)
    assert head == """\
Name:                                                  web
Namespace:                                             default
Labels:                                                <none>
Annotations:                                           <none>
CreationTimestamp:                                     Thu, 01 Jan 2026 00:00:00 +0000
Reference:                                             Deployment/web
Metrics:                                               ( current / target )
  resource cpu on pods  (as a percentage of request):  1% (1m) / 50%
Min replicas:                                          1
Max replicas:                                          5
Deployment pods:                                       1 current / 1 desired
Conditions:
  Type            Status  Reason              Message
  ----            ------  ------              -------
  AbleToScale     True    ReadyForNewScale    recommended size matches current size
  ScalingActive   True    ValidMetricFound    the HPA was able to successfully calculate a replica count from cpu \
resource utilization (percentage of request)
  ScalingLimited  False   DesiredWithinRange  the desired count is within the acceptable range
"""


HPA_V2 = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: tuned
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
  - type: Pods
    pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: "10"}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
      policies:
      - {type: Pods, value: 1, periodSeconds: 30}
"""


def test_describe_hpa_with_other_metrics_and_behavior(k):
    k.context.files["tuned.yaml"] = HPA_V2
    assert k("kubectl apply -f tuned.yaml").exit_code == 0
    out = k("kubectl describe hpa tuned").stdout
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Metrics:")))
    assert [line.rstrip() for line in lines[start:start + 16]] == [
        "Metrics:                    ( current / target )",
        "  resource memory on pods:  <unknown> / 100Mi",
        '  "qps" on pods:            <unknown> / 10',
        "Min replicas:               1",
        "Max replicas:               4",
        "Behavior:",
        "  Scale Up:",
        "    Stabilization Window: 0 seconds",
        "    Select Policy: Max",
        "    Policies:",
        "      - Type: Pods     Value: 4    Period: 15 seconds",
        "      - Type: Percent  Value: 100  Period: 15 seconds",
        "  Scale Down:",
        "    Stabilization Window: 60 seconds",
        "    Select Policy: Max",
        "    Policies:",
    ]
    assert lines[start + 16] == "      - Type: Pods  Value: 1  Period: 30 seconds"
    assert lines[start + 17].startswith("Deployment pods:")


HPA_V1 = """\
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: applied
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 1
  maxReplicas: 4
  targetCPUUtilizationPercentage: {target}
"""


def test_apply_create_replace_an_autoscaling_v1_manifest(k):
    k.context.files["hpa.yaml"] = HPA_V1.format(target=60)
    assert k("kubectl apply -f hpa.yaml").stdout == "horizontalpodautoscaler.autoscaling/applied created\n"
    k.context.files["hpa.yaml"] = HPA_V1.format(target=75)
    assert k("kubectl apply -f hpa.yaml").stdout == "horizontalpodautoscaler.autoscaling/applied configured\n"
    assert k("kubectl apply -f hpa.yaml").stdout == "horizontalpodautoscaler.autoscaling/applied unchanged\n"
    stored = k.sim.api.get("HorizontalPodAutoscaler", "default", "applied")
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 75
    out = k("kubectl apply -f hpa.yaml --dry-run=server -o yaml").stdout
    assert out.startswith("apiVersion: autoscaling/v1\n") and "  targetCPUUtilizationPercentage: 75\n" in out
    k.context.files["hpa.yaml"] = HPA_V1.format(target=90)
    assert k("kubectl replace -f hpa.yaml").stdout == "horizontalpodautoscaler.autoscaling/applied replaced\n"
    stored = k.sim.api.get("HorizontalPodAutoscaler", "default", "applied")
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 90
    k.context.files["other.yaml"] = HPA_V1.format(target=0).replace("name: applied", "name: other")
    out = k("kubectl create -f other.yaml")
    assert out.exit_code == 1 and out.stderr == (
        'The HorizontalPodAutoscaler "other" is invalid: spec.metrics[0].resource.target.averageUtilization: Invalid '
        "value: 0: must be greater than 0\n")


def test_autoscale_from_a_file(k):
    assert k("kubectl autoscale -f web.yaml --max=3").stdout == "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    k.context.files["other.yaml"] = WEB.replace("name: web\n", "name: elsewhere\n", 1)
    # Like kubectl's builder, a file names the target without the server being asked for it.
    assert k("kubectl autoscale -f other.yaml --max=3").stdout == (
        "horizontalpodautoscaler.autoscaling/elsewhere autoscaled\n")
    ref = k.sim.api.get("HorizontalPodAutoscaler", "default", "elsewhere")["spec"]["scaleTargetRef"]
    assert ref == {"kind": "Deployment", "name": "elsewhere", "apiVersion": "apps/v1"}
