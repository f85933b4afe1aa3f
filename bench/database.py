"""What the benchmarks share about their own database: create it when it is missing, and the
seed marker — a COMMENT on the database (no table of our own) saying what it was seeded with,
so a later run of the same size reuses the seed (bench/fanout.py, bench/segments.py)."""

from __future__ import annotations

import json

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.sandbox_process import log


def database_name(database_url: str) -> str:
    """The database a URL names (a socket URL's ?host= and port are not part of it)."""
    return conninfo_to_dict(database_url)["dbname"]


def database_ensure(database_url: str) -> None:
    """Create the benchmark's database when it does not exist (migrate fills it)."""
    params = conninfo_to_dict(database_url)
    name = params.pop("dbname")
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def seed_marker_read(conn: psycopg.Connection) -> dict:
    """The marker of the database `conn` is connected to; {} when it has none."""
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
        " WHERE datname = current_database()"
    ).fetchone()
    try:
        return json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}


def seed_marker_write(database_url: str, marker: dict) -> None:
    """Record on the database what it was seeded with."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        comment = json.dumps(marker).replace("'", "''")
        conn.execute(f"COMMENT ON DATABASE \"{database_name(database_url)}\" IS '{comment}'")
