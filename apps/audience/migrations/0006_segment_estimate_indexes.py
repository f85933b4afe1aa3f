"""Indexes that segment reach estimates use, PostgreSQL only. Each is there because a plan
of bench/segments.py (1M profiles, 10M events) needed it — see the note of issue 5:

event_charged_ts_idx — "did Charged in the last 30 days with Amount > 100": without it the
  (name, ts) index finds 189k purchases but every one costs a heap visit for `properties`
  (177k pages read, ~1 s warm); with it the purchases of the period are one index-only range
  scan (~0.18 s). Partial on Charged, CleverTap's purchase event, which carries the
  properties revenue filters test (Amount, Items|Category): ~4% of events, ~120 MB at 10M.
device_push_profile_idx — every estimate probes the devices with a push token of each
  matching profile for push reach by platform (100k probes for a 10% segment), and the
  compiler's "reachable by push" does the same: the index answers each probe without
  visiting the device table (index-only). Its predicate is the one both write,
  `push_token IS NOT NULL AND push_token <> ''`, so the planner matches it clause for clause.
profile_country_lower_idx — geography compiles to `lower(country) = ANY(...)` (countries
  match case-insensitively), which the (country, region, city) index cannot answer; a
  country of a few percent of the audience becomes a bitmap index scan instead of a
  sequential scan of every profile.
profile_reach_idx — an estimate of a behaviour-only segment joins the matching profile ids
  to the columns that decide reach (opt-outs, phone, e-mail); for a 10% segment the planner
  hashes the events side and scans every profile, 460 MB of heap at 1M profiles (~0.29 s).
  This index holds just those columns (66 MB), so the scan is index-only (~0.11 s). The
  columns rarely change, and last_seen (every event) is not among them, so profile updates
  stay HOT.

Built CONCURRENTLY (hence atomic = False), so adding them to a live database does not block
the Upload API's writes. seed_demo drops and re-creates every secondary event index around a
big load, this one included.
"""

from django.db import migrations

INDEXES = {
    "event_charged_ts_idx": (
        "audience_event",
        "(ts) INCLUDE (profile_id, properties) WHERE name = 'Charged'",
    ),
    "device_push_profile_idx": (
        "audience_device",
        "(profile_id) INCLUDE (platform) WHERE push_token IS NOT NULL AND push_token <> ''",
    ),
    "profile_country_lower_idx": ("audience_profile", "(lower(country))"),
    "profile_reach_idx": (
        "audience_profile",
        "(id) INCLUDE (push_opt_out, sms_unsubscribed, email_unsubscribed, phone, email)",
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, (table, definition) in INDEXES.items():
            # An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index behind that
            # IF NOT EXISTS would keep: drop it and build again.
            cursor.execute(
                "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name]
            )
            row = cursor.fetchone()
            if row and row[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            cursor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} {definition}"
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audience", "0005_lean_indexes_for_ingest")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
