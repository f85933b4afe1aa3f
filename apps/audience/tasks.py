from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def profile_import_run_task(import_id: int) -> None:
    """Safe to run twice: the service resumes after the rows already committed."""
    services.profile_import_run(import_id=import_id)
