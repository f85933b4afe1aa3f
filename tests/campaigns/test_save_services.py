"""Every campaign write goes through campaigns.services: the wizard's steps post forms, turn
them into the campaign's documents and call campaign_*_save, as the Create Campaign API will.
A plain Python call with the documents the wizard built makes the same campaign, and a bad
document is refused by the service itself, path by path, whoever called it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.campaigns.live_index import live_index_version
from apps.campaigns.models import Campaign
from apps.campaigns.services import (
    CampaignActionRefused,
    CampaignDocumentInvalid,
    campaign_audience_save,
    campaign_content_save,
    campaign_create_draft,
    campaign_recheck,
    campaign_setup_save,
    campaign_when_save,
)
from apps.providers.services import provider_create
from tests.segments.factories import SegmentFactory
from tests.segments.helpers import CHARGED_LAST_30_DAYS

pytestmark = pytest.mark.django_db

STEP_FIELDS = {
    "setup": ("name", "channel", "campaign_type", "provider_id", "provider_group_id"),
    "who": (
        "segment_id",
        "audience_definition",
        "limit_overall",
        "limit_per_run",
        "limit_daily",
        "safety_cap",
        "control_group_percent",
        "push_all_devices",
    ),
    "when": ("when", "delivery"),
    "what": ("content", "conversion_goal"),
}
BODY = "Hi {{ Profile.Name }}"
AUDIENCE = {
    "audience": "adhoc",
    "campaign_reach": "limited",
    "limit_overall": "5000",
    "limit_daily": "1000",
    "control_group_percent": "10",
    **CHARGED_LAST_30_DAYS,
}


def _step(campaign: Campaign, slug: str) -> str:
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": slug})


def _at() -> str:
    return (timezone.now() + timedelta(days=40)).strftime("%Y-%m-%dT10:00")


def _through_the_wizard(client, provider) -> Campaign:
    client.post(
        reverse("campaigns:new"),
        {
            "name": "Weekend sale",
            "channel": "push",
            "campaign_type": "one_time",
            "route": f"provider:{provider.pk}",
        },
    )
    campaign = Campaign.objects.get(name="Weekend sale")
    for slug, posted in (
        ("who", AUDIENCE),
        ("when", {"type": "at", "at": _at(), "respect_throttle": "1", "dnd_action": "discard"}),
        (
            "what",
            {
                "mode": "single",
                "variant-0-title": "Sale",
                "variant-0-body": "Hi {{ Profile.Name }}",
            },
        ),
    ):
        response = client.post(_step(campaign, slug), posted)
        assert response.status_code == 302, (slug, response.content.decode()[:3000])
    campaign.refresh_from_db()
    return campaign


def test_the_services_called_with_the_wizards_documents_make_the_same_campaign(
    marketer_client, marketer_user
):
    provider = provider_create(channel="push", kind="fcm", nickname="Main FCM")
    built = _through_the_wizard(marketer_client, provider)

    called = campaign_create_draft(name="Draft name", channel="push", created_by=marketer_user)
    campaign_setup_save(campaign=called, name="Weekend sale", campaign_type="one_time")
    campaign_audience_save(
        campaign=called,
        audience_definition=built.audience_definition,
        limit_overall=5000,
        limit_daily=1000,
        control_group_percent=10,
    )
    campaign_when_save(campaign=called, when=built.when, delivery=built.delivery)
    campaign_content_save(campaign=called, content=built.content, goal=None)
    called.refresh_from_db()

    for step, fields in STEP_FIELDS.items():
        for field in fields:
            assert getattr(called, field) == getattr(built, field), (step, field)
    # What the forms said made it in.
    assert built.audience_definition["behaviour"] and built.limit_daily == 1000
    assert built.content["variants"][0]["message"]["body"] == BODY


def test_a_when_document_in_the_past_is_refused_by_the_service_with_its_path(marketer_user):
    campaign = campaign_create_draft(name="Late", channel="sms", created_by=marketer_user)

    with pytest.raises(CampaignDocumentInvalid) as refused:
        campaign_when_save(
            campaign=campaign,
            when={"type": "at", "at": "2020-01-01T10:00"},
            delivery={"respect_frequency_caps": True},
        )

    assert "past" in refused.value.errors["at"]
    campaign.refresh_from_db()
    assert campaign.when is None or campaign.when == {}


def test_content_without_a_message_is_refused_by_the_service_with_its_path(marketer_user):
    campaign = campaign_create_draft(name="Empty", channel="sms", created_by=marketer_user)
    content = {
        "mode": "single",
        "variants": [{"key": "A", "name": "Variant A", "match": "", "message": {"body": ""}}],
    }

    with pytest.raises(CampaignDocumentInvalid) as refused:
        campaign_content_save(campaign=campaign, content=content, goal=None)

    assert set(refused.value.errors) == {"variant-0-body"}
    campaign.refresh_from_db()
    assert not campaign.content


def test_an_audience_with_both_a_segment_and_a_definition_keeps_the_segment(marketer_user):
    segment = SegmentFactory(name="Buyers")
    campaign = campaign_create_draft(name="Both", channel="sms", created_by=marketer_user)

    campaign_audience_save(
        campaign=campaign, segment=segment, audience_definition={"version": 1, "kind": "past"}
    )

    campaign.refresh_from_db()
    assert campaign.segment == segment and campaign.audience_definition is None


def test_setup_refuses_an_empty_name(marketer_user):
    campaign = campaign_create_draft(name="Named", channel="sms", created_by=marketer_user)

    with pytest.raises(CampaignActionRefused, match="name"):
        campaign_setup_save(campaign=campaign, name="   ")

    campaign.refresh_from_db()
    assert campaign.name == "Named"


def test_every_save_and_a_recheck_back_to_draft_move_the_live_index_version(marketer_user):
    campaign = campaign_create_draft(name="Cart", channel="sms", created_by=marketer_user)
    before = live_index_version()

    campaign_setup_save(campaign=campaign, name="Cart reminder")
    after_save = live_index_version()
    Campaign.objects.filter(pk=campaign.pk).update(
        status="scheduled", when={"type": "at", "at": "2020-01-01T10:00"}
    )
    assert campaign_recheck(campaign=campaign)  # the past date sends it back to draft

    assert before != after_save != live_index_version()
    campaign.refresh_from_db()
    assert campaign.status == "draft"
