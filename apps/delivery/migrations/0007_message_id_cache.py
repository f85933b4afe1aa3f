"""A cached id sequence for Message: the snapshot takes a million ids in one statement, and
PostgreSQL's default of one id per sequence call cost it ~8% of its time (bench/fanout.py).
Each connection now reserves ids a thousand at a time: ids still grow within a statement,
and gaps between connections are harmless (nothing reads meaning into Message ids)."""

from django.db import migrations


def _cache(size: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite's rowids have no sequence to tune
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence('delivery_message', 'id')")
            (sequence,) = cursor.fetchone()
            cursor.execute(f"ALTER SEQUENCE {sequence} CACHE {int(size)}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("delivery", "0006_run_refused_label")]

    operations = [migrations.RunPython(_cache(1000), _cache(1))]
