"""HorizontalPodAutoscaler served in autoscaling/v2 (stored, preferred) and autoscaling/v1, converted both ways
as kube-apiserver converts them (targetCPUUtilizationPercentage <-> a cpu Utilization metric; the rest in
autoscaling.alpha.kubernetes.io annotations)."""

from __future__ import annotations

import json

from tests.api.conftest import TABLE, status_of
from tests.api.test_protobuf import PB, field, message, meta, unknown

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
V2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
TARGET = {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}
CPU_50 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
MEMORY = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                         "averageValue": "100Mi"}}}


def v1_hpa(name="web", **spec):
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": TARGET, "maxReplicas": 5, **spec}}


def test_discovery_lists_both_versions_v2_preferred(k8s):
    autoscaling = next(g for g in k8s.get("/apis").json()["groups"] if g["name"] == "autoscaling")
    assert autoscaling["versions"] == [{"groupVersion": "autoscaling/v2", "version": "v2"},
                                       {"groupVersion": "autoscaling/v1", "version": "v1"}]
    assert autoscaling["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert k8s.get("/apis/autoscaling").json()["versions"] == autoscaling["versions"]
    v1 = {r["name"]: r for r in k8s.get("/apis/autoscaling/v1").json()["resources"]}
    v2 = {r["name"]: r for r in k8s.get("/apis/autoscaling/v2").json()["resources"]}
    assert set(v1) == set(v2) == {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}
    assert v1["horizontalpodautoscalers"]["shortNames"] == ["hpa"]
    # The hash names the storage version: the same whichever version serves it.
    assert v1["horizontalpodautoscalers"]["storageVersionHash"] == v2["horizontalpodautoscalers"]["storageVersionHash"]

    body = json.loads(k8s.get("/apis", accept=AGGREGATED).content)
    group = next(g for g in body["items"] if g["metadata"]["name"] == "autoscaling")
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
    hpa_v1 = group["versions"][1]["resources"][0]
    assert hpa_v1["resource"] == "horizontalpodautoscalers"
    assert hpa_v1["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"}


def test_v1_create_is_stored_as_v2_and_read_in_either(k8s):
    response = k8s.post(V1, v1_hpa(minReplicas=2, targetCPUUtilizationPercentage=50))
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["apiVersion"] == "autoscaling/v1"
    assert created["spec"] == {"scaleTargetRef": TARGET, "minReplicas": 2, "maxReplicas": 5,
                               "targetCPUUtilizationPercentage": 50}
    assert created["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    as_v2 = k8s.get(V2 + "/web").json()
    assert as_v2["apiVersion"] == "autoscaling/v2" and as_v2["spec"]["metrics"] == [CPU_50]
    assert "annotations" not in as_v2["metadata"]
    assert k8s.get(V1 + "/web").json()["spec"]["targetCPUUtilizationPercentage"] == 50
    listed = k8s.get(V1).json()
    assert listed["apiVersion"] == "autoscaling/v1" and listed["kind"] == "HorizontalPodAutoscalerList"
    assert [i["apiVersion"] for i in listed["items"]] == ["autoscaling/v1"]


def test_v1_without_a_target_gets_the_v2_default_of_80_percent(k8s):
    created = k8s.post(V1, v1_hpa()).json()
    assert created["spec"]["minReplicas"] == 1 and created["spec"]["targetCPUUtilizationPercentage"] == 80


def test_what_v1_cannot_hold_travels_in_annotations_and_back(k8s):
    body = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "mixed"},
            "spec": {"scaleTargetRef": TARGET, "maxReplicas": 4, "metrics": [MEMORY, CPU_50],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}
    assert k8s.post(V2, body).status_code == 201
    as_v1 = k8s.get(V1 + "/mixed").json()
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 50
    annotations = as_v1["metadata"]["annotations"]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/behavior"])["scaleDown"][
        "stabilizationWindowSeconds"] == 60
    # A v1 client writes back what it read: nothing is lost, and the annotations do not stay.
    as_v1["spec"]["maxReplicas"] = 6
    response = k8s.put(V1 + "/mixed", as_v1)
    assert response.status_code == 200, response.content
    stored = k8s.get(V2 + "/mixed").json()
    assert stored["spec"]["maxReplicas"] == 6
    assert stored["spec"]["metrics"] == [CPU_50, MEMORY]
    assert stored["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert "annotations" not in stored["metadata"]


def test_v1_patch_applies_to_the_v1_view(k8s):
    k8s.post(V1, v1_hpa(targetCPUUtilizationPercentage=50))
    response = k8s.patch(V1 + "/web", {"spec": {"targetCPUUtilizationPercentage": 70}})
    assert response.status_code == 200, response.content
    assert response.json()["spec"]["targetCPUUtilizationPercentage"] == 70
    metric = k8s.get(V2 + "/web").json()["spec"]["metrics"][0]
    assert metric["resource"]["target"]["averageUtilization"] == 70


def test_v1_status_carries_current_cpu_and_conditions(k8s):
    k8s.post(V1, v1_hpa(targetCPUUtilizationPercentage=50))
    hpa = k8s.get(V2 + "/web").json()
    condition = {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                 "message": "recommended size matches current size", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    hpa["status"] = {"currentReplicas": 2, "desiredReplicas": 3, "conditions": [condition], "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 75,
                                                                     "averageValue": "75m"}}}]}
    assert k8s.put(V2 + "/web/status", hpa).status_code == 200
    as_v1 = k8s.get(V1 + "/web").json()
    assert as_v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 75}
    assert json.loads(as_v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"]) == [condition]


def test_v1_table_prints_as_v2(k8s):
    k8s.post(V1, v1_hpa(targetCPUUtilizationPercentage=50))
    table = k8s.get(V1, accept=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]][:7] == [
        "Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
    assert table["rows"][0]["cells"][1:6] == ["Deployment/web", "cpu: <unknown>/50%", "1", 5, 0]


def test_v1_bad_input_is_a_status_and_changes_nothing(k8s):
    before = k8s.revision()
    response = k8s.post(V1, v1_hpa(targetCPUUtilizationPercentage="lots"))
    assert status_of(response)["code"] == 400, response.content
    invalid = status_of(k8s.post(V1, v1_hpa(targetCPUUtilizationPercentage=0)))
    assert invalid["code"] == 422 and invalid["details"]["causes"][0]["field"] == (
        "spec.metrics[0].resource.target.averageUtilization")
    bad = v1_hpa()
    bad["metadata"]["annotations"] = {"autoscaling.alpha.kubernetes.io/metrics": "not json"}
    assert status_of(k8s.post(V1, bad))["code"] == 400
    assert k8s.revision() == before


def test_v1_protobuf_from_kubectl_autoscale(k8s):
    ref = message(field(1, "Deployment"), field(2, "web"), field(3, "apps/v1"))
    spec = message(field(1, ref), field(2, 1), field(3, 5), field(4, 50))
    raw = unknown("autoscaling/v1", "HorizontalPodAutoscaler", message(field(1, meta("web")), field(2, spec),
                                                                       field(3, message(field(3, 0), field(4, 0)))))
    response = k8s.post(V1 + "?fieldManager=kubectl-autoscale", raw=raw, content_type=PB)
    assert response.status_code == 201, response.content
    assert response.json()["spec"] == {"scaleTargetRef": TARGET, "minReplicas": 1, "maxReplicas": 5,
                                       "targetCPUUtilizationPercentage": 50}
    assert k8s.get(V2 + "/web").json()["spec"]["metrics"] == [CPU_50]
