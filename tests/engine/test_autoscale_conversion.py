"""autoscaling/v1 <-> v2 HorizontalPodAutoscaler conversion (engine.resources.versions), as kube-apiserver converts."""

from __future__ import annotations

import json

import pytest

from engine import errors
from engine.resources import versions

REF = {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}
CPU = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}


def v2(**spec):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 4, **spec}}


def test_v1_target_cpu_becomes_the_first_metric():
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": REF, "maxReplicas": 4, "targetCPUUtilizationPercentage": 60}}
    out = versions.to_storage(versions.HPA_V1, v1)
    assert out["apiVersion"] == "autoscaling/v2"
    assert out["spec"] == {"scaleTargetRef": REF, "maxReplicas": 4, "metrics": [CPU]}
    assert "status" not in out


def test_v1_without_target_has_no_metrics_so_v2_defaulting_applies():
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": REF, "maxReplicas": 4}}
    assert "metrics" not in versions.to_storage(versions.HPA_V1, v1)["spec"]


def test_v2_to_v1_keeps_the_first_cpu_utilization_and_annotates_the_rest():
    pods = {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                            "averageValue": "10"}}}
    second_cpu = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue",
                                                                             "averageValue": "200m"}}}
    obj = v2(metrics=[pods, CPU, second_cpu])
    obj["status"] = {"desiredReplicas": 2, "currentReplicas": 1, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42,
                                                                     "averageValue": "42m"}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "7"}}}]}
    out = versions.from_storage(versions.HPA_V1, obj)
    assert out["apiVersion"] == "autoscaling/v1"
    assert out["spec"] == {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 4,
                           "targetCPUUtilizationPercentage": 60}
    annotations = out["metadata"]["annotations"]
    assert json.loads(annotations[versions.METRICS_ANNOTATION]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}},
        {"type": "Resource", "resource": {"name": "cpu", "targetAverageValue": "200m"}}]
    assert out["status"] == {"currentReplicas": 1, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 42}
    assert json.loads(annotations[versions.CURRENT_METRICS_ANNOTATION]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "currentAverageValue": "7"}}]
    assert obj["metadata"] == {"name": "web", "namespace": "default"}  # the stored object is not touched


@pytest.mark.parametrize("metric", [
    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
    {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {
        "type": "Utilization", "averageUtilization": 70}}},
    {"type": "Pods", "pods": {"metric": {"name": "qps", "selector": {"matchLabels": {"a": "b"}}},
                              "target": {"type": "AverageValue", "averageValue": "5"}}},
    {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
                                  "metric": {"name": "rps"}, "target": {"type": "Value", "value": "100"}}},
    {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue",
                                                                              "averageValue": "30"}}},
])
def test_every_metric_kind_survives_a_round_trip_through_v1(metric):
    obj = v2(metrics=[CPU, metric], behavior={"scaleUp": {"stabilizationWindowSeconds": 30}})
    back = versions.to_storage(versions.HPA_V1, versions.from_storage(versions.HPA_V1, obj))
    assert back["spec"]["metrics"] == [CPU, metric]
    assert back["spec"]["behavior"] == {"scaleUp": {"stabilizationWindowSeconds": 30}}
    assert "annotations" not in back["metadata"]


def test_conditions_round_trip_and_other_annotations_stay():
    condition = {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                 "message": "the HPA was unable to compute the replica count", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    obj = v2(metrics=[CPU])
    obj["metadata"]["annotations"] = {"team": "web"}
    obj["status"] = {"desiredReplicas": 1, "conditions": [condition]}
    out = versions.from_storage(versions.HPA_V1, obj)
    assert out["metadata"]["annotations"]["team"] == "web"
    assert out["status"] == {"currentReplicas": 0, "desiredReplicas": 1}
    back = versions.to_storage(versions.HPA_V1, out)
    assert back["metadata"]["annotations"] == {"team": "web"}
    assert back["status"]["conditions"] == [condition]


def test_a_broken_annotation_is_a_bad_request():
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
          "metadata": {"name": "web", "annotations": {versions.METRICS_ANNOTATION: "{"}},
          "spec": {"scaleTargetRef": REF, "maxReplicas": 4}}
    with pytest.raises(errors.ApiError) as exc:
        versions.to_storage(versions.HPA_V1, v1)
    assert exc.value.code == 400


def test_only_the_extra_version_converts():
    stored = versions.served("autoscaling", "horizontalpodautoscalers", "v2")
    assert stored.version == "v2" and not versions.is_converted(stored)
    obj = v2(metrics=[CPU])
    assert versions.from_storage(stored, obj) is obj
    assert versions.served("autoscaling", "horizontalpodautoscalers", "v1") is versions.HPA_V1
    assert versions.served("autoscaling", "horizontalpodautoscalers", "v2beta2") is None
    assert versions.served("apps", "deployments", "v1").kind == "Deployment"
