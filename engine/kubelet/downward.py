"""The downward API's resourceFieldRef, as the kubelet resolves it (fieldpath.ExtractContainerResourceValue).

A container's `limits.cpu` / `limits.memory` are its limits, or the node's allocatable when it sets none
(MergeContainerResourceLimits); `requests.*` are its requests, 0 when unset. The value is divided by the
divisor (default 1) and rounded up: 500m of CPU reads as `1`, 64Mi of memory as `67108864`, and with
divisor 1m the CPU reads `500`, with divisor 1Mi the memory `64`.
"""

from __future__ import annotations

import math

from engine.resources.quantity import cpu_millis, memory_bytes

_CPU = ("limits.cpu", "requests.cpu")
_BYTES = ("limits.memory", "requests.memory", "limits.ephemeral-storage", "requests.ephemeral-storage")


def resource_field_value(container: dict, allocatable: dict, ref: dict) -> str | None:
    """The string an env var or a downward API volume file gets, or None for an unknown resource."""
    resource = ref.get("resource", "")
    if resource not in _CPU + _BYTES:
        return None
    kind, _, name = resource.partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(name)
    if value is None and kind == "limits":
        value = allocatable.get(name)
    divisor = ref.get("divisor") or "1"
    try:
        if resource in _CPU:
            amount = cpu_millis(value) if value is not None else 0
            return str(math.ceil(amount / max(1, cpu_millis(divisor))))
        amount = memory_bytes(value) if value is not None else 0
        return str(math.ceil(amount / max(1, memory_bytes(divisor))))
    except (TypeError, ValueError):
        return None


__all__ = ["resource_field_value"]
