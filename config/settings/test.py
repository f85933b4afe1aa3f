"""Tests run against real PostgreSQL and Redis: DATABASE_URL / REDIS_URL when set, otherwise
Herald's embedded servers, started once for the test session in a temporary folder (the
process that starts them sets both variables, so the workers and sandboxes it spawns use the
same servers) and removed when it exits."""

import warnings

from config.embedded import test_session_servers_ensure

test_session_servers_ensure()

from .base import *  # noqa: E402, F403
from .base import LOGGING  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test logins
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING["root"]["level"] = "WARNING"
LOGGING["handlers"]["stdout"]["formatter"] = "console"

# Tests never run collectstatic; whitenoise would warn about the missing STATIC_ROOT.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
