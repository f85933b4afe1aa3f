"""Settings shared by every environment. Everything that differs between machines
comes from the environment (django-environ); nothing secret lives in the repo."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.embedded import broker_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Runtime state of `make run`: the embedded PostgreSQL and Redis, uploads, beat's schedule.
VAR_DIR = Path(env("HERALD_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "apps.core",
    "apps.accounts",
    "apps.audience",
    "apps.providers",
    "apps.segments",
    "apps.message_templates",
    "apps.campaigns",
    "apps.delivery",
    "apps.api",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.RequestLogMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# PostgreSQL is the only database Herald runs on. `make run` and `make test` start Herald's
# embedded PostgreSQL (config/embedded.py) and set DATABASE_URL when it is not set.
if not env("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make run` and `make test` start Herald's embedded PostgreSQL "
        "and set it; elsewhere set DATABASE_URL=postgres://user:password@host:5432/herald"
    )
DATABASES = {"default": env.db("DATABASE_URL")}
# A socket folder given as ?host=/path (libpq's spelling) is Django's HOST.
if "host" in DATABASES["default"].get("OPTIONS", {}):
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = env.path("HERALD_MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

# CSV uploads are streamed to disk and read by a worker; keep request bodies bounded.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
CSV_IMPORT_MAX_BYTES = env.int("HERALD_CSV_IMPORT_MAX_BYTES", default=200 * 1024 * 1024)

# --- Mail (Herald's own alerts to its users, e.g. a campaign held by the safety check) -------
# HERALD_EMAIL_URL: smtp://user:password@host:587 (django-environ's email URL); without it the
# alerts go to the process's log (console backend).
vars().update(env.email_url("HERALD_EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("HERALD_FROM_EMAIL", default="Herald <herald@localhost>")
# `make run`: the port it serves on and the size of the demo audience it loads on first start.
HERALD_PORT = env.int("HERALD_PORT", default=8000)
HERALD_DEMO_PROFILES = env.int("HERALD_DEMO_PROFILES", default=5000)
# Where users open Herald, for links in those alerts.
HERALD_BASE_URL = env("HERALD_BASE_URL", default=f"http://127.0.0.1:{HERALD_PORT}")

# --- Redis, cache and Celery -------------------------------------------------------------
# Redis is the broker, the cache and the counter store (throttles, circuits, run progress).
REDIS_URL = env("REDIS_URL", default="")
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is not set. `make run` and `make test` start Herald's embedded Redis and set "
        "it; elsewhere set REDIS_URL=redis://host:6379/0"
    )
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Keeps two Herald instances (or a benchmark) apart on one Redis database.
        "KEY_PREFIX": env("HERALD_CACHE_PREFIX", default="herald"),
    }
}
CELERY_BROKER_URL = broker_url(REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ("notify", "triggers", "bulk", "default")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# --- Logging: one JSON object per line, so logs can be shipped and queried -----------------
LOG_LEVEL = env("HERALD_LOG_LEVEL", default="INFO")  # the root logger's level
LOG_FORMAT = env("HERALD_LOG_FORMAT", default="json")  # json | console
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "console": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "filters": {
        "client_error_without_traceback": {
            "()": "apps.core.log_filters.ClientErrorWithoutTraceback"
        },
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"filters": ["client_error_without_traceback"]},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Herald --------------------------------------------------------------------------------
UPLOAD_API_MAX_RECORDS = 1000
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING above, as JSON

# Provider credentials are encrypted at rest with Fernet. Keys: comma separated, the first
# encrypts, all decrypt (rotation). Unset: a key derived from DJANGO_SECRET_KEY (local use).
HERALD_ENCRYPTION_KEYS = env.list("HERALD_ENCRYPTION_KEYS", default=[])
# The local provider sandbox (python manage.py provider_sandbox).
PROVIDER_SANDBOX_HOST = env("HERALD_SANDBOX_HOST", default="127.0.0.1")
PROVIDER_SANDBOX_PORT = env.int("HERALD_SANDBOX_PORT", default=8025)
PROVIDER_SANDBOX_SMTP_PORT = env.int("HERALD_SANDBOX_SMTP_PORT", default=8026)
# Messages the sandbox keeps in its log (per-label counts are never truncated); a benchmark
# sending more raises it.
HERALD_SANDBOX_MAX_MESSAGES = env.int("HERALD_SANDBOX_MAX_MESSAGES", default=200_000)

# --- Sending: the delivery engine, provider circuit breakers, provider HTTP clients -------
# Recipients per send batch. 2,000: a batch's requests go out together and it waits for its
# slowest answer, so fewer, larger batches keep more in flight (bench/fanout.py, mixed
# platforms, 100k: 2,522-2,626 msgs/s at 1,000, 3,138 at 2,000, 3,143 at 4,000).
HERALD_BATCH_SIZE = env.int("HERALD_BATCH_SIZE", default=2000)
# Seconds a claimed batch may be in doubt before release_due hands its rows out again.
HERALD_SEND_LEASE_S = env.int("HERALD_SEND_LEASE_S", default=900)
# Seconds without batch activity after which an open run is looked at again.
HERALD_STALE_RUN_S = env.int("HERALD_STALE_RUN_S", default=300)
# Tries of a retryable send, and its first back-off in seconds (doubling, at most 15 min).
HERALD_SEND_MAX_ATTEMPTS = env.int("HERALD_SEND_MAX_ATTEMPTS", default=5)
HERALD_SEND_RETRY_BASE_S = env.int("HERALD_SEND_RETRY_BASE_S", default=30)
# Consecutive retryable failures that open a provider's circuit (it is skipped), and the
# seconds it stays open before one trial send.
HERALD_CIRCUIT_FAILURE_THRESHOLD = env.int("HERALD_CIRCUIT_FAILURE_THRESHOLD", default=10)
HERALD_CIRCUIT_COOLDOWN_S = env.float("HERALD_CIRCUIT_COOLDOWN_S", default=30)
# The adapters' batch client: "aiohttp" sends an SMS batch concurrently, "httpx" one request
# at a time; and the requests of one batch aiohttp keeps in flight (enough to hide the round
# trip, few enough not to look like a flood to a provider, as several batches run at once).
HERALD_PROVIDER_HTTP_CLIENT = env("HERALD_PROVIDER_HTTP_CLIENT", default="aiohttp")
HERALD_PROVIDER_HTTP_CONCURRENCY = env.int("HERALD_PROVIDER_HTTP_CONCURRENCY", default=16)
