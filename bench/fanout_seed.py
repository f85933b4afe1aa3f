"""bench/fanout.py's audience: N profiles with one push device each, the platform by the
--platforms mix, seeded once per size and mix (the marker on the database says which).

A profile's platform follows its id: (id - 1) % 100 falls in the platform's share of the
hundred (android=70,ios=25,web=5: 0 to 69 Android, 70 to 94 iOS, 95 to 99 web), so every hundred
profiles holds the mix exactly and a run of the same size and mix seeds the same rows.

- Android: an FCM registration token, `bench-fcm-token-` + the profile id on 12 digits.
- iOS: an APNs device token, 64 hex characters (md5 of the id, then the id in hex on 32
  digits: unique by construction).
- web: a Web Push subscription on the sandbox, `bench-web-<profile id>`, whose keys the
  sandbox re-derives from that id to decrypt (webpush.wire.sandbox_subscription). The
  endpoint names the sandbox's port, which changes per run: the seed writes a placeholder
  and fanout_routes.web_endpoints_point_at() rewrites it once the sandbox is up.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import psycopg

from bench.database import seed_marker_read, seed_marker_write
from bench.sandbox_process import log

PLATFORMS = ("android", "ios", "web")
DEFAULT_PLATFORMS = "android=100"
SEED_FORMAT = 3  # bump when the seeded rows change shape, so an old seed is not reused
FCM_TOKEN_PREFIX = "bench-fcm-token-"  # + the profile id on 12 digits: FCM wants 20+ characters
WEB_SUBSCRIPTION_PREFIX = "bench-web-"  # + the profile id: the sandbox subscription's id
# Where web endpoints point until a run points them at its sandbox (port 9: discard).
WEB_PLACEHOLDER_BASE_URL = "http://127.0.0.1:9/p/bench-webpush"
# What each platform's device says about itself (make, model, OS version, SDK version).
DEVICE_FIELDS = {
    "android": ("Google", "Pixel", "14", "6.0"),
    "ios": ("Apple", "iPhone", "17.4", "6.0"),
    "web": ("Mozilla", "Firefox", "125", "1.0"),
}


def platform_mix(text: str) -> dict[str, int]:
    """`android=70,ios=25,web=5` → {"android": 70, "ios": 25, "web": 5} (platforms in
    PLATFORMS order, 0 % left out); an argparse type, so a bad mix is a usage error."""
    mix: dict[str, int] = {}
    for part in text.split(","):
        platform, equals, share = part.strip().partition("=")
        platform = platform.strip().lower()
        if platform not in PLATFORMS or not equals:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r}: write PLATFORM=PERCENT with PLATFORM one of "
                f"{', '.join(PLATFORMS)}, e.g. android=70,ios=25,web=5"
            )
        if platform in mix:
            raise argparse.ArgumentTypeError(f"{platform} is given twice in {text!r}")
        try:
            mix[platform] = int(share)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r}: the percentage must be a whole number"
            ) from None
        if not 0 <= mix[platform] <= 100:
            raise argparse.ArgumentTypeError(f"{part.strip()!r}: a percentage is 0 to 100")
    if (total := sum(mix.values())) != 100:
        raise argparse.ArgumentTypeError(f"the percentages of {text!r} add up to {total}, not 100")
    return {platform: mix[platform] for platform in PLATFORMS if mix.get(platform)}


def mix_text(mix: dict[str, int]) -> str:
    return ",".join(f"{platform}={share}" for platform, share in mix.items())


def platform_of_profile_sql(mix: dict[str, int]) -> str:
    """The SQL CASE giving a profile's platform from its `id` (values from platform_mix(),
    so inlining them is safe)."""
    whens, upper = [], 0
    for platform, share in mix.items():
        upper += share
        whens.append(f"WHEN mod(id - 1, 100) < {upper} THEN '{platform}'")
    return "CASE " + " ".join(whens) + " END"


def ensure_seeded(database_url: str, *, profiles: int, mix: dict[str, int], reseed: bool) -> dict:
    """N profiles with one device each by the mix, unless the database already holds them."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        marker = seed_marker_read(conn)
        count = conn.execute("SELECT count(*) FROM audience_profile").fetchone()[0]
        if (
            not reseed
            and marker.get("profiles") == profiles
            and marker.get("format") == SEED_FORMAT
            and marker.get("platforms") == mix
            and count == profiles
        ):
            log(f"reusing the seed of {marker['seeded_at']} ({profiles:,}, {mix_text(mix)})")
            return marker
        if count and "profiles" not in marker and not reseed:
            raise SystemExit(
                f"the database holds {count:,} profiles this bench did not seed; "
                "pass --reseed to replace them"
            )
        log(f"seeding {profiles:,} profiles with one push device each ({mix_text(mix)})")
        started = time.monotonic()
        conn.execute(
            "TRUNCATE audience_event, audience_device, audience_profile RESTART IDENTITY CASCADE"
        )
        with conn.transaction():
            _insert_profiles(conn, profiles)
            _insert_app_devices(conn, mix)
            keys_s = _copy_web_devices(conn, mix) if "web" in mix else 0.0
        # This shared server runs without autovacuum: do what it would do after a bulk load.
        conn.execute("VACUUM (ANALYZE) audience_profile, audience_device")
        marker = {
            "profiles": profiles,
            "format": SEED_FORMAT,
            "platforms": mix,
            "seed_seconds": round(time.monotonic() - started, 1),
            "web_keys_seconds": round(keys_s, 1),
            "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        seed_marker_write(database_url, marker)
        log(f"seeded in {marker['seed_seconds']} s")
        return marker


def _insert_profiles(conn: psycopg.Connection, profiles: int) -> None:
    # Plain set-based INSERTs: PostgreSQL generates the rows itself, which is as fast as COPY
    # here and needs no data through the client.
    conn.execute(
        """
        INSERT INTO audience_profile (
            identity, object_id, email, phone, name, gender, country, region, city,
            timezone, language, properties, email_unsubscribed, sms_unsubscribed,
            push_opt_out, is_test, created_at, updated_at)
        SELECT 'bench-' || g, md5(g::text), '', '', 'Bench ' || g, '', 'France', '', '',
               '', 'fr', '{}'::jsonb, false, false, false, false, now(), now()
        FROM generate_series(1, %s) AS g
        """,
        (profiles,),
    )


def _insert_app_devices(conn: psycopg.Connection, mix: dict[str, int]) -> None:
    """The Android and iOS devices in one statement (the statement-level device triggers
    set the profiles' push flags once)."""
    app_platforms = [platform for platform in ("android", "ios") if platform in mix]
    if not app_platforms:
        return

    def field(index: int) -> str:
        return (
            "CASE platform "
            + " ".join(
                f"WHEN '{platform}' THEN '{DEVICE_FIELDS[platform][index]}'"
                for platform in app_platforms
            )
            + " END"
        )

    conn.execute(
        f"""
        INSERT INTO audience_device (
            profile_id, platform, push_token, app_version, make, model, os_version,
            sdk_version, last_active, created_at)
        SELECT id, platform,
               CASE platform
                   WHEN 'android' THEN %(fcm)s || lpad(id::text, 12, '0')
                   ELSE md5('bench-apns-' || id) || lpad(to_hex(id), 32, '0')
               END,
               '1.0', {field(0)}, {field(1)}, {field(2)}, {field(3)}, now(), now()
        FROM (
            SELECT id, {platform_of_profile_sql(mix)} AS platform FROM audience_profile
        ) AS p
        WHERE platform IN ({", ".join(f"'{platform}'" for platform in app_platforms)})
        """,
        {"fcm": FCM_TOKEN_PREFIX},
    )


def _copy_web_devices(conn: psycopg.Connection, mix: dict[str, int]) -> float:
    """The web devices by COPY, each a sandbox subscription with its keys (computed here:
    a P-256 key per subscription, ~45 µs each). Returns the seconds the keys took."""
    from apps.providers.kinds.webpush.wire import sandbox_subscription

    ids = [
        row[0]
        for row in conn.execute(
            f"SELECT id FROM audience_profile WHERE {platform_of_profile_sql(mix)} = 'web'"
            " ORDER BY id"
        )
    ]
    started = time.monotonic()
    subscriptions = [
        (
            profile_id,
            sandbox_subscription(
                WEB_PLACEHOLDER_BASE_URL, f"{WEB_SUBSCRIPTION_PREFIX}{profile_id}"
            ),
        )
        for profile_id in ids
    ]
    keys_s = time.monotonic() - started
    log(f"{len(ids):,} web subscriptions' keys in {keys_s:.1f} s")
    make, model, os_version, sdk_version = DEVICE_FIELDS["web"]
    now = datetime.now(UTC)
    with conn.cursor().copy(
        "COPY audience_device (profile_id, platform, push_token, push_keys, app_version, make,"
        " model, os_version, sdk_version, last_active, created_at) FROM STDIN"
    ) as copy:
        for profile_id, subscription in subscriptions:
            copy.write_row(
                (
                    profile_id,
                    "web",
                    subscription["endpoint"],
                    json.dumps(subscription["keys"]),
                    *("1.0", make, model, os_version, sdk_version, now, now),
                )
            )
    return keys_s
