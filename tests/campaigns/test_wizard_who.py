"""Step 2, Who: a saved segment or an ad-hoc one built in place, the campaign's reach (limits,
safety cap), the control group, push devices; the estimate panel for the campaign's channel;
problems() and summary() for the overview."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from apps.audience.models import Platform
from apps.campaigns.models import Campaign, WizardStep
from apps.campaigns.wizard.steps import who
from apps.segments.estimates import segment_estimate
from tests.campaigns.factories import CampaignFactory
from tests.segments.factories import DeviceFactory, ProfileFactory, SegmentFactory
from tests.segments.helpers import CHARGED_LAST_30_DAYS

pytestmark = pytest.mark.django_db

PAST = {
    "version": 1,
    "kind": "past",
    "profile": [{"name": "Country", "operator": "equals", "value": "India"}],
}
LIVE_ACTION = {"version": 1, "kind": "live", "live": {"type": "action", "event": "Searched"}}
LIVE_INACTION = {
    "version": 1,
    "kind": "live",
    "live": {
        "type": "inaction",
        "event": "Added To Cart",
        "not_event": "Charged",
        "within_minutes": 60,
    },
}
# The builder's fields for "did Charged at least once in the last 30 days".
ONE_CONDITION = CHARGED_LAST_30_DAYS


@pytest.fixture(autouse=True)
def _fresh_estimates():
    cache.clear()  # estimates are cached per definition; each test counts afresh
    yield
    cache.clear()


def _url(campaign: Campaign) -> str:
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "who"})


def _estimate_url(campaign: Campaign) -> str:
    return _url(campaign) + "?estimate=1"


def _campaign(**fields) -> Campaign:
    return CampaignFactory(wizard_step=WizardStep.SETUP, **fields)


def _segment_post(segment, **extra) -> dict:
    return {"audience": "segment", "segment": str(segment.pk), "campaign_reach": "all", **extra}


def _adhoc_post(**extra) -> dict:
    return {"audience": "adhoc", "campaign_reach": "all", **ONE_CONDITION, **extra}


def _error_beside(html: str, element_id: str) -> str:
    """The text of the error list with this id (the one right under its field)."""
    match = re.search(rf'<ul class="errorlist" id="{element_id}">(.*?)</ul>', html, re.S)
    assert match, f"no error list #{element_id}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


# --- The page ---------------------------------------------------------------------------------


def test_the_page_offers_saved_segments_of_the_campaigns_kind_only(marketer_client):
    campaign = _campaign(channel="push")
    past = SegmentFactory(name="Indian buyers", definition=PAST, last_estimate={"push": 1234})
    live = SegmentFactory(name="Searchers", kind="live", definition=LIVE_ACTION)

    html = marketer_client.get(_url(campaign)).content.decode()

    assert f'name="segment" value="{past.pk}"' in html and "Indian buyers" in html
    assert "Profile: Country = &quot;India&quot;" in html  # what the segment says
    assert "1,234" in html  # its last counted push reach
    assert f'value="{live.pk}"' not in html and "Searchers" not in html
    # The builder is there, its type fixed to the campaign's kind.
    assert 'name="kind" value="past" checked>' in html
    assert 'name="kind" value="live" disabled>' in html
    assert 'name="cond-0-event"' not in html and "+ Event condition" in html
    assert 'name="limit_per_run"' in html and 'name="safety_cap"' in html
    assert 'name="devices"' in html  # push: last active device or all


def test_a_live_campaign_offers_live_segments_with_its_own_trigger(marketer_client):
    campaign = _campaign(channel="sms", campaign_type="live_inaction")
    inaction = SegmentFactory(name="Carts", kind="live", definition=LIVE_INACTION)
    action = SegmentFactory(name="Searchers", kind="live", definition=LIVE_ACTION)
    SegmentFactory(name="Indian buyers", definition=PAST)

    html = marketer_client.get(_url(campaign)).content.decode()

    assert f'value="{inaction.pk}"' in html
    assert f'value="{action.pk}"' not in html and "Indian buyers" not in html
    assert 'name="kind" value="live" checked>' in html
    assert '<option value="inaction" selected>' in html  # a new trigger starts as the type's
    # No runs and no reach up front: no per-run limit, no safety cap; SMS has no devices.
    assert 'name="limit_per_run"' not in html and 'name="safety_cap"' not in html
    assert 'name="limit_daily"' in html and 'name="devices"' not in html


def test_without_segments_the_page_opens_on_the_builder_with_a_way_to_the_segments(
    marketer_client,
):
    campaign = _campaign(channel="email")
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'id="id_audience_1" required checked' in html
    assert 'id="who-no-segments"' in html and reverse("segments:create") in html


def test_the_page_shows_what_was_saved(marketer_client):
    campaign = _campaign(
        channel="push",
        audience_definition=PAST,
        limit_overall=500,
        limit_daily=100,
        control_group_percent=10,
        push_all_devices=True,
    )
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'id="id_audience_1" required checked' in html
    assert 'name="profile-0-name" value="Country"' in html and 'value="India"' in html
    assert 'id="id_campaign_reach_1" required checked' in html
    assert 'name="limit_overall" value="500"' in html and 'name="limit_daily" value="100"' in html
    assert 'name="control_group_percent" value="10"' in html
    assert 'id="id_devices_1" checked' in html


# --- Saving a saved segment --------------------------------------------------------------------


def test_choosing_a_saved_segment_saves_it_and_goes_to_when(marketer_client):
    campaign = _campaign(channel="push", audience_definition=PAST)  # was ad-hoc before
    segment = SegmentFactory(definition=PAST)

    response = marketer_client.post(_url(campaign), _segment_post(segment, devices="all"))

    campaign.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:step", args=[campaign.pk, "when"])
    assert campaign.segment == segment and campaign.audience_definition is None
    assert campaign.wizard_step == WizardStep.WHO
    assert campaign.push_all_devices is True
    assert campaign.limit_overall is None and campaign.control_group_percent == 0


def test_a_segment_of_the_other_kind_is_refused_beside_the_segment_field(marketer_client):
    campaign = _campaign(channel="push")
    live = SegmentFactory(name="Searchers", kind="live", definition=LIVE_ACTION)

    response = marketer_client.post(_url(campaign), _segment_post(live))

    html = response.content.decode()
    assert response.status_code == 400
    error = _error_beside(html, "id_segment_errors")
    assert "“Searchers”" in error and "needs a past-behaviour audience" in error
    assert Campaign.objects.get(pk=campaign.pk).segment is None


def test_a_live_segment_with_another_trigger_is_refused(marketer_client):
    campaign = _campaign(channel="push", campaign_type="live_inaction")
    action = SegmentFactory(name="Searchers", kind="live", definition=LIVE_ACTION)

    response = marketer_client.post(_url(campaign), _segment_post(action))

    assert response.status_code == 400
    assert "needs a “Inaction within time” trigger" in _error_beside(
        response.content.decode(), "id_segment_errors"
    )
    assert Campaign.objects.get(pk=campaign.pk).segment is None


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ("", "Choose a segment."),
        ("999999", "That segment no longer exists."),
        ("abc", "That segment no longer exists."),
        ("-3", "That segment no longer exists."),
        ("²", "That segment no longer exists."),
        ("99999999999999999999999", "That segment no longer exists."),
    ],
)
def test_a_missing_or_unknown_segment_is_refused(marketer_client, posted, message):
    campaign = _campaign(channel="sms")
    response = marketer_client.post(
        _url(campaign), {"audience": "segment", "segment": posted, "campaign_reach": "all"}
    )
    assert response.status_code == 400
    assert _error_beside(response.content.decode(), "id_segment_errors") == message
    assert Campaign.objects.get(pk=campaign.pk).wizard_step == WizardStep.SETUP


# --- Saving an ad-hoc segment ------------------------------------------------------------------


def test_an_ad_hoc_segment_is_saved_as_a_normalised_definition(marketer_client):
    segment = SegmentFactory(definition=PAST)
    campaign = _campaign(channel="sms", segment=segment)  # was a saved segment before

    response = marketer_client.post(_url(campaign), _adhoc_post())

    campaign.refresh_from_db()
    assert response.status_code == 302 and campaign.segment is None
    definition = campaign.audience_definition
    assert definition["kind"] == "past"
    condition = definition["behaviour"]["conditions"][0]
    assert condition["event"] == "Charged"
    assert condition["period"] == {"type": "last_days", "days": 30}


def test_ad_hoc_errors_are_shown_beside_the_builder_fields_and_nothing_is_saved(marketer_client):
    campaign = _campaign(channel="sms")
    response = marketer_client.post(
        _url(campaign),
        _adhoc_post(**{"cond-0-days": "soon", "profile-0-name": "", "profile-0-value": "x"}),
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert _error_beside(html, "cond-0-days-error") == "Enter a whole number."
    assert _error_beside(html, "profile-0-name-error")  # a value with no property name
    assert 'name="cond-0-event" value="Charged"' in html  # what was typed stays
    assert 'id="who-not-saved"' in html
    campaign.refresh_from_db()
    assert campaign.audience_definition is None and campaign.wizard_step == WizardStep.SETUP


def test_a_live_ad_hoc_definition_on_a_past_campaign_is_refused_beside_the_type(marketer_client):
    campaign = _campaign(channel="push")
    response = marketer_client.post(
        _url(campaign),
        {
            "audience": "adhoc",
            "campaign_reach": "all",
            "kind": "live",  # a hand-made post: the radio is disabled on the page
            "live-type": "action",
            "live-event": "Searched",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        "needs a past-behaviour audience"
        in html.split("Type of segment")[1].split("</fieldset>")[0]
    )
    assert Campaign.objects.get(pk=campaign.pk).audience_definition is None


def test_a_past_ad_hoc_definition_on_a_live_campaign_is_refused(marketer_client):
    campaign = _campaign(channel="push", campaign_type="live_action")
    response = marketer_client.post(_url(campaign), _adhoc_post())
    html = response.content.decode()
    assert response.status_code == 400
    assert "needs a live-behaviour audience" in html
    assert Campaign.objects.get(pk=campaign.pk).audience_definition is None


def test_a_live_trigger_of_another_type_is_refused_beside_the_trigger(marketer_client):
    campaign = _campaign(channel="push", campaign_type="live_date")
    response = marketer_client.post(
        _url(campaign),
        {
            "audience": "adhoc",
            "campaign_reach": "all",
            "kind": "live",
            "live-type": "action",
            "live-event": "Searched",
        },
    )
    assert response.status_code == 400
    assert "needs a “On a date/time” trigger" in _error_beside(
        response.content.decode(), "live-type-error"
    )


def test_a_live_ad_hoc_definition_with_its_own_trigger_is_saved(marketer_client):
    campaign = _campaign(channel="push", campaign_type="live_action")
    response = marketer_client.post(
        _url(campaign),
        {
            "audience": "adhoc",
            "campaign_reach": "all",
            "kind": "live",
            "live-type": "action",
            "live-event": "Searched",
        },
    )
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert campaign.audience_definition["live"] == {
        "type": "action",
        "event": "Searched",
        "properties": [],
    }


# --- Add/remove rows ---------------------------------------------------------------------------


def test_adding_a_row_through_htmx_returns_the_section_with_what_was_typed(htmx_client):
    campaign = _campaign(channel="push")
    response = htmx_client.post(
        _url(campaign), _adhoc_post(limit_overall="77", action="add-cond-0-prop")
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "Campaign reach" not in html  # the section only
    assert 'name="cond-0-prop-0-name"' in html
    assert 'name="cond-0-event" value="Charged"' in html
    assert f'hx-post="{_url(campaign)}"' in html  # its buttons post back to the step
    assert response["HX-Trigger"] == "segment-changed"  # the estimate follows
    assert Campaign.objects.get(pk=campaign.pk).audience_definition is None


def test_without_javascript_an_add_button_returns_the_page_keeping_everything_typed(
    marketer_client,
):
    campaign = _campaign(channel="push")
    response = marketer_client.post(
        _url(campaign),
        _adhoc_post(
            campaign_reach="limited",
            limit_overall="0",  # not judged yet: adding a row is not saving
            limit_daily="50",
            control_group_percent="15",
            action="add-profile",
        ),
    )

    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'name="profile-0-name"' in html and 'name="cond-0-event" value="Charged"' in html
    assert 'name="limit_overall" value="0"' in html and 'name="limit_daily" value="50"' in html
    assert 'name="control_group_percent" value="15"' in html
    assert 'id="id_campaign_reach_1" required checked' in html
    assert "errorlist" not in html.split('id="who-form"')[1].split("</form>")[0]
    campaign.refresh_from_db()
    assert campaign.limit_daily is None and campaign.wizard_step == WizardStep.SETUP


def test_removing_a_row_renumbers_the_rest(htmx_client):
    campaign = _campaign(channel="push")
    fields = _adhoc_post(
        **{
            "cond-1-type": "event",
            "cond-1-did": "did_not",
            "cond-1-event": "App Uninstalled",
            "cond-1-period": "ever",
            "action": "remove-cond-0",
        }
    )
    html = htmx_client.post(_url(campaign), fields).content.decode()
    assert 'name="cond-0-event" value="App Uninstalled"' in html and 'value="Charged"' not in html


# --- Limits, control group, devices ------------------------------------------------------------


def test_limits_are_saved_when_the_reach_is_limited(marketer_client):
    campaign = _campaign(channel="sms")
    segment = SegmentFactory(definition=PAST)
    response = marketer_client.post(
        _url(campaign),
        _segment_post(
            segment,
            campaign_reach="limited",
            limit_overall="1000",
            limit_per_run="1000",
            limit_daily="200",
            safety_cap="5000",
            control_group_percent="90",
            devices="all",  # not push: ignored
        ),
    )
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert (campaign.limit_overall, campaign.limit_per_run, campaign.limit_daily) == (
        1000,
        1000,
        200,
    )
    assert campaign.safety_cap == 5000 and campaign.control_group_percent == 90
    assert campaign.push_all_devices is False


def test_everyone_who_qualifies_clears_the_limits(marketer_client):
    campaign = _campaign(channel="sms", limit_overall=10, safety_cap=20)
    segment = SegmentFactory(definition=PAST)
    marketer_client.post(_url(campaign), _segment_post(segment, limit_overall="99"))
    campaign.refresh_from_db()
    assert campaign.limit_overall is None and campaign.safety_cap is None


@pytest.mark.parametrize(
    ("fields", "error_id", "message"),
    [
        ({"limit_per_run": "600"}, "id_limit_per_run_errors", "more than the overall limit (500)"),
        ({"limit_daily": "501"}, "id_limit_daily_errors", "more than the overall limit (500)"),
        ({"limit_overall": "0"}, "id_limit_overall_errors", "Enter at least 1"),
        ({"limit_daily": "-5"}, "id_limit_daily_errors", "Enter at least 1"),
        ({"safety_cap": "many"}, "id_safety_cap_errors", "Enter a whole number of people."),
        ({"limit_per_run": "2.5"}, "id_limit_per_run_errors", "Enter a whole number of people."),
        ({"safety_cap": "99999999999"}, "id_safety_cap_errors", "At most 2,147,483,647."),
        ({"control_group_percent": "91"}, "id_control_group_percent_errors", "At most 90%"),
        ({"control_group_percent": "-1"}, "id_control_group_percent_errors", "Enter 0 or more."),
        ({"control_group_percent": "ten"}, "id_control_group_percent_errors", "whole percentage"),
    ],
)
def test_bad_limits_are_refused_beside_their_field(marketer_client, fields, error_id, message):
    campaign = _campaign(channel="push")
    segment = SegmentFactory(definition=PAST)
    post = _segment_post(segment, campaign_reach="limited", limit_overall="500")
    response = marketer_client.post(_url(campaign), {**post, **fields})
    assert response.status_code == 400
    assert message in _error_beside(response.content.decode(), error_id)
    campaign.refresh_from_db()
    assert campaign.segment is None and campaign.limit_overall is None


def test_limited_reach_needs_at_least_one_limit(marketer_client):
    campaign = _campaign(channel="push")
    segment = SegmentFactory(definition=PAST)
    response = marketer_client.post(
        _url(campaign), _segment_post(segment, campaign_reach="limited")
    )
    assert response.status_code == 400
    assert _error_beside(response.content.decode(), "id_campaign_reach_errors") == (
        "Enter at least one limit, or choose everyone."
    )


def test_a_live_campaign_keeps_no_per_run_limit_or_safety_cap(marketer_client):
    campaign = _campaign(channel="push", campaign_type="live_action")
    segment = SegmentFactory(kind="live", definition=LIVE_ACTION)
    marketer_client.post(
        _url(campaign),
        _segment_post(
            segment,
            campaign_reach="limited",
            limit_overall="100",
            limit_per_run="5000",  # not offered to live campaigns: ignored, not judged
            safety_cap="10",
            limit_daily="20",
        ),
    )
    campaign.refresh_from_db()
    assert campaign.segment == segment
    assert (campaign.limit_overall, campaign.limit_daily) == (100, 20)
    assert campaign.limit_per_run is None and campaign.safety_cap is None


def test_coming_from_the_overview_returns_there(marketer_client):
    campaign = CampaignFactory(channel="sms", wizard_step=WizardStep.SCHEDULE)
    segment = SegmentFactory(definition=PAST)
    page = marketer_client.get(_url(campaign) + "?then=overview").content.decode()
    assert 'name="then" value="overview"' in page and "Save and back to overview" in page
    response = marketer_client.post(_url(campaign), _segment_post(segment, then="overview"))
    assert response["Location"] == reverse("campaigns:step", args=[campaign.pk, "schedule"])
    assert Campaign.objects.get(pk=campaign.pk).wizard_step == WizardStep.SCHEDULE


def test_a_garbage_post_is_answered_with_errors_not_a_crash(marketer_client):
    campaign = _campaign(channel="push")
    response = marketer_client.post(
        _url(campaign),
        {
            "audience": "everyone",
            "campaign_reach": "some",
            "devices": "toaster",
            "cond-x-type": "?",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Select a valid choice" in _error_beside(html, "id_audience_errors")
    assert "Select a valid choice" in _error_beside(html, "id_devices_errors")
    assert Campaign.objects.get(pk=campaign.pk).wizard_step == WizardStep.SETUP


def test_an_invalid_htmx_post_is_answered_200_so_htmx_swaps_it(htmx_client):
    campaign = _campaign(channel="push")
    response = htmx_client.post(_url(campaign), {"audience": "segment", "campaign_reach": "all"})
    assert response.status_code == 200 and "Choose a segment." in response.content.decode()


def test_viewers_cannot_change_the_audience(viewer_client):
    campaign = _campaign(channel="push")
    segment = SegmentFactory(definition=PAST)
    assert viewer_client.post(_url(campaign), _segment_post(segment)).status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).segment is None


# --- The estimate panel ------------------------------------------------------------------------


@pytest.fixture
def audience(db):
    """Three people in India: Android + iOS, web only, and one with a phone and no device."""
    both = ProfileFactory(country="India", phone="+919800000001")
    DeviceFactory(profile=both, platform=Platform.ANDROID)
    DeviceFactory(profile=both, platform=Platform.IOS)
    web = ProfileFactory(country="India", email="")
    DeviceFactory(profile=web, platform=Platform.WEB)
    ProfileFactory(country="India", phone="+919800000002")
    ProfileFactory(country="France")
    return both


def _cell(html: str, label: str) -> str:
    match = re.search(rf"<th scope=\"row\">{re.escape(label)}</th><td>([^<]*)</td>", html)
    assert match, f"no row {label}"
    return match.group(1)


def test_the_push_estimate_splits_reach_by_platform(htmx_client, audience):
    campaign = _campaign(channel="push")
    segment = SegmentFactory(definition=PAST)
    response = htmx_client.post(_estimate_url(campaign), _segment_post(segment))

    html = response.content.decode()
    assert "<html" not in html and 'data-total="3"' in html
    assert _cell(html, "Reachable by push (any platform)") == "2"
    assert (_cell(html, "Android"), _cell(html, "iOS"), _cell(html, "Web")) == ("1", "1", "1")
    assert "SMS" not in html and "email" not in html.lower().split("reachable counts")[0]


def test_the_sms_estimate_of_an_ad_hoc_definition_follows_the_builder(htmx_client, audience):
    campaign = _campaign(channel="sms")
    fields = {
        "audience": "adhoc",
        "campaign_reach": "all",
        "kind": "past",
        "profile-0-name": "Country",
        "profile-0-operator": "equals",
        "profile-0-value": "India",
    }
    html = htmx_client.post(_estimate_url(campaign), fields).content.decode()
    assert 'data-total="3"' in html and _cell(html, "Reachable by SMS") == "2"
    assert "Android" not in html


def test_the_estimate_applies_the_control_group_and_limits(htmx_client, audience):
    campaign = _campaign(channel="email")  # India with an email: 2
    segment = SegmentFactory(definition=PAST)
    html = htmx_client.post(
        _estimate_url(campaign), _segment_post(segment, control_group_percent="50")
    ).content.decode()
    assert "50% control group: about 1 held out." in html and 'data-receive="1"' in html

    limited = _segment_post(segment, campaign_reach="limited", limit_overall="1", safety_cap="1")
    html = htmx_client.post(_estimate_url(campaign), limited).content.decode()
    assert 'data-receive="1"' in html and "(a limit of 1)" in html
    assert "above the safety cap of 1: at today's count the campaign would not run" in html


def test_the_estimate_lists_the_builders_errors(htmx_client):
    campaign = _campaign(channel="push")
    html = htmx_client.post(
        _estimate_url(campaign), _adhoc_post(**{"cond-0-days": "soon"})
    ).content.decode()
    assert 'id="who-estimate-errors"' in html
    assert (
        'data-path="behaviour.conditions[0].period.days"' in html
        and "Enter a whole number." in html
    )


def test_a_live_audience_has_no_estimate_and_says_so(htmx_client, django_assert_num_queries):
    campaign = _campaign(channel="push", campaign_type="live_action")
    segment = SegmentFactory(kind="live", definition=LIVE_ACTION)
    html = htmx_client.post(_estimate_url(campaign), _segment_post(segment)).content.decode()
    assert "there is no reach to estimate up front" in html and "data-total" not in html


def test_the_estimate_asks_for_a_segment_until_one_is_chosen(htmx_client):
    campaign = _campaign(channel="push")
    html = htmx_client.post(_estimate_url(campaign), {"audience": "segment"}).content.decode()
    assert "Choose a segment to see its reach." in html
    html = htmx_client.post(
        _estimate_url(campaign), {"audience": "segment", "segment": "²"}
    ).content.decode()
    assert "Choose a segment to see its reach." in html
    html = htmx_client.post(_estimate_url(campaign), {}).content.decode()
    assert "Choose a saved segment or build one to see the reach." in html


def test_the_estimate_ignores_limits_that_are_not_numbers_yet(htmx_client, audience):
    campaign = _campaign(channel="push")
    segment = SegmentFactory(definition=PAST)
    fields = _segment_post(
        segment,
        campaign_reach="limited",
        limit_overall="²",
        limit_daily="-4",
        safety_cap="lots",
        control_group_percent="95",  # shown as the most it can be
    )
    html = htmx_client.post(_estimate_url(campaign), fields).content.decode()
    assert "90% control group: about 1 held out." in html
    assert 'data-receive="1"' in html and "safety cap" not in html


def test_the_estimate_of_a_segment_of_the_wrong_kind_says_why(htmx_client):
    campaign = _campaign(channel="push")
    segment = SegmentFactory(kind="live", definition=LIVE_ACTION)
    html = htmx_client.post(_estimate_url(campaign), _segment_post(segment)).content.decode()
    assert "needs a past-behaviour audience" in html and "data-total" not in html


def _reach_cell(html: str, segment) -> str:
    """What the saved-segment table shows in this segment's reach column."""
    match = re.search(rf'<span id="who-segment-reach-{segment.pk}">(.*?)</span></td>', html, re.S)
    assert match, f"no reach cell for segment {segment.pk}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_counting_a_saved_segment_fills_its_reach_in_the_table_beside_the_panel(
    marketer_client, audience
):
    campaign = _campaign(channel="sms")
    segment = SegmentFactory(name="Indians", definition=PAST)
    assert _reach_cell(marketer_client.get(_url(campaign)).content.decode(), segment) == (
        "not counted yet"
    )

    panel = marketer_client.post(
        _estimate_url(campaign), _segment_post(segment), HTTP_HX_REQUEST="true"
    ).content.decode()

    # The cell already on the page follows the panel (htmx swaps it out of band) …
    assert f'<span id="who-segment-reach-{segment.pk}" hx-swap-oob="true">2</span>' in panel
    # … and the count stays with the segment for the next visit.
    html = marketer_client.get(_url(campaign)).content.decode()
    assert _reach_cell(html, segment) == "2"
    assert "not counted yet" not in html


def test_a_count_cached_before_the_segment_was_saved_is_kept_when_the_panel_shows_it(
    marketer_client, audience
):
    campaign = _campaign(channel="sms")
    segment_estimate(definition=PAST)  # counted in the builder before the segment existed
    segment = SegmentFactory(name="Indians", definition=PAST)

    marketer_client.post(_estimate_url(campaign), _segment_post(segment), HTTP_HX_REQUEST="true")

    segment.refresh_from_db()
    assert segment.last_estimate["sms"] == 2
    assert _reach_cell(marketer_client.get(_url(campaign)).content.decode(), segment) == "2"


def test_the_page_loads_the_estimate_through_htmx_with_a_spinner(marketer_client):
    campaign = _campaign(channel="push")
    html = marketer_client.get(_url(campaign)).content.decode()
    assert f'hx-post="{_estimate_url(campaign)}"' in html
    assert 'hx-trigger="load, input changed delay:600ms, change, segment-changed from:body"' in html
    assert 'hx-indicator="#who-estimate-spinner"' in html and 'id="who-estimate-spinner"' in html


# --- problems() and summary() ------------------------------------------------------------------


def test_problems_name_a_missing_audience():
    campaign = _campaign(channel="push")
    assert who.problems(campaign) == [
        "No audience is chosen: pick a saved segment or build one (Who)."
    ]


def test_problems_name_an_audience_of_the_wrong_kind_after_the_type_changed():
    campaign = _campaign(channel="push", campaign_type="live_action", audience_definition=PAST)
    [problem] = who.problems(campaign)
    assert problem.startswith("The ad-hoc audience does not fit the campaign type")
    assert "needs a live-behaviour audience" in problem

    segment = SegmentFactory(name="Carts", kind="live", definition=LIVE_INACTION)
    campaign = _campaign(channel="sms", campaign_type="live_action", segment=segment)
    [problem] = who.problems(campaign)
    assert "The segment “Carts”" in problem and "“Single action” trigger" in problem


def test_problems_name_an_invalid_stored_definition():
    broken = {"version": 1, "kind": "past", "profile": [{"name": "", "operator": "nope"}]}
    campaign = _campaign(channel="push", audience_definition=broken)
    [problem] = who.problems(campaign)
    assert problem.startswith(
        "The ad-hoc audience is not a valid definition (Profile property 1 → name"
    )
    assert problem.endswith("fix it in Who.")


def test_problems_name_limits_stored_against_the_rules():
    campaign = _campaign(
        channel="push",
        audience_definition=PAST,
        limit_overall=100,
        limit_per_run=150,
        limit_daily=100,  # equal is fine
        control_group_percent=100,
    )
    assert who.problems(campaign) == [
        "The per-run limit (150) is above the overall limit (100) (Who).",
        "The control group is 100%: at most 90% may be held out (Who).",
    ]


def test_a_fitting_audience_has_no_problems():
    assert who.problems(_campaign(channel="push", audience_definition=PAST)) == []
    segment = SegmentFactory(kind="live", definition=LIVE_ACTION)
    assert (
        who.problems(_campaign(channel="push", campaign_type="live_action", segment=segment)) == []
    )


def test_the_page_warns_when_the_stored_segment_no_longer_fits(marketer_client):
    segment = SegmentFactory(name="Indian buyers", definition=PAST)
    campaign = _campaign(channel="push", campaign_type="live_action", segment=segment)
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'id="who-stored-segment-error"' in html and "“Indian buyers”" in html


def test_summary_of_a_saved_segment_links_it_with_limits_control_group_and_devices():
    segment = SegmentFactory(name="Big <spenders>", definition=PAST)
    campaign = _campaign(
        channel="push",
        segment=segment,
        limit_overall=5000,
        limit_per_run=1000,
        safety_cap=20000,
        control_group_percent=10,
        push_all_devices=True,
    )
    rows = dict(who.summary(campaign))
    url = reverse("segments:detail", args=[segment.pk])
    assert rows["Audience"] == f'Segment <a href="{url}">Big &lt;spenders&gt;</a>'
    assert (
        rows["Reach"]
        == "At most 5,000 overall, 1,000 per run; not sent if more than 20,000 qualify"
    )
    assert rows["Control group"] == "10% held out"
    assert rows["Devices"] == "All their devices"


def test_summary_of_an_ad_hoc_segment_lists_its_lines():
    campaign = _campaign(channel="sms", audience_definition=PAST)
    rows = dict(who.summary(campaign))
    assert rows["Audience"] == 'Ad-hoc segment:\nProfile: Country = "India"'
    assert rows["Reach"] == "Everyone who qualifies" and rows["Control group"] == "None"
    assert "Devices" not in rows  # push only
    assert dict(who.summary(_campaign(channel="sms")))["Audience"] == "Not chosen"
