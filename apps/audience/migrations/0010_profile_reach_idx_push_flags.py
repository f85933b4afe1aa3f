"""profile_reach_idx (0006) also carries the push flags of 0009, so a reach estimate of a
behaviour-only segment keeps reading every column that decides reach from the index alone
(index-only scan, no heap page of the 460 MB profile table), now push included.

The flags change only when a profile gains or loses its first push device of a platform, so
profile updates that do not touch them (last_seen on every event) stay HOT.

Built CONCURRENTLY beside the old index and swapped in under the same name, like 0007, so a
live database keeps taking writes. PostgreSQL only.
"""

from django.db import migrations

TEMPORARY = "profile_reach_new_idx"
WITH_FLAGS = (
    "(id) INCLUDE (push_opt_out, sms_unsubscribed, email_unsubscribed, phone, email, "
    "push_android, push_ios, push_web)"
)
WITHOUT_FLAGS = "(id) INCLUDE (push_opt_out, sms_unsubscribed, email_unsubscribed, phone, email)"


def _rebuild(schema_editor, definition: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TEMPORARY}")  # a failed earlier try
        cursor.execute(f"CREATE INDEX CONCURRENTLY {TEMPORARY} ON audience_profile {definition}")
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS profile_reach_idx")
        cursor.execute(f"ALTER INDEX {TEMPORARY} RENAME TO profile_reach_idx")


def include_flags(apps, schema_editor):
    _rebuild(schema_editor, WITH_FLAGS)


def exclude_flags(apps, schema_editor):
    _rebuild(schema_editor, WITHOUT_FLAGS)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audience", "0009_profile_push_flags")]
    operations = [migrations.RunPython(include_flags, exclude_flags, elidable=False)]
