"""VolumeBinding: a pod's PersistentVolumeClaims must exist, be bound (or bindable on the node), and their
volumes must be reachable from the node.

- PreFilter: a claim that does not exist, is being deleted, or is unbound while its StorageClass binds at
  once (Immediate, or no class) stops the pod before any node is looked at; the PV controller must bind it
  first (the pod is retried when claims and volumes change).
- Filter: a bound volume's `nodeAffinity` (Local volumes, minikube's hostPath ones have none) must match
  the node; a claim whose class waits for its first consumer (WaitForFirstConsumer) needs an Available
  volume that matches the claim and the node, or a class with a provisioner that can create one.
- After binding the pod (PreBind) such claims get the `volume.kubernetes.io/selected-node` annotation,
  which the PV controller then honours.
"""

from __future__ import annotations

from engine.controllers import pv_binder
from engine.scheduler.framework import SKIP, SUCCESS, NodeInfo, Plugin, PodInfo, Status, unresolvable, unschedulable

NAME = "VolumeBinding"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_NO_VOLUME = "node(s) didn't find available persistent volumes to bind"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
WAIT = "WaitForFirstConsumer"


def claim_names(pod: dict) -> list[str]:
    return [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


def volume_fits_node(volume: dict, node: NodeInfo) -> bool:
    """The PV's required node affinity (CheckNodeAffinity) admits the node."""
    return pv_binder.volume_fits_node(volume, node)  # NodeInfo has the name and labels it looks at


class VolumeBinding(Plugin):
    name = NAME
    has_filter = True

    def _cache(self):
        return self.handle.sim.cache

    def pre_filter(self, state, pod: PodInfo) -> Status:
        names = claim_names(pod.pod)
        if not names:
            return SKIP
        cache = self._cache()
        namespace = pod.pod["metadata"].get("namespace", "")
        bound, delayed = [], []
        for name in names:
            claim = cache.get("PersistentVolumeClaim", namespace, name)
            if claim is None:
                return unresolvable(NAME, f'persistentvolumeclaim "{name}" not found')
            if claim["metadata"].get("deletionTimestamp"):
                return unresolvable(NAME, f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if volume_name:
                volume = cache.get("PersistentVolume", "", volume_name)
                if volume is not None:
                    bound.append(volume)
                continue
            storage_class = self._class(claim)
            if storage_class is None or storage_class.get("volumeBindingMode") != WAIT:
                return unresolvable(NAME, ERR_UNBOUND_IMMEDIATE)
            delayed.append((claim, storage_class))
        state[NAME] = (bound, delayed)
        return SUCCESS

    def _class(self, claim: dict) -> dict | None:
        name = pv_binder.claim_class(claim)
        return self._cache().get("StorageClass", "", name) if name else None

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status:
        bound, delayed = state.get(NAME, ((), ()))
        for volume in bound:
            if not volume_fits_node(volume, node):
                return unresolvable(NAME, ERR_NODE_CONFLICT)
        for claim, storage_class in delayed:
            if (storage_class.get("provisioner") or NO_PROVISIONER) != NO_PROVISIONER:
                continue  # it will be provisioned for whichever node is chosen
            if self.volume_for(claim, node) is None:
                return unschedulable(NAME, ERR_NO_VOLUME)
        return SUCCESS

    def volume_for(self, claim: dict, node: NodeInfo) -> dict | None:
        volumes = [v for v in self._cache().list("PersistentVolume") if volume_fits_node(v, node)]
        return pv_binder.best_volume(claim, volumes)


def new(handle=None) -> Plugin:
    return VolumeBinding(handle)
