"""Step 4, What: the page, saving, errors beside their fields, and the htmx editor actions
(add / copy / remove a variant, switch mode, start from a template, preview, SMS counter)."""

import pytest
from django.urls import reverse

from apps.campaigns import content
from apps.campaigns.models import Campaign, WizardStep
from apps.campaigns.wizard.steps import what
from apps.providers.services import provider_create
from tests.audience.factories import ProfileFactory
from tests.campaigns.factories import CampaignFactory
from tests.message_templates.factories import MessageTemplateFactory, email_content, push_content

pytestmark = pytest.mark.django_db


def _url(campaign):
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "what"})


def _campaign(channel="push", **kwargs):
    return CampaignFactory(channel=channel, wizard_step=WizardStep.WHEN, **kwargs)


def _stored(campaign):
    campaign.refresh_from_db()
    return campaign.content


# --- the page ------------------------------------------------------------------------------


def test_a_new_push_message_starts_as_a_single_message(marketer_client):
    campaign = _campaign()
    html = marketer_client.get(_url(campaign)).content.decode()
    assert '<input type="radio" name="mode" value="single" checked' in html
    assert 'name="variant-0-body"' in html and 'name="variant-0-deep_link"' in html
    assert 'name="variant-0-carousel-0-image_url"' in html
    assert 'name="variant-1-body"' not in html
    assert (
        "Insert personalization" in html
        and 'data-insert="{{Profile.Name | default: &quot;&quot;}}"' in html
    )
    assert 'id="what-preview"' in html and "Conversion goal" in html


def test_the_page_shows_the_stored_content_to_edit(marketer_client):
    stored = content.content_clean(
        {
            "mode": "ab",
            "variants": [{"message": {"body": "First"}}, {"message": {"body": "Second <b>"}}],
            "ab": {"size_kind": "count", "size": 500, "metric": "clicks"},
        },
        channel="push",
    )
    campaign = _campaign(
        content=stored, conversion_goal={"event": "Charged", "filters": [], "window": "12H"}
    )
    html = marketer_client.get(_url(campaign)).content.decode()
    assert ">First</textarea>" in html and ">Second &lt;b&gt;</textarea>" in html
    assert 'name="ab-size" value="500"' in html and '<option value="count" selected>' in html
    assert 'name="goal-event" value="Charged"' in html
    assert 'name="goal-window_number" value="12"' in html and '<option value="H" selected>' in html


def test_email_fields_and_the_setup_sender_as_placeholder(marketer_client):
    campaign = _campaign("email", sender_name="Shop Team")
    html = marketer_client.get(_url(campaign)).content.decode()
    for name in ("subject", "sender_name", "preheader", "html", "text"):
        assert f'name="variant-0-{name}"' in html
    assert 'placeholder="Shop Team"' in html


def test_sms_page_has_the_counter_and_hides_generic_blocks_for_ordinary_providers(marketer_client):
    campaign = _campaign(
        "sms", provider=provider_create(channel="sms", kind="twilio", nickname="tw")
    )
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'id="sms-counter-0"' in html and "0 characters" in html
    assert 'name="variant-0-template_id"' in html
    assert 'name="variant-0-key_values-0-key"' not in html


def test_a_generic_provider_shows_template_variables_and_key_values(marketer_client):
    generic = provider_create(channel="sms", kind="generic_sms", nickname="gen")
    html = marketer_client.get(_url(_campaign("sms", provider=generic))).content.decode()
    assert 'name="variant-0-template_variables-0-value"' in html
    assert 'name="variant-0-key_values-1-key"' in html


def test_the_generic_provider_keys_are_offered_and_required(marketer_client):
    generic = provider_create(
        channel="sms",
        kind="generic_sms",
        nickname="gen",
        settings={"body_template": {"text": "$$Message", "coupon": "$$coupon"}},
    )
    campaign = _campaign("sms", provider=generic)
    html = marketer_client.get(_url(campaign)).content.decode()
    assert 'name="variant-0-key_values-0-key" value="coupon"' in html and "needs $$coupon" in html
    response = marketer_client.post(
        _url(campaign),
        {"mode": "single", "variant-0-body": "b", "variant-0-key_values-0-key": "coupon"},
    )
    assert response.status_code == 400
    assert 'id="variant-0-key_values-0-value_errors"><li>This field is required.' in (
        response.content.decode()
    )
    assert _stored(campaign) == {}


def test_a_live_campaign_asks_for_a_test_audience_size(marketer_client):
    campaign = _campaign(campaign_type="live_action")
    html = marketer_client.post(
        _url(campaign), {"mode": "ab", "variant-0-body": "a", "_action": "mode"}
    ).content.decode()
    assert "Test audience size (messages)" in html
    assert '<input type="hidden" name="ab-size_kind" value="count">' in html


# --- saving --------------------------------------------------------------------------------


def test_saving_a_single_push_message_stores_the_content_and_goes_to_test(marketer_client):
    campaign = _campaign()
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "single",
            "variant-0-title": "Hi {{Profile.Name}}",
            "variant-0-body": "Your cart\r\nmisses you",
            "variant-0-badge": "2",
            "variant-0-mutable_content": "on",
            "variant-0-android_priority": "high",
            "variant-0-buttons-0-label": "Buy",
            "variant-0-buttons-0-link": "myapp://cart",
            "variant-0-custom_kv-ios": "campaign=spring\nlevel = 2",
            "goal-event": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "campaigns:step", kwargs={"pk": campaign.pk, "step": "test"}
    )
    stored = _stored(campaign)
    message = stored["variants"][0]["message"]
    assert stored["mode"] == "single" and stored["variants"][0]["key"] == "A"
    assert message["body"] == "Your cart\nmisses you" and message["badge"] == 2
    assert message["mutable_content"] is True and message["content_available"] is False
    assert message["android_priority"] == "high"
    assert message["buttons"] == [{"label": "Buy", "link": "myapp://cart"}]
    assert message["custom_kv"]["ios"] == {"campaign": "spring", "level": "2"}
    assert campaign.conversion_goal is None and campaign.wizard_step == WizardStep.WHAT


def test_an_invalid_post_shows_errors_beside_fields_and_saves_nothing(marketer_client):
    campaign = _campaign()
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "single",
            "variant-0-body": "Hello\n{{ Profile.Name | shout }}",
            "variant-0-image_url": "ftp://files.example.com/a.png",
            "variant-0-badge": "lots",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="variant-0-body_errors"><li>Line 2: unknown filter' in html
    assert 'id="variant-0-image_url_errors"><li>Enter a valid http(s) URL' not in html
    assert 'id="variant-0-image_url_errors"><li>Enter an http(s) URL (https://…).' in html
    assert 'id="variant-0-badge_errors"><li>Badge count must be a whole number.' in html
    assert '<details class="what-advanced" open>' in html  # the badge error is not hidden
    assert ">Hello\n{{ Profile.Name | shout }}</textarea>" in html  # typed text kept
    assert _stored(campaign) == {} and campaign.wizard_step == WizardStep.WHEN


def test_an_invalid_htmx_save_answers_200_so_htmx_swaps_it(htmx_client):
    campaign = _campaign()
    response = htmx_client.post(_url(campaign), {"mode": "single", "variant-0-body": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert _stored(campaign) == {}


def test_saving_an_ab_test_with_a_conversion_goal(marketer_client):
    campaign = _campaign("email")
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "ab",
            "variant-0-subject": "Spring sale",
            "variant-0-html": "<p>A</p>",
            "variant-1-name": "Short copy",
            "variant-1-subject": "Sale",
            "variant-1-text": "B",
            "ab-size_kind": "percent",
            "ab-size": "15",
            "ab-metric": "conversions",
            "ab-window_hours": "6",
            "goal-event": "Charged",
            "goal-window_number": "3",
            "goal-window_unit": "D",
            "goal-filter-0-name": "Amount",
            "goal-filter-0-operator": "between",
            "goal-filter-0-value": "10, 100",
        },
    )
    assert response.status_code == 302
    stored = _stored(campaign)
    assert stored["ab"] == {
        "size_kind": "percent",
        "size": 15,
        "metric": "conversions",
        "window_hours": 6,
    }
    assert [(v["key"], v["name"]) for v in stored["variants"]] == [
        ("A", "Variant A"),
        ("B", "Short copy"),
    ]
    assert campaign.conversion_goal == {
        "event": "Charged",
        "filters": [{"name": "Amount", "operator": "between", "value": [10, 100]}],
        "window": "3D",
    }


def test_a_live_campaign_saves_its_test_audience_as_a_count(marketer_client):
    campaign = _campaign(campaign_type="live_inaction")
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "ab",
            "variant-0-body": "a",
            "variant-1-body": "b",
            "ab-size_kind": "percent",  # a forged field: a live test is always a count
            "ab-size": "500",
        },
    )
    assert response.status_code == 302
    assert _stored(campaign)["ab"]["size_kind"] == "count" and campaign.content["ab"]["size"] == 500


def test_coming_from_the_overview_returns_there(marketer_client):
    campaign = CampaignFactory(channel="push", wizard_step=WizardStep.SCHEDULE)
    page = marketer_client.get(_url(campaign) + "?then=overview").content.decode()
    assert 'name="then" value="overview"' in page
    response = marketer_client.post(
        _url(campaign), {"mode": "single", "variant-0-body": "x", "then": "overview"}
    )
    assert response["Location"] == reverse(
        "campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"}
    )


def test_ab_percent_out_of_range_is_shown_beside_the_size(marketer_client):
    campaign = _campaign()
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "ab",
            "variant-0-body": "a",
            "variant-1-body": "b",
            "ab-size_kind": "percent",
            "ab-size": "100",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="ab-size_errors"><li>The percentage must be between 1 and 99.' in html


def test_a_goal_window_that_is_not_a_number_is_refused(marketer_client):
    campaign = _campaign()
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "single",
            "variant-0-body": "a",
            "goal-event": "Charged",
            "goal-window_number": "soon",
        },
    )
    assert response.status_code == 400
    assert 'id="goal-window_errors"' in response.content.decode()
    assert _stored(campaign) == {}


def test_saving_multi_message_by_language(marketer_client):
    campaign = _campaign(
        "sms", provider=provider_create(channel="sms", kind="twilio", nickname="tw")
    )
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "multi",
            "multi-property": "Language",
            "multi-fallback": "C",
            "variant-0-match": "en",
            "variant-0-body": "Hello",
            "variant-1-match": "fr",
            "variant-1-body": "Bonjour",
            "variant-2-body": "Hallo",
        },
    )
    assert response.status_code == 302
    stored = _stored(campaign)
    assert [(v["key"], v["match"]) for v in stored["variants"]] == [
        ("A", "en"),
        ("B", "fr"),
        ("C", ""),
    ]
    assert stored["multi"] == {"property": "Language", "fallback": "C"}


def test_multi_message_duplicate_values_are_shown_beside_the_value(marketer_client):
    campaign = _campaign()
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "multi",
            "multi-property": "Language",
            "multi-fallback": "A",
            "variant-0-match": "en",
            "variant-0-body": "a",
            "variant-1-match": "EN",
            "variant-1-body": "b",
        },
    )
    assert (
        'id="variant-1-match_errors"><li>Variant A already matches “EN”.'
        in response.content.decode()
    )


def test_a_generic_provider_template_id_saves_without_a_body(marketer_client):
    generic = provider_create(channel="sms", kind="generic_sms", nickname="gen")
    campaign = _campaign("sms", provider=generic)
    response = marketer_client.post(
        _url(campaign),
        {
            "mode": "single",
            "variant-0-template_id": "DLT-1",
            "variant-0-template_variables-0-key": "user",
            "variant-0-template_variables-0-value": "{{Profile.Name}}",
            "variant-0-key_values-0-key": "coupon",
            "variant-0-key_values-0-value": "SPRING",
        },
    )
    assert response.status_code == 302
    message = _stored(campaign)["variants"][0]["message"]
    assert message["body"] == "" and message["template_id"] == "DLT-1"
    assert message["template_variables"] == [{"key": "user", "value": "{{Profile.Name}}"}]
    assert message["key_values"] == [{"key": "coupon", "value": "SPRING"}]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"mode": "xyz"},
        {"mode": "ab", "ab-size": "1e9", "ab-metric": "vibes", "ab-window_hours": "-1"},
        {"mode": "multi", "variant-9-body": "x", "variant-99-body": "y", "multi-fallback": "Z"},
        {"mode": "single", "variant-0-custom_kv-android": "no equals sign", "variant-0-body": "b"},
        {
            "mode": "single",
            "variant-0-body": "b",
            "goal-event": "E",
            "goal-window_number": "3",
            "goal-filter-0-name": "x",
            "goal-filter-0-operator": "zz",
            "goal-filter-0-value": "1",
        },
        {"mode": "single", "variant-0-body": "\x00", "template_id": "abc", "preview_profile": "x"},
        {"_action": "remove-7"},
        {"_action": "template-0", "variant-0-template": "nope"},
        {"_action": "copy-x", "mode": "ab"},
        {"_action": "preview-44", "preview_profile_pick": "99999"},
        {"_action": "preview-0", "preview_profile": "9" * 40},
        {"_action": "template-0", "variant-0-template": "9" * 40},
    ],
)
def test_garbage_posts_never_crash_and_never_save(marketer_client, data):
    campaign = _campaign()
    response = marketer_client.post(_url(campaign), data)
    assert response.status_code in (200, 400)
    assert 'id="what-editor"' in response.content.decode()
    assert _stored(campaign) == {}


# --- htmx editor actions -------------------------------------------------------------------


def test_adding_a_variant_returns_only_the_editor_and_keeps_what_was_typed(htmx_client):
    campaign = _campaign()
    response = htmx_client.post(
        _url(campaign),
        {"mode": "ab", "variant-0-body": "A text", "variant-1-body": "B text", "_action": "add"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="what-editor">')
    assert ">A text</textarea>" in html and ">B text</textarea>" in html
    assert 'name="variant-2-body"' in html
    assert 'value="add"' not in html  # three is the most an A/B test has
    assert _stored(campaign) == {}


def test_an_editor_action_also_refreshes_the_preview_out_of_band(htmx_client):
    campaign = _campaign()
    html = htmx_client.post(
        _url(campaign),
        {
            "mode": "ab",
            "variant-0-body": "A",
            "variant-1-body": "B",
            "variant-2-body": "C body",
            "preview_variant": "2",
            "_action": "remove-0",
        },
    ).content.decode()
    preview = html[html.index('<div id="what-preview"') :]
    assert 'hx-swap-oob="outerHTML"' in preview.split(">", 1)[0]
    assert "Variant B" in preview and "C body" in preview  # C became B, and is still shown


def test_copying_a_variant_appends_its_message(htmx_client):
    campaign = _campaign()
    html = htmx_client.post(
        _url(campaign),
        {
            "mode": "ab",
            "variant-0-body": "Original",
            "variant-1-body": "Other",
            "_action": "copy-0",
        },
    ).content.decode()
    assert (
        html.count(">Original</textarea>") == 2
        and 'name="variant-2-name" value="Variant C"' in html
    )


def test_removing_a_variant_rekeys_the_rest_and_keeps_the_fallback(htmx_client):
    campaign = _campaign()
    html = htmx_client.post(
        _url(campaign),
        {
            "mode": "multi",
            "multi-property": "Language",
            "multi-fallback": "C",
            "variant-0-body": "en text",
            "variant-1-body": "fr text",
            "variant-2-body": "fallback text",
            "_action": "remove-1",
        },
    ).content.decode()
    assert "fr text" not in html
    assert 'name="variant-1-body" rows="3" data-liquid="true">fallback text' in html
    assert '<option value="B" selected>Variant B</option>' in html


def test_switching_to_ab_adds_a_second_variant(htmx_client):
    campaign = _campaign()
    html = htmx_client.post(
        _url(campaign), {"mode": "ab", "variant-0-body": "only one", "_action": "mode"}
    ).content.decode()
    assert 'name="variant-1-body"' in html and 'name="ab-size" value="20"' in html


def test_switching_to_single_keeps_variant_a_and_says_so(htmx_client):
    campaign = _campaign()
    html = htmx_client.post(
        _url(campaign),
        {"mode": "single", "variant-0-body": "keep", "variant-1-body": "drop", "_action": "mode"},
    ).content.decode()
    assert ">keep</textarea>" in html and ">drop<" not in html
    assert "Single message keeps variant A; the others were taken out" in html


def test_starting_from_a_saved_template_fills_the_variant(htmx_client):
    template = MessageTemplateFactory(
        channel="push",
        name="Cart",
        content=push_content(deep_link="myapp://cart", custom_kv={"k": "v"}),
    )
    MessageTemplateFactory(channel="email", name="Not for push", content=email_content())
    campaign = _campaign()
    html = htmx_client.post(
        _url(campaign),
        {
            "mode": "single",
            "variant-0-body": "old",
            "variant-0-template": str(template.pk),
            "_action": "template-0",
        },
    ).content.decode()
    assert ">Your cart misses you</textarea>" in html
    assert 'name="variant-0-deep_link" value="myapp://cart"' in html
    assert f'name="template_id" value="{template.pk}"' in html
    assert "Not for push" not in html  # the picker lists the campaign's channel only
    assert ">k=v</textarea>" in html


def test_a_template_of_another_channel_cannot_be_loaded(htmx_client):
    template = MessageTemplateFactory(channel="email", content=email_content())
    html = htmx_client.post(
        _url(_campaign()),
        {
            "mode": "single",
            "variant-0-body": "mine",
            "variant-0-template": str(template.pk),
            "_action": "template-0",
        },
    ).content.decode()
    assert ">mine</textarea>" in html and "Choose a saved template first." in html


# --- preview and counter -------------------------------------------------------------------


def test_preview_renders_the_draft_for_a_chosen_profile_on_a_phone_card(htmx_client):
    ProfileFactory(name="Test Tess", is_test=True)
    chosen = ProfileFactory(name="Ada")
    campaign = _campaign()
    html = htmx_client.post(
        _url(campaign),
        {
            "mode": "ab",
            "variant-0-body": "for A",
            "variant-1-title": "Hi {{Profile.Name}}",
            "variant-1-body": "B body",
            "_action": "preview",
            "preview_variant": "1",
            "preview_profile_pick": str(chosen.pk),
        },
    ).content.decode()
    assert html.lstrip().startswith('<div id="what-preview"')
    assert 'class="preview preview-push"' in html and "<strong>Hi Ada</strong>" in html
    assert "Variant B" in html and f'name="preview_profile" value="{chosen.pk}"' in html


def test_preview_defaults_to_the_first_test_profile(htmx_client):
    ProfileFactory(name="Tess", is_test=True)
    html = htmx_client.post(
        _url(_campaign("sms")),
        {"mode": "single", "variant-0-body": "Hi {{Profile.Name}} ✓", "_action": "preview-0"},
    ).content.decode()
    assert '<p class="preview-sms-bubble">Hi Tess ✓</p>' in html and "UCS-2" in html


def test_email_preview_is_a_sandboxed_iframe_with_escaped_values(htmx_client):
    profile = ProfileFactory(name="<script>x</script>")
    html = htmx_client.post(
        _url(_campaign("email")),
        {
            "mode": "single",
            "variant-0-subject": "S",
            "variant-0-html": "<p>{{Profile.Name}}</p>",
            "_action": "preview-0",
            "preview_profile": str(profile.pk),
        },
    ).content.decode()
    assert 'sandbox=""' in html and "&amp;lt;script&amp;gt;" in html


def test_preview_of_a_broken_template_says_where_it_is_broken(htmx_client):
    html = htmx_client.post(
        _url(_campaign()),
        {"mode": "single", "variant-0-body": "ok\n{% if %}", "_action": "preview-0"},
    ).content.decode()
    assert "Fix the template to see the preview. Message: Line 2:" in html


def test_profile_search_lists_matching_profiles(htmx_client):
    ProfileFactory(identity="ada-1", name="Ada")
    ProfileFactory(identity="bob-1", name="Bob")
    campaign = _campaign()
    html = htmx_client.get(_url(campaign) + "?profile_q=ada").content.decode()
    assert html.lstrip().startswith('<ul id="profile-matches"')
    assert "Ada" in html and "Bob" not in html
    assert (
        "No profile starts with “zz”"
        in htmx_client.get(_url(campaign) + "?profile_q=zz").content.decode()
    )


def test_the_sms_counter_counts_the_rendered_text(htmx_client):
    ProfileFactory(name="Al", is_test=True)
    html = htmx_client.post(
        _url(_campaign("sms")),
        {"mode": "single", "variant-0-body": "Hi {{Profile.Name}}", "_action": "counter-0"},
    ).content.decode()
    assert "<strong>5</strong> characters" in html and "GSM-7" in html and "as sent to Al" in html
    assert "<form" not in html


# --- problems, summary, roles --------------------------------------------------------------


def test_problems_and_summary_come_from_the_stored_content():
    campaign = _campaign()
    assert what.problems(campaign) == ["No message yet: write it in What."]
    campaign.content = content.content_clean(
        {"mode": "single", "variants": [{"message": {"body": "Weekend sale starts now"}}]},
        channel="push",
    )
    campaign.save()
    assert what.problems(campaign) == []
    assert what.summary(campaign) == [
        ("Content", "Single message"),
        ("Message", "Weekend sale starts now"),
        ("Conversion goal", "None"),
    ]


def test_viewers_cannot_open_the_what_step(viewer_client):
    campaign = _campaign()
    assert viewer_client.get(_url(campaign)).status_code == 403
    assert (
        viewer_client.post(_url(campaign), {"mode": "single", "variant-0-body": "x"}).status_code
        == 403
    )
    assert Campaign.objects.get(pk=campaign.pk).content == {}
