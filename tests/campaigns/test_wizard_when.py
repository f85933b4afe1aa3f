"""Step 3 of the wizard, When: the page per campaign type, the htmx swaps of the schedule
part, what a POST saves, errors beside their fields, and the overview's summary/problems."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.accounts.models import GLOBAL_LIMITS_OVERRIDE_EFFECT, GLOBAL_LIMITS_OVERRIDE_LABEL
from apps.accounts.services import account_settings_get
from apps.campaigns.models import Campaign, WizardStep
from apps.campaigns.when import describe_delivery
from apps.campaigns.wizard.steps import when as when_step
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def paris(db):
    account = account_settings_get()
    account.timezone = "Europe/Paris"
    account.save()


def _url(campaign):
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "when"})


def _campaign(**fields):
    fields.setdefault("wizard_step", WizardStep.WHO)
    return CampaignFactory(**fields)


def _next_year():
    return timezone.now().year + 1


def _post(**overrides):
    """A complete form as the browser posts it (checked boxes only)."""
    data = {
        "type": "at",
        "at": f"{_next_year()}-03-02T10:00",
        "respect_throttle": "1",
        "dnd_timezone": "user",
        "dnd_action": "discard",
        **{f"dnd_{day}_start": "21:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        **{f"dnd_{day}_end": "09:00" for day in ("mon", "tue", "wed", "thu", "fri")},
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _htmx_get(client, campaign, params):
    return client.get(
        _url(campaign), params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="when-schedule"
    )


# --- The page ------------------------------------------------------------------------------------


def test_a_one_time_campaign_offers_now_or_a_date_tomorrow_at_ten(marketer_client):
    campaign = _campaign(channel="push", campaign_type="one_time")
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'name="type" value="now"' in html and 'name="type" value="at"' in html
    assert 'id="id_at" name="at"' in html and "T10:00" in html
    assert "<strong>Europe/Paris</strong>" in html
    assert 'name="respect_throttle" value="1" checked' in html
    assert 'name="push_ttl_hours"' in html  # push only
    assert "campaigns/when.css" in html


def test_an_sms_campaign_has_no_time_to_live(marketer_client):
    campaign = _campaign(channel="sms", campaign_type="one_time")
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'name="push_ttl_hours"' not in html and 'name="dnd_mon_on"' in html


def test_choosing_now_swaps_the_schedule_part_without_the_date(marketer_client):
    campaign = _campaign(campaign_type="one_time")
    response = _htmx_get(marketer_client, campaign, {"type": "now", "cutoff": ""})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="when-schedule"')
    assert 'name="at"' not in html and 'value="now" data-swap checked' in html
    assert "Do Not Disturb" not in html  # only the schedule part comes back
    html = _htmx_get(marketer_client, campaign, {"type": "at"}).content.decode()
    assert 'id="id_at" name="at"' in html and "Deliver at this time in each user" in html


def test_a_weekly_series_shows_weekdays_and_the_next_sends(marketer_client):
    campaign = _campaign(campaign_type="recurring")
    params = {
        "recurring_every": "2",
        "recurring_unit": "weeks",
        "recurring_weekdays": ["mon", "thu"],
        "recurring_time": "10:00",
        "recurring_start": f"{_next_year()}-03-01",
        "recurring_end_kind": "after",
        "recurring_end_after": "3",
    }
    html = _htmx_get(marketer_client, campaign, params).content.decode()
    assert 'value="mon" data-swap checked' in html and 'value="tue" data-swap>' in html
    assert 'name="recurring_end_after"' in html and 'name="recurring_end_on"' not in html
    year = _next_year()
    # From 1 March of next year: the first send is the first Monday or Thursday on or after it.
    start = date(year, 3, 1)
    first = min(start + timedelta(days=(weekday - start.weekday()) % 7) for weekday in (0, 3))
    assert "Next sends" in html and f"{first.day} Mar {year}, 10:00" in html
    html = _htmx_get(marketer_client, campaign, {**params, "recurring_unit": "days"})
    assert 'name="recurring_weekdays"' not in html.content.decode()


def test_adding_and_removing_dates_swaps_the_rows(marketer_client):
    campaign = _campaign(campaign_type="multiple_dates")
    first = f"{_next_year()}-03-02T10:00"
    html = _htmx_get(marketer_client, campaign, {"dates": [first], "add_date": "1"})
    html = html.content.decode()
    assert html.count('name="dates"') == 2 and f'value="{first}"' in html
    second = f"{_next_year()}-03-05T10:00"
    html = _htmx_get(marketer_client, campaign, {"dates": [first, second], "remove_date": "0"})
    html = html.content.decode()
    assert html.count('name="dates"') == 1 and f'value="{second}"' in html
    assert f'value="{first}"' not in html


def test_without_javascript_add_a_date_posts_back_and_saves_nothing(marketer_client):
    campaign = _campaign(campaign_type="multiple_dates")
    response = marketer_client.post(
        _url(campaign), _post(type=None, at=None, dates=f"{_next_year()}-03-02T10:00", add_date="1")
    )
    assert response.status_code == 200
    assert response.content.decode().count('name="dates"') == 2
    campaign.refresh_from_db()
    assert campaign.when == {} and campaign.wizard_step == WizardStep.WHO


def test_a_live_inaction_campaign_starts_from_the_window_built_in_who(marketer_client):
    campaign = _campaign(
        campaign_type="live_inaction",
        audience_definition={"live": {"type": "inaction", "event": "Cart", "within_minutes": 25}},
    )
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'name="live_inaction_minutes" min="1" value="25"' in html
    assert 'name="cutoff"' not in html and 'name="type" value="live"' in html


def test_the_global_limits_checkboxes_use_the_words_of_the_global_limits_page(admin_client):
    """The newcomer read “Don't apply global campaign limits” in Settings and looked for it in
    vain in the wizard: the two pages name each campaign option in the same words."""
    wizard = admin_client.get(_url(_campaign(channel="push"))).content.decode()
    settings = admin_client.get("/settings/limits/").content.decode()

    for name in ("override_frequency_caps", "respect_throttle"):
        label = re.search(rf'name="{name}"[^>]*> (.*?)</label>', wizard).group(1)
        assert f"“{label}”" in settings, f"the wizard's {label!r} is not named in Settings"
    override = re.search(r'name="override_frequency_caps"[^>]*> (.*?)</label>', wizard).group(1)
    assert override == escape(GLOBAL_LIMITS_OVERRIDE_LABEL)
    # What the override does is said in one sentence, the same on both pages.
    effect = escape(GLOBAL_LIMITS_OVERRIDE_EFFECT)
    assert f'<small class="muted" id="override-effect">This {effect}.</small>' in wizard
    assert f"option {effect}." in settings


# --- Saving --------------------------------------------------------------------------------------


def test_a_date_is_saved_with_the_delivery_preferences_and_goes_to_what(marketer_client):
    campaign = _campaign(channel="push", campaign_type="one_time")
    at = f"{_next_year()}-03-02T10:00"
    response = marketer_client.post(
        _url(campaign),
        _post(
            at=at,
            cutoff=f"{_next_year()}-03-02T22:00",
            user_timezone_enabled="1",
            user_timezone_late="drop",
            override_frequency_caps="1",
            throttle_per_minute="500",
            push_ttl_hours="24",
            dnd_enabled="1",
            dnd_action="delay",
            **{f"dnd_{day}_on": "1" for day in ("mon", "tue", "wed", "thu", "fri")},
        ),
    )
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "campaigns:step", kwargs={"pk": campaign.pk, "step": "what"}
    )
    assert campaign.when == {
        "type": "at",
        "at": at,
        "user_timezone": {"enabled": True, "late": "drop"},
        "cutoff": f"{_next_year()}-03-02T22:00",
    }
    weekday_window = {"start": "21:00", "end": "09:00"}
    assert campaign.delivery == {
        "respect_frequency_caps": False,
        "respect_throttle": True,
        "throttle_per_minute": 500,
        "dnd": {
            "enabled": True,
            "timezone": "user",
            "action": "delay",
            "windows": {day: weekday_window for day in ("mon", "tue", "wed", "thu", "fri")},
        },
        "push_ttl_hours": 24,
        "push_expires_at": None,
    }
    assert campaign.wizard_step == WizardStep.WHEN


def test_saved_values_come_back_on_the_page(marketer_client):
    campaign = _campaign(channel="push", campaign_type="one_time")
    at = f"{_next_year()}-03-02T10:00"
    marketer_client.post(
        _url(campaign),
        _post(at=at, dnd_enabled="1", dnd_tue_on="1", dnd_tue_start="22:30", push_ttl_hours="6"),
    )
    html = marketer_client.get(_url(campaign)).content.decode()
    assert f'name="at" value="{at}"' in html
    assert 'name="dnd_tue_on" value="1" checked' in html and 'value="22:30"' in html
    assert 'name="dnd_mon_on" value="1">' in html
    assert 'name="push_ttl_hours" min="1" max="672" value="6"' in html
    assert 'name="respect_throttle" value="1" checked' in html


def test_a_recurring_series_is_saved_in_the_contract_shape(marketer_client):
    campaign = _campaign(campaign_type="recurring", channel="sms")
    start = f"{_next_year()}-03-01"
    response = marketer_client.post(
        _url(campaign),
        _post(
            type=None,
            at=None,
            recurring_every="2",
            recurring_unit="weeks",
            recurring_weekdays=["thu", "mon"],
            recurring_time="10:00",
            recurring_start=start,
            recurring_end_kind="after",
            recurring_end_after="10",
        ),
    )
    campaign.refresh_from_db()
    assert response.status_code == 302
    assert campaign.when["type"] == "recurring"
    assert campaign.when["recurring"] == {
        "every": 2,
        "unit": "weeks",
        "weekdays": ["mon", "thu"],
        "time": "10:00",
        "start": start,
        "end": {"kind": "after", "on": None, "after": 10},
    }
    rows = dict(when_step.summary(campaign))
    assert rows["When"].startswith("Every 2 weeks on Mon, Thu at 10:00 from 1 Mar ")
    assert (
        rows["When"].endswith(", 10 times") and rows["Time zone"] == "The account's (Europe/Paris)"
    )


def test_several_dates_are_saved_sorted_without_duplicates(marketer_client):
    campaign = _campaign(campaign_type="multiple_dates")
    year = _next_year()
    dates = [f"{year}-03-05T10:00", f"{year}-03-02T09:00", f"{year}-03-05T10:00", ""]
    marketer_client.post(_url(campaign), _post(type=None, at=None, dates=dates))
    campaign.refresh_from_db()
    assert campaign.when["dates"] == [f"{year}-03-02T09:00", f"{year}-03-05T10:00"]


def test_a_live_campaign_saves_its_window_delay_and_limit(marketer_client):
    campaign = _campaign(campaign_type="live_date")
    year = _next_year()
    marketer_client.post(
        _url(campaign),
        _post(
            type=None,
            at=None,
            live_start=f"{year}-01-01T00:00",
            live_end="",
            live_delay_minutes="5",
            live_date_offset_direction="before",
            live_date_offset_amount="2",
            live_date_offset_unit="days",
            live_per_user_limit="1",
            live_per_user_per="week",
        ),
    )
    campaign.refresh_from_db()
    assert campaign.when["live"] == {
        "start": f"{year}-01-01T00:00",
        "end": None,
        "delay_minutes": 5,
        "date_offset": {"direction": "before", "amount": 2, "unit": "days"},
        "per_user": {"limit": 1, "per": "week"},
    }


def test_coming_from_the_overview_returns_there(marketer_client):
    campaign = _campaign(campaign_type="one_time", wizard_step=WizardStep.SCHEDULE)
    response = marketer_client.post(_url(campaign), _post(then="overview"))
    assert response["Location"] == reverse(
        "campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"}
    )


# --- Errors --------------------------------------------------------------------------------------


def test_a_date_in_the_past_is_shown_beside_the_field_and_nothing_is_saved(marketer_client):
    campaign = _campaign(campaign_type="one_time")
    response = marketer_client.post(_url(campaign), _post(at="2020-01-01T10:00"))
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        '<ul class="errorlist" id="id_at_errors"><li>The date 2020-01-01 10:00 is in the past.'
        in html
    )
    assert 'aria-describedby="id_at_errors"' in html
    campaign.refresh_from_db()
    assert campaign.when == {} and campaign.delivery == {}
    assert campaign.wizard_step == WizardStep.WHO


def test_an_htmx_post_with_errors_answers_200_so_htmx_swaps_it(htmx_client):
    campaign = _campaign(campaign_type="one_time")
    response = htmx_client.post(_url(campaign), _post(at=""))
    assert response.status_code == 200
    assert "Enter the date and time to send." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.when == {}


def test_a_bad_date_row_gets_its_own_error(marketer_client):
    campaign = _campaign(campaign_type="multiple_dates")
    dates = [f"{_next_year()}-03-02T10:00", "2020-01-01T10:00"]
    html = marketer_client.post(_url(campaign), _post(type=None, at=None, dates=dates))
    html = html.content.decode()
    assert 'id="id_dates_1_errors"><li>The date 2020-01-01 10:00 is in the past.' in html
    assert 'id="id_dates_0_errors"' not in html


def test_a_weekly_series_without_weekdays_says_so_beside_them(marketer_client):
    campaign = _campaign(campaign_type="recurring")
    response = marketer_client.post(
        _url(campaign),
        _post(
            type=None,
            recurring_every="1",
            recurring_unit="weeks",
            recurring_time="10:00",
            recurring_start=f"{_next_year()}-03-01",
            recurring_end_kind="never",
        ),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_recurring_weekdays_errors"><li>Choose at least one weekday.' in html
    assert Campaign.objects.get(pk=campaign.pk).when == {}


def test_dnd_without_a_day_and_a_bad_window_are_shown_beside_them(marketer_client):
    campaign = _campaign(campaign_type="one_time")
    html = marketer_client.post(_url(campaign), _post(dnd_enabled="1")).content.decode()
    assert 'id="id_dnd_windows_errors"><li>Choose at least one day for Do Not Disturb.' in html
    html = marketer_client.post(
        _url(campaign), _post(dnd_enabled="1", dnd_wed_on="1", dnd_wed_end="21:00")
    ).content.decode()
    assert 'id="id_dnd_wed_errors"><li>DND must end at another time than it starts.' in html


def test_an_out_of_range_ttl_is_refused_beside_the_field(marketer_client):
    campaign = _campaign(campaign_type="one_time", channel="push")
    html = marketer_client.post(_url(campaign), _post(push_ttl_hours="1000")).content.decode()
    assert 'id="id_push_ttl_hours_errors"><li>Enter the time to live in hours' in html


@pytest.mark.parametrize("campaign_type", ["one_time", "multiple_dates", "recurring", "live_date"])
def test_garbage_posts_are_errors_not_crashes(marketer_client, campaign_type):
    campaign = _campaign(campaign_type=campaign_type)
    garbage = {
        "type": "sometime",
        "at": "9999-99-99T99:99",
        "dates": ["x", "2020-02-30T10:00"],
        "recurring_every": "1e400",
        "recurring_unit": "fortnights",
        "recurring_weekdays": ["caturday"],
        "recurring_time": "noon",
        "recurring_start": "yesterday",
        "recurring_end_kind": "after",
        "recurring_end_after": "-1",
        "live_start": "\x00",
        "live_delay_minutes": "99999999999999999999",
        "live_date_offset_direction": "sideways",
        "live_per_user_limit": "0",
        "throttle_per_minute": "-5",
        "dnd_enabled": "1",
        "dnd_mon_on": "1",
        "dnd_mon_start": "25:61",
        "cutoff": "never",
        "remove_date": "",
    }
    response = marketer_client.post(_url(campaign), garbage)
    assert response.status_code == 400 and 'class="errorlist"' in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).when == {}
    htmx = _htmx_get(marketer_client, campaign, {**garbage, "remove_date": "999"})
    assert htmx.status_code == 200 and 'id="when-schedule"' in htmx.content.decode()


def test_a_viewer_cannot_open_or_save_the_step(viewer_client):
    campaign = _campaign(campaign_type="one_time")
    assert viewer_client.get(_url(campaign)).status_code == 403
    viewer_client.post(_url(campaign), _post())
    assert Campaign.objects.get(pk=campaign.pk).when == {}


# --- Overview ------------------------------------------------------------------------------------


def test_problems_name_a_date_that_went_by_and_a_missing_when():
    campaign = _campaign(campaign_type="one_time")
    assert when_step.problems(campaign) == ["Choose when to send (When step)."]
    campaign.when = {"type": "at", "at": "2020-01-01T10:00", "cutoff": None}
    assert when_step.problems(campaign) == ["The date 2020-01-01 10:00 is in the past."]


def test_summary_describes_delivery_in_sentences():
    campaign = _campaign(
        campaign_type="one_time",
        channel="push",
        when={"type": "now", "cutoff": None},
        delivery={
            "respect_frequency_caps": True,
            "respect_throttle": False,
            "throttle_per_minute": 1200,
            "dnd": {
                "enabled": True,
                "timezone": "account",
                "action": "discard",
                "windows": {"sat": {"start": "22:00", "end": "10:00"}},
            },
            "push_ttl_hours": None,
        },
    )
    assert when_step.summary(campaign) == [
        ("When", "Now, as soon as it is scheduled"),
        ("Time zone", "The account's (Europe/Paris)"),
        ("Frequency caps", "Respected"),
        ("Throttle", "Not applied, at most 1,200 a minute"),
        ("Do not disturb", "DND 22:00\u201310:00 Sat, account's timezone, discarded"),
        ("Time to live", "The provider's default"),
    ]


def test_sending_on_the_event_date_swaps_away_the_offset_amount(marketer_client):
    campaign = _campaign(campaign_type="live_date")
    params = {"live_start": "2030-01-01T00:00", "live_date_offset_unit": "hours"}
    html = _htmx_get(
        marketer_client, campaign, {**params, "live_date_offset_direction": "on"}
    ).content.decode()
    assert 'name="live_date_offset_amount"' not in html
    assert '<option value="on" selected>on the date</option>' in html
    html = _htmx_get(
        marketer_client, campaign, {**params, "live_date_offset_direction": "after"}
    ).content.decode()
    assert 'name="live_date_offset_amount"' in html
    assert '<option value="hours" selected>hours</option>' in html


def test_problems_include_a_broken_stored_delivery_document():
    campaign = _campaign(
        campaign_type="one_time",
        when={"type": "now", "cutoff": None},
        delivery={"dnd": {"enabled": True, "windows": {}}, "throttle_per_minute": 0},
    )
    assert when_step.problems(campaign) == [
        "Enter the messages per minute: a whole number from 1 to 1,000,000.",
        "Choose at least one day for Do Not Disturb.",
    ]


def test_without_javascript_the_refresh_button_shows_the_fields_for_the_choice(marketer_client):
    campaign = _campaign(campaign_type="one_time")
    response = marketer_client.post(_url(campaign), _post(type="now", refresh="1"))
    html = response.content.decode()
    assert response.status_code == 200 and 'name="at"' not in html
    assert Campaign.objects.get(pk=campaign.pk).when == {}


def test_an_absolute_expiry_is_saved_in_account_time_and_reaches_the_message_in_utc(
    marketer_client,
):
    campaign = _campaign(campaign_type="one_time", channel="push")
    expiry = f"{_next_year()}-03-03T18:00"

    response = marketer_client.post(_url(campaign), _post(push_expires_at=expiry))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.delivery["push_expires_at"] == expiry
    # Paris is UTC+1 in March: the provider gets the same instant as Unix time.
    assert campaign.push_expires_utc == datetime(_next_year(), 3, 3, 17, 0, tzinfo=UTC)
    assert ("Expires", f"{_next_year()}-03-03 18:00 (account time)") in (
        describe_delivery(campaign.delivery, channel="push")
    )
    html = marketer_client.get(_url(campaign)).content.decode()
    assert f'name="push_expires_at" value="{expiry}"' in html


def test_a_time_to_live_and_an_expiry_together_are_refused_beside_the_expiry(marketer_client):
    campaign = _campaign(campaign_type="one_time", channel="push")
    html = marketer_client.post(
        _url(campaign),
        _post(push_ttl_hours="6", push_expires_at=f"{_next_year()}-03-03T18:00"),
    ).content.decode()
    assert (
        'id="id_push_expires_at_errors"><li>Give a time to live or an expiry time, not both' in html
    )


def test_a_malformed_expiry_is_refused_beside_the_field(marketer_client):
    campaign = _campaign(campaign_type="one_time", channel="push")
    html = marketer_client.post(_url(campaign), _post(push_expires_at="soon")).content.decode()
    assert 'id="id_push_expires_at_errors"><li>Enter the expiry as a date and time' in html
