"""The campaign page's delivery panel: live progress of the current run (polled by htmx while
a run is active), the A/B result, and the run history — counts from one grouped query."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.campaigns.models import Campaign
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus
from apps.delivery.selectors import campaign_progress, run_counts
from tests.audience.factories import ProfileFactory
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def _progress(client, campaign) -> str:
    return _html(
        client.get(reverse("delivery:progress", args=[campaign.pk]), HTTP_HX_REQUEST="true")
    )


def _detail(client, campaign) -> str:
    return _html(client.get(reverse("campaigns:detail", args=[campaign.pk])))


def _campaign(**fields):
    defaults = {"channel": "sms", "status": "running", "name": "Spring sale"}
    return CampaignFactory(**{**defaults, **fields})


def _run(campaign, status=RunStatus.SENDING, at=None, **fields) -> CampaignRun:
    return CampaignRun.objects.create(
        campaign=campaign,
        scheduled_for=at or timezone.now() - timedelta(minutes=5),
        status=status,
        **fields,
    )


def _messages(run, n, status, *, reason="", variant="A", **fields):
    Message.objects.bulk_create(
        Message(
            run=run,
            profile=ProfileFactory(),
            status=status,
            reason=reason,
            variant=variant,
            **fields,
        )
        for _ in range(n)
    )


def _a_sending_run(campaign):
    """A run part-way: sent (some in the last minute), failed, skipped, waiting, queued."""
    now = timezone.now()
    run = _run(campaign, qualified=40, recipients=36, control=4)
    _messages(run, 3, MessageStatus.SENT, sent_at=now - timedelta(seconds=20))
    _messages(run, 2, MessageStatus.SENT, sent_at=now - timedelta(minutes=5))
    _messages(run, 1, MessageStatus.FAILED, reason="permanent", error="Invalid number")
    _messages(run, 2, MessageStatus.SKIPPED, reason="capped")
    _messages(run, 1, MessageStatus.SKIPPED, reason="dnd_discarded")
    _messages(
        run, 3, MessageStatus.WAITING, reason="dnd_delay", release_at=now + timedelta(hours=1)
    )
    _messages(
        run, 1, MessageStatus.WAITING, reason="user_timezone", release_at=now + timedelta(hours=2)
    )
    _messages(run, 4, MessageStatus.QUEUED)
    _messages(run, 4, MessageStatus.CONTROL, reason="control")
    return run


# --- Counts ---------------------------------------------------------------------------------


def test_run_counts_split_every_state_in_one_query(django_assert_num_queries):
    run = _a_sending_run(_campaign())
    with django_assert_num_queries(1):
        counts = run_counts([run.pk], now=timezone.now())[run.pk]
    assert (counts.sent, counts.failed, counts.skipped, counts.waiting, counts.queued) == (
        5,
        1,
        3,
        4,
        4,
    )
    assert counts.control == 4 and counts.sent_last_minute == 3
    assert counts.skipped_by_reason == {"capped": 2, "dnd_discarded": 1}
    assert counts.waiting_by_reason == {"dnd_delay": 3, "user_timezone": 1}
    assert (counts.done, counts.total, counts.percent_done) == (9, 17, 53)


def test_the_history_costs_the_same_queries_for_one_run_or_twelve(
    marketer_client, django_assert_max_num_queries
):
    campaign = _campaign(campaign_type="recurring")
    _a_sending_run(campaign)
    url = reverse("delivery:progress", args=[campaign.pk])
    with django_assert_max_num_queries(5):  # session, user, campaign, runs, counts
        marketer_client.get(url, HTTP_HX_REQUEST="true")
    for day in range(1, 12):
        run = _run(
            campaign, RunStatus.COMPLETED, at=timezone.now() - timedelta(days=day), recipients=3
        )
        _messages(run, 2, MessageStatus.SENT, sent_at=timezone.now() - timedelta(days=day))
        _messages(run, 1, MessageStatus.SKIPPED, reason="capped")
    with django_assert_max_num_queries(5):
        html = _progress(marketer_client, campaign)
    assert html.count('<span class="badge good">Completed</span>') == 11


def test_the_campaign_page_costs_the_same_queries_for_one_run_or_eight(
    viewer_client, django_assert_max_num_queries
):
    campaign = _campaign()
    _a_sending_run(campaign)
    _detail(viewer_client, campaign)  # first use creates the account settings row
    with CaptureQueriesContext(connection) as one_run:
        _detail(viewer_client, campaign)
    for day in range(1, 8):
        run = _run(campaign, RunStatus.COMPLETED, at=timezone.now() - timedelta(days=day))
        _messages(run, 2, MessageStatus.SENT, sent_at=timezone.now() - timedelta(days=day))
    with django_assert_max_num_queries(len(one_run)):
        html = _detail(viewer_client, campaign)
    assert html.count('<span class="badge good">Completed</span>') == 7


# --- The panel in each state ----------------------------------------------------------------


def test_a_sending_run_shows_its_audience_counts_reasons_and_throttle(viewer_client):
    campaign = _campaign(delivery={"throttle_per_minute": 600})
    _a_sending_run(campaign)
    html = _progress(viewer_client, campaign)
    assert '<span class="badge good">Sending</span>' in html
    assert "<dt>Qualified</dt><dd>40</dd>" in html and "<dt>Recipients</dt><dd>36</dd>" in html
    assert "<dt>Control group</dt><dd>4</dd>" in html
    assert '<dd data-count="sent">5</dd>' in html and '<dd data-count="failed">1</dd>' in html
    assert '<dd data-count="skipped">3</dd>' in html and '<dd data-count="waiting">4</dd>' in html
    assert "3 sent in the last minute (limit 600 per minute)" in html
    assert "<td>Skipped: Frequency cap</td><td>2</td>" in html
    assert "<td>Skipped: Do Not Disturb (discarded)</td><td>1</td>" in html
    assert "<td>Waiting: Do Not Disturb (until the window ends)</td><td>3</td>" in html
    assert "<td>Waiting: User&#x27;s time zone (local send time)</td><td>1</td>" in html
    assert "<td>Failed: Refused by the provider</td><td>1</td>" in html
    assert '<progress value="9" max="17"' in html


def test_a_pending_run_says_the_snapshot_is_being_taken(viewer_client):
    campaign = _campaign()
    _run(campaign, RunStatus.PENDING)
    html = _progress(viewer_client, campaign)
    assert "Taking the audience snapshot" in html and "<dt>Qualified</dt><dd>—</dd>" in html
    assert 'hx-trigger="every 2s"' in html


def test_a_testing_run_shows_the_variants_sent_so_far_and_when_it_decides(viewer_client):
    campaign = _campaign(
        content={
            "mode": "ab",
            "variants": [
                {"key": "A", "name": "Short", "match": "", "message": {"body": "a"}},
                {"key": "B", "name": "Emoji", "match": "", "message": {"body": "b"}},
            ],
            "ab": {"size_kind": "percent", "size": 20, "metric": "clicks", "window_hours": 4},
        }
    )
    run = _run(campaign, RunStatus.TESTING)
    release = timezone.now() + timedelta(hours=3)
    _messages(run, 2, MessageStatus.SENT, variant="A", sent_at=timezone.now())
    _messages(run, 1, MessageStatus.SENT, variant="B", sent_at=timezone.now())
    _messages(run, 5, MessageStatus.WAITING, variant="", release_at=release)
    html = _progress(viewer_client, campaign)
    assert f"Deciding at {timezone.localtime(release):%Y-%m-%d %H:%M} by clicks" in html
    assert (
        "<td>Short</td>\n        <td>2</td>" in html
        and "<td>Emoji</td>\n        <td>1</td>" in html
    )
    assert "<td>Waiting: A/B test: the rest waits for the winner</td><td>5</td>" in html
    assert "Winner" not in html


def test_a_decided_test_shows_its_numbers_with_the_winner_marked(viewer_client):
    campaign = _campaign(
        content={
            "mode": "ab",
            "variants": [{"key": "A", "name": "Short"}, {"key": "B", "name": "Emoji"}],
        }
    )
    _run(
        campaign,
        RunStatus.COMPLETED,
        winner_variant="B",
        winner_details={
            "metric": "conversions",
            "decided_at": "2026-11-23T10:00:00+00:00",
            "variants": {
                "A": {"sent": 100, "metric": 3, "rate": 0.03},
                "B": {"sent": 100, "metric": 7, "rate": 0.07},
            },
        },
    )
    html = _progress(viewer_client, campaign)
    assert "Winner: <strong>Variant B</strong> by conversions" in html
    winner_row = '<tr class="delivery-winner">\n        <td>Emoji <span class="badge good">'
    assert winner_row + "Winner</span></td>" in html
    assert (
        "<td>3</td>\n        <td>3.0%</td>" in html and "<td>7</td>\n        <td>7.0%</td>" in html
    )
    assert "Deciding at" not in html
    assert "winner B" in html  # the run history names it too


def test_a_refused_run_shows_the_safety_check_reason(viewer_client):
    campaign = _campaign()
    reason = "The audience (5,000) is above the safety cap (1,000); nothing was sent."
    _run(
        campaign, RunStatus.REFUSED, qualified=5000, recipients=0, control=0, refused_reason=reason
    )
    html = _detail(viewer_client, campaign)
    assert "<strong>Refused:</strong> " + reason in html
    history_row = f'<td colspan="7"><small>Refused: {reason}</small></td>'
    assert history_row in html  # and in the run history
    assert 'data-polling="off"' in html


def test_a_completed_run_that_sent_nothing_says_why_and_never_reads_completed(viewer_client):
    why = "3 skipped: Unsubscribed (3); 2 failed: No provider to send through (2)."
    # As the engine leaves it (tests/delivery/test_campaign_outcome.py).
    campaign = _campaign(status="completed", nothing_sent_reason=why)
    run = _run(campaign, RunStatus.COMPLETED, qualified=5, recipients=5, control=0)
    _messages(run, 3, MessageStatus.SKIPPED, reason="unsubscribed")
    _messages(run, 2, MessageStatus.FAILED, reason="no_provider")

    html = _progress(viewer_client, campaign)

    assert (  # the page header, swapped in out of band
        f'<span class="badge warn" title="{why}">Completed — nothing sent</span>' in html
    )
    assert '<h2>Delivery <span class="badge warn">Completed — nothing sent</span></h2>' in html
    assert f"<strong>Nothing sent:</strong> {why}" in html
    assert '<span class="badge warn">Nothing sent</span>' in html  # the run history
    assert f"<small>Nothing sent: {why}</small>" in html
    assert ">Completed<" not in html
    page = _detail(viewer_client, campaign)
    assert (
        '<span class="campaign-status" id="campaign-status"><span class="badge warn" '
        f'title="{why}">Completed — nothing sent</span></span>' in page
    )
    assert ">Completed<" not in page


def test_a_run_where_nobody_qualified_says_so():
    campaign = _campaign(status="completed")
    _run(campaign, RunStatus.COMPLETED, qualified=0, recipients=0, control=0)
    view = campaign_progress(campaign, now=timezone.now()).current
    assert view.status_label == "Completed — nothing sent"
    assert view.nothing_sent_reason == "Nobody in the audience could be reached on this channel."


def test_a_run_that_sent_reads_completed_with_no_reason():
    campaign = _campaign(status="completed")
    run = _run(campaign, RunStatus.COMPLETED)
    _messages(run, 1, MessageStatus.SENT, sent_at=timezone.now())
    _messages(run, 4, MessageStatus.SKIPPED, reason="capped")
    view = campaign_progress(campaign, now=timezone.now()).current
    assert (view.status_label, view.badge, view.nothing_sent_reason) == ("Completed", "good", "")


def test_every_failure_reason_of_the_engine_has_a_label():
    from apps.delivery import batch
    from apps.delivery.selectors import FAILED_LABELS

    reasons = {value for name, value in vars(batch).items() if name.startswith("FAILED_")}
    assert reasons == set(FAILED_LABELS)


def test_a_campaign_without_runs_says_when_the_first_starts(viewer_client):
    later = timezone.now() + timedelta(days=2)
    html = _detail(viewer_client, _campaign(status="scheduled", next_run_at=later))
    assert f"the first run starts at {timezone.localtime(later):%Y-%m-%d %H:%M}" in html
    assert "No runs yet." in html and 'data-polling="off"' in html
    assert "the campaign is a draft" in _detail(viewer_client, _campaign(status="draft"))


# --- Polling --------------------------------------------------------------------------------


def test_the_panel_polls_while_a_run_is_active_and_stops_once_it_is_finished(viewer_client):
    campaign = _campaign()
    run = _run(campaign)
    _messages(run, 2, MessageStatus.QUEUED)
    page = _detail(viewer_client, campaign)
    url = reverse("delivery:progress", args=[campaign.pk])
    assert f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML"' in page
    assert 'id="campaign-delivery"' in page

    Message.objects.filter(run=run).update(status=MessageStatus.SENT, sent_at=timezone.now())
    CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    finished = _progress(viewer_client, campaign)
    # The swapped-in panel has no trigger: htmx stops polling by itself.
    assert 'id="campaign-delivery"' in finished and 'data-polling="off"' in finished
    assert "hx-trigger" not in finished and "hx-get" not in finished
    assert '<dd data-count="sent">2</dd>' in finished


def test_the_polled_panel_brings_the_header_status_along(viewer_client):
    """The header's badge is outside the polled panel: each answer swaps it out of band,
    so the page never says "Scheduled" beside a finished run."""
    campaign = _campaign(status="scheduled", next_run_at=timezone.now() + timedelta(seconds=20))
    page = _detail(viewer_client, campaign)
    assert (
        '<span class="campaign-status" id="campaign-status"><span class="badge warn">'
        "Scheduled</span></span>" in page
    )
    assert "hx-swap-oob" not in page  # the page itself has the one header copy

    run = _run(campaign, RunStatus.COMPLETED, finished_at=timezone.now())
    _messages(run, 2, MessageStatus.SENT, sent_at=timezone.now())
    Campaign.objects.filter(pk=campaign.pk).update(status="completed", next_run_at=None)
    finished = _progress(viewer_client, campaign)

    assert (
        '<span class="campaign-status" id="campaign-status" hx-swap-oob="true">'
        '<span class="badge good">Completed</span></span>' in finished
    )
    assert finished.count('id="campaign-status"') == 1 and ">Scheduled<" not in finished


def test_the_header_of_a_campaign_its_refused_run_sent_back_says_so(viewer_client):
    campaign = _campaign(status="draft", nothing_sent_reason="The campaign has no audience.")
    _run(
        campaign,
        RunStatus.REFUSED,
        refused_reason="The campaign has no audience.",
        finished_at=timezone.now(),
    )

    html = _progress(viewer_client, campaign)

    assert (
        '<span class="campaign-status" id="campaign-status" hx-swap-oob="true">'
        '<span class="badge ">Draft</span><span class="badge bad" '
        'title="The campaign has no audience.">Run refused</span></span>' in html
    )
    assert "<strong>Refused:</strong> The campaign has no audience." in html
    assert "the campaign went back to draft" in html
    assert "Completed" not in html


def test_the_panel_polls_a_moment_after_the_run_while_the_campaign_is_finishing():
    """The engine marks the run finished just before the campaign: the answer that sees the
    first must not be the last, or the header would keep "Running"."""
    campaign = _campaign(status="running", next_run_at=None)
    run = _run(campaign, RunStatus.COMPLETED, finished_at=timezone.now())
    assert campaign_progress(campaign, now=timezone.now()).poll
    assert not campaign_progress(campaign, now=run.finished_at + timedelta(minutes=2)).poll
    campaign.status = "completed"
    assert not campaign_progress(campaign, now=timezone.now()).poll


def test_the_panel_polls_a_moment_before_a_scheduled_run_starts():
    campaign = _campaign(status="scheduled", next_run_at=timezone.now() + timedelta(seconds=30))
    assert campaign_progress(campaign, now=timezone.now()).poll
    campaign.next_run_at = timezone.now() + timedelta(hours=1)
    assert not campaign_progress(campaign, now=timezone.now()).poll


def test_the_current_run_is_the_active_one_even_with_a_later_finished_run():
    campaign = _campaign(campaign_type="multiple_dates")
    active = _run(campaign, RunStatus.SENDING, at=timezone.now() - timedelta(hours=1))
    _run(campaign, RunStatus.REFUSED, at=timezone.now(), refused_reason="Too many")
    progress = campaign_progress(campaign, now=timezone.now())
    assert progress.current.run == active and progress.poll
    assert [view.run.status for view in progress.runs] == ["refused", "sending"]


# --- Access ---------------------------------------------------------------------------------


def test_a_viewer_reads_the_progress_panel(viewer_client):
    campaign = _campaign()
    _a_sending_run(campaign)
    assert '<dd data-count="sent">5</dd>' in _progress(viewer_client, campaign)
    assert '<dd data-count="sent">5</dd>' in _detail(viewer_client, campaign)


def test_the_progress_url_opened_without_htmx_goes_to_the_campaign_page(viewer_client):
    campaign = _campaign()
    response = viewer_client.get(reverse("delivery:progress", args=[campaign.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])


def test_the_progress_of_an_unknown_campaign_is_a_404(viewer_client):
    url = reverse("delivery:progress", args=[999999])
    assert viewer_client.get(url, HTTP_HX_REQUEST="true").status_code == 404


def test_the_progress_url_only_answers_get(marketer_client):
    url = reverse("delivery:progress", args=[_campaign().pk])
    assert marketer_client.post(url, HTTP_HX_REQUEST="true").status_code == 405


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    url = reverse("delivery:progress", args=[_campaign().pk])
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_the_polled_panel_takes_stop_away_from_a_marketer_once_the_run_finished_it(
    marketer_client,
):
    campaign = _campaign(status="running", next_run_at=None)
    run = _run(campaign)
    _messages(run, 1, MessageStatus.QUEUED)
    page = _detail(marketer_client, campaign)
    assert 'id="campaign-actions"' in page and ">Stop</button>" in page

    Message.objects.filter(run=run).update(status=MessageStatus.SENT, sent_at=timezone.now())
    CampaignRun.objects.filter(pk=run.pk).update(
        status=RunStatus.COMPLETED, finished_at=timezone.now()
    )
    Campaign.objects.filter(pk=campaign.pk).update(status="completed")
    finished = _progress(marketer_client, campaign)

    actions = finished[finished.index('id="campaign-actions"') :]
    assert 'id="campaign-actions" hx-swap-oob="true"' in finished
    assert ">Stop</button>" not in finished and ">Clone</button>" in actions


def test_a_viewer_polling_the_panel_gets_no_actions(viewer_client):
    campaign = _campaign(status="running", next_run_at=None)
    _run(campaign, RunStatus.COMPLETED, finished_at=timezone.now())

    html = _progress(viewer_client, campaign)

    assert 'id="campaign-status"' in html
    assert "campaign-actions" not in html and "<form" not in html
