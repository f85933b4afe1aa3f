"""Event records -> Event rows, in one INSERT … SELECT FROM jsonb_to_recordset."""

import json

from django.db import connection

from ..models import Event
from .jsonb import json_default
from .parsing import ParsedRecord


def events_insert(records: list[ParsedRecord], target_of: dict) -> list[tuple[int, str]]:
    # One JSON parameter instead of 4,000 adapted ones: a third of bulk_create's time.
    rows = [
        {
            "profile_id": target_of[(r.key_kind, r.key)],
            "name": r.event_name,
            "ts": r.ts,
            "properties": r.event_data,
        }
        for r in records
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (profile_id, name, ts, properties) "
            "SELECT profile_id, name, ts, properties FROM jsonb_to_recordset(%s::jsonb) "
            "AS v(profile_id bigint, name text, ts timestamptz, properties jsonb) "
            "RETURNING id, name",
            [json.dumps(rows, default=json_default)],
        )
        return [(event_id, name) for event_id, name in cursor.fetchall()]
