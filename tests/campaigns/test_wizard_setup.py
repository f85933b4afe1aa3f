"""The wizard's frame (step URLs, resume, what can be reached, who may edit) and Step 1, Setup."""

import re

import pytest
from django.urls import reverse

from apps.audience.models import Device
from apps.campaigns.models import Campaign, CampaignType, WizardStep
from apps.campaigns.wizard.steps import setup
from apps.providers.models import ProviderGroup
from apps.providers.services import provider_create, provider_group_save, push_route_set
from tests.audience.factories import ProfileFactory
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

NEW_URL = reverse("campaigns:new")


def _step(campaign, slug):
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": slug})


@pytest.fixture
def sms_routes(db):
    twilio = provider_create(channel="sms", kind="twilio", nickname="tw")
    vonage = provider_create(channel="sms", kind="vonage", nickname="vn")
    group = provider_group_save(name="Main", providers=[twilio, vonage], is_default=True)
    other = provider_group_save(name="Backup", providers=[vonage])
    return {"twilio": twilio, "vonage": vonage, "group": group, "other": other}


def test_a_new_sms_campaign_gets_the_default_group_preselected(marketer_client, sms_routes):
    html = marketer_client.get(NEW_URL + "?channel=sms").content.decode()
    group = sms_routes["group"]
    assert f'<option value="group:{group.pk}" selected>Main (default)</option>' in html
    assert f'value="provider:{sms_routes["twilio"].pk}"' in html


def test_changing_the_channel_swaps_only_the_route_part(marketer_client, sms_routes):
    provider_create(channel="email", kind="sendgrid", nickname="sg")
    response = marketer_client.get(
        NEW_URL + "?channel=email", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="setup-route"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="setup-route">')
    assert "sg · SendGrid" in html and "Main (default)" not in html
    assert 'name="sender_email"' in html


def test_setup_creates_a_draft_and_goes_to_who(marketer_client, marketer_user, sms_routes):
    response = marketer_client.post(
        NEW_URL,
        {
            "name": "  Weekend sale ",
            "channel": "sms",
            "campaign_type": "recurring",
            "route": f"provider:{sms_routes['twilio'].pk}",
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == _step(campaign, "who")
    assert campaign.name == "Weekend sale" and campaign.channel == "sms"
    assert campaign.campaign_type == CampaignType.RECURRING
    assert campaign.provider == sms_routes["twilio"] and campaign.provider_group is None
    assert campaign.created_by == marketer_user and campaign.wizard_step == WizardStep.SETUP


def test_setup_errors_are_shown_beside_their_fields_and_nothing_is_created(marketer_client):
    response = marketer_client.post(
        NEW_URL, {"name": "", "channel": "fax", "campaign_type": "one_time"}
    )
    html = response.content.decode()
    assert response.status_code == 400 and not Campaign.objects.exists()
    assert 'id="id_name_errors"' in html and "This field is required." in html
    assert "Select a valid choice. fax is not one of the available choices." in html


def test_a_provider_of_another_channel_is_refused(marketer_client, sms_routes):
    email = provider_create(channel="email", kind="sendgrid", nickname="sg")
    response = marketer_client.post(
        NEW_URL,
        {
            "name": "x",
            "channel": "sms",
            "campaign_type": "one_time",
            "route": f"provider:{email.pk}",
        },
    )
    assert response.status_code == 400 and not Campaign.objects.exists()
    assert "Select a valid choice" in response.content.decode()


def test_editing_setup_keeps_the_channel_and_later_steps(marketer_client, sms_routes):
    campaign = CampaignFactory(channel="sms", wizard_step=WizardStep.WHAT)
    response = marketer_client.post(
        _step(campaign, "setup"),
        {
            "name": "Renamed",
            "channel": "email",  # ignored: fixed once created
            "campaign_type": "one_time",
            "route": f"group:{sms_routes['other'].pk}",
        },
    )
    campaign.refresh_from_db()
    assert response["Location"] == _step(campaign, "who")
    assert campaign.name == "Renamed" and campaign.channel == "sms"
    assert campaign.provider_group == sms_routes["other"]
    assert campaign.wizard_step == WizardStep.WHAT  # going back never forgets later steps


def test_coming_from_the_overview_returns_there(marketer_client):
    campaign = CampaignFactory(channel="push", wizard_step=WizardStep.SCHEDULE)
    page = marketer_client.get(_step(campaign, "setup") + "?then=overview").content.decode()
    assert 'name="then" value="overview"' in page and "Save and back to overview" in page
    response = marketer_client.post(
        _step(campaign, "setup"),
        {"name": "Again", "campaign_type": "one_time", "route": "", "then": "overview"},
    )
    assert response["Location"] == _step(campaign, "schedule")


def test_later_steps_of_an_unfinished_draft_redirect_to_the_step_that_is_due(marketer_client):
    campaign = CampaignFactory(channel="push", wizard_step=WizardStep.SETUP)
    assert marketer_client.get(_step(campaign, "what"))["Location"] == _step(campaign, "who")
    assert marketer_client.get(reverse("campaigns:edit", args=[campaign.pk]))["Location"] == _step(
        campaign, "who"
    )
    page = marketer_client.get(_step(campaign, "who")).content.decode()
    assert 'aria-current="step"' in page and f'href="{_step(campaign, "setup")}"' in page
    assert f'href="{_step(campaign, "what")}"' not in page  # locked steps are not links


def test_an_unknown_step_is_404(marketer_client):
    campaign = CampaignFactory()
    assert marketer_client.get(_step(campaign, "why")).status_code == 404


@pytest.mark.parametrize("status", ["running", "stopped", "completed"])
def test_only_drafts_and_scheduled_campaigns_can_be_edited(marketer_client, status):
    campaign = CampaignFactory(status=status, wizard_step=WizardStep.SCHEDULE, name="Locked")
    response = marketer_client.post(
        _step(campaign, "setup"), {"name": "Changed", "campaign_type": "one_time"}, follow=True
    )
    campaign.refresh_from_db()
    assert campaign.name == "Locked"
    assert "only draft and scheduled campaigns can be edited" in response.content.decode()


def test_viewers_cannot_open_the_wizard(viewer_client):
    campaign = CampaignFactory()
    assert viewer_client.get(NEW_URL).status_code == 403
    assert viewer_client.post(_step(campaign, "setup"), {"name": "x"}).status_code == 403


# --- "Send through": what scheduling needs, said where it is chosen ----------------------------


def _route_part(html: str) -> str:
    return re.search(r'<div id="setup-route">.*?</div>', html, re.S).group(0)


def _push_post(**fields) -> dict:
    return {"name": "App launch", "channel": "push", "campaign_type": "one_time", **fields}


def _route_row(html: str, platform: str) -> str:
    row = re.search(rf'<tr id="setup-push-route-{platform}">(.*?)</tr>', html, re.S)
    assert row, f"no {platform} row in the route table"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(1))).strip()


def test_push_setup_shows_the_provider_of_each_platform_and_what_is_skipped(marketer_client):
    """Push has no "Send through" choice: each platform's devices go through the account's
    route, and a platform without one says how many devices it would skip."""
    provider_create(channel="push", kind="fcm", nickname="Firebase")
    provider_create(channel="push", kind="apns", nickname="Apple")
    profile = ProfileFactory()
    for index in range(3):
        Device.objects.create(profile=profile, platform="web", push_token=f"web-fcm-token-{index}")

    html = marketer_client.get(NEW_URL + "?channel=push").content.decode()

    assert 'name="route"' not in html
    assert _route_row(html, "android") == "Android Firebase · Firebase Cloud Messaging (FCM)"
    assert _route_row(html, "ios") == "iOS Apple · Apple Push (APNs)"
    assert _route_row(html, "web") == (
        "Web skipped No Web Push provider for Web devices. 3 Web devices would be skipped."
    )


def test_an_admins_push_route_choice_is_what_setup_shows(marketer_client):
    firebase = provider_create(channel="push", kind="fcm", nickname="Firebase")
    provider_create(channel="push", kind="apns", nickname="Apple")
    push_route_set(platform="ios", provider=firebase)

    html = marketer_client.get(NEW_URL + "?channel=push").content.decode()

    assert _route_row(html, "ios") == "iOS Firebase · Firebase Cloud Messaging (FCM)"


def test_a_push_campaign_saves_without_a_provider_and_schedules_on_the_routes(marketer_client):
    fcm = provider_create(channel="push", kind="fcm", nickname="Firebase")

    response = marketer_client.post(NEW_URL, _push_post(route=f"provider:{fcm.pk}"))

    assert response.status_code in (200, 302)
    campaign = Campaign.objects.get()
    assert campaign.provider is None  # push follows the routes, never one provider
    assert setup.problems(campaign) == []


def test_with_no_push_provider_yet_the_draft_saves_and_setup_says_it_cannot_be_scheduled(
    marketer_client,
):
    html = marketer_client.get(NEW_URL + "?channel=push").content.decode()
    assert "No push provider is set up, so this campaign cannot be scheduled" in html

    marketer_client.post(NEW_URL, _push_post())

    campaign = Campaign.objects.get()
    assert campaign.provider is None
    assert setup.problems(campaign) == [
        "No push provider is set up: an admin adds FCM, APNs or Web Push in Settings → Providers."
    ]


def test_sms_send_through_is_optional_exactly_when_a_default_group_takes_over(
    marketer_client, sms_routes
):
    part = _route_part(marketer_client.get(NEW_URL + "?channel=sms").content.decode())
    assert 'Send through <span class="muted">(optional)</span>' in part
    assert '<option value="">The default group (Main)</option>' in part

    marketer_client.post(NEW_URL, {"name": "x", "channel": "sms", "campaign_type": "one_time"})
    assert setup.problems(Campaign.objects.get()) == []

    ProviderGroup.objects.update(is_default=False)
    response = marketer_client.post(
        NEW_URL, {"name": "y", "channel": "sms", "campaign_type": "one_time", "route": ""}
    )
    assert response.status_code == 400 and 'id="id_route_errors"' in response.content.decode()
