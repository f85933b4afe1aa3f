import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.roles import Role
from apps.message_templates.models import Channel, MessageTemplate
from apps.message_templates.personalization import personalization_fields_forget
from tests.accounts.factories import UserFactory
from tests.message_templates.factories import (
    MessageTemplateFactory,
    ProfileFactory,
    email_content,
    push_content,
    sms_content,
)

pytestmark = pytest.mark.django_db

LIST = reverse("message_templates:list")
CREATE = reverse("message_templates:create")


@pytest.fixture(autouse=True)
def _fresh_personalization_fields():
    # The menu's field list is cached in Redis across tests; each test sees its own data.
    personalization_fields_forget()
    yield
    personalization_fields_forget()


def _field_errors(html: str, field: str) -> str:
    match = re.search(rf'<ul class="errorlist" id="id_{field}_errors">(.*?)</ul>', html, re.S)
    assert match, f"no errors shown beside {field}"
    return unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


# --- List -------------------------------------------------------------------------------------


def test_the_list_shows_templates_with_their_channel_and_author(marketer_client, marketer_user):
    MessageTemplateFactory(name="Cart reminder", channel=Channel.SMS, created_by=marketer_user)
    MessageTemplateFactory(name="Weekly news", channel=Channel.EMAIL, content=email_content())
    html = marketer_client.get(LIST).content.decode()
    assert "Cart reminder" in html and "Weekly news" in html
    assert "mia" in html
    assert '<span class="badge">Email</span>' in html


def test_the_list_filters_by_channel_and_search(marketer_client):
    MessageTemplateFactory(name="Cart reminder", channel=Channel.SMS)
    MessageTemplateFactory(name="Cart news", channel=Channel.EMAIL, content=email_content())
    MessageTemplateFactory(name="Welcome", channel=Channel.SMS)
    html = marketer_client.get(LIST, {"channel": "sms", "q": "cart"}).content.decode()
    assert "Cart reminder" in html
    assert "Cart news" not in html and "Welcome" not in html
    assert '<option value="sms" selected>' in html


def test_an_htmx_search_returns_only_the_results(htmx_client):
    MessageTemplateFactory(name="Cart reminder")
    response = htmx_client.get(LIST, {"q": "cart"})
    html = response.content.decode()
    assert "Cart reminder" in html
    assert "<h1>" not in html
    assert "HX-Request" in response["Vary"]


def test_the_list_paginates(marketer_client):
    # Names no timestamp on the page can contain ("T00" is in any time past midnight).
    for n in range(30):
        MessageTemplateFactory(name=f"Template no. {n:02d}")
    first = marketer_client.get(LIST).content.decode()
    second = marketer_client.get(LIST, {"page": 2}).content.decode()
    assert "Page 1 of 2" in first
    assert "Template no. 29" in first and "Template no. 00" not in first
    assert "Template no. 00" in second and "Template no. 29" not in second


def test_an_empty_library_invites_to_write_a_template(marketer_client):
    html = marketer_client.get(LIST).content.decode()
    assert "No templates yet" in html
    assert f'href="{CREATE}"' in html
    MessageTemplateFactory(name="Promo")
    assert "No templates match" in marketer_client.get(LIST, {"q": "zzz"}).content.decode()


def test_the_list_takes_the_same_number_of_queries_for_3_or_25_templates(marketer_client):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert marketer_client.get(LIST).status_code == 200
        return len(queries)

    for n in range(3):
        MessageTemplateFactory(created_by=UserFactory(username=f"a{n}", role=Role.MARKETER))
    few = count()
    for n in range(22):
        MessageTemplateFactory(created_by=UserFactory(username=f"b{n}", role=Role.MARKETER))
    assert count() == few


# --- Create and edit --------------------------------------------------------------------------


def test_new_template_asks_for_the_channel_first(marketer_client):
    html = marketer_client.get(CREATE).content.decode()
    for channel in ("push", "sms", "email"):
        assert f"?channel={channel}" in html
    response = marketer_client.get(CREATE, {"channel": "fax"})
    assert response.status_code == 400
    assert "Choose push, SMS or email." in response.content.decode()


def test_a_marketer_creates_an_sms_template(marketer_client, marketer_user):
    response = marketer_client.post(
        f"{CREATE}?channel=sms",
        {"name": "Cart", "body": 'Hi {{Profile.Name | default: "Shopper"}}', "template_id": "T1"},
    )
    template = MessageTemplate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("message_templates:detail", args=[template.pk])
    assert template.channel == Channel.SMS
    assert template.content == {
        "body": 'Hi {{Profile.Name | default: "Shopper"}}',
        "template_id": "T1",
    }
    assert template.created_by == marketer_user


def test_a_liquid_error_is_shown_at_its_line_beside_its_field(marketer_client):
    response = marketer_client.post(
        f"{CREATE}?channel=sms", {"name": "Cart", "body": "Hi\nthere\n{{ Profile.Name | nope }}"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert _field_errors(html, "body") == "Line 3: unknown filter 'nope'"
    assert "Hi\nthere\n{{ Profile.Name | nope }}" in unescape(html)  # what was typed stays
    assert not MessageTemplate.objects.exists()


def test_email_errors_land_on_the_right_field(marketer_client):
    response = marketer_client.post(
        f"{CREATE}?channel=email",
        {"name": "News", "subject": "Hello", "html": "<p>\n{% if x %}\n</p>", "text": "{{ }}"},
    )
    html = response.content.decode()
    assert _field_errors(html, "html").startswith("Line 2: 'if' is never closed")
    assert _field_errors(html, "text").startswith("Line 1:")
    assert 'id="id_subject_errors"' not in html


def test_an_invalid_htmx_post_answers_200_so_htmx_swaps_it(htmx_client):
    response = htmx_client.post(f"{CREATE}?channel=sms", {"name": "", "body": "x"})
    assert response.status_code == 200
    assert _field_errors(response.content.decode(), "name") == "This field is required."


def test_a_duplicate_name_is_refused_beside_the_name(marketer_client):
    MessageTemplateFactory(name="Cart", channel=Channel.SMS)
    response = marketer_client.post(f"{CREATE}?channel=sms", {"name": "CART", "body": "x"})
    assert response.status_code == 400
    assert "already exists" in _field_errors(response.content.decode(), "name")


def test_push_fields_are_saved_with_badge_and_key_values(marketer_client):
    response = marketer_client.post(
        f"{CREATE}?channel=push",
        {
            "name": "Promo",
            "title": "Hi {{Profile.Name}}",
            "body": "20% off",
            "badge": "2",
            "sound": "chime.caf",
            "custom_kv": "promo=SPRING\n\nscreen = cart",
        },
    )
    assert response.status_code == 302
    content = MessageTemplate.objects.get().content
    assert content["badge"] == 2
    assert content["custom_kv"] == {"promo": "SPRING", "screen": "cart"}
    assert content["sound"] == "chime.caf"


def test_a_malformed_key_value_line_is_named(marketer_client):
    response = marketer_client.post(
        f"{CREATE}?channel=push", {"name": "Promo", "body": "x", "custom_kv": "a=1\nnonsense"}
    )
    assert response.status_code == 400
    assert _field_errors(response.content.decode(), "custom_kv") == "Line 2: write key=value."


def test_edit_shows_the_saved_content_and_saves_changes(marketer_client):
    template = MessageTemplateFactory(
        name="Promo", channel=Channel.PUSH, content=push_content(custom_kv={"a": "1"})
    )
    url = reverse("message_templates:edit", args=[template.pk])
    html = unescape(marketer_client.get(url).content.decode())
    assert "Hello {{Profile.Name}}" in html
    assert "a=1</textarea>" in html
    response = marketer_client.post(url, {"name": "Promo 2", "body": "New body", "title": ""})
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.name == "Promo 2"
    assert template.content["body"] == "New body"
    assert template.content["custom_kv"] == {}
    assert template.channel == Channel.PUSH


def test_the_form_offers_builtin_and_custom_profile_fields_to_insert(marketer_client):
    ProfileFactory(properties={"Customer Type": "Gold", "tier": "vip"})
    html = unescape(marketer_client.get(CREATE, {"channel": "sms"}).content.decode())
    assert '{{Profile.Name | default: ""}}' in html
    assert '{{Profile.tier | default: ""}}' in html
    assert '{{Profile["Customer Type"] | default: ""}}' in html


@pytest.mark.parametrize(
    ("channel", "fields"),
    [
        ("push", ["title", "subtitle", "body", "image_url", "deep_link", "sound", "badge"]),
        ("sms", ["body", "template_id"]),
        ("email", ["subject", "preheader", "from_name", "html", "text"]),
    ],
)
def test_each_channel_form_asks_for_its_own_fields(marketer_client, channel, fields):
    html = marketer_client.get(CREATE, {"channel": channel}).content.decode()
    for field in fields:
        assert f'name="{field}"' in html
    assert ('id="sms-counter"' in html) == (channel == "sms")
    assert f'action="{CREATE}?channel={channel}"' in html


def test_a_post_without_a_channel_asks_for_one_and_saves_nothing(marketer_client):
    response = marketer_client.post(CREATE, {"name": "x", "body": "y"})
    assert response.status_code == 400
    assert "Which channel is it for?" in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_the_sms_form_shows_the_counter_for_what_it_holds(marketer_client):
    template = MessageTemplateFactory(channel=Channel.SMS, content=sms_content(body="x" * 161))
    html = marketer_client.get(reverse("message_templates:edit", args=[template.pk])).content
    assert "<strong>161</strong> characters · <strong>2</strong> parts · GSM-7" in html.decode()


# --- SMS counter ------------------------------------------------------------------------------


def test_the_counter_counts_the_message_as_rendered_for_the_test_profile(htmx_client):
    ProfileFactory(name="Zoë", is_test=True)
    response = htmx_client.post(
        reverse("message_templates:sms_counter"),
        {"body": 'Hi {{Profile.Name | default: "Shopper"}}'},
    )
    html = response.content.decode()
    # "Hi Zoë": ë is not GSM-7, so the whole message is UCS-2.
    assert "<strong>6</strong> characters · <strong>1</strong> part · UCS-2" in html
    assert "as sent to Zoë" in html


def test_the_counter_uses_the_default_without_a_test_profile(htmx_client):
    response = htmx_client.post(
        reverse("message_templates:sms_counter"),
        {"body": 'Hi {{Profile.Name | default: "Shopper"}} €'},
    )
    html = response.content.decode()
    # "Hi Shopper €": the euro sign is a GSM-7 extension character, two septets.
    assert "<strong>13</strong> characters · <strong>1</strong> part · GSM-7" in html
    assert "with the default values" in html


def test_the_counter_on_the_form_page_counts_for_the_test_profile_too(marketer_client):
    ProfileFactory(name="Tess", is_test=True)
    template = MessageTemplateFactory(channel=Channel.SMS, content=sms_content())
    html = marketer_client.get(reverse("message_templates:edit", args=[template.pk])).content
    assert "<strong>7</strong> characters" in html.decode()  # "Hi Tess"


def test_the_counter_counts_a_broken_template_as_typed(htmx_client):
    response = htmx_client.post(reverse("message_templates:sms_counter"), {"body": "{% if %}"})
    html = response.content.decode()
    # "{% if %}" as typed: 6 basic characters and the braces, extension characters of 2.
    assert "<strong>10</strong> characters" in html
    assert "counted as typed" in html


# --- Detail and preview -----------------------------------------------------------------------


def test_the_preview_renders_for_the_first_test_profile_by_default(marketer_client):
    ProfileFactory(name="Not a tester")
    ProfileFactory(name="Tess", is_test=True, properties={"tier": "gold"})
    template = MessageTemplateFactory(
        content=sms_content(body='Hi {{Profile.Name | default: "Shopper"}}, {{Profile.tier}}!')
    )
    html = marketer_client.get(reverse("message_templates:detail", args=[template.pk])).content
    html = html.decode()
    assert "Hi Tess, gold!" in html
    assert "14 characters · 1 part · GSM-7" in html


def test_the_preview_renders_for_a_chosen_profile(marketer_client):
    ProfileFactory(name="Tess", is_test=True)
    chosen = ProfileFactory(name="Zed")
    template = MessageTemplateFactory(content=sms_content())
    url = reverse("message_templates:detail", args=[template.pk])
    html = marketer_client.get(url, {"profile": chosen.pk}).content.decode()
    assert "Hi Zed" in html
    assert "Hi Tess" not in html


def test_the_preview_without_any_profile_uses_the_defaults(marketer_client):
    template = MessageTemplateFactory(content=sms_content())
    html = marketer_client.get(reverse("message_templates:detail", args=[template.pk])).content
    assert "Hi Shopper" in html.decode()


def test_an_unknown_profile_falls_back_with_a_message(marketer_client):
    template = MessageTemplateFactory(content=sms_content())
    url = reverse("message_templates:detail", args=[template.pk])
    for bad in ("999999", "abc"):
        response = marketer_client.get(url, {"profile": bad})
        assert response.status_code == 200
        assert "No such profile: showing the default." in response.content.decode()
        assert "Hi Shopper" in response.content.decode()


def test_the_profile_picker_finds_profiles_by_identity_or_email(marketer_client):
    found = ProfileFactory(identity="cust-42", email="ann@example.com", name="Ann")
    ProfileFactory(identity="other", email="bob@example.com", name="Bob")
    template = MessageTemplateFactory()
    url = reverse("message_templates:detail", args=[template.pk])
    html = marketer_client.get(url, {"profile_q": "cust-4"}).content.decode()
    assert f'href="?profile={found.pk}"' in html
    assert "Bob" not in html
    assert "No profile" in marketer_client.get(url, {"profile_q": "zzz"}).content.decode()


def test_the_push_preview_shows_title_and_body_personalized(marketer_client):
    ProfileFactory(name="Tess", is_test=True)
    template = MessageTemplateFactory(
        channel=Channel.PUSH, content=push_content(image_url="https://img.example/a.png")
    )
    html = marketer_client.get(reverse("message_templates:detail", args=[template.pk])).content
    html = html.decode()
    assert "<strong>Hello Tess</strong>" in html
    assert "Your cart misses you" in html
    assert 'src="https://img.example/a.png"' in html


def test_the_email_html_is_only_shown_inside_a_sandboxed_iframe(marketer_client):
    ProfileFactory(name="<b>Tess</b>", is_test=True)
    template = MessageTemplateFactory(
        channel=Channel.EMAIL,
        content=email_content(html="<p>Dear {{Profile.Name}}</p><script>alert(1)</script>"),
    )
    html = marketer_client.get(reverse("message_templates:detail", args=[template.pk])).content
    html = html.decode()
    iframe = re.search(r"<iframe[^>]*>", html).group(0)
    assert 'sandbox=""' in iframe
    assert "allow-scripts" not in iframe and "allow-same-origin" not in iframe
    # The rendered body sits escaped inside srcdoc, the profile value escaped once more by
    # the HTML environment; nothing of it is live markup in the page.
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', iframe).group(1))
    assert srcdoc == "<p>Dear &lt;b&gt;Tess&lt;/b&gt;</p><script>alert(1)</script>"
    assert "<script>alert(1)</script>" not in html
    assert "News for <b>Tess</b>" not in html  # the subject is text, escaped by Django
    assert "News for &lt;b&gt;Tess&lt;/b&gt;" in html


# --- Duplicate and delete ---------------------------------------------------------------------


def test_duplicate_makes_a_copy_and_opens_it_for_editing(marketer_client, marketer_user):
    template = MessageTemplateFactory(name="Promo", content=sms_content(body="Sale"))
    response = marketer_client.post(reverse("message_templates:duplicate", args=[template.pk]))
    copy = MessageTemplate.objects.get(name="Copy of Promo")
    assert response["Location"] == reverse("message_templates:edit", args=[copy.pk])
    assert copy.content["body"] == "Sale"
    assert copy.created_by == marketer_user


def test_duplicate_needs_a_post(marketer_client):
    template = MessageTemplateFactory()
    response = marketer_client.get(reverse("message_templates:duplicate", args=[template.pk]))
    assert response.status_code == 405
    assert MessageTemplate.objects.count() == 1


def test_delete_asks_first_then_deletes(marketer_client):
    template = MessageTemplateFactory(name="Old promo")
    url = reverse("message_templates:delete", args=[template.pk])
    html = marketer_client.get(url).content.decode()
    assert "Delete Old promo?" in html
    assert MessageTemplate.objects.exists()
    response = marketer_client.post(url)
    assert response["Location"] == LIST
    assert not MessageTemplate.objects.exists()


def test_a_missing_template_is_404(marketer_client):
    assert marketer_client.get(reverse("message_templates:detail", args=[12345])).status_code == 404


# --- Roles ------------------------------------------------------------------------------------


def test_viewers_cannot_open_or_change_templates(viewer_client):
    template = MessageTemplateFactory()
    assert viewer_client.get(LIST).status_code == 403
    assert (
        viewer_client.get(reverse("message_templates:detail", args=[template.pk])).status_code
        == 403
    )
    response = viewer_client.post(reverse("message_templates:delete", args=[template.pk]))
    assert response.status_code == 403
    response = viewer_client.post(f"{CREATE}?channel=sms", {"name": "x", "body": "y"})
    assert response.status_code == 403
    assert MessageTemplate.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_admins_may_edit_templates(admin_client):
    response = admin_client.post(f"{CREATE}?channel=sms", {"name": "Admin's", "body": "Hi"})
    assert response.status_code == 302
    assert MessageTemplate.objects.get().name == "Admin's"


def test_templates_are_in_the_nav_for_marketers(marketer_client):
    assert f'href="{LIST}"' in marketer_client.get("/").content.decode()


def test_templates_are_not_in_the_nav_for_viewers(viewer_client):
    assert f'href="{LIST}"' not in viewer_client.get("/").content.decode()
