"""The HorizontalPodAutoscaler (autoscaling/v2) on simulated CPU usage (seed 001: HorizontalPodAutoscaler).

The usage of a pod is its image's resting CPU plus load: a `kubedojo.io/cpu-load`
annotation on a Service is demand shared by its ready pods. Under 350m of load
a Deployment of one pod requesting 100m at a 100 % target scales to 4; once
the load is gone it stays at 4 for the 5-minute downscale stabilisation
window and then goes back to 1.
"""

from __future__ import annotations

from engine.clock import parse_rfc3339
from engine.controllers.hpa import resource_replicas
from engine.kubelet.usage import LOAD_ANNOTATION, cpu_usage_by_pod, pod_cpu_usage_millis
from engine.store import copy_json
from tests.engine.cluster import condition, events, get, make_cluster


def deployment(name="php-apache", replicas=1, requests=True) -> dict:
    container = {"name": "php", "image": "nginx:1.27"}
    if requests:
        container["resources"] = {"requests": {"cpu": "100m"}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def service(name="php-apache", load="350m") -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "annotations": {LOAD_ANNOTATION: load}},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}


def hpa(name="php-apache", target="php-apache", min_replicas=1, max_replicas=10, utilization=100) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": utilization}}}]}}


def replicas(sim, name="php-apache") -> int:
    return get(sim, "Deployment", name)["spec"]["replicas"]


def conditions(sim, name="php-apache") -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in get(sim, "HorizontalPodAutoscaler", name)["status"].get(
        "conditions") or []]


def test_scales_up_to_four_under_load_and_back_down_only_after_five_minutes():
    sim = make_cluster(workers=2)
    sim.api.create(deployment())
    sim.api.create(service())
    sim.run(20, step=1)
    sim.api.create(hpa())
    assert sim.run_until(lambda s: replicas(s) == 4, timeout=60, step=1)
    assert events(sim, "SuccessfulRescale", "php-apache") == [
        "New size: 4; reason: cpu resource utilization (percentage of request) above target"]
    assert sim.run_until(lambda s: get(s, "Deployment", "php-apache").get("status", {}).get("availableReplicas") == 4
                         and get(s, "HorizontalPodAutoscaler", "php-apache")["status"]["currentMetrics"][0]["resource"][
                             "current"]["averageUtilization"] < 100, timeout=60, step=1)
    status = get(sim, "HorizontalPodAutoscaler", "php-apache")["status"]
    assert status["currentReplicas"] == 4 and status["desiredReplicas"] == 4 and status["lastScaleTime"]
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {"name": "cpu", "current": {
        "averageUtilization": 88, "averageValue": "88m"}}}]  # 350m of load + 1m each at rest, over 4 pods
    assert conditions(sim)[1:] == [("ScalingActive", "True", "ValidMetricFound"),
                                   ("ScalingLimited", "False", "DesiredWithinRange")]
    assert condition(get(sim, "HorizontalPodAutoscaler", "php-apache"), "AbleToScale")["status"] == "True"
    assert condition(get(sim, "HorizontalPodAutoscaler", "php-apache"), "ScalingActive")["message"] == (
        "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of "
        "request)")

    sim.run(60, step=1)  # a minute of steady load: no change within the 10 % tolerance
    assert replicas(sim) == 4
    quiet = copy_json(sim.api.get("Service", "default", "php-apache"))
    quiet["metadata"]["annotations"] = {}
    sim.api.update(quiet)
    load_gone = sim.clock.now()
    sim.run(30, step=1)
    assert replicas(sim) == 4
    assert ("AbleToScale", "True", "ScaleDownStabilized") in conditions(sim)
    assert sim.run_until(lambda s: replicas(s) == 1, timeout=400, step=5)
    scaled_down = parse_rfc3339(get(sim, "HorizontalPodAutoscaler", "php-apache")["status"]["lastScaleTime"])
    assert 285 <= scaled_down - load_gone <= 330  # the last high recommendation was at most a sync period earlier
    assert events(sim, "SuccessfulRescale", "php-apache")[-1] == "New size: 1; reason: All metrics below target"


def test_limits_min_max_and_the_scale_up_rate():
    sim = make_cluster(workers=2)
    sim.api.create(deployment())
    sim.api.create(service(load="2"))
    sim.run(20, step=1)
    sim.api.create(hpa(max_replicas=6))
    assert sim.run_until(lambda s: replicas(s) == 4, timeout=60, step=1)
    # 20x the target asks for 21 pods: the first step is capped at max(2 x 1, 4), the next at maxReplicas.
    assert ("ScalingLimited", "True", "ScaleUpLimit") in conditions(sim)
    assert sim.run_until(lambda s: replicas(s) == 6, timeout=60, step=1)
    assert ("ScalingLimited", "True", "TooManyReplicas") in conditions(sim)
    assert condition(get(sim, "HorizontalPodAutoscaler", "php-apache"), "ScalingLimited")["message"] == (
        "the desired replica count is more than the maximum replica count")

    sim.api.create(deployment("small"))
    sim.api.create(hpa("small", "small", min_replicas=2))
    assert sim.run_until(lambda s: replicas(s, "small") == 2, timeout=30, step=1)
    assert events(sim, "SuccessfulRescale", "small") == [
        "New size: 2; reason: Current number of replicas below Spec.MinReplicas"]


def test_missing_requests_and_missing_target_are_reported():
    sim = make_cluster(workers=1)
    sim.api.create(deployment("norequests", requests=False))
    sim.run(10, step=1)
    sim.api.create(hpa("norequests", "norequests"))
    sim.api.create(hpa("ghost", "nope"))
    sim.run(40, step=1)
    pod_name = next(p["metadata"]["name"] for p in sim.cache.list("Pod", "default")
                    if p["metadata"]["name"].startswith("norequests-"))
    active = condition(get(sim, "HorizontalPodAutoscaler", "norequests"), "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == ("the HPA was unable to compute the replica count: failed to get cpu utilization: "
                                 f"missing request for cpu in container php of Pod {pod_name}")
    assert events(sim, "FailedComputeMetricsReplicas", "norequests")[-1] == (
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to "
        f"get cpu utilization: missing request for cpu in container php of Pod {pod_name}")
    assert get(sim, "HorizontalPodAutoscaler", "norequests")["status"]["currentMetrics"] == [{"type": ""}]
    able = condition(get(sim, "HorizontalPodAutoscaler", "ghost"), "AbleToScale")
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
    assert able["message"] == ('the HPA controller was unable to get the target\'s current scale: '
                               'deployments.apps "nope" not found')
    assert events(sim, "FailedGetScale", "ghost") == ['deployments.apps "nope" not found']


def test_the_replica_calculation_and_usage():
    now = 10_000.0
    stamp = "1970-01-01T02:00:00Z"  # long before now: past the CPU initialisation period
    running = {"phase": "Running", "startTime": stamp,
               "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp}],
               "containerStatuses": [{"name": "web", "state": {"running": {"startedAt": stamp}}}]}

    def pod(name, load=None):
        meta = {"name": name, "namespace": "default", "labels": {"app": "web"}}
        if load:
            meta["annotations"] = {LOAD_ANNOTATION: load}
        return {"metadata": meta, "spec": {"containers": [{"name": "web", "image": "nginx",
                                                           "resources": {"requests": {"cpu": "100m"}}}]},
                "status": copy_json(running)}

    pods = [pod("a", "104m"), pod("b", "104m")]
    assert pod_cpu_usage_millis(pods[0], now) == 105  # 1m at rest + the annotation
    metrics = {p["metadata"]["name"]: pod_cpu_usage_millis(p, now) for p in pods}
    assert resource_replicas(2, 100, pods, metrics, "cpu", now) == (2, 105, 105)  # within the 10 % tolerance
    assert resource_replicas(2, 50, pods, metrics, "cpu", now)[0] == 5  # ceil(2 x 210 %)
    svc = {"metadata": {"name": "web", "namespace": "default", "annotations": {LOAD_ANNOTATION: "400m"}},
           "spec": {"selector": {"app": "web"}}}
    assert cpu_usage_by_pod(pods, [svc], now) == {("default", "a"): 305, ("default", "b"): 305}
