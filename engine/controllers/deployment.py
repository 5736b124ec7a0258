"""The Deployment controller (pkg/controller/deployment/deployment_controller.go).

A Deployment owns ReplicaSets, one per pod template it has had, each named
`<deployment>-<pod-template-hash>`; the ReplicaSet controller owns the pods.
`sync` is a series of early returns, each handing off to one function:

    gone                   -> nothing
    selects everything     -> warn (SelectingAll), nothing else
    being deleted          -> status only
    paused                 -> sizes only (no rollout progress)            deployment_sync
    spec.replicas changed  -> proportional scaling, no rollout progress   deployment_sync
    Recreate               -> old down, wait for their pods, new up       deployment_recreate
    RollingUpdate          -> new up within maxSurge, old down within
                              maxUnavailable                              deployment_rolling

and every path ends writing the status (Progressing and Available conditions
in deployment_progress). `kubectl rollout undo` needs no special path: it
puts an old template back, and finding the ReplicaSet with that template
makes it the new one again, with the next revision number.
"""

from __future__ import annotations

from engine.controllers import deployment_util as util
from engine.controllers.base import Controller, Key
from engine.controllers.deployment_progress import ProgressMixin
from engine.controllers.deployment_recreate import RecreateMixin
from engine.controllers.deployment_rolling import RollingMixin
from engine.controllers.deployment_sync import SyncMixin
from engine.controllers.replicaset import claim, controller_ref
from engine.events import WARNING
from engine.labels import from_label_selector
from engine.store import DELETED, Change, copy_json


class DeploymentController(SyncMixin, RollingMixin, RecreateMixin, ProgressMixin, Controller):
    name = "deployment-controller"
    primary_kind = "Deployment"
    event_component = "deployment-controller"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)

    # --- wiring ---------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        kind = change.kind
        if kind == "Deployment":
            self.enqueue(kind, change.namespace, change.name)
        elif kind == "ReplicaSet":
            self._replica_set_changed(change)
        elif kind == "Pod" and change.type == DELETED:
            # Recreate waits for the old pods to be gone.
            ref = controller_ref(change.object)
            if ref is None or ref.get("kind") != "ReplicaSet":
                return
            rs = self.sim.cache.get("ReplicaSet", change.namespace, ref["name"])
            owner = controller_ref(rs) if rs is not None else None
            if owner is not None and owner.get("kind") == "Deployment":
                self.enqueue("Deployment", change.namespace, owner["name"])

    def _replica_set_changed(self, change: Change) -> None:
        rs = change.object
        ref = controller_ref(rs)
        if ref is not None:
            if ref.get("kind") == "Deployment":
                self.enqueue("Deployment", change.namespace, ref["name"])
            return
        if change.type == DELETED:
            return
        # An orphan ReplicaSet: a Deployment whose selector matches may adopt it.
        labels = rs["metadata"].get("labels")
        for d in self.sim.cache.list("Deployment", change.namespace):
            if from_label_selector((d.get("spec") or {}).get("selector")).matches(labels):
                self.enqueue_object(d)

    # --- sync -----------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        _, namespace, name = key
        cached = self.sim.cache.get("Deployment", namespace, name)
        if cached is None:
            return
        d = copy_json(cached)
        spec = d.get("spec") or {}
        selector = spec.get("selector")
        if selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.sim.events.record(d, WARNING, "SelectingAll",
                                   "This deployment is selecting all pods. A non-empty selector is required.",
                                   self.event_component)
            if util.status_int(d, "observedGeneration") < d["metadata"].get("generation", 0):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"]["generation"]
                self.persist(d)
            return

        rs_list = self.get_replica_sets_for_deployment(d)
        pod_map = self.get_pod_map_for_deployment(d, rs_list)

        if d["metadata"].get("deletionTimestamp"):
            return self.sync_status_only(d, rs_list)
        self.check_paused_conditions(d)
        if spec.get("paused"):
            return self.sync_scaling(d, rs_list)
        if self.is_scaling_event(d, rs_list):
            return self.sync_scaling(d, rs_list)
        if util.strategy_type(d) == util.RECREATE:
            return self.rollout_recreate(d, rs_list, pod_map)
        if util.strategy_type(d) == util.ROLLING_UPDATE:
            return self.rollout_rolling(d, rs_list)
        return None  # validation rejects other strategies

    def get_replica_sets_for_deployment(self, d: dict) -> list[dict]:
        """The ReplicaSets this Deployment controls, after adopting matching orphans and releasing strays."""
        selector = from_label_selector((d.get("spec") or {}).get("selector"))
        # What claim can act on: the ReplicaSets it controls and the orphans (those another controller owns are
        # left alone), from the owner index rather than every ReplicaSet of the namespace.
        candidates = self.sim.cache.claimable("ReplicaSet", d["metadata"]["namespace"], d["metadata"]["uid"])
        return [copy_json(rs) for rs in claim(self.client, d, selector, candidates)]

    def get_pod_map_for_deployment(self, d: dict, rs_list: list[dict]) -> dict[str, list[dict]]:
        """Pods matching the Deployment's selector, by the uid of the ReplicaSet controlling them."""
        selector = from_label_selector((d.get("spec") or {}).get("selector"))
        pod_map: dict[str, list[dict]] = {rs["metadata"]["uid"]: [] for rs in rs_list}
        # Only pods a listed ReplicaSet controls count: read them from the owner index instead of scanning every pod.
        namespace = d["metadata"]["namespace"]
        for uid, pods in pod_map.items():
            pods.extend(p for p in self.sim.cache.controlled_by("Pod", namespace, uid)
                        if selector.matches(p["metadata"].get("labels")))
        return pod_map


__all__ = ["DeploymentController"]
