from datetime import UTC, datetime, timedelta

import factory
from django.utils import timezone

from apps.campaigns.live_index import live_index_bump
from apps.campaigns.models import Campaign

# The moment the `scheduled` trait sends at: a Monday, far after any created_at.
SCHEDULED_AT = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)

# One message per channel, as the What step stores it, for the `with_content` trait.
MESSAGES = {
    "sms": {"body": "Hi {{ Profile.Name }}"},
    "push": {"title": "Hi {{ Profile.Name }}", "body": "Sale"},
    "email": {"subject": "For {{ Profile.Name }}", "html": "<p>Hi</p>"},
}


def single_content(message: dict) -> dict:
    """Content with one variant, A, carrying `message`."""
    return {
        "mode": "single",
        "variants": [{"key": "A", "name": "Variant A", "match": "", "message": message}],
    }


def sms_content(body: str = "Hi {{ Profile.Name }}") -> dict:
    return single_content({"body": body})


def _live_when(_campaign) -> dict:
    start = timezone.now() - timedelta(days=3)
    return {
        "type": "live",
        "live": {
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
            "end": None,
            "delay_minutes": 0,
            "per_user": None,
        },
    }


class CampaignFactory(factory.django.DjangoModelFactory):
    """A draft one-time push campaign. Traits: `sms`, `email` (with a sender), `push`,
    `with_content` (one message for that channel), `scheduled` (one date, SCHEDULED_AT) and
    `live` (a scheduled live campaign on "Signed up", started three days ago); any field
    passed explicitly wins over a trait's."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True  # the live-index hook changes nothing on the row

    class Params:
        sms = factory.Trait(channel="sms")
        email = factory.Trait(channel="email", sender_email="news@herald.test")
        push = factory.Trait(channel="push")
        with_content = factory.Trait(
            content=factory.LazyAttribute(lambda c: single_content(MESSAGES[c.channel]))
        )
        scheduled = factory.Trait(
            status="scheduled",
            when={"type": "at", "at": SCHEDULED_AT.strftime("%Y-%m-%dT%H:%M")},
            next_run_at=SCHEDULED_AT,
        )
        live = factory.Trait(
            campaign_type="live_action",
            status="scheduled",
            audience_definition={
                "version": 1,
                "kind": "live",
                "live": {"type": "action", "event": "Signed up", "properties": []},
            },
            when=factory.LazyAttribute(_live_when),
        )

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "push"
    campaign_type = "one_time"
    status = "draft"

    @factory.post_generation
    def live_index(campaign, create, extracted, **kwargs):
        # A factory writes the row directly; campaigns.services bumps the live index on
        # every write, so a campaign made here is heard of as one saved through them.
        if create:
            live_index_bump()


def recurring_when(start: str, **series) -> dict:
    """A "recurring" when document: daily at 10:00 from `start`, never ending, unless
    `series` says otherwise (every, unit, weekdays, time, end)."""
    return {
        "type": "recurring",
        "recurring": {
            "every": 1,
            "unit": "days",
            "weekdays": [],
            "time": "10:00",
            "start": start,
            "end": {"kind": "never", "on": None, "after": None},
            **series,
        },
    }
