"""Step 6, the overview: what it shows, Schedule / Send now / Activate / Save as draft, the
server-side readiness check, the conditional draft → scheduled UPDATE, and what happens to a
scheduled campaign after an edit (wizard.step_saved rechecks it)."""

import threading
from datetime import UTC, datetime

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.campaigns import readiness
from apps.campaigns.models import Campaign, CampaignStatus, WizardStep
from apps.campaigns.readiness import campaign_readiness
from apps.campaigns.services import (
    CampaignActionRefused,
    CampaignNotReady,
    campaign_recheck,
    campaign_schedule,
)
from apps.providers.models import Provider
from apps.providers.services import provider_create
from tests.campaigns.factories import CampaignFactory
from tests.segments.factories import SegmentFactory

FUTURE = "2031-06-01T10:00"
FUTURE_UTC = datetime(2031, 6, 1, 10, 0, tzinfo=UTC)


def _content(body: str = "Hello {{ Profile.Name }}") -> dict:
    return {
        "mode": "single",
        "variants": [
            {
                "key": "A",
                "name": "Variant A",
                "match": "",
                "message": {"title": "Sale", "body": body},
            }
        ],
        "ab": {"size_kind": "percent", "size": 20, "metric": "clicks", "window_hours": 4},
        "multi": {"property": "", "fallback": "A"},
        "template_id": None,
    }


def _when_at(at: str = FUTURE) -> dict:
    return {
        "type": "at",
        "at": at,
        "user_timezone": {"enabled": False, "late": "wrap"},
        "cutoff": None,
    }


@pytest.fixture
def push_provider(db):
    return provider_create(channel="push", kind="fcm", nickname="Main FCM")


@pytest.fixture
def ready(push_provider):
    """A push draft every step is happy with: provider, segment, a future date, a message."""
    return CampaignFactory(
        name="Weekend sale",
        provider=push_provider,
        segment=SegmentFactory(name="Everyone"),
        when=_when_at(),
        content=_content(),
        wizard_step=WizardStep.TEST,
    )


def _url(campaign, slug="schedule"):
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": slug})


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- readiness -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_complete_draft_has_no_problems(ready):
    assert campaign_readiness(ready, now=timezone.now()) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("breakage", "step"),
    [
        ({"no push provider": True}, "setup"),
        ({"when": _when_at("2020-01-01T10:00")}, "when"),
        ({"content": {}}, "what"),
        ({"content": _content("Hello {{ Profile.Name ")}, "what"),
    ],
    ids=["no provider", "past date", "no content", "invalid template"],
)
def test_a_campaign_that_cannot_run_is_refused_with_the_reason_and_stays_a_draft(
    ready, breakage, step
):
    if breakage.pop("no push provider", False):
        Provider.objects.filter(channel="push").update(is_active=False)
    Campaign.objects.filter(pk=ready.pk).update(**breakage)
    ready.refresh_from_db()

    found = campaign_readiness(ready, now=timezone.now())
    with pytest.raises(CampaignNotReady) as refusal:
        campaign_schedule(campaign=ready)

    assert {slug for slug, _ in found} == {step}
    assert refusal.value.problems == [problem for _, problem in found]
    assert refusal.value.problems and all(refusal.value.problems)
    ready.refresh_from_db()
    assert ready.status == CampaignStatus.DRAFT
    assert ready.scheduled_at is None and ready.next_run_at is None


@pytest.mark.django_db
def test_a_past_date_is_named_in_the_refusal(ready):
    Campaign.objects.filter(pk=ready.pk).update(when=_when_at("2020-01-01T10:00"))
    with pytest.raises(CampaignNotReady) as refusal:
        campaign_schedule(campaign=ready)
    assert "2020" in " ".join(refusal.value.problems)
    assert "past" in " ".join(refusal.value.problems)


@pytest.mark.django_db
def test_a_broken_template_is_refused_even_when_the_content_rule_says_nothing(ready, monkeypatch):
    # The server keeps its own floor: a content rule that misses it cannot let it through.
    rules = tuple(
        (slug, (lambda campaign: []) if slug == "what" else rule)
        for slug, rule in readiness.PROBLEMS_BY_STEP
    )
    monkeypatch.setattr(readiness, "PROBLEMS_BY_STEP", rules)
    Campaign.objects.filter(pk=ready.pk).update(content=_content("{% if %}"))
    ready.refresh_from_db()

    found = campaign_readiness(ready, now=timezone.now())

    assert [slug for slug, _ in found] == ["what"]
    assert "does not render" in found[0][1]


# --- schedule ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_schedule_moves_the_draft_to_scheduled_with_its_first_run(ready):
    now = timezone.now()
    campaign_schedule(campaign=ready, now=now)

    stored = Campaign.objects.get(pk=ready.pk)
    assert stored.status == CampaignStatus.SCHEDULED
    assert stored.scheduled_at == now
    assert stored.next_run_at == FUTURE_UTC
    assert stored.wizard_step == WizardStep.SCHEDULE
    assert ready.status == CampaignStatus.SCHEDULED  # the caller's instance follows


@pytest.mark.django_db
def test_send_now_is_due_at_once(ready):
    Campaign.objects.filter(pk=ready.pk).update(
        when={"type": "now", "user_timezone": {"enabled": False, "late": "wrap"}, "cutoff": None}
    )
    now = timezone.now()
    campaign_schedule(campaign=ready, now=now)
    assert Campaign.objects.get(pk=ready.pk).next_run_at == now


@pytest.mark.django_db
def test_a_second_schedule_from_a_stale_page_is_refused(ready):
    stale = Campaign.objects.get(pk=ready.pk)
    campaign_schedule(campaign=ready)

    with pytest.raises(CampaignActionRefused, match="is scheduled: only draft campaigns"):
        campaign_schedule(campaign=stale)
    assert Campaign.objects.get(pk=ready.pk).status == CampaignStatus.SCHEDULED


@pytest.mark.django_db(transaction=True)
def test_two_schedules_racing_have_exactly_one_winner(ready):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def press_schedule():
        copy = Campaign.objects.get(pk=ready.pk)
        barrier.wait()
        try:
            campaign_schedule(campaign=copy)
            outcomes.append("scheduled")
        except CampaignActionRefused as refusal:
            outcomes.append(str(refusal))
        finally:
            connection.close()

    threads = [threading.Thread(target=press_schedule) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("scheduled") == 1
    [lost] = [outcome for outcome in outcomes if outcome != "scheduled"]
    assert lost == "“Weekend sale” is scheduled: only draft campaigns can be scheduled."
    assert Campaign.objects.get(pk=ready.pk).status == CampaignStatus.SCHEDULED


# --- the overview page -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_overview_shows_every_step_with_its_rows_and_an_edit_link(marketer_client, ready):
    html = marketer_client.get(_url(ready)).content.decode()

    for slug, label in [("setup", "Setup"), ("who", "Who"), ("when", "When"), ("what", "What")]:
        assert f'<article class="overview-step" id="overview-{slug}">' in html
        assert f"<header><strong>{label}</strong>" in html
        assert f'href="{_url(ready, slug)}?then=overview" class="overview-edit">Edit</a>' in html
    assert 'id="overview-test"' in html and 'id="overview-schedule"' not in html
    assert (
        "<dt>Sent through</dt><dd>Android: Main FCM; iOS: none (skipped); Web: none (skipped)</dd>"
        in html
    )
    assert "<dt>Name</dt><dd>Weekend sale</dd>" in html
    assert "cannot be scheduled" not in html
    assert '<button type="submit" name="action" value="schedule">Schedule</button>' in html
    assert 'value="draft"' in html and "Save as draft" in html
    assert "2031-06-01 10:00 (UTC)" in html  # the first run, in the account's time zone


@pytest.mark.django_db
def test_the_overview_lists_the_problems_with_links_and_disables_schedule(marketer_client, ready):
    Campaign.objects.filter(pk=ready.pk).update(content={})
    Provider.objects.filter(channel="push").update(is_active=False)

    html = marketer_client.get(_url(ready)).content.decode()

    assert "This campaign cannot be scheduled yet" in html
    assert "No push provider is set up: an admin adds FCM, APNs or Web Push in" in html
    assert f'<a href="{_url(ready, "setup")}?then=overview">Fix in Setup</a>' in html
    assert f'<a href="{_url(ready, "what")}?then=overview">Fix in What</a>' in html
    assert 'value="schedule" disabled' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("campaign_type", "when", "label"),
    [
        ("one_time", {"type": "now"}, "Send now"),
        ("one_time", _when_at(), "Schedule"),
        ("live_action", {"type": "live", "live": {"start": FUTURE, "end": None}}, "Activate"),
    ],
)
def test_the_schedule_button_is_named_for_what_it_does(
    marketer_client, ready, campaign_type, when, label
):
    Campaign.objects.filter(pk=ready.pk).update(campaign_type=campaign_type, when=when)
    html = marketer_client.get(_url(ready)).content.decode()
    # Enabled or not (a live start in the past is a problem), the button says what it does.
    assert f">{label}</button>" in html
    assert all(
        f">{other}</button>" not in html
        for other in ("Send now", "Schedule", "Activate", "Save changes")
        if other != label
    )


@pytest.mark.django_db
def test_pressing_schedule_schedules_it_and_goes_to_the_campaign_page(marketer_client, ready):
    response = marketer_client.post(_url(ready), {"action": "schedule"})

    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:detail", args=[ready.pk])
    stored = Campaign.objects.get(pk=ready.pk)
    assert stored.status == CampaignStatus.SCHEDULED and stored.next_run_at == FUTURE_UTC
    assert _messages(response) == ["“Weekend sale” is scheduled for 2031-06-01 10:00 (UTC)."]


@pytest.mark.django_db
def test_pressing_schedule_on_a_campaign_that_cannot_run_changes_nothing(marketer_client, ready):
    Campaign.objects.filter(pk=ready.pk).update(when=_when_at("2020-01-01T10:00"))

    response = marketer_client.post(_url(ready), {"action": "schedule"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "was not scheduled" in html and "This campaign cannot be scheduled yet" in html
    stored = Campaign.objects.get(pk=ready.pk)
    assert stored.status == CampaignStatus.DRAFT and stored.next_run_at is None


@pytest.mark.django_db
def test_save_as_draft_leaves_it_a_draft_and_goes_to_the_campaign_page(marketer_client, ready):
    response = marketer_client.post(_url(ready), {"action": "draft"})

    assert response["Location"] == reverse("campaigns:detail", args=[ready.pk])
    assert Campaign.objects.get(pk=ready.pk).status == CampaignStatus.DRAFT
    assert _messages(response) == ["“Weekend sale” is saved as a draft."]


@pytest.mark.django_db
@pytest.mark.parametrize("posted", [{}, {"action": "launch"}, {"action": ["schedule", "x"]}])
def test_an_unknown_action_changes_nothing(marketer_client, ready, posted):
    response = marketer_client.post(_url(ready), posted)
    stored = Campaign.objects.get(pk=ready.pk)
    # (A repeated field: the QueryDict's last value, "x", is not an action either.)
    assert response.status_code == 400
    assert "Choose Schedule or Save as draft." in response.content.decode()
    assert stored.status == CampaignStatus.DRAFT


@pytest.mark.django_db
def test_a_scheduled_campaign_shows_save_changes_and_stays_scheduled(marketer_client, ready):
    campaign_schedule(campaign=ready)

    html = marketer_client.get(_url(ready)).content.decode()
    assert 'value="schedule">Save changes</button>' in html and 'value="draft"' not in html

    response = marketer_client.post(_url(ready), {"action": "schedule"})
    assert response["Location"] == reverse("campaigns:detail", args=[ready.pk])
    assert Campaign.objects.get(pk=ready.pk).status == CampaignStatus.SCHEDULED
    assert "stays scheduled" in _messages(response)[0]


# --- after an edit -----------------------------------------------------------------------------


def _setup_post(campaign, route: str) -> dict:
    return {"name": campaign.name, "campaign_type": campaign.campaign_type, "route": route}


@pytest.mark.django_db
def test_an_edit_that_leaves_a_scheduled_campaign_unable_to_run_sends_it_back_to_draft(
    marketer_client, ready
):
    campaign_schedule(campaign=ready)
    # Its provider was deactivated meanwhile: with none left to choose, Setup saves without.
    Provider.objects.filter(pk=ready.provider_id).update(is_active=False)

    response = marketer_client.post(_url(ready, "setup"), _setup_post(ready, route=""))

    stored = Campaign.objects.get(pk=ready.pk)
    assert stored.status == CampaignStatus.DRAFT
    assert stored.next_run_at is None and stored.scheduled_at is None
    [warning] = [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert "went back to draft because it cannot run" in str(warning)
    assert "No push provider is set up" in str(warning)


@pytest.mark.django_db
def test_an_edit_of_a_scheduled_campaign_recomputes_its_next_run(marketer_client, ready):
    campaign_schedule(campaign=ready)
    # The When step saved a later date (its own save is someone else's; its effect is this).
    Campaign.objects.filter(pk=ready.pk).update(when=_when_at("2032-02-03T04:05"))

    response = marketer_client.post(
        _url(ready, "setup"), _setup_post(ready, route=f"provider:{ready.provider_id}")
    )

    assert response.status_code == 302
    stored = Campaign.objects.get(pk=ready.pk)
    assert stored.status == CampaignStatus.SCHEDULED
    assert stored.next_run_at == datetime(2032, 2, 3, 4, 5, tzinfo=UTC)
    assert not [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


@pytest.mark.django_db
def test_an_edit_of_a_draft_leaves_its_schedule_fields_alone(marketer_client, ready):
    marketer_client.post(_url(ready, "setup"), _setup_post(ready, route=""))
    stored = Campaign.objects.get(pk=ready.pk)
    assert stored.status == CampaignStatus.DRAFT and stored.next_run_at is None


@pytest.mark.django_db
def test_recheck_leaves_a_campaign_the_engine_already_started_alone(ready):
    campaign_schedule(campaign=ready)
    Campaign.objects.filter(pk=ready.pk).update(status=CampaignStatus.RUNNING, provider=None)

    assert campaign_recheck(campaign=ready) == []
    stored = Campaign.objects.get(pk=ready.pk)
    assert stored.status == CampaignStatus.RUNNING and stored.next_run_at == FUTURE_UTC
