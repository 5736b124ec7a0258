"""The admin: workshops with their seats, each seat's progress, history and terminal lines; reset or reclaim a
seat's cluster.

Clusters and their stored objects have their own admin (cluster.admin).
"""

from django.contrib import admin, messages

from workshops import services
from workshops.models import Seat, SeatCommand, SeatEvent, StepProgress, Workshop


class SeatInline(admin.TabularInline):
    model = Seat
    fields = ("display_name", "current_step", "cluster", "last_seen", "reclaimed_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False


@admin.register(Workshop)
class WorkshopAdmin(admin.ModelAdmin):
    list_display = ("title", "display_code", "lesson_pack", "owner", "state", "nodes", "node_size", "created")
    list_filter = ("state", "lesson_pack", "owner")
    search_fields = ("title", "join_code")
    readonly_fields = ("join_code", "created", "closed_at", "broadcast_at")
    inlines = [SeatInline]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(owner=request.user)


class StepProgressInline(admin.TabularInline):
    model = StepProgress
    fields = ("step_index", "step_key", "started_at", "first_passed_at", "checks")
    readonly_fields = fields
    extra = 0
    can_delete = False


class SeatEventInline(admin.TabularInline):
    model = SeatEvent
    fields = ("at", "kind", "step_key", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False


class SeatCommandInline(admin.TabularInline):
    model = SeatCommand
    fields = ("at", "line")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-pk",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    list_display = ("display_name", "workshop", "current_step", "cluster", "last_seen", "reclaimed_at")
    list_filter = ("workshop",)
    search_fields = ("display_name", "workshop__title", "workshop__join_code")
    readonly_fields = ("token_hash", "created", "cluster")
    inlines = [StepProgressInline, SeatEventInline, SeatCommandInline]
    actions = ["reset_to_current_step", "reclaim_cluster"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("workshop", "cluster")
        return qs if request.user.is_superuser else qs.filter(workshop__owner=request.user)

    @admin.action(description="Reset the cluster to the start of the seat's current step")
    def reset_to_current_step(self, request, queryset):
        for seat in queryset:
            services.reset_seat(seat, seat.current_step)
        self.message_user(request, f"Reset {queryset.count()} seat(s).", messages.SUCCESS)

    @admin.action(description="Reclaim (delete) the cluster; the learner gets a new one on return")
    def reclaim_cluster(self, request, queryset):
        count = sum(1 for seat in queryset if services.reclaim(seat, reason=f"reclaimed by {request.user}"))
        self.message_user(request, f"Reclaimed {count} cluster(s).", messages.SUCCESS)


@admin.register(SeatEvent)
class SeatEventAdmin(admin.ModelAdmin):
    list_display = ("at", "seat", "kind", "step_key", "detail")
    list_filter = ("kind",)
    search_fields = ("seat__display_name", "step_key")


@admin.register(SeatCommand)
class SeatCommandAdmin(admin.ModelAdmin):
    list_display = ("at", "seat", "line")
    list_filter = ("seat__workshop",)
    search_fields = ("seat__display_name", "line")
    readonly_fields = ("seat", "at", "line")

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("seat", "seat__workshop")
        return qs if request.user.is_superuser else qs.filter(seat__workshop__owner=request.user)

    def has_add_permission(self, request):
        return False
