"""`make run` and `manage.py` on a laptop. `make run` starts Herald's embedded PostgreSQL and
Redis (config/run.py) unless DATABASE_URL / REDIS_URL are set; a `manage.py` command run beside
it finds them by their sockets under var/."""

import os
from pathlib import Path

from config.embedded import running_urls

_var_dir = Path(os.environ.get("HERALD_VAR_DIR", Path(__file__).resolve().parents[2] / "var"))
for _name, _url in running_urls(_var_dir).items():
    os.environ.setdefault(_name, _url)

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
LOG_FORMAT = env("HERALD_LOG_FORMAT", default="console")
LOGGING["handlers"]["stdout"]["formatter"] = LOG_FORMAT  # noqa: F405
