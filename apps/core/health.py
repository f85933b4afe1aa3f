"""Liveness of the parts Herald needs: the database, the broker and at least one worker."""

import time

from django.db import connection

from config.celery_app import app as celery_app


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        result = {"ok": True, **(detail or {})}
    except Exception as exc:  # a health check reports every failure, whatever its kind
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_broker() -> dict:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"transport": str(conn.transport_cls)}


def check_workers() -> dict:
    replies = celery_app.control.ping(timeout=1.5, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered a ping within 1.5 s")
    return {"workers": sorted(name for reply in replies for name in reply)}


def check_all() -> dict:
    checks = {
        "database": _timed(check_database),
        "broker": _timed(check_broker),
        "worker": _timed(check_workers),
    }
    status = "ok" if all(c["ok"] for c in checks.values()) else "fail"
    return {"status": status, "checks": checks}
