"""Per-profile push reachability flags (push_android, push_ios, push_web), kept by triggers.

A reach estimate of a 107k-profile segment spent ~300 ms of its ~530 ms probing each matching
profile's devices (serially: a correlated probe cannot run in parallel workers). The flags
turn that into three columns read with the profile.

Kept by PostgreSQL, not by Herald's code, so that every writer of audience_device — the
Upload API's upsert, seed_demo's COPY, the ORM, psql — keeps them right:
- statement-level AFTER INSERT / UPDATE / DELETE triggers on audience_device with transition
  tables: one set-based UPDATE per statement however many devices it wrote (a COPY of
  thousands of devices recomputes their profiles once, not once per row). UPDATE triggers
  with transition tables cannot name columns, so the UPDATE trigger picks the rows whose
  profile_id, platform or push_token changed itself. A moved device recomputes both its old
  and its new profile.
- the UPDATE writes only profiles whose flags change: a token uploaded again costs no
  profile row version.
- a BEFORE UPDATE OF the flags trigger on audience_profile recomputes them from the devices
  when anything else writes them (Django's save() writes every column, from an in-memory
  copy that may predate a device change), so a stale copy cannot overwrite the truth.
PostgreSQL only; on SQLite the columns exist with their default and nothing reads them (the
estimate path is PostgreSQL-only).

Backfilled with one set-based UPDATE of the profiles that have a push device. The columns are
in no index (0010 adds them to profile_reach_idx afterwards), so the backfill's updates stay
HOT where the page has room (fillfactor 85, migration 0005).
"""

from django.db import migrations, models

# A device "counts" for a platform exactly when the old per-profile probe found it.
HAS_TOKEN = "dv.push_token IS NOT NULL AND dv.push_token <> ''"

FLAGS_OF = f"""
    EXISTS (SELECT 1 FROM audience_device AS dv
            WHERE dv.profile_id = {{p}}.id AND dv.platform = 'android' AND {HAS_TOKEN}),
    EXISTS (SELECT 1 FROM audience_device AS dv
            WHERE dv.profile_id = {{p}}.id AND dv.platform = 'ios' AND {HAS_TOKEN}),
    EXISTS (SELECT 1 FROM audience_device AS dv
            WHERE dv.profile_id = {{p}}.id AND dv.platform = 'web' AND {HAS_TOKEN})
"""

CREATE_SQL = f"""
CREATE OR REPLACE FUNCTION audience_profile_push_flags_refresh(profile_ids bigint[])
RETURNS void LANGUAGE sql AS $$
    UPDATE audience_profile AS p
    SET push_android = f.android, push_ios = f.ios, push_web = f.web
    FROM (
        SELECT q.id, {FLAGS_OF.format(p="q")}
        FROM unnest(profile_ids) AS q(id)
    ) AS f(id, android, ios, web)
    WHERE p.id = f.id
      AND (p.push_android, p.push_ios, p.push_web) IS DISTINCT FROM (f.android, f.ios, f.web)
$$;

CREATE OR REPLACE FUNCTION audience_device_push_flags_after_insert()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A tokenless device changes no flag.
    PERFORM audience_profile_push_flags_refresh(ARRAY(
        SELECT DISTINCT profile_id FROM new_devices
        WHERE push_token IS NOT NULL AND push_token <> ''
    ));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audience_device_push_flags_after_update()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only devices whose owner, platform or token changed (last_active moves on every token
    -- upload); a moved device recomputes its old and its new profile.
    PERFORM audience_profile_push_flags_refresh(ARRAY(
        SELECT DISTINCT unnest(ARRAY[o.profile_id, n.profile_id])
        FROM old_devices AS o JOIN new_devices AS n ON n.id = o.id
        WHERE (o.profile_id, o.platform, o.push_token)
              IS DISTINCT FROM (n.profile_id, n.platform, n.push_token)
    ));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audience_device_push_flags_after_delete()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audience_profile_push_flags_refresh(ARRAY(
        SELECT DISTINCT profile_id FROM old_devices
        WHERE push_token IS NOT NULL AND push_token <> ''
    ));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audience_profile_push_flags_guard()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Called from the device triggers' own UPDATE (depth 2): those values are the truth.
    IF pg_trigger_depth() > 1 THEN
        RETURN NEW;
    END IF;
    SELECT {FLAGS_OF.format(p="NEW")}
    INTO NEW.push_android, NEW.push_ios, NEW.push_web;
    RETURN NEW;
END $$;

CREATE TRIGGER device_push_flags_insert AFTER INSERT ON audience_device
    REFERENCING NEW TABLE AS new_devices
    FOR EACH STATEMENT EXECUTE FUNCTION audience_device_push_flags_after_insert();
CREATE TRIGGER device_push_flags_update AFTER UPDATE ON audience_device
    REFERENCING OLD TABLE AS old_devices NEW TABLE AS new_devices
    FOR EACH STATEMENT EXECUTE FUNCTION audience_device_push_flags_after_update();
CREATE TRIGGER device_push_flags_delete AFTER DELETE ON audience_device
    REFERENCING OLD TABLE AS old_devices
    FOR EACH STATEMENT EXECUTE FUNCTION audience_device_push_flags_after_delete();
CREATE TRIGGER profile_push_flags_guard
    BEFORE UPDATE OF push_android, push_ios, push_web ON audience_profile
    FOR EACH ROW EXECUTE FUNCTION audience_profile_push_flags_guard();
"""

BACKFILL_SQL = f"""
UPDATE audience_profile AS p
SET (push_android, push_ios, push_web) = (SELECT {FLAGS_OF.format(p="p")})
WHERE p.id IN (SELECT dv.profile_id FROM audience_device AS dv WHERE {HAS_TOKEN})
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS profile_push_flags_guard ON audience_profile;
DROP TRIGGER IF EXISTS device_push_flags_delete ON audience_device;
DROP TRIGGER IF EXISTS device_push_flags_update ON audience_device;
DROP TRIGGER IF EXISTS device_push_flags_insert ON audience_device;
DROP FUNCTION IF EXISTS audience_profile_push_flags_guard();
DROP FUNCTION IF EXISTS audience_device_push_flags_after_delete();
DROP FUNCTION IF EXISTS audience_device_push_flags_after_update();
DROP FUNCTION IF EXISTS audience_device_push_flags_after_insert();
DROP FUNCTION IF EXISTS audience_profile_push_flags_refresh(bigint[]);
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            # No device write may slip between the backfill and the triggers: hold device
            # writes until this migration commits. Backfill first, so the profile guard
            # trigger does not recompute every backfilled row a second time.
            cursor.execute("LOCK TABLE audience_device IN SHARE MODE")
            cursor.execute(BACKFILL_SQL)
            cursor.execute(CREATE_SQL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("audience", "0008_event_charged_profile_index")]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="push_android",
            field=models.BooleanField(default=False, db_default=False, editable=False),
        ),
        migrations.AddField(
            model_name="profile",
            name="push_ios",
            field=models.BooleanField(default=False, db_default=False, editable=False),
        ),
        migrations.AddField(
            model_name="profile",
            name="push_web",
            field=models.BooleanField(default=False, db_default=False, editable=False),
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
