"""`make run`: the whole product in one foreground process.

1. With no DATABASE_URL / REDIS_URL, start Herald's embedded PostgreSQL and Redis (data and
   Unix sockets under var/); with DATABASE_URL set, create its database if it is missing.
2. migrate, collectstatic, bootstrap_demo.
3. web + worker + beat + provider sandbox under honcho (config/Procfile).
4. Watch: if PostgreSQL or Redis dies, say which and stop everything; on Ctrl-C (or SIGTERM)
   stop the web and worker processes first and the servers last.

Usage: python -m config.run
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from config.embedded import (
    EmbeddedServerError,
    EmbeddedServers,
    database_create_if_missing,
    process_alive,
    servers_for_missing_urls,
)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HONCHO = str(Path(sys.executable).parent / "honcho")


def say(line: str) -> None:
    print(f"herald: {line}", flush=True)


class StartError(Exception):
    """Something stops `make run` from starting; the message is one line to act on."""


def database_ensure(database_url: str) -> None:
    """Make sure DATABASE_URL's database exists, creating it on the same server if not."""
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    name = params.get("dbname") or params.get("user") or "postgres"
    where = params.get("host") or "localhost"
    try:
        psycopg.connect(database_url, connect_timeout=5).close()
        return
    except psycopg.OperationalError as error:
        if f'database "{name}" does not exist' not in str(error):
            reason = str(error).strip().splitlines()[-1]
            message = f"cannot reach PostgreSQL at {where} (DATABASE_URL): {reason}"
            raise StartError(message) from None
    try:
        database_create_if_missing(database_url)
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[-1]
        raise StartError(
            f"database {name} does not exist on {where} and could not be created ({reason}); "
            f"create it with: createdb -h {where} {name}"
        ) from None
    say(f"created the database {name} on {where}")


def prepare(env: dict[str, str]) -> None:
    steps = (
        ("migrate", "--noinput"),
        ("collectstatic", "--noinput", "--verbosity", "0"),
        ("bootstrap_demo",),
    )
    for step in steps:
        done = subprocess.run([PYTHON, "manage.py", *step], cwd=ROOT, env=env)
        if done.returncode != 0:
            raise StartError(f"`manage.py {step[0]}` failed (exit {done.returncode}); see above")


class Launcher:
    def __init__(self) -> None:
        self.var_dir = Path(os.environ.get("HERALD_VAR_DIR", ROOT / "var")).resolve()
        self.servers: EmbeddedServers = servers_for_missing_urls(self.var_dir, durable=True)
        self.stopping: int | None = None  # the signal that asked us to stop
        self.processes: subprocess.Popen | None = None

    def _on_signal(self, signum: int, _frame) -> None:
        self.stopping = signum
        # A Ctrl-C reaches honcho directly (same process group); a SIGTERM sent to us alone
        # is passed on, so the web and worker processes stop before the servers.
        if signum == signal.SIGTERM and self.processes and self.processes.poll() is None:
            self.processes.send_signal(signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        started = time.monotonic()
        try:
            self.var_dir.mkdir(parents=True, exist_ok=True)
            self._claim_var_dir()
            self.servers.start()
            env = {**os.environ, **self.servers.environment()}
            if self.servers.postgres is None:
                database_ensure(env["DATABASE_URL"])
            self._say_where()
            prepare(env)
            if self.stopping:
                return 0
            say(f"ready to start the web, worker and beat {time.monotonic() - started:.1f} s in")
            self.processes = subprocess.Popen(
                [HONCHO, "start", "-f", "config/Procfile", "--app-root", "."], cwd=ROOT, env=env
            )
            return self._watch()
        except (StartError, EmbeddedServerError) as error:
            if self.stopping:  # a Ctrl-C during migrate ends that step too: not a failure
                return 0
            say(str(error))
            return 1
        finally:
            self._stop_processes()
            self.servers.stop()
            self._release_var_dir()
            if self.stopping:
                say("stopped")

    def _watch(self) -> int:
        assert self.processes is not None
        while True:
            code = self.processes.poll()
            if code is not None:
                return 0 if self.stopping else code
            died = self.servers.exited()
            if died:
                say(f"{died}: stopping Herald")
                self._stop_processes()
                return 1
            time.sleep(0.5)

    def _stop_processes(self) -> None:
        if self.processes is None or self.processes.poll() is not None:
            return
        self.processes.send_signal(signal.SIGTERM)
        try:
            self.processes.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.processes.kill()
            self.processes.wait()

    def _say_where(self) -> None:
        if self.servers.postgres:
            say(f"embedded PostgreSQL 18 up, data in {self.servers.postgres.data_dir}")
        if self.servers.redis:
            say(f"embedded Redis up, data in {self.servers.redis.data_dir}")

    # One `make run` per var/ folder: a second would fight the first over its servers.
    @property
    def _pid_file(self) -> Path:
        return self.var_dir / "make-run.pid"

    def _claim_var_dir(self) -> None:
        try:
            other = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            other = None
        if other and other != os.getpid() and process_alive(other):
            raise StartError(
                f"another `make run` (pid {other}) is using {self.var_dir}; stop it first, "
                f"or give this one its own HERALD_VAR_DIR and HERALD_PORT"
            )
        self._pid_file.write_text(str(os.getpid()))

    def _release_var_dir(self) -> None:
        try:
            if self._pid_file.read_text().strip() == str(os.getpid()):
                self._pid_file.unlink()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(Launcher().run())
