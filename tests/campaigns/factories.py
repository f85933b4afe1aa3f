import factory

from apps.campaigns.models import Campaign


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "push"
    campaign_type = "one_time"
    status = "draft"


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
