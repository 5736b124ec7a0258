"""`kubectl autoscale` and HorizontalPodAutoscalers through the real kubectl 1.32.

kubectl autoscale builds an autoscaling/v1 HorizontalPodAutoscaler and POSTs it as protobuf; the
server stores it as autoscaling/v2 and serves both versions.
"""

from __future__ import annotations

import json

import pytest

NS = "autoscale"

DEPLOYMENT = """\
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


@pytest.fixture(scope="module")
def k(kubectl):
    kubectl("create", "namespace", NS)

    def run(*args, **kwargs):
        return kubectl("-n", NS, *args, **kwargs)

    run.kubectl = kubectl
    kubectl("-n", NS, "apply", "-f", str(kubectl.write("web.yaml", DEPLOYMENT)))
    return run


def test_autoscale_creates_a_v1_hpa_stored_as_v2(k):
    out = k("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=5")
    assert out.stdout == "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    assert k("get", "hpa", "web", "-o", "jsonpath={.apiVersion} {.spec.metrics[0].resource.target}").stdout == (
        'autoscaling/v2 {"averageUtilization":50,"type":"Utilization"}')
    v1 = k("get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o",
           "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage} {.spec.minReplicas}").stdout
    assert v1 == "autoscaling/v1 50 1"


def test_get_and_describe_show_the_controllers_status(k):
    k("autoscale", "deployment", "web", "--max=3", "--name=web-status")
    # Once the controller has read the pods' CPU, the TARGETS column shows it against the target.
    out = k.kubectl.wait_for(lambda o: "<unknown>" not in o and "web-status" in o, "-n", NS, "get", "hpa", "web-status")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    cells = row.split()
    assert cells[:2] == ["web-status", "Deployment/web"]
    assert cells[2] == "cpu:" and cells[3].endswith("%/80%") and cells[4:7] == ["1", "3", "1"]
    described = k.kubectl.wait_for(lambda o: "ScalingLimited" in o, "-n", NS, "describe", "hpa", "web-status")
    assert "Reference:                                             Deployment/web\n" in described
    assert "Metrics:                                               ( current / target )\n" in described
    assert "  resource cpu on pods  (as a percentage of request):  " in described
    assert "Deployment pods:                                       1 current / 1 desired\n" in described
    conditions = described.split("Conditions:\n", 1)[1].splitlines()
    assert conditions[0].split() == ["Type", "Status", "Reason", "Message"]
    assert conditions[2].split()[:3] == ["AbleToScale", "True", "ReadyForNewScale"]
    assert conditions[3].split()[:3] == ["ScalingActive", "True", "ValidMetricFound"]
    assert conditions[4].split()[:3] == ["ScalingLimited", "False", "DesiredWithinRange"]
    # The v1 view carries the current CPU in its own field and the conditions in an annotation.
    v1 = json.loads(k("get", "horizontalpodautoscalers.v1.autoscaling", "web-status", "-o", "json").stdout)
    assert isinstance(v1["status"]["currentCPUUtilizationPercentage"], int)
    reasons = [c["reason"] for c in json.loads(v1["metadata"]["annotations"][
        "autoscaling.alpha.kubernetes.io/conditions"])]
    assert reasons == ["ReadyForNewScale", "ValidMetricFound", "DesiredWithinRange"]


def test_dry_runs_and_output(k):
    out = k("autoscale", "deployment", "web", "--max=3", "--name=dry", "--dry-run=client", "-o", "yaml")
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
    assert k("autoscale", "deployment", "web", "--max=3", "--name=dry", "--dry-run=client").stdout == (
        "horizontalpodautoscaler.autoscaling/dry created (dry run)\n")
    assert k("autoscale", "deployment", "web", "--max=3", "--name=dry", "--dry-run=server").stdout == (
        "horizontalpodautoscaler.autoscaling/dry autoscaled (server dry run)\n")
    assert k("get", "hpa", "dry", check=False).returncode == 1
    assert k("autoscale", "deploy/web", "--max=2", "--name=named", "-o", "name").stdout == (
        "horizontalpodautoscaler.autoscaling/named\n")


def test_errors(k):
    k("create", "configmap", "settings")
    out = k("autoscale", "configmap", "settings", "--max=3", check=False)
    assert out.returncode == 1
    assert out.stderr == ("error: cannot autoscale a ConfigMap: could not find scale subresource for /v1, "
                          "Resource=configmaps in discovery information\n")
    out = k("autoscale", "deployment", "web", "--max=0", check=False)
    assert out.stderr == "error: --max=MAXPODS is required and must be at least 1, max: 0\n"
    out = k("autoscale", "deployment", "web", "--max=2", "--min=3", check=False)
    assert out.stderr == "error: --max=MAXPODS must be larger or equal to --min=MINPODS, max: 2, min: 3\n"
    out = k("autoscale", "deployment", "missing", "--max=3", check=False)
    assert out.stderr == 'Error from server (NotFound): deployments.apps "missing" not found\n'
    k("autoscale", "deployment", "web", "--max=3", "--name=twice")
    out = k("autoscale", "deployment", "web", "--max=3", "--name=twice", check=False)
    assert out.stderr == ('Error from server (AlreadyExists): horizontalpodautoscalers.autoscaling "twice" already '
                          "exists\n")
    out = k("autoscale", "deployment", "web", "--max=3", "--cpu-percent=0", "--name=zero", check=False)
    assert out.stderr == ('The HorizontalPodAutoscaler "zero" is invalid: spec.metrics[0].resource.target.'
                          "averageUtilization: Invalid value: 0: must be greater than 0\n")


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


def test_apply_an_autoscaling_v1_manifest(k):
    path = k.kubectl.write("hpa-v1.yaml", HPA_V1.format(target=60))
    assert k("apply", "-f", str(path)).stdout == "horizontalpodautoscaler.autoscaling/applied created\n"
    path = k.kubectl.write("hpa-v1.yaml", HPA_V1.format(target=75))
    assert k("apply", "-f", str(path)).stdout == "horizontalpodautoscaler.autoscaling/applied configured\n"
    assert k("get", "hpa", "applied", "-o", "jsonpath={.spec.metrics[0].resource.target.averageUtilization}"
             ).stdout == "75"
    assert k("apply", "-f", str(path)).stdout == "horizontalpodautoscaler.autoscaling/applied unchanged\n"
    explained = k("explain", "hpa.spec.targetCPUUtilizationPercentage", "--api-version=autoscaling/v1").stdout
    assert explained.startswith("GROUP:      autoscaling\nKIND:       HorizontalPodAutoscaler\nVERSION:    v1\n")


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


def test_describe_shows_other_metrics_and_behavior(k):
    k("apply", "-f", str(k.kubectl.write("tuned.yaml", HPA_V2)))
    lines = k("describe", "hpa", "tuned").stdout.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Metrics:")))
    assert lines[start].split() == ["Metrics:", "(", "current", "/", "target", ")"]
    assert lines[start + 1].startswith("  resource memory on pods:  ") and lines[start + 1].endswith(" / 100Mi")
    assert lines[start + 2].startswith('  "qps" on pods:            ') and lines[start + 2].endswith(" / 10")
    assert [line.rstrip() for line in lines[start + 3:start + 17]] == [
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
        "      - Type: Pods  Value: 1  Period: 30 seconds",
    ]
    assert lines[start + 17].startswith("Deployment pods:    ")


def test_watch_in_v1_sees_v1_objects(k):
    import signal
    import threading

    k("autoscale", "deployment", "web", "--max=2", "--cpu-percent=40", "--name=watched")
    watcher = k.kubectl.popen("-n", NS, "get", "horizontalpodautoscalers.v1.autoscaling", "watched", "-w", "-o",
                              "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage}{\"\\n\"}")
    guard = threading.Timer(40, watcher.kill)  # a stuck stream ends the test instead of hanging it
    guard.start()
    try:
        first = watcher.stdout.readline()
        k("patch", "horizontalpodautoscalers.v1.autoscaling", "watched", "-p",
          '{"spec":{"targetCPUUtilizationPercentage":45}}')
        lines = [first]
        while not lines[-1].endswith(" 45\n"):
            line = watcher.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        guard.cancel()
        watcher.send_signal(signal.SIGINT)
        watcher.communicate(timeout=10)
    assert lines[0] == "autoscaling/v1 40\n"
    assert lines[-1] == "autoscaling/v1 45\n"
    assert {line.split()[0] for line in lines} == {"autoscaling/v1"}


def test_autoscale_from_a_file_names_the_target_without_fetching_it(k):
    path = k.kubectl.write("elsewhere.yaml", DEPLOYMENT.replace("name: web\n", "name: elsewhere\n", 1))
    assert k("autoscale", "-f", str(path), "--max=3").stdout == (
        "horizontalpodautoscaler.autoscaling/elsewhere autoscaled\n")
    assert k("get", "hpa", "elsewhere", "-o", "jsonpath={.spec.scaleTargetRef.name}").stdout == "elsewhere"
