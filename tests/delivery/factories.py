"""Test data shared by the delivery tests."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.delivery.models import CampaignRun
from apps.delivery.snapshot import run_start
from tests.audience.factories import ProfileFactory
from tests.campaigns.factories import SCHEDULED_AT, CampaignFactory

T0 = SCHEDULED_AT  # when sms_campaign() is due: a Monday, far after any created_at
AUDIENCE = {"version": 1, "profile": [{"name": "country", "operator": "equals", "value": "FR"}]}

CART = "Added to cart"
BOUGHT = "Charged"


def sms_campaign(**fields):
    """A scheduled SMS campaign to people in France, due at T0, saying hi by name."""
    fields.setdefault("audience_definition", AUDIENCE)
    return CampaignFactory(sms=True, scheduled=True, with_content=True, **fields)


def people(n: int, prefix: str = "+3360000") -> list:
    """`n` profiles in France (AUDIENCE), named P0, P1, ..., each with a phone."""
    return [ProfileFactory(country="FR", name=f"P{i}", phone=f"{prefix}{i:04d}") for i in range(n)]


def started_run(campaign, at: datetime = T0) -> CampaignRun:
    """A run with its snapshot taken, as the run task leaves it (before batches)."""
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=at)
    return run_start(run, now=at)


def inaction_trigger(event: str, not_event: str, *, minutes: int) -> dict:
    """A live "inaction within time" trigger: `event`, then no `not_event` within `minutes`."""
    return {
        "type": "inaction",
        "event": event,
        "properties": [],
        "not_event": not_event,
        "not_properties": [],
        "within_minutes": minutes,
    }


def wall(moment: datetime) -> str:
    """A moment as the wizard's wall-clock text, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def live_campaign(live_definition: dict, *, when: dict | None = None, **fields):
    """A scheduled live SMS campaign for people in France, started three days ago, whose
    message shows {{Event.Item}}; `when` and `fields` override."""
    now = timezone.now()
    campaign_type = {
        "action": "live_action",
        "inaction": "live_inaction",
        "date_property": "live_date",
    }[live_definition["type"]]
    live_when = {
        "start": wall(now - timedelta(days=3)),
        "end": None,
        "delay_minutes": 0,
        "per_user": None,
        **(when or {}),
    }
    defaults = {
        "channel": "sms",
        "campaign_type": campaign_type,
        "status": "scheduled",
        "audience_definition": {
            "version": 1,
            "kind": "live",
            "live": live_definition,
            "profile": [{"name": "country", "operator": "equals", "value": "FR"}],
        },
        "when": {"type": "live", "live": live_when},
        "content": {
            "mode": "single",
            "variants": [{"key": "A", "name": "A", "message": {"body": "Hi {{Event.Item}}"}}],
        },
    }
    return CampaignFactory(**{**defaults, **fields})


def live_person(identity: str = "jane", **fields):
    """A profile in France with a phone, found by its identity in uploads."""
    defaults = {"identity": identity, "phone": "+33612345678", "country": "FR"}
    return ProfileFactory(**{**defaults, **fields})


def live_event(identity: str, name: str, ts: datetime, **properties) -> dict:
    """An event record for /1/upload."""
    return {
        "type": "event",
        "identity": identity,
        "ts": int(ts.timestamp()),
        "evtName": name,
        "evtData": properties,
    }
