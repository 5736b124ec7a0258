from django.apps import AppConfig


class WorkshopsConfig(AppConfig):
    name = "workshops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The lesson checker, the per-seat quota and the idle reclaimer follow the simulation loop through
        # cluster.runtime's hooks (see workshops.checker); the seats' terminal history comes through the web
        # terminal's (workshops.history), and the per-seat request rate limit sits on the Kubernetes HTTP API
        # (workshops.ratelimit).
        from workshops import checker, history, ratelimit

        checker.register()
        history.register()
        ratelimit.register()
