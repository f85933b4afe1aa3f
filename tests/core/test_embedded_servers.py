"""Herald's embedded servers (config/embedded.py), each started for real in a folder of the
test's own: where their data and sockets live, a restart that keeps the data, a server left
running by a killed launcher, and the URLs other processes find them by. The tests that start
a server (a process of its own) are marked slow."""

import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from config import embedded
from config.embedded import EmbeddedPostgres, EmbeddedRedis, broker_url, running_urls


@pytest.fixture
def home():
    # Not tmp_path (mode 700): the PostgreSQL system user must reach it when tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="herald-embedded-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _connect(server: EmbeddedPostgres) -> psycopg.Connection:
    return psycopg.connect(server.url.replace("postgres://", "postgresql://"), autocommit=True)


@pytest.mark.slow
def test_postgres_keeps_its_data_and_socket_under_its_folder_and_listens_on_no_port(home):
    server = EmbeddedPostgres(home, durable=False)
    server.start()
    try:
        with _connect(server) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            listen = conn.execute("SHOW listen_addresses").fetchone()[0]
            data_directory = conn.execute("SHOW data_directory").fetchone()[0]
        assert version.startswith("18.")
        assert listen == ""
        assert Path(data_directory) == home / "postgres"
        assert (home / "run" / "postgres" / ".s.PGSQL.5432").is_socket()
        assert server.url == f"postgres://postgres@/herald?host={home}/run/postgres"
    finally:
        server.stop()
    assert not (home / "postgres" / "postmaster.pid").exists()


@pytest.mark.slow
def test_postgres_started_again_keeps_what_was_written(home):
    first = EmbeddedPostgres(home, durable=True)
    first.start()
    with _connect(first) as conn:
        conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
    first.stop()
    initialised = (home / "postgres" / "PG_VERSION").stat().st_mtime_ns

    second = EmbeddedPostgres(home, durable=True)
    second.start()
    try:
        with _connect(second) as conn:
            assert conn.execute("SELECT note FROM kept").fetchone()[0] == "still here"
        assert (home / "postgres" / "PG_VERSION").stat().st_mtime_ns == initialised
    finally:
        second.stop()


@pytest.mark.slow
def test_a_postgres_left_running_by_a_killed_launcher_is_stopped_and_replaced(home, capsys):
    orphan = EmbeddedPostgres(home, durable=False)
    orphan.start()  # ... and its launcher never stops it
    try:
        replacement = EmbeddedPostgres(home, durable=False)
        replacement.start()
        try:
            assert orphan.process.wait(timeout=30) == 0  # a clean fast shutdown
            assert replacement.process.poll() is None
            with _connect(replacement) as conn:
                assert conn.execute("SELECT 1").fetchone()[0] == 1
        finally:
            replacement.stop()
    finally:
        orphan.stop()
    assert f"left running by an earlier run (pid {orphan.process.pid})" in capsys.readouterr().out


@pytest.mark.slow
def test_redis_answers_on_its_socket_and_is_found_by_a_process_beside_it(home):
    server = EmbeddedRedis(home, durable=False)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        assert client.config_get("port") == {"port": "0"}
        assert running_urls(home) == {"REDIS_URL": f"unix://{home}/run/redis/redis.sock?db=0"}
    finally:
        server.stop()
    assert running_urls(home) == {}


@pytest.mark.slow
def test_a_server_that_dies_is_named_by_the_watch(home):
    servers = embedded.EmbeddedServers(redis=EmbeddedRedis(home, durable=False))
    servers.start()
    try:
        assert servers.exited() is None
        servers.redis.process.send_signal(signal.SIGKILL)
        servers.redis.process.wait(timeout=10)
        assert servers.exited() == (
            f"the embedded Redis exited (code -9); see {home / 'log' / 'redis.log'}"
        )
    finally:
        servers.stop()


def test_celery_reads_a_redis_socket_url_in_its_own_spelling():
    assert broker_url("unix:///srv/herald/run/redis.sock?db=3") == (
        "redis+socket:///srv/herald/run/redis.sock?virtual_host=3"
    )
    assert broker_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_as_root_a_folder_closed_to_others_keeps_postgres_elsewhere_and_changes_no_mode(
    tmp_path, monkeypatch, capsys
):
    closed = tmp_path / "closed"
    home = closed / "checkout" / "var"
    home.mkdir(parents=True)
    closed.chmod(0o700)
    monkeypatch.setattr(embedded, "RELOCATION_ROOT", tmp_path / "lib-herald")
    monkeypatch.setattr(embedded.os, "geteuid", lambda: 0)
    monkeypatch.setattr(embedded, "_ensure_system_user", lambda name: pwd.getpwuid(os.getuid()))

    server = EmbeddedPostgres(home)

    elsewhere = tmp_path / "lib-herald" / server.data_dir.parent.name
    assert server.data_dir == elsewhere / "postgres"
    assert server.socket_dir == elsewhere / "run"
    assert (home / "postgres").is_symlink()
    assert os.readlink(home / "postgres") == str(elsewhere / "postgres")
    assert closed.stat().st_mode & 0o777 == 0o700
    said = capsys.readouterr().out
    assert f"{closed} is closed to other users" in said and "no permission of yours" in said


def test_as_root_a_reachable_folder_keeps_postgres_in_it(home, monkeypatch):
    monkeypatch.setattr(embedded.os, "geteuid", lambda: 0)
    monkeypatch.setattr(embedded, "_ensure_system_user", lambda name: pwd.getpwuid(os.getuid()))

    server = EmbeddedPostgres(home)

    assert server.data_dir == home / "postgres"
    assert server.socket_dir == home / "run" / "postgres"
