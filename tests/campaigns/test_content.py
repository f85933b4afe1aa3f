"""apps/campaigns/content.py: every rule of the content document, rendering, problems, summary."""

import pytest

from apps.campaigns import content
from apps.campaigns.content import ContentInvalid, content_clean, goal_clean, render_message
from apps.providers.services import provider_create, provider_group_save
from tests.campaigns.factories import CampaignFactory


def _errors(raw, **kwargs) -> dict[str, str]:
    kwargs.setdefault("channel", "push")
    with pytest.raises(ContentInvalid) as caught:
        content_clean(raw, **kwargs)
    return caught.value.errors


def _single(message, channel="push"):
    return {"mode": "single", "variants": [{"message": message}]}


def _ab(*bodies, **ab):
    return {
        "mode": "ab",
        "variants": [{"message": {"body": body}} for body in bodies],
        "ab": {"size_kind": "percent", "size": 20, "metric": "clicks", **ab},
    }


# --- messages per channel ------------------------------------------------------------------


def test_a_push_message_is_stored_with_every_key():
    stored = content_clean(_single({"body": "Hello"}), channel="push")
    message = stored["variants"][0]["message"]
    assert set(message) == set(content.BLANK_MESSAGES["push"])
    assert message["body"] == "Hello" and message["android_priority"] == "default"
    assert stored["variants"][0]["key"] == "A" and stored["variants"][0]["name"] == "Variant A"
    assert stored["ab"] is None and stored["multi"] is None


def test_push_body_is_required():
    assert _errors(_single({"title": "Hi"}))["variant-0-body"] == "This field is required."


def test_push_title_longer_than_the_limit_is_refused():
    errors = _errors(_single({"title": "x" * 201, "body": "b"}))
    assert errors["variant-0-title"].startswith("At most 200 characters")


def test_liquid_syntax_errors_name_their_line():
    errors = _errors(_single({"body": "Hi\n{{ Profile.Name | nope }}"}))
    assert errors["variant-0-body"].startswith("Line 2:") and "nope" in errors["variant-0-body"]


@pytest.mark.parametrize("badge", ["two", "1.5", -1, True])
def test_badge_must_be_a_whole_number_in_range(badge):
    assert "variant-0-badge" in _errors(_single({"body": "b", "badge": badge}))


@pytest.mark.parametrize(
    ("badge", "message"),
    [
        ("two", "Badge count must be a whole number."),
        (1_000_001, "Badge count must be between 0 and 1,000,000."),
    ],
)
def test_badge_errors_say_what_a_badge_count_may_be(badge, message):
    assert _errors(_single({"body": "b", "badge": badge}))["variant-0-badge"] == message


def test_a_blank_badge_is_no_badge():
    stored = content_clean(_single({"body": "b", "badge": "  "}), channel="push")
    assert stored["variants"][0]["message"]["badge"] is None


def test_badge_as_typed_is_stored_as_an_integer():
    stored = content_clean(_single({"body": "b", "badge": " 3 "}), channel="push")
    assert stored["variants"][0]["message"]["badge"] == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image_url", "ftp://x.com/a.png"),
        ("image_url", "myapp://a"),
        ("external_url", "not a url"),
        ("deep_link", "javascript:alert(1)"),
        ("deep_link", "just words"),
    ],
)
def test_urls_must_be_http_or_deep_links_where_allowed(field, value):
    assert f"variant-0-{field}" in _errors(_single({"body": "b", field: value}))


def test_valid_urls_deep_links_and_liquid_urls_are_accepted():
    message = content_clean(
        _single(
            {
                "body": "b",
                "image_url": "https://cdn.example.com/a.png",
                "deep_link": "myapp://cart/{{Profile.Identity}}",
                "external_url": "{{Profile.landing}}",
                "buttons": [{"label": "Buy", "link": "https://shop.example.com"}],
            }
        ),
        channel="push",
    )["variants"][0]["message"]
    assert message["deep_link"] == "myapp://cart/{{Profile.Identity}}"
    assert message["buttons"] == [{"label": "Buy", "link": "https://shop.example.com"}]


def test_carousel_and_buttons_skip_blank_rows_and_check_filled_ones():
    errors = _errors(
        _single(
            {
                "body": "b",
                "carousel": [{"image_url": "", "caption": "", "link": ""}, {"caption": "Only"}],
                "buttons": [{"label": "", "link": "https://x.com"}],
            }
        )
    )
    assert errors["variant-0-carousel-1-image_url"] == "This field is required."
    assert errors["variant-0-buttons-0-label"] == "This field is required."
    assert "variant-0-carousel-0-image_url" not in errors


def test_more_than_three_buttons_are_refused():
    rows = [{"label": f"B{i}", "link": ""} for i in range(4)]
    assert _errors(_single({"body": "b", "buttons": rows}))["variant-0-buttons"] == "At most 3."


def test_android_priority_must_be_a_known_one():
    errors = _errors(_single({"body": "b", "android_priority": "urgent"}))
    assert errors["variant-0-android_priority"] == "Choose default, high or max."


def test_custom_key_values_are_per_platform():
    stored = content_clean(
        _single({"body": "b", "custom_kv": {"ios": {"k": 1}, "android": {"a": "b"}}}),
        channel="push",
    )
    assert stored["variants"][0]["message"]["custom_kv"] == {
        "android": {"a": "b"},
        "ios": {"k": "1"},
        "web": {},
    }
    assert "variant-0-custom_kv" in _errors(_single({"body": "b", "custom_kv": {"tv": {}}}))


def test_sms_body_is_required_for_ordinary_providers():
    errors = _errors(_single({"template_id": "T1"}), channel="sms")
    assert errors["variant-0-body"] == "This field is required."


def test_a_generic_provider_template_id_can_stand_for_the_body():
    stored = content_clean(_single({"template_id": "T1"}), channel="sms", generic_sms=True)
    assert stored["variants"][0]["message"]["template_id"] == "T1"
    errors = _errors(_single({}), channel="sms", generic_sms=True)
    assert "template ID" in errors["variant-0-body"]


def test_sms_key_values_need_distinct_placeholder_keys_and_values():
    errors = _errors(
        _single(
            {
                "body": "b",
                "key_values": [
                    {"key": "coupon", "value": "X"},
                    {"key": "coupon", "value": "Y"},
                    {"key": "bad key", "value": "Z"},
                    {"key": "empty", "value": ""},
                ],
            }
        ),
        channel="sms",
    )
    assert errors["variant-0-key_values-1-key"] == "“coupon” is already set."
    assert "Letters, digits" in errors["variant-0-key_values-2-key"]
    assert errors["variant-0-key_values-3-value"] == "This field is required."


def test_sms_template_variables_keep_their_order():
    stored = content_clean(
        _single(
            {
                "body": "b",
                "template_variables": [
                    {"key": "user", "value": "{{Profile.Name}}"},
                    {"key": "", "value": ""},
                    {"key": "", "value": "20"},
                ],
            }
        ),
        channel="sms",
    )
    assert [row["value"] for row in stored["variants"][0]["message"]["template_variables"]] == [
        "{{Profile.Name}}",
        "20",
    ]


def test_email_needs_a_subject_and_an_html_or_text_body():
    errors = _errors(_single({"subject": ""}), channel="email")
    assert errors["variant-0-subject"] == "This field is required."
    assert "HTML body or a plain-text body" in errors["variant-0-html"]
    stored = content_clean(_single({"subject": "S", "text": "plain"}), channel="email")
    assert stored["variants"][0]["message"]["text"] == "plain"


def test_email_html_errors_use_the_html_environment():
    errors = _errors(_single({"subject": "S", "html": "<p>\n\n{% for x in y %}"}), channel="email")
    assert errors["variant-0-html"].startswith("Line 3:")


@pytest.mark.parametrize("raw", [None, "text", 3, {"mode": "single", "variants": "x"}])
def test_garbage_content_is_refused_not_crashed(raw):
    with pytest.raises(ContentInvalid):
        content_clean(raw, channel="push")


def test_a_non_text_field_is_refused():
    assert _errors(_single({"body": ["x"]}))["variant-0-body"] == "Must be text."


# --- modes ---------------------------------------------------------------------------------


def test_single_mode_has_exactly_one_variant():
    raw = {"mode": "single", "variants": [{"message": {"body": "a"}}, {"message": {"body": "b"}}]}
    assert "exactly one" in _errors(raw)["variants"]


def test_an_unknown_mode_is_refused():
    assert "mode" in _errors({"mode": "random", "variants": [{"message": {"body": "a"}}]})


@pytest.mark.parametrize("count", [1, 4])
def test_ab_needs_two_or_three_variants(count):
    assert _errors(_ab(*["x"] * count))["variants"] == "An A/B test has 2 or 3 variants."


def test_ab_variants_get_keys_in_order():
    stored = content_clean(_ab("a", "b", "c"), channel="push")
    assert [v["key"] for v in stored["variants"]] == ["A", "B", "C"]
    assert stored["ab"] == {
        "size_kind": "percent",
        "size": 20,
        "metric": "clicks",
        "window_hours": 4,
    }


@pytest.mark.parametrize("size", [0, 100, "abc"])
def test_ab_percent_is_between_1_and_99(size):
    assert "ab-size" in _errors(_ab("a", "b", size=size))


def test_ab_count_is_at_least_one():
    assert "ab-size" in _errors(_ab("a", "b", size_kind="count", size=0))
    stored = content_clean(_ab("a", "b", size_kind="count", size=500), channel="push")
    assert stored["ab"]["size"] == 500


def test_a_live_campaign_tests_on_a_number_of_users_not_a_percentage():
    errors = _errors(_ab("a", "b", size_kind="percent", size=20), live=True)
    assert errors["ab-size_kind"] == "A live campaign's test audience is a number of users."
    stored = content_clean(_ab("a", "b", size_kind="count", size=500), channel="push", live=True)
    assert stored["ab"]["size_kind"] == "count"


def test_winner_by_opens_is_for_email_only():
    assert _errors(_ab("a", "b", metric="opens"))["ab-metric"] == "Choose clicks or conversions."
    email = {
        "mode": "ab",
        "variants": [{"message": {"subject": s, "text": s}} for s in ("a", "b")],
        "ab": {"size_kind": "percent", "size": 10, "metric": "opens"},
    }
    assert content_clean(email, channel="email")["ab"]["metric"] == "opens"


def test_winner_by_conversions_needs_a_goal():
    assert "conversion goal" in _errors(_ab("a", "b", metric="conversions"))["ab-metric"]
    content_clean(_ab("a", "b", metric="conversions"), channel="push", has_goal=True)


def _multi(*matches, prop="Language", fallback="A"):
    return {
        "mode": "multi",
        "variants": [
            {"match": match, "message": {"body": f"b{i}"}} for i, match in enumerate(matches)
        ],
        "multi": {"property": prop, "fallback": fallback},
    }


def test_multi_message_stores_property_matches_and_fallback():
    stored = content_clean(_multi("en", "fr", "de"), channel="push")
    assert [v["match"] for v in stored["variants"]] == ["en", "fr", "de"]
    assert stored["multi"] == {"property": "Language", "fallback": "A"}


def test_multi_needs_a_property():
    assert "multi-property" in _errors(_multi("en", "fr", prop=""))


def test_multi_match_values_are_distinct_ignoring_case():
    errors = _errors(_multi("en", " EN "))
    assert errors["variant-1-match"] == "Variant A already matches “EN”."


def test_multi_fallback_must_be_one_of_the_variants():
    assert "multi-fallback" in _errors(_multi("en", "fr", fallback="D"))


def test_multi_variants_other_than_the_fallback_need_a_match_value():
    errors = _errors(_multi("", "fr", "", fallback="A"))
    assert "variant-0-match" not in errors and "variant-2-match" in errors


# --- conversion goal -----------------------------------------------------------------------


def test_no_goal_event_means_no_goal():
    assert goal_clean({"event": " ", "window": ""}) is None and goal_clean(None) is None


def test_a_goal_is_event_filters_and_window():
    goal = goal_clean(
        {
            "event": "Charged",
            "window": "3D",
            "filters": [{"name": "Amount", "operator": "greater_than", "value": 100}],
        }
    )
    assert goal == {
        "event": "Charged",
        "filters": [{"name": "Amount", "operator": "greater_than", "value": 100}],
        "window": "3D",
    }


@pytest.mark.parametrize("window", ["", "3", "3W", "0D", "31D", "721H", 3])
def test_the_goal_window_is_days_or_hours_in_range(window):
    with pytest.raises(ContentInvalid) as caught:
        goal_clean({"event": "Charged", "window": window})
    assert "goal-window" in caught.value.errors


def test_goal_filters_use_the_segments_format_checks():
    with pytest.raises(ContentInvalid) as caught:
        goal_clean(
            {"event": "Charged", "window": "1D", "filters": [{"name": "Amount", "operator": "zz"}]}
        )
    assert caught.value.errors == {"goal-filter-0-operator": "Unknown operator 'zz'."}


def test_a_between_filter_typed_in_one_box_becomes_two_values():
    assert content.goal_filter_value("between", "10, 20") == [10, 20]
    assert content.goal_filter_value("equals", "Gold") == "Gold"
    assert content.goal_filter_value("exists", "whatever") is None


# --- rendering -----------------------------------------------------------------------------


def test_render_message_personalizes_every_liquid_field():
    rendered = render_message(
        "push",
        {
            "title": "Hi {{Profile.Name}}",
            "body": "{{Event.item}} is back",
            "deep_link": "myapp://u/{{Profile.Name}}",
            "carousel": [
                {"image_url": "https://x/{{Profile.Name}}.png", "caption": "", "link": ""}
            ],
            "buttons": [{"label": "For {{Profile.Name}}", "link": ""}],
            "sound": "{{not rendered}}",
        },
        {"Name": "Ada"},
        event={"item": "Tea"},
    )
    assert rendered["title"] == "Hi Ada" and rendered["body"] == "Tea is back"
    assert rendered["deep_link"] == "myapp://u/Ada"
    assert rendered["carousel"][0]["image_url"] == "https://x/Ada.png"
    assert rendered["buttons"][0]["label"] == "For Ada"
    assert rendered["sound"] == "{{not rendered}}"  # not a Liquid field


def test_render_message_escapes_values_in_email_html_only():
    rendered = render_message(
        "email",
        {
            "subject": "{{Profile.Name}}",
            "html": "<p>{{Profile.Name}}</p>",
            "text": "{{Profile.Name}}",
        },
        {"Name": "<b>Bo</b>"},
    )
    assert rendered["html"] == "<p>&lt;b&gt;Bo&lt;/b&gt;</p>"
    assert rendered["subject"] == "<b>Bo</b>" and rendered["text"] == "<b>Bo</b>"


def test_render_message_renders_sms_variables_and_key_values():
    rendered = render_message(
        "sms",
        {
            "body": "Hi {{Profile.Name}}",
            "template_variables": [{"key": "u", "value": "{{Profile.Name}}"}],
            "key_values": [{"key": "k", "value": "v{{Profile.Name}}"}],
        },
        {"Name": "Al"},
    )
    assert rendered["template_variables"][0]["value"] == "Al"
    assert rendered["key_values"][0]["value"] == "vAl"


def test_render_message_raises_content_invalid_for_a_broken_template():
    with pytest.raises(ContentInvalid) as caught:
        render_message("sms", {"body": "ok\n{% if %}"}, None)
    assert caught.value.errors["body"].startswith("Line 2:")


# --- campaign-level ------------------------------------------------------------------------


@pytest.mark.django_db
def test_campaign_variants_is_empty_without_content():
    assert content.campaign_variants(CampaignFactory(content={})) == []
    assert content.campaign_variants(CampaignFactory(content={"variants": "x"})) == []


@pytest.mark.django_db
def test_problems_say_there_is_no_content():
    assert content.content_problems(CampaignFactory(content={})) == [
        "No message yet: write it in What."
    ]


@pytest.mark.django_db
def test_problems_name_the_variant_and_the_field():
    stored = content_clean(_ab("a", "b"), channel="push")
    stored["variants"][1]["message"]["body"] = ""
    stored["variants"][0]["message"]["title"] = "{{ Profile.Name | nope }}"
    campaign = CampaignFactory(content=stored)
    problems = content.content_problems(campaign)
    assert "Variant B has no message." in problems
    assert any(p.startswith("Variant A: the title has a template error (Line 1:") for p in problems)


@pytest.mark.django_db
def test_problems_of_a_single_message_do_not_name_a_variant():
    stored = content_clean(_single({"subject": "S", "text": "t"}), channel="email")
    stored["variants"][0]["message"]["subject"] = ""
    stored["variants"][0]["message"]["html"] = "{% if %}"
    problems = content.content_problems(CampaignFactory(channel="email", content=stored))
    assert "The subject is missing (What)." in problems
    assert any(p.startswith("The HTML body has a template error (Line 1:") for p in problems)


@pytest.mark.django_db
def test_valid_content_has_no_problems():
    campaign = CampaignFactory(content=content_clean(_single({"body": "b"}), channel="push"))
    assert content.content_problems(campaign) == []


@pytest.mark.django_db
def test_sms_route_decides_whether_a_template_id_is_enough():
    generic = provider_create(channel="sms", kind="generic_sms", nickname="gen")
    twilio = provider_create(channel="sms", kind="twilio", nickname="tw")
    only_generic = CampaignFactory(channel="sms", provider=generic)
    mixed = CampaignFactory(
        channel="sms", provider_group=provider_group_save(name="G", providers=[twilio, generic])
    )
    assert content.only_generic_sms(only_generic) and content.uses_generic_sms(only_generic)
    assert not content.only_generic_sms(mixed) and content.uses_generic_sms(mixed)


GENERIC_SETTINGS = {
    "url": "https://sms.example.com/send?key=$$api_key",
    "body_template": {
        "to": "$$To",
        "text": "$$Message",
        "coupon": "$$coupon",
        "tpl": "$$TemplateID",
    },
    "headers": {"X-Region": "$$region"},
}


@pytest.mark.django_db
def test_generic_provider_keys_are_its_custom_placeholders_without_secrets():
    generic = provider_create(
        channel="sms",
        kind="generic_sms",
        nickname="gen",
        settings=GENERIC_SETTINGS,
        credentials={"api_key": "k"},
    )
    assert content.generic_sms_keys(CampaignFactory(channel="sms", provider=generic)) == [
        "coupon",
        "region",
    ]
    assert content.generic_sms_keys(CampaignFactory(channel="push")) == []


def test_required_generic_keys_need_a_value_in_every_variant():
    raw = _single({"body": "b", "key_values": [{"key": "coupon", "value": "X"}]})
    errors = _errors(raw, channel="sms", required_keys=["coupon", "region"])
    assert errors == {
        "variant-0-key_values": "The generic provider's request uses $$region: give each a value."
    }
    raw["variants"][0]["message"]["key_values"].append({"key": "region", "value": "eu"})
    content_clean(raw, channel="sms", required_keys=["coupon", "region"])


@pytest.mark.django_db
def test_summary_gives_mode_a_gist_per_variant_and_the_goal():
    stored = content_clean(_ab("x" * 80, "Short"), channel="push")
    campaign = CampaignFactory(
        content=stored, conversion_goal={"event": "Charged", "filters": [], "window": "3D"}
    )
    rows = content.content_summary(campaign)
    assert rows[0] == ("Content", "A/B test of 2 variants, tested on 20%, winner by clicks")
    assert rows[1] == ("Variant A", "x" * 59 + "…") and rows[2] == ("Variant B", "Short")
    assert rows[-1] == ("Conversion goal", "Charged within 3 days")
