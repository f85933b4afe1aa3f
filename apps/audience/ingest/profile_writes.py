"""The SQL that writes profiles: new ones with INSERT … ON CONFLICT DO NOTHING in key order,
existing ones locked in id order and merged with one UPDATE … FROM jsonb_to_recordset
(columns only when provided, `properties || new`, first/last seen only widen)."""

import json
from datetime import datetime
from typing import Any

from django.db import connection

from ..models import Profile, new_object_id
from .deltas import ProfileDelta
from .jsonb import json_default
from .upload_format import PROFILE_COLUMNS


def _delta_row(delta: ProfileDelta) -> dict[str, Any]:
    return {
        **delta.columns,
        "properties": delta.properties,
        "first_seen": delta.first_seen,
        "last_seen": delta.last_seen,
    }


# jsonb_to_recordset column types: keys missing from a row come out as NULL.
_RECORDSET_TYPES = {
    "identity": "text",
    "object_id": "text",
    "fbid": "text",
    "email": "text",
    "phone": "text",
    "name": "text",
    "gender": "text",
    "date_of_birth": "date",
    "country": "text",
    "region": "text",
    "city": "text",
    "latitude": "double precision",
    "longitude": "double precision",
    "timezone": "text",
    "language": "text",
    "email_unsubscribed": "boolean",
    "sms_unsubscribed": "boolean",
    "push_opt_out": "boolean",
    "properties": "jsonb",
    "first_seen": "timestamptz",
    "last_seen": "timestamptz",
}
# Columns that are NOT NULL with a default of '' or false.
_NOT_NULL_DEFAULTS = {
    "email": "''",
    "phone": "''",
    "name": "''",
    "gender": "''",
    "country": "''",
    "region": "''",
    "city": "''",
    "timezone": "''",
    "language": "''",
    "email_unsubscribed": "false",
    "sms_unsubscribed": "false",
    "push_opt_out": "false",
    "properties": "'{}'::jsonb",
}


def _recordset(extra: dict[str, str]) -> str:
    columns = {**extra, **_RECORDSET_TYPES}
    return ", ".join(f"{name} {kind}" for name, kind in columns.items())


def _new_profile_row(group: tuple[str, str], delta: ProfileDelta) -> dict[str, Any]:
    kind, key = group
    row = {"object_id": new_object_id(), kind: key}
    row.update(_delta_row(delta))
    return row


def profiles_create(
    groups: list[tuple[str, str]], deltas: dict, *, now: datetime
) -> dict[tuple[str, str], int]:
    """INSERT … ON CONFLICT DO NOTHING in key order; rows another request inserted first
    are not returned, and the caller merges into them instead."""
    rows = []
    object_ids = {}
    for order, group in enumerate(groups):
        row = _new_profile_row(group, deltas[group])
        row["ord"] = order
        object_ids[row["object_id"]] = group
        rows.append(row)
    columns = list(_RECORDSET_TYPES)
    values = ", ".join(
        f"COALESCE(v.{c}, {_NOT_NULL_DEFAULTS[c]})" if c in _NOT_NULL_DEFAULTS else f"v.{c}"
        for c in columns
    )
    sql = (
        f"INSERT INTO {Profile._meta.db_table} ({', '.join(columns)}, is_test, created_at, "
        f"updated_at) SELECT {values}, false, %s, %s "
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({_recordset({'ord': 'int'})}) "
        "ORDER BY v.ord ON CONFLICT DO NOTHING RETURNING id, object_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, json.dumps(rows, default=json_default)])
        return {object_ids[object_id]: pk for pk, object_id in cursor.fetchall()}


def profiles_update(deltas: dict[int, ProfileDelta], *, now: datetime) -> None:
    ids = sorted(deltas)
    rows = [{"id": pk, **_delta_row(deltas[pk])} for pk in ids]
    table = Profile._meta.db_table
    assignments = [f"{c} = COALESCE(v.{c}, p.{c})" for c in PROFILE_COLUMNS]
    assignments += [
        "properties = p.properties || COALESCE(v.properties, '{}'::jsonb)",
        "first_seen = LEAST(p.first_seen, v.first_seen)",
        "last_seen = GREATEST(p.last_seen, v.last_seen)",
        "updated_at = %s",
    ]
    with connection.cursor() as cursor:
        # Lock in id order first: one UPDATE … FROM locks rows in whatever order its plan
        # visits them, and two requests doing that in different orders deadlock.
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [ids]
        )
        cursor.execute(
            f"UPDATE {table} AS p SET {', '.join(assignments)} "
            f"FROM jsonb_to_recordset(%s::jsonb) AS v({_recordset({'id': 'bigint'})}) "
            "WHERE p.id = v.id",
            [now, json.dumps(rows, default=json_default)],
        )
