"""event_name_ts_idx carries profile_id (INCLUDE), so "who did X in the period" is an
index-only scan: segment estimates join those profile ids to profiles, and without
profile_id in the index every matching event cost a heap visit (bench/segments.py,
"abandoned_cart": 13k event pages read for one day of carts; 195 -> 95 ms warm at 10M events).

Same name, same key, one more 8-byte column per entry: the Upload API pays the same number
of index writes as before. On PostgreSQL the new index is built CONCURRENTLY beside the old
one and swapped in, so a live database keeps taking events; elsewhere (SQLite has no
INCLUDE) the index stays as it is.
"""

from django.db import migrations

TEMPORARY = "event_name_ts_incl_new"


def include_profile(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TEMPORARY}")  # a failed earlier try
        cursor.execute(
            f"CREATE INDEX CONCURRENTLY {TEMPORARY}"
            " ON audience_event (name, ts) INCLUDE (profile_id)"
        )
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS event_name_ts_idx")
        cursor.execute(f"ALTER INDEX {TEMPORARY} RENAME TO event_name_ts_idx")


def exclude_profile(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TEMPORARY}")
        cursor.execute(f"CREATE INDEX CONCURRENTLY {TEMPORARY} ON audience_event (name, ts)")
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS event_name_ts_idx")
        cursor.execute(f"ALTER INDEX {TEMPORARY} RENAME TO event_name_ts_idx")


class Migration(migrations.Migration):
    # Database only, like 0002's GIN indexes: the model keeps declaring (name, ts), because
    # SQLite has no INCLUDE and Django's check would warn about it on every command there.
    atomic = False
    dependencies = [("audience", "0006_segment_estimate_indexes")]
    operations = [migrations.RunPython(include_profile, exclude_profile, elidable=False)]
