"""`make run` with DATABASE_URL set (config/run.py): a database that does not exist is
created; a server that cannot be reached is one line that says so, never a traceback."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from config.run import StartError, database_ensure
from tests.database import url_of_test_database

ROOT = Path(__file__).resolve().parents[2]


def _url_for(name: str) -> str:
    url = url_of_test_database()
    current = quote(connection.settings_dict["NAME"])
    return url.replace(f"/{current}", f"/{name}", 1)


@pytest.fixture
def missing_database():
    name = "herald_launcher_missing"
    yield name
    with psycopg.connect(_url_for("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_a_missing_database_is_created_on_the_same_server(db, missing_database, capsys):
    database_ensure(_url_for(missing_database))

    with psycopg.connect(_url_for(missing_database)) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == missing_database
    assert f"created the database {missing_database}" in capsys.readouterr().out


def test_an_existing_database_is_left_as_it_is(db, capsys):
    database_ensure(url_of_test_database())

    assert capsys.readouterr().out == ""


def test_an_unreachable_server_is_one_line_naming_database_url(tmp_path):
    url = f"postgres://postgres@/herald?host={tmp_path}"

    with pytest.raises(StartError) as refused:
        database_ensure(url)

    message = str(refused.value)
    assert message.startswith(f"cannot reach PostgreSQL at {tmp_path} (DATABASE_URL): ")
    assert "\n" not in message


@pytest.mark.slow
def test_make_run_with_an_unreachable_database_says_so_in_one_line_without_a_traceback(
    tmp_path,
):
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"postgres://postgres@/herald?host={tmp_path}",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "HERALD_VAR_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "config.run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert f"herald: cannot reach PostgreSQL at {tmp_path} (DATABASE_URL)" in done.stdout
