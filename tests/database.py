"""The URL of the database the tests run on, for processes the tests start (workers,
benchmarks): pytest-django renames it to test_<name>, so the environment's URL is not it."""

from urllib.parse import quote

from django.db import connection


def url_of_test_database() -> str:
    s = connection.settings_dict
    user = quote(s.get("USER") or "postgres")
    password = f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else ""
    host, port, name = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432, quote(s["NAME"])
    if str(host).startswith("/"):  # a Unix socket folder (the embedded server)
        return f"postgres://{user}{password}@/{name}?host={quote(str(host))}&port={port}"
    return f"postgres://{user}{password}@{host}:{port}/{name}"
