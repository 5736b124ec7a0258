"""A pod's QoS class (Guaranteed, Burstable, BestEffort), as the apiserver records it in status.qosClass."""

from __future__ import annotations

from engine.resources.quantity import parse_quantity

_COMPUTE = ("cpu", "memory")


def qos_class(pod: dict) -> str:
    containers = list((pod.get("spec") or {}).get("containers") or []) + list(
        (pod.get("spec") or {}).get("initContainers") or [])
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if any(k in requests or k in limits for k in _COMPUTE):
            any_set = True
        for resource in _COMPUTE:
            limit = limits.get(resource)
            request = requests.get(resource, limit)
            if limit is None or _q(request) != _q(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _q(value):
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return value
