"""Logging filters named by config/settings LOGGING."""

import logging


class ClientErrorWithoutTraceback(logging.Filter):
    """django.request logs a 4xx raised as an exception (PermissionDenied, Http404, a bad
    request) with its traceback. A viewer opening a Marketer's page is not a fault of the
    server: keep the one line, drop the traceback, so a traceback in the log means a 5xx."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
