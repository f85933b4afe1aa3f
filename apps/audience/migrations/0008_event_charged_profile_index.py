"""Purchases by profile with their properties, PostgreSQL only.

A counted or property-filtered purchase condition evaluated per candidate profile ("bought
shoes at least twice in the last 60 days" among US shoppers aged 25-40, bench/segments.py
"mix") probes (profile_id, name, ts) once per profile and then reads every matching event's
`properties` from the heap: 51k probes, 49k heap pages, ~1.2 s warm and ~5 s cold at 10M
events. With the purchases' properties in a partial index keyed by profile the probe is
index-only (~0.45 s warm). Charged is ~4% of events, so the index is ~120 MB at 10M events
and one more entry for one insert in 25. event_charged_ts_idx (0006) stays: it serves the
period scans ("Charged in the last 30 days") that this one, keyed by profile, cannot.

Built CONCURRENTLY; seed_demo drops and re-creates it around big loads like every other
secondary event index.
"""

from django.db import migrations

NAME = "event_charged_profile_idx"
DEFINITION = (
    "ON audience_event (profile_id, ts) INCLUDE (properties) WHERE name = 'Charged'"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [NAME]
        )
        row = cursor.fetchone()
        if row and row[0]:  # left invalid by an interrupted CREATE INDEX CONCURRENTLY
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
        cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} {DEFINITION}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audience", "0007_event_name_ts_include_profile")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
