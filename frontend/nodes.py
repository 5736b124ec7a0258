"""The map's node actions, each a write through the apiserver as `kubectl` or a cloud would make it.

- add: register a new worker Node (what joining a machine with `kubeadm join` ends in); the
  simulation's kubelets take it up at their next tick.
- cordon / uncordon: `spec.unschedulable` (kubectl cordon).
- drain: cordon, then evict every pod but DaemonSet pods and mirror pods (kubectl drain
  --ignore-daemonsets --delete-emptydir-data), through `engine.drain`.
- fail / recover: stop or restart the node's kubelet, as `KubeletManager.fail_node` does: the
  `kubedojo.io/kubelet-stopped` annotation on the Node, which the kubelet honours wherever the
  simulation runs. When this process runs the simulation the kubelet's own `fail_node` /
  `recover_node` are used (they also drop the kubelet's in-memory caches, as a restart would).
"""

from __future__ import annotations

import re

from engine import drain as engine_drain
from engine import errors
from engine.apiserver import ApiServer
from engine.clock import format_rfc3339
from engine.kubelet.nodes import CONTROL_PLANE_LABEL, STOPPED_ANNOTATION, make_node

ACTIONS = ("cordon", "uncordon", "drain", "fail", "recover")
# Most workers the map lets a learner add (the per-cluster node limit of a seat).
MAX_NODES = 20
NODE_SIZES = {"small": ("1", "2Gi"), "standard": ("2", "4Gi"), "large": ("4", "8Gi")}
MERGE = "application/merge-patch+json"


def _node(api: ApiServer, name: str) -> dict:
    return api.get("Node", "", name)


def add_node(api: ApiServer, size: str = "standard") -> dict:
    if size not in NODE_SIZES:
        raise errors.invalid("Node", "", [errors.unsupported("size", size, list(NODE_SIZES))])
    nodes = api.list("Node")["items"]
    if len(nodes) >= MAX_NODES:
        raise errors.forbidden("nodes", "", "", f"this cluster already has {len(nodes)} nodes (at most {MAX_NODES})")
    names = {n["metadata"]["name"] for n in nodes}
    used = {_index(n) for n in nodes}
    index = 1
    while f"node-{index}" in names or index in used:
        index += 1
    cpu, memory = NODE_SIZES[size]
    with api.store.atomic():
        return api.create(make_node(f"node-{index}", cpu=cpu, memory=memory, index=index, now=api.now()))


def _index(node: dict) -> int:
    cidr = (node.get("spec") or {}).get("podCIDR") or ""
    match = re.match(r"10\.(\d+)\.(\d+)\.0/24$", cidr)
    if match:
        return (int(match.group(1)) - 244) * 256 + int(match.group(2))
    match = re.search(r"(\d+)$", node["metadata"]["name"])
    return int(match.group(1)) if match else 0


def set_unschedulable(api: ApiServer, name: str, value: bool) -> dict:
    _node(api, name)
    with api.store.atomic():
        return api.patch("Node", "", name, {"spec": {"unschedulable": True if value else None}}, MERGE)


def check_may_fail(node: dict) -> None:
    if CONTROL_PLANE_LABEL in (node["metadata"].get("labels") or {}):
        raise errors.forbidden("nodes", node["metadata"]["name"], "",
                               "the control-plane node cannot be failed here: fail a worker node")


def set_stopped(api: ApiServer, name: str, stopped: bool) -> dict:
    node = _node(api, name)
    if stopped:
        check_may_fail(node)
    value = format_rfc3339(api.now())
    with api.store.atomic():
        return api.patch("Node", "", name, {"metadata": {"annotations": {STOPPED_ANNOTATION: value if stopped else None}}},
                         MERGE)


def drain(api: ApiServer, name: str) -> dict:
    """`kubectl drain --ignore-daemonsets --delete-emptydir-data NODE` without waiting for the pods to go:
    cordon, then evict every pod kubectl would (engine.drain's filters and wording). Returns
    {"evicted": ["ns/name", ...], "output": kubectl's lines}; a drain kubectl would refuse (a pod
    without a controller, say) is a 400 Status carrying kubectl's error text."""
    _node(api, name)
    drainer = engine_drain.Drainer(api, name, engine_drain.DrainOptions(ignore_daemonsets=True,
                                                                        delete_emptydir_data=True))
    with api.store.atomic():
        lines = drainer.start()
    text = "".join(line.text + "\n" for line in lines)
    if drainer.failed:
        raise errors.ApiError(400, "BadRequest", text.strip())
    evicted = [line.text.removeprefix("evicting pod ") for line in lines if line.text.startswith("evicting pod ")]
    return {"node": name, "evicted": evicted, "output": text}
