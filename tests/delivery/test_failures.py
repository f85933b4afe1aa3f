"""Why a campaign's messages failed or were skipped: the campaign page's table of the current
run's failed and skipped messages, grouped by reason, provider and the provider's own words,
from one grouped query."""

import itertools
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.delivery.failures import campaign_failure_groups
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus
from apps.providers.models import Provider
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

# Message.profile has no database constraint and the failure table never reads profiles:
# rows name made-up profile ids, so a test can write thousands of them in one INSERT.
_profile_ids = itertools.count(1_000_000)


def _campaign(**fields):
    defaults = {"channel": "push", "status": "running", "name": "Spring sale"}
    return CampaignFactory(**{**defaults, **fields})


def _run(campaign, status=RunStatus.SENDING, *, days_ago: int = 0, **fields) -> CampaignRun:
    return CampaignRun.objects.create(
        campaign=campaign,
        scheduled_for=timezone.now() - timedelta(days=days_ago, minutes=5),
        status=status,
        **fields,
    )


def _messages(run, n, status, *, reason="", provider=None, error="", **fields) -> None:
    Message.objects.bulk_create(
        Message(
            run=run,
            profile_id=next(_profile_ids),
            variant="A",
            status=status,
            reason=reason,
            provider=provider,
            error=error,
            **fields,
        )
        for _ in range(n)
    )


def _failed(run, n, reason, provider, error) -> None:
    _messages(run, n, MessageStatus.FAILED, reason=reason, provider=provider, error=error)


def _skipped(run, n, reason, error="") -> None:
    _messages(run, n, MessageStatus.SKIPPED, reason=reason, error=error)


def _fcm() -> Provider:
    return Provider.objects.create(channel="push", kind="fcm", nickname="Android app")


def _apns() -> Provider:
    return Provider.objects.create(channel="push", kind="apns", nickname="iPhone app")


def _a_push_run(campaign) -> CampaignRun:
    """A push run through two providers: some sent, refused, unregistered, skipped (among
    them for want of an iOS provider) and in the control group."""
    fcm, apns = _fcm(), _apns()
    run = _run(campaign)
    _messages(run, 6, MessageStatus.SENT, provider=fcm, sent_at=timezone.now())
    _failed(run, 5, "unregistered", fcm, "UNREGISTERED: Requested entity was not found.")
    _skipped(run, 4, "no_push_route", "No APNs provider for iOS devices.")
    _failed(run, 3, "unregistered", apns, "Unregistered")
    _skipped(run, 2, "capped")
    _failed(run, 1, "permanent", apns, "BadDeviceToken")
    _messages(run, 7, MessageStatus.CONTROL, reason="control")
    _messages(run, 2, MessageStatus.QUEUED)
    return run


def _rows(groups) -> list[tuple]:
    return [
        (g.status, g.reason_label, g.provider_nickname, g.provider_kind, g.error, g.messages)
        for g in groups.groups
    ]


def _detail(client, campaign) -> str:
    response = client.get(reverse("campaigns:detail", args=[campaign.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _failure_table(client, campaign, run) -> str:
    """The failure table's own htmx refresh, aimed at #campaign-failures."""
    response = client.get(
        reverse("delivery:progress", args=[campaign.pk]),
        {"run": run.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="campaign-failures",
    )
    assert response.status_code == 200
    return response.content.decode()


class _Table(HTMLParser):
    """The text of each body row's cells in the #campaign-failures article."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._inside = self._in_body = self._in_cell = False
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if dict(attrs).get("id") == "campaign-failures":
            self._inside = True
        if not self._inside:
            return
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._in_cell = True
            self.rows[-1].append("")
        elif tag == "br" and self._in_cell:
            self.rows[-1][-1] += " "

    def handle_endtag(self, tag):
        if tag == "article":
            self._inside = False
        elif tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.rows[-1][-1] += data


def _table_rows(html: str) -> list[list[str]]:
    table = _Table()
    table.feed(html)
    return [[" ".join(cell.split()) for cell in row] for row in table.rows]


# --- Grouping -------------------------------------------------------------------------------


def test_failed_and_skipped_messages_are_grouped_by_reason_provider_and_error():
    campaign = _campaign()
    run = _a_push_run(campaign)

    groups = campaign_failure_groups(campaign, run=run)

    assert _rows(groups) == [
        (
            "failed",
            "Device unregistered (deactivated)",
            "Android app",
            "Firebase Cloud Messaging (FCM)",
            "UNREGISTERED: Requested entity was not found.",
            5,
        ),
        (
            "skipped",
            "No provider for the device's platform",
            "",
            "",
            "No APNs provider for iOS devices.",
            4,
        ),
        (
            "failed",
            "Device unregistered (deactivated)",
            "iPhone app",
            "Apple Push (APNs)",
            "Unregistered",
            3,
        ),
        ("skipped", "Frequency cap", "", "", "", 2),
        (
            "failed",
            "Refused by the provider",
            "iPhone app",
            "Apple Push (APNs)",
            "BadDeviceToken",
            1,
        ),
    ]
    # Control rows, sent and queued ones are not failures.
    assert (groups.messages, groups.other_messages, groups.other_groups) == (15, 0, 0)


def test_the_same_words_from_two_providers_are_two_groups():
    campaign = _campaign(channel="sms")
    twilio = Provider.objects.create(channel="sms", kind="twilio", nickname="Twilio US")
    vonage = Provider.objects.create(channel="sms", kind="vonage", nickname="Vonage EU")
    run = _run(campaign)
    _failed(run, 2, "retries_exhausted", twilio, "HTTP 503: Service Unavailable")
    _failed(run, 1, "retries_exhausted", vonage, "HTTP 503: Service Unavailable")

    rows = _rows(campaign_failure_groups(campaign, run=run))

    assert [(nickname, kind, n) for _, _, nickname, kind, _, n in rows] == [
        ("Twilio US", "Twilio", 2),
        ("Vonage EU", "Vonage (Nexmo)", 1),
    ]


def test_a_failure_without_a_provider_and_one_whose_provider_was_deleted_are_told_apart():
    campaign = _campaign(channel="sms")
    run = _run(campaign)
    gone = Provider.objects.create(channel="sms", kind="twilio", nickname="Old account")
    _failed(run, 2, "permanent", gone, "21610: Attempt to send to unsubscribed recipient")
    gone.delete()
    _failed(run, 1, "no_provider", None, "The campaign has no active provider.")

    deleted, none = campaign_failure_groups(campaign, run=run).groups

    assert (deleted.provider_nickname, deleted.provider_deleted, deleted.messages) == ("", True, 2)
    assert (none.reason_label, none.provider_deleted) == ("No provider to send through", False)


def test_without_a_run_every_run_of_the_campaign_counts_and_no_other_campaign():
    campaign, other = _campaign(), _campaign()
    apns = _apns()
    _failed(_run(campaign, RunStatus.COMPLETED, days_ago=1), 2, "permanent", apns, "BadDeviceToken")
    latest = _run(campaign)
    _failed(latest, 1, "permanent", apns, "BadDeviceToken")
    _failed(_run(other), 9, "permanent", apns, "BadDeviceToken")

    assert [g.messages for g in campaign_failure_groups(campaign).groups] == [3]
    assert [g.messages for g in campaign_failure_groups(campaign, run=latest).groups] == [1]


def test_a_run_with_no_failures_has_no_groups():
    campaign = _campaign()
    run = _run(campaign, RunStatus.COMPLETED)
    _messages(run, 3, MessageStatus.SENT, sent_at=timezone.now())
    _messages(run, 2, MessageStatus.CONTROL, reason="control")

    groups = campaign_failure_groups(campaign, run=run)

    assert not groups and (groups.messages, groups.other_messages) == (0, 0)


# --- What the provider said: per-recipient details masked ---------------------------------


@pytest.mark.parametrize(
    ("raw", "grouped"),
    [
        (
            "21211: The 'To' number +15551234567 is not a valid phone number.",
            "21211: The 'To' number … is not a valid phone number.",
        ),
        ("Invalid 'To' number +44 7700 900123", "Invalid 'To' number …"),
        ("invalid number 919812345678", "invalid number …"),
        (
            "550 5.1.1 <jane.doe@mail.example.com>: Recipient address rejected",
            "550 5.1.1 <…>: Recipient address rejected",
        ),
        (
            "Request 1b4e28ba-2fa1-11d2-883f-0016d3cca427 failed: throttled",
            "Request … failed: throttled",
        ),
        (
            "token fKq3x9:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx is not valid",
            "token … is not valid",
        ),
        (
            "  UNREGISTERED: Requested entity was not found. ",
            "UNREGISTERED: Requested entity was not found.",
        ),
        ("HTTP 400: expected 3 entries", "HTTP 400: expected 3 entries"),  # short numbers stay
    ],
)
def test_recipient_details_are_masked_in_the_grouped_error(raw, grouped):
    campaign = _campaign()
    run = _run(campaign)
    _failed(run, 1, "permanent", None, raw)

    (group,) = campaign_failure_groups(campaign, run=run).groups

    assert (group.error, group.example) == (grouped, raw)


def test_one_refusal_to_many_recipients_is_one_group_with_one_example_as_written():
    campaign = _campaign(channel="sms")
    twilio = Provider.objects.create(channel="sms", kind="twilio", nickname="Twilio US")
    run = _run(campaign)
    for number in ("+15550000001", "+15550000002", "+4930123456789"):
        _failed(run, 1, "permanent", twilio, f"21211: The 'To' number {number} is not valid.")

    (group,) = campaign_failure_groups(campaign, run=run).groups

    assert (group.error, group.messages) == ("21211: The 'To' number … is not valid.", 3)
    assert group.example == "21211: The 'To' number +15550000001 is not valid."
    assert group.shows_example


# --- The cap --------------------------------------------------------------------------------


def test_the_largest_groups_are_kept_and_the_rest_is_counted():
    campaign = _campaign()
    run = _run(campaign)
    for n, word in zip(
        (5, 4, 3, 2, 1), ("Alpha", "Bravo", "Charlie", "Delta", "Echo"), strict=True
    ):
        _failed(run, n, "permanent", None, f"{word} refused")

    groups = campaign_failure_groups(campaign, run=run, limit=3)

    assert [(g.error, g.messages) for g in groups.groups] == [
        ("Alpha refused", 5),
        ("Bravo refused", 4),
        ("Charlie refused", 3),
    ]
    assert (groups.messages, groups.other_messages, groups.other_groups) == (15, 3, 2)


def test_the_groups_cost_one_query_however_many_runs_and_messages(
    django_assert_max_num_queries,
):
    campaign = _campaign()
    _a_push_run(campaign)
    for day in range(1, 4):
        run = _run(campaign, RunStatus.COMPLETED, days_ago=day)
        for i in range(30):
            _failed(run, 2, "permanent", None, f"Refusal number {i}")
    with django_assert_max_num_queries(1):
        everything = campaign_failure_groups(campaign)
    newest = CampaignRun.objects.first()
    with django_assert_max_num_queries(1):
        latest = campaign_failure_groups(campaign, run=newest)
    # 30 refusals of 6 messages each (2 in each of 3 runs), then the push run's 5 groups.
    assert (len(everything.groups), everything.other_groups, everything.other_messages) == (
        20,
        10 + 5,
        10 * 6 + 15,
    )
    assert latest.messages == 15


# --- The campaign page ----------------------------------------------------------------------


def test_the_campaign_page_shows_why_messages_failed_in_the_providers_words(marketer_client):
    campaign = _campaign()
    _a_push_run(campaign)

    html = _detail(marketer_client, campaign)

    assert 'id="campaign-failures"' in html
    assert _table_rows(html) == [
        [
            "Failed Device unregistered (deactivated)",
            "Android app Firebase Cloud Messaging (FCM)",
            "UNREGISTERED: Requested entity was not found.",
            "5",
        ],
        [
            "Skipped No provider for the device's platform",
            "—",
            "No APNs provider for iOS devices.",
            "4",
        ],
        [
            "Failed Device unregistered (deactivated)",
            "iPhone app Apple Push (APNs)",
            "Unregistered",
            "3",
        ],
        ["Skipped Frequency cap", "—", "—", "2"],
        ["Failed Refused by the provider", "iPhone app Apple Push (APNs)", "BadDeviceToken", "1"],
    ]
    assert "15 messages of the run for" in html


def test_the_providers_words_are_shown_as_text_never_as_html(marketer_client):
    campaign = _campaign(channel="email")
    smtp = Provider.objects.create(channel="email", kind="smtp", nickname="Relay <b>")
    run = _run(campaign)
    _failed(run, 1, "permanent", smtp, "550 <script>alert('x')</script> & rejected")

    html = _detail(marketer_client, campaign)

    assert "<script>alert" not in html and "<b>" not in html
    assert "550 &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; rejected" in html
    assert "Relay &lt;b&gt;" in html


def test_counts_have_thousands_separators_and_the_rest_is_summed_up(marketer_client):
    campaign = _campaign()
    run = _run(campaign)
    _failed(run, 1234, "permanent", None, "BadDeviceToken")
    for i in range(21):
        _failed(run, 1, "permanent", None, f"Refusal {chr(ord('A') + i)}")

    html = _detail(marketer_client, campaign)

    assert '<td class="nowrap" data-count="1234">1,234</td>' in html
    assert len(_table_rows(html)) == 20
    assert "1,255 messages of the run for" in html
    assert "And 2 more messages in 2 other groups." in html


def test_a_long_error_is_cut_short_with_the_whole_text_a_click_or_a_hover_away(marketer_client):
    campaign = _campaign(channel="sms")
    run = _run(campaign)
    long_error = "HTTP 400: " + "the gateway said no; " * 20
    _failed(run, 1, "permanent", None, long_error)

    html = _detail(marketer_client, campaign)

    shown = long_error.strip()[:159] + "…"
    assert f'<span title="{long_error.strip()}">{shown}</span>' in html
    assert "<summary><small>As the provider wrote it</small></summary>" in html
    assert f"<small>{long_error}</small>" in html


def test_a_run_where_nothing_failed_says_so_without_asking_for_groups(marketer_client):
    campaign = _campaign(status="completed")
    run = _run(campaign, RunStatus.COMPLETED, finished_at=timezone.now())
    _messages(run, 3, MessageStatus.SENT, sent_at=timezone.now())
    _messages(run, 2, MessageStatus.CONTROL, reason="control")
    _detail(marketer_client, campaign)  # first use creates the account settings row
    with CaptureQueriesContext(connection) as queries:
        html = _detail(marketer_client, campaign)

    assert "Nothing failed or was skipped." in html
    assert "delivery-failures-table" not in html
    assert not any("REGEXP_REPLACE" in q["sql"] for q in queries.captured_queries)


def test_a_refused_run_has_no_failure_table(marketer_client):
    campaign = _campaign(status="draft")
    _run(campaign, RunStatus.REFUSED, refused_reason="The campaign has no audience.")

    html = _detail(marketer_client, campaign)

    assert "<strong>Refused:</strong>" in html and 'id="campaign-failures"' not in html


def test_the_failure_table_costs_the_campaign_page_one_query_however_many_groups(
    marketer_client, django_assert_max_num_queries
):
    campaign = _campaign()
    run = _a_push_run(campaign)
    _detail(marketer_client, campaign)
    with CaptureQueriesContext(connection) as few:
        _detail(marketer_client, campaign)
    for i in range(40):
        _failed(run, 3, "permanent", None, f"Refusal {i}")
    with django_assert_max_num_queries(len(few)):
        html = _detail(marketer_client, campaign)
    assert "And " in html
    assert sum("REGEXP_REPLACE" in q["sql"] for q in few.captured_queries) == 1


# --- Refreshing while the run is active ------------------------------------------------------


def test_an_active_runs_table_refreshes_itself_as_its_own_htmx_target(
    viewer_client, django_assert_max_num_queries
):
    campaign = _campaign()
    run = _a_push_run(campaign)
    url = reverse("delivery:progress", args=[campaign.pk])

    page = _detail(viewer_client, campaign)

    assert f'hx-get="{url}?run={run.pk}" hx-trigger="every 10s" hx-swap="outerHTML"' in page
    with django_assert_max_num_queries(5):  # session, user, campaign, run, groups
        table = _failure_table(viewer_client, campaign, run)
    # Its own partial: the table alone, not the progress panel around it.
    assert table.lstrip().startswith('<article id="campaign-failures"')
    assert 'id="campaign-delivery"' not in table
    assert _table_rows(table)[0][2:] == ["UNREGISTERED: Requested entity was not found.", "5"]


def test_the_tables_refresh_stops_once_the_run_is_finished(viewer_client):
    campaign = _campaign()
    run = _a_push_run(campaign)
    _failed(run, 1, "permanent", None, "Late refusal")
    CampaignRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)

    table = _failure_table(viewer_client, campaign, run)

    assert 'data-polling="off"' in table and "hx-trigger" not in table
    assert "Late refusal" in table


def test_the_progress_answer_says_it_varies_with_the_htmx_target(viewer_client):
    campaign = _campaign()
    run = _a_push_run(campaign)
    response = viewer_client.get(
        reverse("delivery:progress", args=[campaign.pk]),
        {"run": run.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="campaign-failures",
    )
    assert "HX-Target" in response["Vary"] and "HX-Request" in response["Vary"]


def test_the_table_of_a_run_of_another_campaign_or_no_run_is_a_404(viewer_client):
    campaign, other = _campaign(), _campaign()
    elsewhere = _run(other)
    url = reverse("delivery:progress", args=[campaign.pk])
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "campaign-failures"}
    assert viewer_client.get(url, {"run": elsewhere.pk}, **headers).status_code == 404
    assert viewer_client.get(url, {"run": "x"}, **headers).status_code == 404
    assert viewer_client.get(url, **headers).status_code == 404


# --- Access ---------------------------------------------------------------------------------


def test_a_viewer_reads_the_failure_table(viewer_client):
    campaign = _campaign()
    _a_push_run(campaign)

    html = _detail(viewer_client, campaign)

    assert _table_rows(html)[1][:2] == ["Skipped No provider for the device's platform", "—"]
    assert "No APNs provider for iOS devices." in html
    assert "<form" not in html.split('id="campaign-failures"', 1)[1].split("</article>", 1)[0]


def test_an_anonymous_visitor_cannot_read_the_failure_table(client):
    campaign = _campaign()
    run = _a_push_run(campaign)
    response = client.get(
        reverse("delivery:progress", args=[campaign.pk]),
        {"run": run.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="campaign-failures",
    )
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
