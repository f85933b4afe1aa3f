"""Settings → Global limits: the page, what it saves, what it refuses, and who may open it."""

import re
from datetime import time

import pytest
from django.utils.html import escape

from apps.accounts.forms import GlobalLimitsForm
from apps.accounts.models import GLOBAL_LIMITS_OVERRIDE_LABEL, GlobalLimits
from apps.accounts.services import global_limits_get

pytestmark = pytest.mark.django_db

URL = "/settings/limits/"

EMPTY = {
    "dnd_timezone": "user",
    "dnd_action": "discard",
}


def _errors_after(page: str, field_id: str) -> str:
    """The text of the error list that follows the field's input, before the next label."""
    after = page.split(f'id="{field_id}"', 1)[1].split("<label", 1)[0]
    match = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', after, re.S)
    return match.group(1) if match else ""


def _fieldset_errors(page: str, fieldset_id: str) -> str:
    block = page.split(f'id="{fieldset_id}"', 1)[1].split("</fieldset>", 1)[0]
    match = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', block, re.S)
    return match.group(1) if match else ""


def _limits() -> GlobalLimits:
    return GlobalLimits.objects.get(pk=1)


def test_the_page_names_the_campaign_options_that_lift_the_limits_as_the_wizard_does(
    admin_client,
):
    page = admin_client.get(URL).content.decode()
    assert (
        "A campaign's “Don&#x27;t apply global campaign limits to this campaign” option "
        "lifts the global frequency caps and the default Do Not Disturb window; the throttle "
        "has its own checkbox, “Respect the global throttle”."
    ) in page
    assert escape(GLOBAL_LIMITS_OVERRIDE_LABEL) in page


def test_the_page_shows_a_cap_and_throttle_box_per_channel_and_the_dnd_form(admin_client):
    page = admin_client.get(URL).content.decode()
    assert "<h1>Global limits</h1>" in page
    for channel in ("push", "sms", "email"):
        for suffix in ("per_day", "per_week", "throttle_per_minute"):
            assert f'name="{channel}_{suffix}"' in page
    assert page.count('placeholder="No limit"') == 9
    assert 'name="dnd_days" value="mon"' in page and 'name="dnd_days" value="sun"' in page
    assert 'type="time" name="dnd_start"' in page
    assert "Coming soon" not in page


def test_the_page_shows_what_was_saved(admin_client):
    global_limits_get()
    GlobalLimits.objects.filter(pk=1).update(
        sms_per_day=2,
        dnd_enabled=True,
        dnd_days=["sat", "sun"],
        dnd_start=time(21, 0),
        dnd_end=time(9, 0),
        dnd_action="delay",
    )
    page = admin_client.get(URL).content.decode()
    assert re.search(r'name="sms_per_day" value="2"', page)
    assert re.search(r'name="dnd_days" value="sat"[^>]*checked', page)
    assert not re.search(r'name="dnd_days" value="mon"[^>]*checked', page)
    assert 'value="21:00"' in page and 'value="09:00"' in page
    assert re.search(r'name="dnd_action" value="delay"[^>]*checked', page)


def test_saving_stores_caps_throttle_and_the_default_dnd(admin_client):
    response = admin_client.post(
        URL,
        {
            **EMPTY,
            "push_per_day": "3",
            "push_per_week": "10",
            "sms_per_day": "1",
            "email_throttle_per_minute": "6000",
            "dnd_enabled": "on",
            "dnd_days": ["sun", "mon"],
            "dnd_start": "21:00",
            "dnd_end": "09:00",
            "dnd_timezone": "account",
            "dnd_action": "delay",
        },
        follow=True,
    )
    assert "Global limits saved." in response.content.decode()
    limits = _limits()
    assert limits.frequency_caps("push") == (3, 10)
    assert limits.frequency_caps("sms") == (1, None)
    assert limits.frequency_caps("email") == (None, None)
    assert limits.channel_throttle_per_minute("email") == 6000
    assert limits.channel_throttle_per_minute("push") is None
    assert limits.dnd_days == ["mon", "sun"]  # week order, whatever order they came in
    assert limits.default_dnd() == {
        "enabled": True,
        "timezone": "account",
        "action": "delay",
        "windows": {
            "mon": {"start": "21:00", "end": "09:00"},
            "sun": {"start": "21:00", "end": "09:00"},
        },
    }


def test_blank_boxes_clear_the_limits(admin_client):
    global_limits_get()
    GlobalLimits.objects.filter(pk=1).update(push_per_day=3, sms_throttle_per_minute=100)
    admin_client.post(URL, {**EMPTY, "push_per_day": "", "sms_throttle_per_minute": " "})
    limits = _limits()
    assert limits.push_per_day is None and limits.sms_throttle_per_minute is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Enter at least 1, or leave it blank for no limit."),
        ("-4", "Enter at least 1, or leave it blank for no limit."),
        ("three", "Enter a whole number, or leave it blank for no limit."),
        ("1.5", "Enter a whole number, or leave it blank for no limit."),
        ("10001", "Enter at most 10,000, or leave it blank for no limit."),
    ],
)
def test_a_cap_that_is_not_a_positive_whole_number_is_refused_beside_it(
    admin_client, value, message
):
    response = admin_client.post(URL, {**EMPTY, "sms_per_day": value, "push_per_day": "2"})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in _errors_after(page, "id_sms_per_day")
    assert _errors_after(page, "id_push_per_day") == ""
    assert _limits().push_per_day is None  # nothing saved


def test_a_throttle_above_the_maximum_is_refused(admin_client):
    response = admin_client.post(URL, {**EMPTY, "push_throttle_per_minute": "1000001"})
    assert response.status_code == 400
    assert "Enter at most 1,000,000" in _errors_after(
        response.content.decode(), "id_push_throttle_per_minute"
    )


def test_a_weekly_cap_below_the_daily_one_is_refused_beside_the_weekly_box(admin_client):
    response = admin_client.post(URL, {**EMPTY, "email_per_day": "5", "email_per_week": "3"})
    assert response.status_code == 400
    assert "A week cannot allow fewer than a day: enter at least 5" in _errors_after(
        response.content.decode(), "id_email_per_week"
    )
    assert _limits().email_per_day is None


def test_dnd_turned_on_needs_days_and_both_times(admin_client):
    response = admin_client.post(URL, {**EMPTY, "dnd_enabled": "on"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose at least one day" in _fieldset_errors(page, "dnd-days")
    assert "Enter the time DND starts" in _errors_after(page, "id_dnd_start")
    assert "Enter the time DND ends" in _errors_after(page, "id_dnd_end")
    assert _limits().dnd_enabled is False


def test_dnd_that_ends_when_it_starts_is_refused(admin_client):
    response = admin_client.post(
        URL,
        {
            **EMPTY,
            "dnd_enabled": "on",
            "dnd_days": ["mon"],
            "dnd_start": "22:00",
            "dnd_end": "22:00",
        },
    )
    assert response.status_code == 400
    assert "DND must end at another time than it starts." in _errors_after(
        response.content.decode(), "id_dnd_end"
    )


def test_dnd_turned_off_keeps_its_last_window_without_asking_for_one(admin_client):
    response = admin_client.post(URL, {**EMPTY, "dnd_start": "21:00"}, follow=True)
    assert "Global limits saved." in response.content.decode()
    limits = _limits()
    assert limits.dnd_enabled is False and limits.default_dnd() is None


@pytest.mark.parametrize(
    "garbage",
    [
        {"dnd_days": ["funday"], "dnd_enabled": "on", "dnd_start": "21:00", "dnd_end": "09:00"},
        {"dnd_start": "25:99", "dnd_enabled": "on", "dnd_days": ["mon"], "dnd_end": "09:00"},
        {"dnd_timezone": "mars"},
        {"dnd_action": "explode"},
    ],
)
def test_garbage_in_the_dnd_form_is_a_field_error_not_a_crash(admin_client, garbage):
    response = admin_client.post(URL, {**EMPTY, **garbage})
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert _limits().dnd_enabled is False


def test_an_empty_post_saves_no_limits_at_all(admin_client):
    response = admin_client.post(URL, {})
    # Radio buttons left unchosen are required: the form says so instead of guessing.
    assert response.status_code == 400
    assert "This field is required." in _fieldset_errors(response.content.decode(), "dnd-action")


def test_marketers_and_viewers_cannot_open_or_change_the_limits(marketer_client, viewer_client):
    for client in (marketer_client, viewer_client):
        assert client.get(URL).status_code == 403
        assert client.post(URL, {**EMPTY, "sms_per_day": "1"}).status_code == 403
    assert not GlobalLimits.objects.filter(sms_per_day=1).exists()


def test_the_settings_menu_links_to_the_page(admin_client):
    page = admin_client.get("/settings/account/").content.decode()
    assert 'href="/settings/limits/"' in page


def test_the_form_orders_days_by_the_week():
    form = GlobalLimitsForm(
        {
            **EMPTY,
            "dnd_enabled": "on",
            "dnd_days": ["sun", "wed", "mon"],
            "dnd_start": "1:00",
            "dnd_end": "2:00",
        },
        instance=GlobalLimits(pk=1),
    )
    assert form.is_valid(), form.errors
    assert form.limits_fields()["dnd_days"] == ["mon", "wed", "sun"]
