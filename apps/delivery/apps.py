from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "apps.delivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.campaigns.models import Campaign

        # tasks: registered in every process, so the engine and the live hook can enqueue
        # them by name (tasks.py imports both).
        from . import live, tasks  # noqa: F401

        # Cache invalidation, not business logic: any campaign save may change which live
        # campaigns listen to which events. Status changes made by conditional UPDATE
        # (campaigns.services) bump the version themselves.
        post_save.connect(live.campaign_changed, sender=Campaign, dispatch_uid="live-index")
        post_delete.connect(live.campaign_changed, sender=Campaign, dispatch_uid="live-index-del")
