"""Tests run against real PostgreSQL and Redis (the local servers by default)."""

import os
import warnings

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/herald")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: F403
from .base import LOGGING

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
