"""The node lifecycle controller (and the taint-based eviction it drives).

Every few seconds it checks each node's heartbeat Lease. A node whose Lease is
older than the grace period (40 s) has its conditions set to Unknown ("Kubelet
stopped posting node status."), gets the `node.kubernetes.io/unreachable`
taints (NoSchedule, and NoExecute with its timeAdded), and its pods are marked
not Ready with a NodeNotReady Event. Pods that do not tolerate the NoExecute
taint are evicted (deleted) at once; those that tolerate it for a while (the
300 s every pod gets by default) when that time is up. An evicted pod on a dead
node stays Terminating: no kubelet is there to confirm. When the kubelet
heartbeats again and posts Ready, the taints come off.
"""

from __future__ import annotations

from engine.apiserver.server import set_condition
from engine.clock import format_rfc3339, parse_rfc3339
from engine.controllers.base import Controller, Key
from engine.kubelet.nodes import NODE_LEASE_NAMESPACE, condition, parse_micro_time
from engine.scheduler.framework import tolerates
from engine.store import DELETED, Change, copy_json

NODE_MONITOR_PERIOD = 5.0
NODE_MONITOR_GRACE_PERIOD = 40.0
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
NODE_CONTROLLER = "node-controller"
TAINT_EVICTION_CONTROLLER = "taint-eviction-controller"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
_NODE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
_MONITOR_KEY: Key = ("NodeMonitor", "", "")


def desired_taint_keys(node: dict) -> str | None:
    """Which condition taint a node should carry: unreachable (Ready Unknown), not-ready (False) or none."""
    ready = condition(node, "Ready")
    value = (ready or {}).get("status", "Unknown")
    if value == "True":
        return None
    return UNREACHABLE if value == "Unknown" else NOT_READY


_CONDITION_TAINTS = (("MemoryPressure", "node.kubernetes.io/memory-pressure"),
                     ("DiskPressure", "node.kubernetes.io/disk-pressure"),
                     ("PIDPressure", "node.kubernetes.io/pid-pressure"))
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
_NO_SCHEDULE_KEYS = {key for _, key in _CONDITION_TAINTS} | {UNSCHEDULABLE}


def no_schedule_taint_keys(node: dict) -> list[str]:
    """The NoSchedule taints a node's conditions (True pressure) and spec.unschedulable call for."""
    keys = [key for ctype, key in _CONDITION_TAINTS if (condition(node, ctype) or {}).get("status") == "True"]
    if (node.get("spec") or {}).get("unschedulable"):
        keys.append(UNSCHEDULABLE)
    return keys


def eviction_delay(pod: dict, taint: dict) -> float | None:
    """Seconds a pod may stay on a node with this NoExecute taint: 0 if untolerated, None if forever."""
    matching = [t for t in (pod.get("spec") or {}).get("tolerations") or [] if tolerates(t, taint)]
    if not matching:
        return 0.0
    limits = [t.get("tolerationSeconds") for t in matching]
    if any(limit is None for limit in limits):
        return None
    return max(0.0, float(min(limits)))


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"
    primary_kind = "Node"

    def __init__(self, sim):
        super().__init__(sim)
        self._monitoring = False

    def handle(self, change: Change) -> None:
        if change.kind == "Node" and change.type != DELETED:
            self.enqueue("Node", "", change.name)
        elif change.kind == "Pod" and change.type != DELETED:
            node = (change.object.get("spec") or {}).get("nodeName")
            if node and self._has_no_execute(node):
                self.enqueue("Node", "", node)

    def resync(self) -> None:
        super().resync()
        if not self._monitoring:
            self._monitoring = True
            self.queue.add(_MONITOR_KEY)

    def _has_no_execute(self, name: str) -> bool:
        node = self.sim.cache.get("Node", "", name)
        return node is not None and any(t.get("effect") == "NoExecute" and t.get("key") in (UNREACHABLE, NOT_READY)
                                        for t in (node.get("spec") or {}).get("taints") or [])

    def sync(self, key: Key) -> None:
        if key == _MONITOR_KEY:
            self.monitor()
            return
        node = self.sim.cache.get("Node", "", key[2])
        if node is not None:
            self.sync_node(node)

    # --- health ---------------------------------------------------------------------------------
    def monitor(self) -> None:
        """monitorNodeHealth: every few seconds, nodes whose heartbeat is too old become Unknown."""
        try:
            now = self.sim.clock.now()
            for node in self.sim.cache.list("Node"):
                ready = condition(node, "Ready")
                silent = now - self.last_heartbeat(node) > NODE_MONITOR_GRACE_PERIOD
                if silent and (ready or {}).get("status") != "Unknown":
                    self.enqueue("Node", "", node["metadata"]["name"])
        finally:
            self.enqueue_after(_MONITOR_KEY, NODE_MONITOR_PERIOD)

    def last_heartbeat(self, node: dict) -> float:
        name = node["metadata"]["name"]
        lease = self.sim.cache.get("Lease", NODE_LEASE_NAMESPACE, name)
        renewed = parse_micro_time(((lease or {}).get("spec") or {}).get("renewTime"))
        ready = condition(node, "Ready") or {}
        posted = parse_rfc3339(ready.get("lastHeartbeatTime"))
        candidates = [t for t in (renewed, posted) if t is not None]
        if candidates:
            return max(candidates)
        created = parse_rfc3339(node["metadata"].get("creationTimestamp"))
        return created if created is not None else self.sim.clock.now()

    def sync_node(self, node: dict) -> None:
        now = self.sim.clock.now()
        ready = condition(node, "Ready")
        if (ready or {}).get("status") != "Unknown" and now - self.last_heartbeat(node) > NODE_MONITOR_GRACE_PERIOD:
            node = self._mark_unknown(node, now)
        node = self._reconcile_taints(node, now)
        self._evict(node, now)

    def _mark_unknown(self, node: dict, now: float) -> dict:
        status = copy_json(node.get("status") or {})
        when = format_rfc3339(now)
        for cond in status.get("conditions") or []:
            if cond.get("type") in _NODE_CONDITIONS and cond.get("status") != "Unknown":
                cond.update({"status": "Unknown", "reason": "NodeStatusUnknown", "message": UNKNOWN_MESSAGE,
                             "lastTransitionTime": when})
        stored = self.sim.client(NODE_CONTROLLER).update_status({**node, "status": status})
        name = node["metadata"]["name"]
        self.sim.events.record(stored, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                               NODE_CONTROLLER)
        self._mark_pods_not_ready(name, now)
        return stored

    def _mark_pods_not_ready(self, name: str, now: float) -> None:
        client = self.sim.client(NODE_CONTROLLER)
        for pod in self.sim.cache.pods_on_node(name):
            status = copy_json(pod.get("status") or {})
            if status.get("phase") in ("Succeeded", "Failed"):
                continue
            ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") == "False":
                continue
            set_condition(status, "Ready", "False", now)
            stored = client.update_status({**pod, "status": status})
            self.sim.events.record(stored, "Warning", "NodeNotReady", "Node is not ready", NODE_CONTROLLER)

    # --- taints -----------------------------------------------------------------------------------
    def _reconcile_taints(self, node: dict, now: float) -> dict:
        wanted = desired_taint_keys(node)
        taints = list((node.get("spec") or {}).get("taints") or [])
        kept = [t for t in taints if t.get("key") not in (UNREACHABLE, NOT_READY) or t.get("key") == wanted]
        # TaintNodesByCondition: pressure conditions and a cordon become NoSchedule taints, and go with them.
        no_schedule = no_schedule_taint_keys(node)
        kept = [t for t in kept if t.get("key") not in _NO_SCHEDULE_KEYS or t.get("key") in no_schedule]
        for key in no_schedule:
            if not any(t.get("key") == key and t.get("effect") == "NoSchedule" for t in kept):
                kept.append({"key": key, "effect": "NoSchedule", "timeAdded": format_rfc3339(now)})
        if wanted:
            have = {t.get("effect") for t in kept if t.get("key") == wanted}
            if "NoSchedule" not in have:
                kept.append({"key": wanted, "effect": "NoSchedule"})
            if "NoExecute" not in have:
                kept.append({"key": wanted, "effect": "NoExecute", "timeAdded": format_rfc3339(now)})
        if kept == taints:
            return node
        updated = copy_json(node)
        spec = updated["spec"] = updated.get("spec") or {}  # a Node applied without spec (or with `spec:` empty)
        if kept:
            spec["taints"] = kept
        else:
            spec.pop("taints", None)
        return self.sim.client(NODE_CONTROLLER).update(updated)

    def _evict(self, node: dict, now: float) -> None:
        """The taint-eviction controller: delete pods that do not tolerate a NoExecute taint (for long enough)."""
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return
        name = node["metadata"]["name"]
        next_due = None
        for pod in self.sim.cache.pods_on_node(name):
            if pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in (
                    "Succeeded", "Failed"):
                continue
            due = None
            for taint in taints:
                delay = eviction_delay(pod, taint)
                if delay is None:
                    continue
                added = parse_rfc3339(taint.get("timeAdded")) or now
                at = added + delay
                due = at if due is None else min(due, at)
            if due is None:
                continue
            if due <= now + 1e-9:
                self._evict_pod(pod, now)
            else:
                next_due = due if next_due is None else min(next_due, due)
        if next_due is not None:
            self.enqueue_after(("Node", "", name), next_due - now)

    def _evict_pod(self, pod: dict, now: float) -> None:
        meta = pod["metadata"]
        namespace, pod_name = meta.get("namespace", ""), meta["name"]
        client = self.sim.client(TAINT_EVICTION_CONTROLLER)
        self.sim.events.record(pod, "Normal", "TaintManagerEviction",
                               f"Marking for deletion Pod {namespace}/{pod_name}", TAINT_EVICTION_CONTROLLER)
        status = copy_json(pod.get("status") or {})
        set_condition(status, "DisruptionTarget", "True", now, "DeletionByTaintManager",
                      "Taint manager: deleting due to NoExecute taint")
        pod = client.update_status({**pod, "status": status})
        client.delete("Pod", namespace, pod_name, uid=meta.get("uid"))
