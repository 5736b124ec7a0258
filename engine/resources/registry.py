"""The one registry of kinds.

Every kind is declared once here; discovery, OpenAPI, `api-resources`, table
printing, the admin and the UI all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Verbs of an ordinary resource, as discovery lists them.
STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_ONLY_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "log", "exec", "binding" ...
    verbs: tuple[str, ...] = STANDARD_VERBS
    # Dotted import path (below kubex.k8s.v1_32) of the pydantic model that
    # validates this kind; None for kinds we validate by hand.
    model: str | None = None
    # Field selectors the kind accepts besides metadata.name/metadata.namespace.
    selectable_fields: tuple[str, ...] = ()
    # Kinds whose status a create or a main-resource update may not set.
    status_subresource: bool = field(default=False)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified_plural(self) -> str:
        """The name Kubernetes uses in messages: `pods`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Pod`, `Deployment.apps`: the prefix of an Invalid message."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _k(kind, group, version, plural, namespaced, short=(), cats=(), sub=(), model=None, fields=(), verbs=STANDARD_VERBS):
    return KindInfo(
        kind=kind,
        group=group,
        version=version,
        plural=plural,
        namespaced=namespaced,
        short_names=tuple(short),
        categories=tuple(cats),
        subresources=tuple(sub),
        verbs=tuple(verbs),
        model=model,
        selectable_fields=tuple(fields),
        status_subresource="status" in sub,
    )


ALL = ("all",)

# Order matters: discovery lists kinds in this order within a group, and
# `kubectl get all` prints them in discovery order (pods, services, daemonsets,
# deployments, replicasets, statefulsets, horizontalpodautoscalers, cronjobs, jobs).
KINDS: tuple[KindInfo, ...] = (
    # core/v1
    _k("ConfigMap", "", "v1", "configmaps", True, ["cm"], model="core.v1.config_map.ConfigMap"),
    _k("Endpoints", "", "v1", "endpoints", True, ["ep"], model="core.v1.endpoints.Endpoints"),
    _k("Event", "", "v1", "events", True, ["ev"], model="core.v1.event.Event",
       fields=("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type")),
    _k("LimitRange", "", "v1", "limitranges", True, ["limits"], model="core.v1.limit_range.LimitRange"),
    _k("Namespace", "", "v1", "namespaces", False, ["ns"], sub=("status", "finalize"),
       model="core.v1.namespace.Namespace", fields=("status.phase",)),
    _k("Node", "", "v1", "nodes", False, ["no"], sub=("status", "proxy"), model="core.v1.node.Node",
       fields=("spec.unschedulable",)),
    _k("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", True, ["pvc"], sub=("status",),
       model="core.v1.persistent_volume_claim.PersistentVolumeClaim"),
    _k("PersistentVolume", "", "v1", "persistentvolumes", False, ["pv"], sub=("status",),
       model="core.v1.persistent_volume.PersistentVolume"),
    _k("Pod", "", "v1", "pods", True, ["po"], ALL,
       sub=("status", "binding", "eviction", "log", "exec", "attach", "portforward", "proxy", "ephemeralcontainers"),
       model="core.v1.pod.Pod",
       fields=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
               "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")),
    _k("ReplicationController", "", "v1", "replicationcontrollers", True, ["rc"], ALL, sub=("status", "scale"),
       model="core.v1.replication_controller.ReplicationController", fields=("status.replicas",)),
    _k("ResourceQuota", "", "v1", "resourcequotas", True, ["quota"], sub=("status",),
       model="core.v1.resource_quota.ResourceQuota"),
    _k("Secret", "", "v1", "secrets", True, model="core.v1.secret.Secret", fields=("type",)),
    _k("ServiceAccount", "", "v1", "serviceaccounts", True, ["sa"], model="core.v1.service_account.ServiceAccount"),
    _k("Service", "", "v1", "services", True, ["svc"], ALL, sub=("status", "proxy"), model="core.v1.service.Service",
       fields=("spec.clusterIP", "spec.type")),
    # apiextensions.k8s.io/v1
    _k("CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions", False, ["crd", "crds"],
       ["api-extensions"], sub=("status",),
       model="apiextensions_k8s_io.v1.custom_resource_definition.CustomResourceDefinition"),
    # apps/v1
    _k("ControllerRevision", "apps", "v1", "controllerrevisions", True,
       model="apps.v1.controller_revision.ControllerRevision"),
    _k("DaemonSet", "apps", "v1", "daemonsets", True, ["ds"], ALL, sub=("status",), model="apps.v1.daemon_set.DaemonSet"),
    _k("Deployment", "apps", "v1", "deployments", True, ["deploy"], ALL, sub=("status", "scale"),
       model="apps.v1.deployment.Deployment"),
    _k("ReplicaSet", "apps", "v1", "replicasets", True, ["rs"], ALL, sub=("status", "scale"),
       model="apps.v1.replica_set.ReplicaSet"),
    _k("StatefulSet", "apps", "v1", "statefulsets", True, ["sts"], ALL, sub=("status", "scale"),
       model="apps.v1.stateful_set.StatefulSet"),
    # autoscaling/v2
    _k("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", True, ["hpa"], ALL, sub=("status",),
       model="autoscaling.v2.horizontal_pod_autoscaler.HorizontalPodAutoscaler"),
    # batch/v1
    _k("CronJob", "batch", "v1", "cronjobs", True, ["cj"], ALL, sub=("status",), model="batch.v1.cron_job.CronJob"),
    _k("Job", "batch", "v1", "jobs", True, (), ALL, sub=("status",), model="batch.v1.job.Job", fields=("status.successful",)),
    # coordination.k8s.io/v1
    _k("Lease", "coordination.k8s.io", "v1", "leases", True, model="coordination.v1.lease.Lease"),
    # discovery.k8s.io/v1
    _k("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True,
       model="discovery.v1.endpoint_slice.EndpointSlice"),
    # networking.k8s.io/v1
    _k("IngressClass", "networking.k8s.io", "v1", "ingressclasses", False,
       model="networking.v1.ingress_class.IngressClass"),
    _k("Ingress", "networking.k8s.io", "v1", "ingresses", True, ["ing"], sub=("status",),
       model="networking.v1.ingress.Ingress"),
    _k("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", True, ["netpol"],
       model="networking.v1.network_policy.NetworkPolicy"),
    # policy/v1
    _k("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", True, ["pdb"], sub=("status",),
       model="policy.v1.pod_disruption_budget.PodDisruptionBudget"),
    # rbac.authorization.k8s.io/v1
    _k("ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "clusterrolebindings", False,
       model="rbac.v1.cluster_role_binding.ClusterRoleBinding"),
    _k("ClusterRole", "rbac.authorization.k8s.io", "v1", "clusterroles", False, model="rbac.v1.cluster_role.ClusterRole"),
    _k("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", True, model="rbac.v1.role_binding.RoleBinding"),
    _k("Role", "rbac.authorization.k8s.io", "v1", "roles", True, model="rbac.v1.role.Role"),
    # scheduling.k8s.io/v1
    _k("PriorityClass", "scheduling.k8s.io", "v1", "priorityclasses", False, ["pc"],
       model="scheduling.v1.priority_class.PriorityClass"),
    # storage.k8s.io/v1
    _k("StorageClass", "storage.k8s.io", "v1", "storageclasses", False, ["sc"],
       model="storage.v1.storage_class.StorageClass"),
)

_BY_KIND = {k.kind: k for k in KINDS}
_BY_GVK = {(k.group, k.version, k.kind): k for k in KINDS}
_BY_GROUP_PLURAL = {(k.group, k.plural): k for k in KINDS}


class UnknownKind(LookupError):
    pass


def by_kind(kind: str) -> KindInfo:
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise UnknownKind(kind) from None


def by_api_version(api_version: str, kind: str) -> KindInfo | None:
    """The kind for an object's apiVersion and kind, or None if we do not serve it."""
    group, _, version = api_version.rpartition("/")
    return _BY_GVK.get((group, version, kind))


def by_resource(group: str, plural: str) -> KindInfo | None:
    return _BY_GROUP_PLURAL.get((group, plural))


def resolve(name: str) -> KindInfo | None:
    """Resolve what a user types (`po`, `pods`, `pod`, `deployments.apps`, `Deployment`)."""
    lowered = name.lower()
    resource, _, group = lowered.partition(".")
    for info in KINDS:
        if group and info.group != group and not info.group.startswith(group):
            continue
        if resource in (info.plural, info.singular) or resource in info.short_names:
            return info
    return None


def groups() -> list[tuple[str, str]]:
    """(group, version) pairs in discovery order, core first."""
    seen: list[tuple[str, str]] = []
    for info in KINDS:
        gv = (info.group, info.version)
        if gv not in seen:
            seen.append(gv)
    return seen


def in_category(category: str) -> list[KindInfo]:
    return [k for k in KINDS if category in k.categories]
