from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "apps.audience"
    label = "audience"

    def ready(self) -> None:
        # Registered in every process, so services can enqueue the import task by name
        # (tasks.py imports services).
        from . import tasks  # noqa: F401
