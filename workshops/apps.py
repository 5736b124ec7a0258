from django.apps import AppConfig


class WorkshopsConfig(AppConfig):
    name = "workshops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The lesson checker, the per-seat quota and the idle reclaimer follow the simulation loop through
        # cluster.runtime's hooks (see workshops.checker).
        from workshops import checker

        checker.register()
