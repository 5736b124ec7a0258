"""The admin: operators inspect clusters, their objects and change logs; they do not hand-edit resource JSON.

Objects are read-only here. Deleting one goes through the engine's apiserver, as `kubectl delete` would
(graceful termination, finalizers, protected namespaces), so the simulation sees an ordinary deletion.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from cluster.models import Change, Cluster, SimulationLease, StoredObject


def _yaml_block(text: str):
    return format_html('<pre style="white-space: pre; overflow-x: auto; margin: 0">{}</pre>', text)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: rows are written by the store and the simulation, never by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "revision", "virtual_date", "speed", "paused", "object_count",
                    "pod_count", "node_count")
    list_filter = ("paused", "kube_proxy_mode", "ipvs_scheduler")
    search_fields = ("name", "display_name")
    readonly_fields = ("revision", "compacted_revision", "virtual_date", "access_key", "has_token", "created",
                       "updated")
    fields = ("name", "display_name", "speed", "paused", "kube_proxy_mode", "ipvs_scheduler", "seed", "virtual_date",
              "revision", "compacted_revision", "access_key", "has_token", "created", "updated")
    actions = ("reset_clusters", "delete_selected")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            object_count=Count("stored_objects"),
            pod_count=Count("stored_objects", filter=Q(stored_objects__kind="Pod")),
            node_count=Count("stored_objects", filter=Q(stored_objects__kind="Node")),
        )

    @admin.display(description="virtual time", ordering="virtual_time")
    def virtual_date(self, cluster: Cluster):
        return cluster.virtual_datetime

    @admin.display(description="objects", ordering="object_count")
    def object_count(self, cluster: Cluster) -> int:
        return cluster.object_count

    @admin.display(description="pods", ordering="pod_count")
    def pod_count(self, cluster: Cluster) -> int:
        return cluster.pod_count

    @admin.display(description="nodes", ordering="node_count")
    def node_count(self, cluster: Cluster) -> int:
        return cluster.node_count

    @admin.display(description="API token issued", boolean=True)
    def has_token(self, cluster: Cluster) -> bool:
        return bool(cluster.token_hash)

    @admin.action(description="Reset selected clusters (delete all their objects)", permissions=["change"])
    def reset_clusters(self, request, queryset):
        if request.POST.get("confirmed") == "yes":
            for cluster in queryset:
                cluster.reset()
            self.message_user(request, f"Reset {len(queryset)} cluster(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reset clusters?",
            "clusters": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/cluster/cluster/reset_confirmation.html", context)


@admin.register(StoredObject)
class StoredObjectAdmin(ReadOnlyAdmin):
    list_display = ("kind", "namespace", "name", "phase", "node_name", "owner", "resource_version", "cluster")
    list_filter = ("cluster", "kind", "namespace", "phase", "node_name", "owner_kind")
    list_select_related = ("cluster",)
    search_fields = ("name", "=uid")
    show_full_result_count = False
    fields = ("cluster", "kind", "api_version", "namespace", "name", "uid", "resource_version", "phase",
              "node_name", "owner", "labels", "object_yaml")
    readonly_fields = fields

    @admin.display(description="owner", ordering="owner_name")
    def owner(self, obj: StoredObject) -> str:
        return f"{obj.owner_kind}/{obj.owner_name}" if obj.owner_kind else ""

    @admin.display(description="object")
    def object_yaml(self, obj: StoredObject):
        return _yaml_block(obj.yaml)

    def delete_model(self, request, obj: StoredObject) -> None:
        request.refused_deletion = not self._delete_through_apiserver(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "refused_deletion", False):  # say why, not "deleted successfully"
            return HttpResponseRedirect(reverse("admin:cluster_storedobject_changelist"))
        return super().response_delete(request, obj_display, obj_id)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset.select_related("cluster"):
            self._delete_through_apiserver(request, obj)

    def _delete_through_apiserver(self, request, obj: StoredObject) -> bool:
        """Delete as `kubectl delete` does; whether the apiserver accepted it."""
        from cluster.changefeed import NotifyingStore
        from cluster.store import cluster_clock
        from engine import errors
        from engine.apiserver import ApiServer

        clock = cluster_clock(obj.cluster)
        api = ApiServer(NotifyingStore(obj.cluster, clock), clock)  # the loop and watches hear of it at once
        try:
            result = api.delete(obj.kind, obj.namespace, obj.name, propagation_policy="Background")
        except errors.ApiError as exc:
            self.message_user(request, f"{obj}: {exc}", messages.ERROR)
            return False
        if not result.finished:
            self.message_user(request, f"{obj} is being deleted (finalizers or a grace period hold it).",
                              messages.INFO)
        return True


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdmin):
    list_display = ("revision", "type", "kind", "namespace", "name", "cluster")
    list_filter = ("cluster", "type", "kind")
    list_select_related = ("cluster",)
    search_fields = ("name",)
    show_full_result_count = False
    fields = ("cluster", "revision", "type", "kind", "namespace", "name", "object_yaml")
    readonly_fields = fields

    @admin.display(description="object")
    def object_yaml(self, change: Change):
        return _yaml_block(change.yaml)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the store compacts the log; a hole in it would make watches skip changes


@admin.register(SimulationLease)
class SimulationLeaseAdmin(ReadOnlyAdmin):
    """Deleting a lease frees its cluster for another worker at once (the holder stops at its next renewal)."""

    list_display = ("cluster", "holder", "renew_deadline", "expired")
    list_select_related = ("cluster",)
    fields = ("cluster", "holder", "renew_deadline", "expired")
    readonly_fields = fields

    @admin.display(boolean=True)
    def expired(self, lease: SimulationLease) -> bool:
        return lease.expired
