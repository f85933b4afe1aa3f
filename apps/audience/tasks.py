from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from . import services
from .services import PROFILE_IMPORT_TASK


class ProfileImportTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Retries used up (the database stayed away): say so rather than "running" for ever."""
        import_id = kwargs.get("import_id", args[0] if args else None)
        if import_id is not None:
            services.profile_import_fail(
                import_id=import_id, reason=f"The import stopped after repeated errors: {exc}"
            )


@shared_task(
    name=PROFILE_IMPORT_TASK,
    base=ProfileImportTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def profile_import_run_task(import_id: int) -> None:
    """Safe to run twice: the service resumes after the rows already committed."""
    services.profile_import_run(import_id=import_id)
