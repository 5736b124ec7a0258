"""The PersistentVolume controller (pkg/controller/volume/persistentvolume) and minikube's hostpath provisioner.

Claims and volumes meet here:

- a claim that matches an Available volume (same storage class, the access
  modes it asks for, enough capacity, its selector) is bound to it: the volume
  gets `claimRef` and phase Bound, the claim `volumeName`, capacity and phase
  Bound, with the `pv.kubernetes.io/bind-completed` and `bound-by-controller`
  annotations;
- a claim of a class with a provisioner and nothing to bind to is provisioned
  (Immediate binding; WaitForFirstConsumer waits for a pod using it): as
  minikube's `k8s.io/minikube-hostpath` storage-provisioner does, a hostPath
  volume `pvc-<claim uid>` of the requested size is created, pre-bound to the
  claim, then bound;
- a volume whose claim is gone is Released, and deleted if its reclaim policy is
  Delete (what dynamically provisioned volumes have).

The Events are those `kubectl describe pvc` shows: ExternalProvisioning,
Provisioning, ProvisioningSucceeded (or FailedBinding when nothing can serve the claim).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import errors
from engine.controllers.base import Controller, Key
from engine.events import NORMAL, WARNING
from engine.labels import from_label_selector
from engine.resources.quantity import memory_bytes
from engine.scheduler.plugins.nodeaffinity import Term
from engine.store import DELETED, Change, copy_json

EVENT_COMPONENT = "persistentvolume-controller"
MINIKUBE_PROVISIONER = "k8s.io/minikube-hostpath"
PROVISIONER_COMPONENT = f"{MINIKUBE_PROVISIONER}_minikube"
HOSTPATH_ROOT = "/tmp/hostpath-provisioner"

BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def _storage(obj: dict, path: tuple[str, ...]) -> int:
    value = obj.get("spec") or {}
    for key in path:
        value = (value or {}).get(key) if isinstance(value, dict) else None
    try:
        return memory_bytes(value) if value is not None else 0
    except ValueError:
        return 0


def claim_request(claim: dict) -> int:
    return _storage(claim, ("resources", "requests", "storage"))


def volume_capacity(volume: dict) -> int:
    return _storage(volume, ("capacity", "storage"))


def claim_class(claim: dict) -> str:
    spec = claim.get("spec") or {}
    annotated = (claim["metadata"].get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return annotated if annotated is not None else (spec.get("storageClassName") or "")


def volume_class(volume: dict) -> str:
    return (volume.get("spec") or {}).get("storageClassName") or ""


def volume_matches(claim: dict, volume: dict) -> bool:
    """Whether an unclaimed (or pre-bound to this claim) volume can serve the claim."""
    spec, vspec = claim.get("spec") or {}, volume.get("spec") or {}
    ref = vspec.get("claimRef")
    if ref and not (ref.get("name") == claim["metadata"]["name"]
                    and ref.get("namespace") == claim["metadata"].get("namespace")
                    and (not ref.get("uid") or ref.get("uid") == claim["metadata"].get("uid"))):
        return False
    if (volume.get("status") or {}).get("phase") not in ("Available", "Pending", None) and not ref:
        return False
    if volume["metadata"].get("deletionTimestamp"):
        return False
    if claim_class(claim) != volume_class(volume):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (vspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(spec.get("accessModes") or []) <= set(vspec.get("accessModes") or []):
        return False
    if volume_capacity(volume) < claim_request(claim):
        return False
    selector = spec.get("selector")
    return selector is None or from_label_selector(selector).matches(volume["metadata"].get("labels"))


@dataclass(frozen=True)
class NodeView:
    """What a volume's node affinity looks at: the node's name and labels."""

    name: str
    labels: dict = field(default_factory=dict)


def volume_fits_node(volume: dict, node: NodeView) -> bool:
    """The volume's required node affinity (a Local volume's node) admits the node; no affinity admits all."""
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    return required is None or any(Term(t).matches(node) for t in required.get("nodeSelectorTerms") or [])


def best_volume(claim: dict, volumes: list[dict]) -> dict | None:
    """The smallest matching volume; one already pre-bound to the claim wins."""
    matching = [v for v in volumes if volume_matches(claim, v)]
    if not matching:
        return None
    prebound = [v for v in matching if (v.get("spec") or {}).get("claimRef")]
    if prebound:
        return prebound[0]
    return min(matching, key=lambda v: (volume_capacity(v), v["metadata"]["name"]))


class PersistentVolumeController(Controller):
    name = "persistentvolume-binder-controller"
    primary_kind = "PersistentVolumeClaim"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self.provisioner = sim.client(PROVISIONER_COMPONENT)

    # --- wiring ---------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        kind = change.kind
        if kind == "PersistentVolumeClaim":
            self.enqueue(kind, change.namespace, change.name)
            if change.type == DELETED:
                volume = (change.object.get("spec") or {}).get("volumeName")
                if volume:
                    self.enqueue("PersistentVolume", "", volume)
        elif kind == "PersistentVolume":
            self.enqueue(kind, "", change.name)
            ref = (change.object.get("spec") or {}).get("claimRef") or {}
            if ref.get("name"):
                self.enqueue("PersistentVolumeClaim", ref.get("namespace", ""), ref["name"])
            elif change.type != DELETED:
                for claim in self.sim.cache.list("PersistentVolumeClaim"):
                    if not (claim.get("spec") or {}).get("volumeName"):
                        self.enqueue_object(claim)
        elif kind == "Pod" and change.type != DELETED:
            # WaitForFirstConsumer claims are provisioned once a pod uses them.
            for volume in (change.object.get("spec") or {}).get("volumes") or []:
                name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                if name:
                    self.enqueue("PersistentVolumeClaim", change.namespace, name)

    def resync(self) -> None:
        for claim in self.sim.cache.list("PersistentVolumeClaim"):
            self.enqueue_object(claim)
        for volume in self.sim.cache.list("PersistentVolume"):
            self.enqueue_object(volume)

    def sync(self, key: Key) -> None:
        kind, namespace, name = key
        if kind == "PersistentVolume":
            volume = self.sim.cache.get("PersistentVolume", "", name)
            if volume is not None:
                self.sync_volume(volume)
            return
        claim = self.sim.cache.get("PersistentVolumeClaim", namespace, name)
        if claim is not None and not claim["metadata"].get("deletionTimestamp"):
            self.sync_claim(claim)

    # --- claims ---------------------------------------------------------------------------------
    def sync_claim(self, claim: dict) -> None:
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            volume = self.sim.cache.get("PersistentVolume", "", volume_name)
            if volume is None:
                if (claim.get("status") or {}).get("phase") == "Bound":
                    self.set_claim_phase(claim, "Lost")
                    self.sim.events.record(claim, WARNING, "ClaimLost", "Bound claim has lost reference to "
                                           "PersistentVolume. Data on the volume is lost!", EVENT_COMPONENT)
                return
            self.bind(claim, volume)
            return
        class_name = claim_class(claim)
        storage_class = self.sim.cache.get("StorageClass", "", class_name) if class_name else None
        volumes = self.sim.cache.list("PersistentVolume")
        selected = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        delayed = (storage_class or {}).get("volumeBindingMode") == "WaitForFirstConsumer"
        if delayed and selected:  # the scheduler chose the node: only volumes that node can reach
            node = self.sim.cache.get("Node", "", selected)
            view = NodeView(selected, ((node or {}).get("metadata") or {}).get("labels") or {})
            volumes = [v for v in volumes if volume_fits_node(v, view)]
        elif delayed:  # only a volume pre-bound to this claim binds before its pod is scheduled
            volumes = [v for v in volumes if ((v.get("spec") or {}).get("claimRef") or {}).get("name")]
        volume = best_volume(claim, volumes)
        if volume is not None:
            self.bind(claim, volume)
            return
        if storage_class is None:
            message = ("no persistent volumes available for this claim and no storage class is set" if not class_name
                       else f'storageclass.storage.k8s.io "{class_name}" not found')
            self.sim.events.record(claim, NORMAL if not class_name else WARNING, "FailedBinding"
                                   if not class_name else "ProvisioningFailed", message, EVENT_COMPONENT)
            return
        if delayed and not selected and not self.has_consumer(claim):
            self.sim.events.record(claim, NORMAL, "WaitForFirstConsumer",
                                   "waiting for first consumer to be created before binding", EVENT_COMPONENT)
            return
        self.provision(claim, storage_class)

    def has_consumer(self, claim: dict) -> bool:
        name = claim["metadata"]["name"]
        return any((v.get("persistentVolumeClaim") or {}).get("claimName") == name
                   for p in self.sim.cache.list("Pod", claim["metadata"].get("namespace", ""))
                   if (p.get("spec") or {}).get("nodeName") for v in (p.get("spec") or {}).get("volumes") or [])

    def provision(self, claim: dict, storage_class: dict) -> None:
        """The external provisioner's part: annotate the claim, create a pre-bound hostPath volume."""
        provisioner = storage_class.get("provisioner") or ""
        annotations = claim["metadata"].get("annotations") or {}
        if annotations.get(STORAGE_PROVISIONER) != provisioner:
            updated = copy_json(claim)
            updated["metadata"].setdefault("annotations", {}).update(
                {BETA_STORAGE_PROVISIONER: provisioner, STORAGE_PROVISIONER: provisioner})
            claim = self.client.update(updated)
            self.sim.events.record(claim, NORMAL, "ExternalProvisioning",
                                   f"Waiting for a volume to be created either by the external provisioner "
                                   f"'{provisioner}' or manually by the system administrator. If volume creation is "
                                   "delayed, please verify that the provisioner is running and correctly registered.",
                                   EVENT_COMPONENT)
        if provisioner != MINIKUBE_PROVISIONER:
            return  # nobody runs that provisioner here: the claim stays Pending, as on a real cluster
        meta = claim["metadata"]
        namespace = meta.get("namespace", "default")
        self.sim.events.record(claim, NORMAL, "Provisioning",
                               f'External provisioner is provisioning volume for claim "{namespace}/{meta["name"]}"',
                               PROVISIONER_COMPONENT)
        spec = claim.get("spec") or {}
        name = f"pvc-{meta['uid']}"
        volume = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {"hostPathProvisionerIdentity": "minikube",
                                                       PROVISIONED_BY: provisioner}},
            "spec": {
                "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                             "namespace": namespace, "resourceVersion": meta.get("resourceVersion", ""),
                             "uid": meta["uid"]},
                "hostPath": {"path": f"{HOSTPATH_ROOT}/{namespace}/{meta['name']}", "type": ""},
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
                "storageClassName": storage_class["metadata"]["name"],
                "volumeMode": spec.get("volumeMode") or "Filesystem",
            },
        }
        try:
            volume = self.provisioner.create(volume)
        except errors.ApiError as exc:
            if exc.reason != "AlreadyExists":
                self.sim.events.record(claim, WARNING, "ProvisioningFailed",
                                       f"failed to provision volume with StorageClass "
                                       f"\"{storage_class['metadata']['name']}\": {exc.message}", PROVISIONER_COMPONENT)
                raise
            volume = self.sim.cache.get("PersistentVolume", "", name) or volume
        self.sim.events.record(claim, NORMAL, "ProvisioningSucceeded", f"Successfully provisioned volume {name}",
                               PROVISIONER_COMPONENT)
        self.bind(claim, volume)

    def bind(self, claim: dict, volume: dict) -> None:
        """bind: the volume points at the claim and is Bound; the claim names the volume and is Bound."""
        meta = claim["metadata"]
        vspec = volume.get("spec") or {}
        ref = vspec.get("claimRef") or {}
        if ref.get("uid") and ref.get("uid") != meta["uid"]:
            return  # the volume serves another claim of the same name (an older one)
        if not ref or not ref.get("uid"):
            updated = copy_json(volume)
            updated["spec"]["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                                           "namespace": meta.get("namespace", ""),
                                           "resourceVersion": meta.get("resourceVersion", ""), "uid": meta["uid"]}
            updated["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
            volume = self.client.update(updated)
        if (volume.get("status") or {}).get("phase") != "Bound":
            volume = self.client.update_status({**volume, "status": {"phase": "Bound"}})
        claim_changed = copy_json(claim)
        cmeta = claim_changed["metadata"]
        annotations = cmeta.setdefault("annotations", {})
        wanted_annotations = {BIND_COMPLETED: "yes"}
        if not (claim.get("spec") or {}).get("volumeName"):
            wanted_annotations[BOUND_BY_CONTROLLER] = "yes"
        if any(annotations.get(k) != v for k, v in wanted_annotations.items()) or \
                claim_changed["spec"].get("volumeName") != volume["metadata"]["name"]:
            annotations.update(wanted_annotations)
            claim_changed["spec"]["volumeName"] = volume["metadata"]["name"]
            claim = self.client.update(claim_changed)
        status = {"phase": "Bound", "accessModes": list((volume.get("spec") or {}).get("accessModes") or []),
                  "capacity": copy_json((volume.get("spec") or {}).get("capacity") or {})}
        if (claim.get("status") or {}) != status:
            self.client.update_status({**claim, "status": status})

    def set_claim_phase(self, claim: dict, phase: str) -> None:
        status = copy_json(claim.get("status") or {})
        status["phase"] = phase
        self.client.update_status({**claim, "status": status})

    # --- volumes --------------------------------------------------------------------------------
    def sync_volume(self, volume: dict) -> None:
        spec = volume.get("spec") or {}
        phase = (volume.get("status") or {}).get("phase")
        ref = spec.get("claimRef")
        if not ref:
            if phase != "Available":
                self.client.update_status({**volume, "status": {"phase": "Available"}})
            return
        claim = self.sim.cache.get("PersistentVolumeClaim", ref.get("namespace", ""), ref.get("name", ""))
        if claim is not None and (not ref.get("uid") or claim["metadata"]["uid"] == ref.get("uid")):
            return  # bound, or being bound by the claim's sync
        if not ref.get("uid"):
            return  # pre-bound by an administrator to a claim that does not exist yet
        # The claim is gone: Released, then reclaimed.
        if phase != "Released":
            volume = self.client.update_status({**volume, "status": {"phase": "Released"}})
        if spec.get("persistentVolumeReclaimPolicy") == "Delete":
            try:
                self.provisioner.delete("PersistentVolume", "", volume["metadata"]["name"],
                                        uid=volume["metadata"]["uid"])
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise


__all__ = ["NodeView", "PersistentVolumeController", "best_volume", "volume_fits_node", "volume_matches"]
