import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from apps.audience.models import Platform, Profile
from apps.audience.services import devices_deactivate
from tests.audience.factories import DeviceFactory, EventFactory, ProfileFactory


@pytest.fixture
def ada(db):
    return ProfileFactory(
        identity="ada-1",
        name="Ada Lovelace",
        email="ada@example.com",
        phone="+14155550123",
        gender="F",
        date_of_birth=date(1990, 12, 10),
        country="United Kingdom",
        region="England",
        city="London",
        timezone="Europe/London",
        language="en",
        email_unsubscribed=True,
        properties={"plan": "gold", "score": 42, "vip": True, "tags": ["a", "b"]},
    )


def url(profile: Profile, suffix: str = "") -> str:
    return f"/audience/{profile.pk}/{suffix}"


def test_the_detail_page_shows_every_column_and_the_custom_properties(marketer_client, ada):
    page = marketer_client.get(url(ada)).content.decode()
    assert "<title>Ada Lovelace · Herald</title>" in page
    for text in (
        "ada-1",
        ada.object_id,
        "ada@example.com",
        "+14155550123",
        "Female",
        "1990-12-10",
        "United Kingdom",
        "England",
        "London",
        "Europe/London",
    ):
        assert text in page, text
    assert "unsubscribed" in page
    assert "<tr><td>plan</td><td>gold</td></tr>" in page
    assert "<tr><td>score</td><td>42</td></tr>" in page
    assert "<tr><td>vip</td><td>true</td></tr>" in page
    assert "<tr><td>tags</td><td>[&quot;a&quot;, &quot;b&quot;]</td></tr>" in page


def test_the_detail_page_lists_devices_with_a_shortened_token(marketer_client, ada):
    token = "dGhpcyBpcyBhIHZlcnkgbG9uZyBmY20gdG9rZW4gZm9yIHRlc3Rpbmc"
    DeviceFactory(
        profile=ada,
        platform=Platform.IOS,
        push_token=token,
        app_version="4.0.1",
        make="Apple",
        model="iPhone 15",
        os_version="17.4",
        sdk_version="6.2.0",
    )
    page = marketer_client.get(url(ada)).content.decode()
    assert "iOS" in page and "Apple iPhone 15" in page
    for text in ("4.0.1", "17.4", "6.2.0"):
        assert text in page
    assert f"{token[:10]}…{token[-6:]}" in page
    assert f">{token}<" not in page  # the full token only in the title attribute


def test_the_timeline_shows_events_newest_first_with_their_properties(marketer_client, ada):
    now = timezone.now()
    EventFactory(profile=ada, name="App Launched", ts=now - timedelta(days=2))
    EventFactory(
        profile=ada,
        name="Charged",
        ts=now - timedelta(days=1),
        properties={"Amount": 120, "Currency": "EUR"},
    )
    EventFactory(profile=ada, name="Product Viewed", ts=now)
    EventFactory(name="Someone Else's Event")
    page = marketer_client.get(url(ada)).content.decode()
    timeline = page[page.index('id="timeline"') :]
    names = ["Product Viewed", "Charged", "App Launched"]
    positions = [timeline.index(f"<strong>{name}</strong>") for name in names]
    assert positions == sorted(positions)
    assert "<dt>Amount</dt><dd>120</dd><dt>Currency</dt><dd>EUR</dd>" in timeline
    assert "Someone Else" not in page


def test_the_timeline_pages_by_50_and_an_htmx_request_gets_only_the_timeline(
    marketer_client, htmx_client, ada
):
    start = timezone.now()
    for n in range(55):
        EventFactory(profile=ada, name=f"Event {n:02d}", ts=start - timedelta(minutes=n))
    first = marketer_client.get(url(ada)).content.decode()
    assert "<strong>Event 49</strong>" in first and "<strong>Event 50</strong>" not in first
    assert 'hx-target="#timeline"' in first and 'href="?page=2"' in first

    partial = htmx_client.get(url(ada), {"page": 2}).content.decode()
    assert [f"<strong>Event {n}</strong>" in partial for n in range(50, 55)] == [True] * 5
    assert "<strong>Event 49</strong>" not in partial
    assert "Page 2 of 2" in partial
    assert "<html" not in partial and "Custom properties" not in partial


def test_a_profile_with_no_events_devices_or_properties_says_so(marketer_client, db):
    profile = ProfileFactory(name="", identity="quiet-1", properties={})
    page = marketer_client.get(url(profile)).content.decode()
    assert "<title>quiet-1 · Herald</title>" in page
    assert "No custom properties." in page
    assert "No devices" in page
    assert "No events yet" in page


def test_an_unknown_profile_is_a_404(marketer_client, db):
    assert marketer_client.get("/audience/999999/").status_code == 404


# --- Mark / unmark as a test profile ---------------------------------------------------------


def test_a_plain_post_marks_a_test_profile_and_redirects_back_with_a_message(marketer_client, ada):
    response = marketer_client.post(url(ada, "test-profile/"), {"is_test": "true"}, follow=True)
    ada.refresh_from_db()
    assert ada.is_test is True
    assert response.redirect_chain == [(url(ada), 302)]
    page = response.content.decode()
    assert "Ada Lovelace is now a test profile." in page
    assert "Unmark as test profile" in page


def test_an_htmx_post_unmarks_a_test_profile_and_returns_the_button_partial(htmx_client, ada):
    Profile.objects.filter(pk=ada.pk).update(is_test=True)
    response = htmx_client.post(url(ada, "test-profile/"), {"is_test": "false"})
    ada.refresh_from_db()
    assert ada.is_test is False
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ada Lovelace is no longer a test profile." in page
    assert "Mark as test profile" in page and "Unmark" not in page
    assert "<html" not in page and "Custom properties" not in page


def test_marking_twice_does_not_flip_the_profile_back(marketer_client, ada):
    marketer_client.post(url(ada, "test-profile/"), {"is_test": "true"})
    response = marketer_client.post(url(ada, "test-profile/"), {"is_test": "true"}, follow=True)
    ada.refresh_from_db()
    assert ada.is_test is True
    assert "Nothing to change." in response.content.decode()


def test_the_toggle_form_posts_with_csrf_and_htmx(marketer_client, ada):
    page = marketer_client.get(url(ada)).content.decode()
    assert f'action="{url(ada, "test-profile/")}"' in page
    assert f'hx-post="{url(ada, "test-profile/")}"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_the_toggle_refuses_a_request_without_a_csrf_token(client, marketer_user, ada):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(marketer_user)
    response = strict.post(url(ada, "test-profile/"), {"is_test": "true"})
    ada.refresh_from_db()
    assert response.status_code == 403
    assert ada.is_test is False


def test_a_viewer_may_not_mark_a_test_profile_and_nothing_changes(viewer_client, ada):
    response = viewer_client.post(url(ada, "test-profile/"), {"is_test": "true"})
    ada.refresh_from_db()
    assert response.status_code == 403
    assert ada.is_test is False


def test_a_viewer_may_not_open_a_profile(viewer_client, ada):
    response = viewer_client.get(url(ada))
    assert response.status_code == 403
    assert "ada@example.com" not in response.content.decode()


def test_a_device_a_provider_unregistered_shows_as_deactivated_with_the_providers_words(
    marketer_client, ada
):
    token = "ab" * 32
    device = DeviceFactory(profile=ada, platform=Platform.IOS, push_token=token)
    devices_deactivate(dead={token: "Unregistered <410>"})

    page = marketer_client.get(url(ada)).content.decode()

    cell = re.search(rf'<td id="device-{device.pk}-token">(.*?)</td>', page, re.S).group(1)
    assert '<span class="badge bad">deactivated</span>' in cell
    assert f"{token[:10]}…{token[-6:]}" in cell
    assert "the provider said “Unregistered &lt;410&gt;”" in cell  # escaped provider text
    assert "Push skips this device until the app registers again." in cell
    ada.refresh_from_db()
    assert ada.push_ios is False
