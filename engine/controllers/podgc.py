"""The pod garbage collector (pkg/controller/podgc): pods bound to a node that no longer exists.

When a Node is deleted (`kubectl delete node`, a machine removed) no kubelet is
left to finish its pods. After a quarantine of 40 s, in which the node could
come back, the collector marks each such pod Failed with the DisruptionTarget
condition (DeletionByPodGC, "PodGC: node no longer exists") and force-deletes it
(grace period 0); the pod's controller then creates a replacement on a node that
exists. A pod whose nodeName names a node that never existed goes the same way.
"""

from __future__ import annotations

from engine import errors
from engine.apiserver.server import set_condition
from engine.controllers.base import Controller, Key
from engine.store import DELETED, Change, copy_json

QUARANTINE_SECONDS = 40.0
COMPONENT = "pod-garbage-collector"


class PodGCController(Controller):
    name = "pod-garbage-collector"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(COMPONENT)
        self._armed: set[str] = set()

    def handle(self, change: Change) -> None:
        if change.kind == "Node" and change.type == DELETED:
            self._arm(change.name)
        elif change.kind == "Pod" and change.type != DELETED:
            node = (change.object.get("spec") or {}).get("nodeName")
            if node and self.sim.cache.get("Node", "", node) is None:
                self._arm(node)

    def resync(self) -> None:
        # Per node that has pods, not per pod: a big cluster has thousands of pods on each missing node at most.
        for node in self.sim.cache.nodes_with_pods():
            if node and self.sim.cache.get("Node", "", node) is None:
                self._arm(node)

    def _arm(self, node: str) -> None:
        if node not in self._armed:
            self._armed.add(node)
            self.enqueue_after(("Node", "", node), QUARANTINE_SECONDS)

    def sync(self, key: Key) -> None:
        node = key[2]
        self._armed.discard(node)
        if self.sim.cache.get("Node", "", node) is not None:
            return  # it came back within the quarantine
        for pod in self.sim.cache.pods_on_node(node):
            self._fail_and_delete(pod)

    def _fail_and_delete(self, pod: dict) -> None:
        meta = pod["metadata"]
        status = copy_json(pod.get("status") or {})
        try:
            if status.get("phase") not in ("Succeeded", "Failed"):
                status["phase"] = "Failed"
                set_condition(status, "DisruptionTarget", "True", self.sim.clock.now(), "DeletionByPodGC",
                              "PodGC: node no longer exists")
                self.client.update_status({**pod, "status": status})
            self.client.delete("Pod", meta.get("namespace", ""), meta["name"], grace_period_seconds=0,
                               uid=meta.get("uid"))
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise


__all__ = ["PodGCController", "QUARANTINE_SECONDS"]
