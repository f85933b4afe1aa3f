from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "apps.delivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registered in every process, so the engine and the live hook can enqueue them by
        # name (tasks.py imports both).
        from . import tasks  # noqa: F401
