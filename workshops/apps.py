from django.apps import AppConfig


class WorkshopsConfig(AppConfig):
    name = "workshops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The lesson checker, the per-seat quota and the idle reclaimer follow the simulation loop through
        # cluster.runtime's hooks (see workshops.checker); the seats' terminal history comes through the web
        # terminal's (workshops.history), and the per-seat request rate limit sits on the Kubernetes HTTP API
        # (workshops.ratelimit).
        from django.db.models.signals import post_delete, post_save

        from cluster.models import Cluster
        from workshops import checker, history, ratelimit
        from workshops.models import Seat

        checker.register()
        history.register()
        ratelimit.register()
        # A seat given or taken a cluster changes which clusters the quota limits (limits.quota_for remembers).
        post_save.connect(_forget_seats, sender=Seat, dispatch_uid="workshops.limits.seat_saved")
        post_delete.connect(_forget_seats, sender=Seat, dispatch_uid="workshops.limits.seat_deleted")
        post_delete.connect(_forget_seats, sender=Cluster, dispatch_uid="workshops.limits.cluster_deleted")


def _forget_seats(**kwargs) -> None:
    from workshops import limits

    limits.forget_seat()
