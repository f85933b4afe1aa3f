"""The safety check's hold on a campaign: the service that sets it (one conditional UPDATE),
scheduling again clears it, the list's badge, and the banner on the wizard's overview and the
campaign page, with links to the Who fields that fix it. The engine side (a refused run holds
its campaign) is in tests/delivery/test_safety_hold.py."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from apps.campaigns.models import Campaign, CampaignStatus, WizardStep
from apps.campaigns.services import (
    CampaignActionRefused,
    campaign_clone,
    campaign_delete_draft,
    campaign_safety_hold,
    campaign_schedule,
)
from apps.core.roles import Role
from apps.delivery.models import CampaignRun, RunStatus
from apps.providers.services import provider_create
from tests.accounts.factories import UserFactory
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

REFUSED_AT = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
REASON = "The audience (5,000) is above the safety cap (1,000); nothing was sent."
AUDIENCE = {"version": 1, "profile": [{"name": "country", "operator": "equals", "value": "FR"}]}
PROVIDER_NUMBERS = itertools.count(1)  # provider nicknames are unique
SMS_CONTENT = {
    "mode": "single",
    "variants": [{"key": "A", "name": "Variant A", "match": "", "message": {"body": "Hi"}}],
}


def _running(**fields) -> Campaign:
    """A one-time SMS campaign the engine has started, every wizard step done, capped at
    1,000 people: what the safety check refuses when 5,000 qualify."""
    defaults = {
        "name": "Coupon blast",
        "channel": "sms",
        "status": CampaignStatus.RUNNING,
        "provider": provider_create(
            channel="sms",
            kind="twilio",
            nickname=f"Twilio {next(PROVIDER_NUMBERS)}",
            credentials={"account_sid": "ACsafety", "auth_token": "token"},
            settings={"from_number": "+15550000000"},
        ),
        "audience_definition": AUDIENCE,
        "safety_cap": 1000,
        "content": SMS_CONTENT,
        "when": {"type": "at", "at": "2031-06-01T10:00"},
        "wizard_step": WizardStep.SCHEDULE,
        "scheduled_at": REFUSED_AT - timedelta(days=1),
    }
    return CampaignFactory(**{**defaults, **fields})


def _hold(campaign: Campaign, *, audience: int = 5000, at: datetime = REFUSED_AT) -> bool:
    return campaign_safety_hold(
        campaign_id=campaign.pk, audience=audience, reason=REASON, held_at=at
    )


def _held(**fields) -> Campaign:
    """A campaign held as the engine leaves it: its refused run, then the hold."""
    campaign = _running(**fields)
    CampaignRun.objects.create(
        campaign=campaign,
        scheduled_for=REFUSED_AT,
        status=RunStatus.REFUSED,
        qualified=5000,
        refused_reason=REASON,
        finished_at=REFUSED_AT,
    )
    assert _hold(campaign)
    campaign.refresh_from_db()
    return campaign


def _html(response) -> str:
    return response.content.decode()


def _banner(html: str) -> str:
    found = re.search(r'<section class="safety-hold".*?</section>', html, re.S)
    assert found, "no safety-hold banner on the page"
    return found.group(0)


# --- The service ---------------------------------------------------------------------------


def test_a_hold_sends_the_campaign_back_to_draft_marked_with_what_the_check_saw():
    campaign = _running(next_run_at=REFUSED_AT + timedelta(days=1))

    assert _hold(campaign) is True

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.safety_held_at == REFUSED_AT
    assert campaign.safety_hold_reason == REASON
    assert (campaign.safety_hold_audience, campaign.safety_hold_cap) == (5000, 1000)
    assert campaign.next_run_at is None and campaign.scheduled_at is None
    assert campaign.wizard_step == WizardStep.SCHEDULE  # the overview stays reachable


def test_a_hold_emails_the_campaigns_creator_once_with_the_reason_and_a_link(
    mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.HERALD_BASE_URL = "https://herald.example.com/"
    creator = UserFactory(email="maria@example.com")
    campaign = _running(created_by=creator)

    with django_capture_on_commit_callbacks(execute=True):
        assert _hold(campaign)
        assert not _hold(campaign)  # a redelivered refusal: no second alert

    [mail] = mailoutbox
    assert mail.to == ["maria@example.com"]
    assert mail.subject == 'Herald: "Coupon blast" was held by the safety check'
    assert REASON in mail.body
    assert f"https://herald.example.com/campaigns/{campaign.pk}/" in mail.body


def test_a_campaign_without_a_creator_to_mail_alerts_the_admins(
    mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(email="admin@example.com", role=Role.ADMIN)
    UserFactory(email="quiet@example.com", role=Role.ADMIN, is_active=False)
    UserFactory(email="marketer@example.com", role=Role.MARKETER)
    campaign = _running(created_by=UserFactory(email=""))

    with django_capture_on_commit_callbacks(execute=True):
        assert _hold(campaign)

    assert [mail.to for mail in mailoutbox] == [["admin@example.com"]]


def test_a_hold_is_set_once():
    campaign = _running()
    assert _hold(campaign) is True

    assert _hold(campaign, audience=7000, at=REFUSED_AT + timedelta(minutes=5)) is False

    campaign.refresh_from_db()
    assert campaign.safety_held_at == REFUSED_AT and campaign.safety_hold_audience == 5000


@pytest.mark.parametrize(
    "status",
    [CampaignStatus.DRAFT, CampaignStatus.STOPPED, CampaignStatus.COMPLETED],
)
def test_a_campaign_no_longer_meant_to_send_is_not_held(status):
    campaign = _running(status=status)

    assert _hold(campaign) is False

    campaign.refresh_from_db()
    assert campaign.status == status and not campaign.is_safety_held


def test_a_campaign_whose_cap_was_raised_meanwhile_is_not_held():
    campaign = _running(status=CampaignStatus.SCHEDULED, safety_cap=10_000)

    assert _hold(campaign) is False

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and not campaign.is_safety_held


def test_a_refusal_older_than_the_last_schedule_does_not_hold():
    campaign = _running(status=CampaignStatus.SCHEDULED, scheduled_at=REFUSED_AT)

    assert _hold(campaign, at=REFUSED_AT - timedelta(minutes=1)) is False
    assert _hold(campaign, at=REFUSED_AT) is True


def test_a_hold_without_its_numbers_is_refused_by_the_database():
    from django.db import IntegrityError, transaction

    campaign = _running()
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(safety_held_at=REFUSED_AT)


# --- Clearing ------------------------------------------------------------------------------


def test_scheduling_again_clears_the_hold_and_keeps_the_refused_run():
    campaign = _held()
    Campaign.objects.filter(pk=campaign.pk).update(safety_cap=10_000)  # the marketer's fix

    campaign_schedule(campaign=campaign, now=REFUSED_AT + timedelta(hours=1))

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and not campaign.is_safety_held
    assert campaign.safety_hold_reason == "" and campaign.safety_hold_audience is None
    assert campaign.safety_hold_cap is None
    assert list(campaign.runs.values_list("status", "refused_reason")) == [
        (RunStatus.REFUSED, REASON)
    ]


def test_a_clone_of_a_held_campaign_is_not_held():
    copy = campaign_clone(campaign=_held())
    assert not copy.is_safety_held and copy.safety_cap == 1000


def test_a_held_draft_is_never_deleted_it_keeps_its_run_history(marketer_client):
    campaign = _held()

    with pytest.raises(CampaignActionRefused, match="archive it instead"):
        campaign_delete_draft(campaign=campaign)
    response = marketer_client.get(reverse("campaigns:detail", args=[campaign.pk]))

    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert reverse("campaigns:delete", args=[campaign.pk]) not in _html(response)
    assert reverse("campaigns:archive", args=[campaign.pk]) in _html(response)


# --- The list ------------------------------------------------------------------------------


def test_the_list_badges_the_held_campaign_and_no_other(viewer_client):
    held = _held()
    other = _running(name="Weekly digest")

    html = _html(viewer_client.get(reverse("campaigns:list")))

    rows = dict(re.findall(r'<tr id="campaign-(\d+)">(.*?)</tr>', html, re.S))
    assert "Held by safety check" in rows[str(held.pk)]
    assert f'title="{REASON}"' in rows[str(held.pk)]
    assert "Held by safety check" not in rows[str(other.pk)]


def test_the_badge_costs_the_list_no_query(marketer_client, django_assert_num_queries):
    _held()
    _running(name="Weekly digest")
    # The same five queries as a list without holds (test_pages.py).
    with django_assert_num_queries(5):
        marketer_client.get(reverse("campaigns:list"))


# --- The banner ----------------------------------------------------------------------------


def _who(campaign: Campaign, anchor: str) -> str:
    who = reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "who"})
    return f"{who}?then=overview#{anchor}"


def test_the_overview_banner_says_why_when_and_what_to_do_with_links_to_who(marketer_client):
    campaign = _held()

    response = marketer_client.get(
        reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"})
    )

    assert response.status_code == 200
    banner = _banner(_html(response))
    assert "Held by safety check" in banner and "Nothing was sent" in banner
    assert "<strong>5,000</strong> people qualified" in banner
    assert "safety cap of <strong>1,000</strong>" in banner
    assert "2030-03-04 10:00 (UTC)" in banner
    assert f'<a href="{_who(campaign, "id_safety_cap")}">Raise the safety cap</a>' in banner
    assert f'<a href="{_who(campaign, "who-audience")}">Narrow the audience</a>' in banner
    assert "schedule it again" in banner
    assert "safety-hold-cap-now" not in banner  # the cap is still the one that refused


def test_the_overview_says_the_cap_changed_since_the_hold(marketer_client):
    campaign = _held()
    Campaign.objects.filter(pk=campaign.pk).update(safety_cap=8000)
    url = reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"})

    raised = _banner(_html(marketer_client.get(url)))
    Campaign.objects.filter(pk=campaign.pk).update(safety_cap=None)
    removed = _banner(_html(marketer_client.get(url)))

    assert "The safety cap is now 8,000." in raised
    assert "The campaign has no safety cap now." in removed


def test_the_who_links_land_on_the_safety_cap_and_the_audience(marketer_client):
    campaign = _held()

    html = _html(marketer_client.get(_who(campaign, "id_safety_cap").split("#")[0]))

    assert 'id="id_safety_cap"' in html and 'id="who-audience"' in html


def test_the_campaign_page_banner_links_for_a_marketer(marketer_client):
    campaign = _held()

    banner = _banner(_html(marketer_client.get(reverse("campaigns:detail", args=[campaign.pk]))))

    assert "<strong>5,000</strong> people qualified" in banner
    assert f'href="{_who(campaign, "id_safety_cap")}"' in banner
    assert f'href="{_who(campaign, "who-audience")}"' in banner


def test_a_viewer_reads_the_banner_without_links_and_still_cannot_edit(viewer_client):
    campaign = _held()

    banner = _banner(_html(viewer_client.get(reverse("campaigns:detail", args=[campaign.pk]))))
    overview = viewer_client.get(
        reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"})
    )
    scheduled = viewer_client.post(
        reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"}),
        {"action": "schedule"},
    )

    assert "Raise the safety cap" in banner and "Narrow the audience" in banner
    assert "<a " not in banner
    assert overview.status_code == 403 and scheduled.status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and campaign.is_safety_held


def test_a_campaign_not_held_has_no_banner(marketer_client):
    campaign = _running(status=CampaignStatus.DRAFT)

    detail = _html(marketer_client.get(reverse("campaigns:detail", args=[campaign.pk])))
    overview = _html(
        marketer_client.get(
            reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"})
        )
    )

    assert "safety-hold" not in detail and "safety-hold" not in overview


def test_scheduling_from_the_overview_clears_the_banner(marketer_client):
    campaign = _held()
    Campaign.objects.filter(pk=campaign.pk).update(safety_cap=10_000)
    url = reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"})

    response = marketer_client.post(url, {"action": "schedule"})

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and not campaign.is_safety_held
    detail = _html(marketer_client.get(reverse("campaigns:detail", args=[campaign.pk])))
    assert "safety-hold" not in detail
