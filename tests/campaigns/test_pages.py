import re
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.campaigns.models import Campaign, CampaignStatus
from apps.campaigns.services import ACTIONS_BY_STATUS
from apps.delivery.models import CampaignRun
from tests.accounts.factories import UserFactory
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("campaigns:list")


def _html(response) -> str:
    return response.content.decode()


def _names(response) -> list[str]:
    """The campaign names in the list's table, in order."""
    return re.findall(r'<a href="/campaigns/\d+/">([^<]+)</a>', _html(response))


def _at(day: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(day))


def _created(campaign: Campaign, day: str) -> Campaign:
    Campaign.objects.filter(pk=campaign.pk).update(created_at=_at(day))
    return campaign


# --- The list -----------------------------------------------------------------------------------


def test_a_viewer_reads_the_list_but_gets_no_action_buttons(viewer_client):
    CampaignFactory(name="Spring push", status="draft")
    html = _html(viewer_client.get(LIST_URL))
    assert "Spring push" in html
    assert "Delete draft" not in html and "Clone" not in html


def test_a_marketer_sees_only_the_actions_each_status_allows(marketer_client):
    draft = CampaignFactory(name="Draft one", status="draft")
    running = CampaignFactory(name="Running one", status="running")
    html = _html(marketer_client.get(LIST_URL))

    def row(campaign):
        return re.search(rf'<tr id="campaign-{campaign.pk}">(.*?)</tr>', html, re.S).group(1)

    assert "Delete draft" in row(draft) and "Archive" in row(draft) and "Stop" not in row(draft)
    assert "Stop" in row(running) and "Delete draft" not in row(running)
    assert "Archive" not in row(running)


def test_the_list_filters_by_channel_status_type_and_creator(marketer_client):
    mia = UserFactory(username="mia2", first_name="Mia", last_name="Ng")
    CampaignFactory(name="Push draft", channel="push", status="draft")
    CampaignFactory(name="SMS running", channel="sms", status="running", created_by=mia)
    CampaignFactory(name="Email live", email=True, live=True)

    assert _names(marketer_client.get(LIST_URL, {"channel": "sms"})) == ["SMS running"]
    assert _names(marketer_client.get(LIST_URL, {"status": "draft"})) == ["Push draft"]
    assert _names(marketer_client.get(LIST_URL, {"campaign_type": "live_action"})) == ["Email live"]
    by_mia = marketer_client.get(LIST_URL, {"created_by": mia.pk})
    assert _names(by_mia) == ["SMS running"]
    assert "Mia Ng" in _html(by_mia)


def test_archived_campaigns_show_only_when_asked_for(marketer_client):
    CampaignFactory(name="Current", status="completed")
    CampaignFactory(name="Old", status="archived", status_before_archive="completed")
    assert _names(marketer_client.get(LIST_URL)) == ["Current"]
    assert _names(marketer_client.get(LIST_URL, {"status": "archived"})) == ["Old"]


def test_the_list_searches_by_name_case_insensitively(marketer_client):
    CampaignFactory(name="Diwali Sale")
    CampaignFactory(name="Welcome series")
    assert _names(marketer_client.get(LIST_URL, {"q": "diwali"})) == ["Diwali Sale"]


def test_the_date_range_covers_whole_days_on_created_or_scheduled(marketer_client):
    _created(CampaignFactory(name="May 2"), "2026-05-02T10:00")
    _created(CampaignFactory(name="May 3 late"), "2026-05-03T23:59")
    _created(CampaignFactory(name="May 4"), "2026-05-04T00:00")
    scheduled = CampaignFactory(name="Scheduled May 9", scheduled_at=_at("2026-05-09T08:00"))
    _created(scheduled, "2026-01-01T00:00")

    created = {"date_field": "created", "date_from": "2026-05-03", "date_to": "2026-05-03"}
    assert _names(marketer_client.get(LIST_URL, created)) == ["May 3 late"]
    on_schedule = {"date_field": "scheduled", "date_from": "2026-05-09"}
    assert _names(marketer_client.get(LIST_URL, on_schedule)) == ["Scheduled May 9"]


def test_a_bad_filter_is_named_beside_its_field_and_not_applied(marketer_client):
    CampaignFactory(name="Kept")
    response = marketer_client.get(
        LIST_URL, {"date_from": "2026-05-09", "date_to": "2026-05-01", "channel": "fax"}
    )
    assert response.status_code == 200
    html = _html(response)
    assert "The end date is before the start date." in html
    assert "Select a valid choice" in html  # the channel
    assert "Kept" in html


def test_the_list_pages_with_a_constant_number_of_queries(
    marketer_client, django_assert_num_queries
):
    users = [UserFactory(username=f"u{i}") for i in range(3)]
    for i in range(30):
        CampaignFactory(created_by=users[i % 3])

    # Session, user, creators (for the filter), count, one page with its joins.
    with django_assert_num_queries(5):
        first = marketer_client.get(LIST_URL)
    for i in range(30):
        CampaignFactory(created_by=users[i % 3], status="running")
    with django_assert_num_queries(5):
        more = marketer_client.get(LIST_URL)

    assert len(_names(first)) == 25 and len(_names(more)) == 25
    assert "Page 1 of 2" in _html(first) and "Page 1 of 3" in _html(more)


def _row(html: str, campaign: Campaign) -> str:
    return re.search(rf'<tr id="campaign-{campaign.pk}">(.*?)</tr>', html, re.S).group(1)


def _runs(campaign: Campaign, *days: str) -> None:
    for day in days:
        CampaignRun.objects.create(campaign=campaign, scheduled_for=_at(day))


def test_the_list_shows_when_each_campaign_sends_not_when_schedule_was_pressed(viewer_client):
    pressed = _at("2030-01-02T09:00")
    weekly = CampaignFactory(
        name="Weekly",
        campaign_type="recurring",
        status="running",
        scheduled_at=pressed,
        next_run_at=_at("2030-02-10T10:00"),
    )
    _runs(weekly, "2030-01-27T10:00", "2030-02-03T10:00")
    later = CampaignFactory(
        name="Later", status="scheduled", scheduled_at=pressed, next_run_at=_at("2031-05-01T08:30")
    )
    sending = CampaignFactory(name="Now", status="running", scheduled_at=pressed, next_run_at=None)
    _runs(sending, "2030-01-02T09:00")
    done = CampaignFactory(name="Done", status="completed", scheduled_at=pressed)
    _runs(done, "2030-01-05T10:00", "2030-01-06T10:00")
    draft = CampaignFactory(name="Idea", status="draft")

    html = _html(viewer_client.get(LIST_URL))

    assert '<th scope="col">Next or last send</th>' in html
    assert "Next send" in _row(html, weekly) and ">2030-02-10 10:00</time>" in _row(html, weekly)
    assert "Next send" in _row(html, later) and ">2031-05-01 08:30</time>" in _row(html, later)
    assert "Sending since" in _row(html, sending)
    assert ">2030-01-02 09:00</time>" in _row(html, sending)
    assert "Last run" in _row(html, done) and ">2030-01-06 10:00</time>" in _row(html, done)
    assert "Not scheduled" in _row(html, draft)
    # When Schedule was pressed is not a send time.
    for campaign in (weekly, later, done):
        assert "2030-01-02 09:00" not in _row(html, campaign)


def test_a_live_campaign_sends_on_its_triggers_from_its_start(viewer_client):
    active = CampaignFactory(
        name="Cart", campaign_type="live_action", status="scheduled", next_run_at=_at("2020-01-01")
    )
    upcoming = CampaignFactory(
        name="Soon", campaign_type="live_date", status="scheduled", next_run_at=_at("2099-01-01")
    )
    html = _html(viewer_client.get(LIST_URL))
    assert "Live: sends on each trigger" in _row(html, active)
    assert "Live from" in _row(html, upcoming) and ">2099-01-01 00:00</time>" in _row(
        html, upcoming
    )


def test_the_list_says_what_ended_without_sending_and_never_calls_it_completed(viewer_client):
    quiet = CampaignFactory(
        name="Quiet", status="completed", nothing_sent_reason="2 skipped: Unsubscribed (2)."
    )
    refused = CampaignFactory(
        name="Refused", status="draft", nothing_sent_reason="The campaign has no audience."
    )
    _runs(refused, "2030-01-05T10:00")
    sent = CampaignFactory(name="Sent", status="completed")

    html = _html(viewer_client.get(LIST_URL))

    assert (
        '<span class="badge warn" title="2 skipped: Unsubscribed (2).">'
        "Completed — nothing sent</span>" in _row(html, quiet)
    )
    assert '<span class="badge ">Draft</span>' in _row(html, refused)
    assert (
        '<span class="badge bad" title="The campaign has no audience.">Run refused</span>'
        in _row(html, refused)
    )
    assert ">Completed<" not in _row(html, quiet) + _row(html, refused)
    assert '<span class="badge good">Completed</span>' in _row(html, sent)
    assert "Delete draft" not in _row(html, refused)  # it has a run in its history


def test_send_times_cost_the_list_no_query(marketer_client, django_assert_num_queries):
    for i in range(30):
        campaign = CampaignFactory(status="completed")
        _runs(campaign, f"2030-01-{i % 28 + 1:02}T10:00", f"2030-02-{i % 28 + 1:02}T10:00")
    # The same five queries as a list without runs (above).
    with django_assert_num_queries(5):
        html = _html(marketer_client.get(LIST_URL))
    assert html.count("Last run") == 25 and "Page 1 of 2" in html


def test_htmx_gets_only_the_results_and_the_pages_keep_the_filters(htmx_client):
    for i in range(30):
        CampaignFactory(name=f"Sms {i:02}", channel="sms")
    CampaignFactory(name="A push", channel="push")

    response = htmx_client.get(
        LIST_URL, {"channel": "sms", "page": 2}, HTTP_HX_TARGET="campaign-results"
    )
    html = _html(response)
    assert "<html" not in html and '<form class="filters' not in html
    assert len(_names(response)) == 5 and all(n.startswith("Sms") for n in _names(response))
    assert 'href="?channel=sms&page=1" rel="prev"' in html
    assert "HX-Request" in response["Vary"]


def test_an_htmx_request_for_the_whole_body_gets_the_whole_page(htmx_client):
    # A boosted action form lands back on the list after its redirect, swapping the body.
    CampaignFactory(name="Kept")
    html = _html(htmx_client.get(LIST_URL, HTTP_HX_BOOSTED="true"))
    assert "<html" in html and 'class="filters campaign-filters"' in html


def test_the_empty_list_tells_no_campaigns_yet_from_no_match(marketer_client):
    assert "No campaigns yet" in _html(marketer_client.get(LIST_URL))
    CampaignFactory(name="Something")
    assert "No campaigns match" in _html(marketer_client.get(LIST_URL, {"q": "nothing"}))


# --- Detail ---------------------------------------------------------------------------------


def test_the_detail_page_summarises_what_is_stored(viewer_client):
    campaign = CampaignFactory(
        name="Spring push",
        channel="push",
        limit_daily=300,
        control_group_percent=5,
        content={  # the What step's document (contracts.md); its summary shows the body
            "mode": "single",
            "variants": [
                {
                    "key": "A",
                    "name": "Variant A",
                    "match": "",
                    "message": {"body": "Hello <b>you</b>"},
                }
            ],
        },
    )
    html = _html(viewer_client.get(reverse("campaigns:detail", args=[campaign.pk])))
    assert "Spring push" in html and "300" in html and "5%" in html
    assert "Hello &lt;b&gt;you&lt;/b&gt;" in html  # stored content, escaped
    assert "Delete draft" not in html  # a viewer only reads


def test_an_unknown_campaign_is_a_404(viewer_client):
    assert viewer_client.get(reverse("campaigns:detail", args=[999999])).status_code == 404


# --- Actions --------------------------------------------------------------------------------


def test_stop_from_the_list_returns_to_the_same_list_with_a_message(marketer_client):
    campaign = CampaignFactory(name="Live now", status="running")
    back = f"{LIST_URL}?status=running"
    response = marketer_client.post(
        reverse("campaigns:stop", args=[campaign.pk]), {"next": back}, follow=True
    )
    assert response.redirect_chain[-1][0] == back
    assert "“Live now” is stopped" in _html(response)
    assert Campaign.objects.get(pk=campaign.pk).status == "stopped"


def test_a_refused_action_says_why_and_changes_nothing(marketer_client):
    campaign = CampaignFactory(name="Finished", status="completed")
    response = marketer_client.post(reverse("campaigns:stop", args=[campaign.pk]), follow=True)
    assert "“Finished” is completed: only scheduled, running campaigns can be stopped." in _html(
        response
    )
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"


def test_next_never_leaves_the_site(marketer_client):
    campaign = CampaignFactory(status="draft")
    response = marketer_client.post(
        reverse("campaigns:archive", args=[campaign.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])


def test_archive_then_unarchive_from_the_detail_page(marketer_client):
    campaign = CampaignFactory(name="Old one", status="stopped")
    detail = reverse("campaigns:detail", args=[campaign.pk])
    marketer_client.post(reverse("campaigns:archive", args=[campaign.pk]), {"next": detail})
    html = _html(marketer_client.get(detail))
    assert 'class="badge ">Archived</span>' in html and "Unarchive" in html
    assert "<dt>Before archiving</dt><dd>Stopped</dd>" in html
    marketer_client.post(reverse("campaigns:unarchive", args=[campaign.pk]), {"next": detail})
    assert Campaign.objects.get(pk=campaign.pk).status == "stopped"


def test_deleting_a_draft_from_its_page_returns_to_the_list(marketer_client):
    campaign = CampaignFactory(name="Throwaway", status="draft")
    detail = reverse("campaigns:detail", args=[campaign.pk])
    response = marketer_client.post(
        reverse("campaigns:delete", args=[campaign.pk]), {"next": detail}, follow=True
    )
    assert response.redirect_chain[-1][0] == LIST_URL
    assert "Draft “Throwaway” deleted." in _html(response)
    assert not Campaign.objects.filter(pk=campaign.pk).exists()


def test_delete_and_stop_ask_for_confirmation(marketer_client):
    CampaignFactory(name="D", status="draft")
    CampaignFactory(name="R", status="running")
    html = _html(marketer_client.get(LIST_URL))
    assert 'hx-confirm="Delete the draft “D”?' in html
    assert 'hx-confirm="Stop “R”?' in html


def test_clone_opens_the_copy_as_a_draft_made_by_the_marketer(marketer_client, marketer_user):
    campaign = CampaignFactory(name="Original", status="completed", scheduled_at=timezone.now())
    response = marketer_client.post(reverse("campaigns:clone", args=[campaign.pk]), follow=True)
    copy = Campaign.objects.get(name="Copy of Original")
    assert response.redirect_chain[-1][0] == reverse("campaigns:detail", args=[copy.pk])
    assert (copy.status, copy.created_by, copy.scheduled_at) == ("draft", marketer_user, None)
    assert "Cloned as “Copy of Original”" in _html(response)


def test_a_viewer_cannot_act_and_nothing_changes(viewer_client):
    campaign = CampaignFactory(status="running")
    for action in ("stop", "clone", "archive", "unarchive", "delete"):
        response = viewer_client.post(reverse(f"campaigns:{action}", args=[campaign.pk]))
        assert response.status_code == 403
    assert Campaign.objects.get().status == "running"


def test_actions_only_accept_post(marketer_client):
    campaign = CampaignFactory(status="running")
    assert marketer_client.get(reverse("campaigns:stop", args=[campaign.pk])).status_code == 405
    assert Campaign.objects.get().status == "running"


def test_the_nav_links_to_the_campaign_list(viewer_client):
    assert f'href="{LIST_URL}"' in _html(viewer_client.get("/"))


BUTTONS = {
    "clone": ">Clone</button>",
    "stop": ">Stop</button>",
    "archive": ">Archive</button>",
    "unarchive": ">Unarchive</button>",
    "delete": ">Delete draft</button>",
}


@pytest.mark.parametrize("status", list(ACTIONS_BY_STATUS))
def test_the_detail_page_shows_exactly_the_buttons_the_status_allows(marketer_client, status):
    extra = {"status_before_archive": "completed"} if status == "archived" else {}
    campaign = CampaignFactory(status=status, **extra)
    html = _html(marketer_client.get(reverse("campaigns:detail", args=[campaign.pk])))
    shown = {action for action, button in BUTTONS.items() if button in html}
    assert shown == ACTIONS_BY_STATUS[status] - {"edit"}  # edit arrives with the wizard


def test_every_status_has_a_row_in_the_actions_table():
    assert set(ACTIONS_BY_STATUS) == set(CampaignStatus.values)


def test_an_archived_campaign_must_be_unarchived_before_cloning(marketer_client):
    campaign = CampaignFactory(name="Kept", status="archived", status_before_archive="stopped")
    response = marketer_client.post(reverse("campaigns:clone", args=[campaign.pk]), follow=True)
    assert "“Kept” is archived: only" in _html(response)
    assert Campaign.objects.count() == 1
