"""A trigram index for the profile search box's part-of-name match, PostgreSQL only.

`name__icontains` compiles to UPPER(name::text) LIKE UPPER('%term%'), which no b-tree can
answer; a pg_trgm GIN index on the same expression can. Creating the extension needs a role
allowed to do so; where it is refused the search still works, only by scanning."""

from django.db import migrations, transaction

INDEX = "profile_name_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # no privilege to create extensions: keep the unindexed search
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON audience_profile "
        "USING gin ((UPPER(name::text)) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("audience", "0003_profile_unique_constraints")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
