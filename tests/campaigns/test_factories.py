"""The campaign factory's traits build campaigns the readiness rules accept, so tests that use
them exercise real campaigns: apart from a provider, nothing stops them from running."""

from datetime import timedelta

import pytest

from apps.campaigns.readiness import campaign_readiness, route_missing
from tests.campaigns.factories import SCHEDULED_AT, CampaignFactory

pytestmark = pytest.mark.django_db

IN_FRANCE = {"version": 1, "profile": [{"name": "country", "operator": "equals", "value": "FR"}]}


@pytest.mark.parametrize("channel", ["sms", "email", "push"])
def test_a_scheduled_campaign_with_content_lacks_only_a_route(channel):
    campaign = CampaignFactory(
        **{channel: True}, scheduled=True, with_content=True, audience_definition=IN_FRANCE
    )

    problems = campaign_readiness(campaign, now=SCHEDULED_AT - timedelta(days=1))

    assert campaign.channel == channel and campaign.next_run_at == SCHEDULED_AT
    assert problems == [("setup", route_missing(channel))]


def test_a_live_campaign_with_content_lacks_only_a_route():
    campaign = CampaignFactory(sms=True, live=True, with_content=True)

    problems = campaign_readiness(campaign, now=SCHEDULED_AT - timedelta(days=1))

    assert (campaign.campaign_type, campaign.when["type"]) == ("live_action", "live")
    assert problems == [("setup", route_missing("sms"))]


def test_a_field_passed_explicitly_wins_over_the_traits():
    campaign = CampaignFactory(sms=True, scheduled=True, status="draft", next_run_at=None)
    assert (campaign.channel, campaign.status, campaign.next_run_at) == ("sms", "draft", None)
