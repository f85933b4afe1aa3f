"""GIN indexes on the JSON properties, PostgreSQL only.

Segment filters on custom profile properties and on event properties (Amount > 100,
Items|Category = shoes) are containment and path tests on JSONB; jsonb_path_ops GIN indexes
answer them without a scan. The embedded SQLite default has no GIN, so this migration does
nothing there."""

from django.db import migrations

INDEXES = {
    "audience_profile": "profile_properties_gin",
    "audience_event": "event_properties_gin",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, index in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (properties jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in INDEXES.values():
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [("audience", "0001_initial")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
