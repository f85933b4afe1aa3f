from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from config.celery_app import ensure_broker_folders

        ensure_broker_folders()
