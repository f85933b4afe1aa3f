import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.message_templates.personalization import (
    TEMPLATE_CACHE_SIZE,
    PersonalizationError,
    TemplateError,
    liquid_environment,
    message_render,
    personalization_fields,
    personalization_fields_forget,
    profile_context,
    template_compile,
    template_errors,
)
from tests.audience.factories import EventFactory, ProfileFactory


@pytest.fixture(autouse=True)
def _fresh_caches():
    # The field list lives in Redis, which outlives a test's database transaction.
    personalization_fields_forget()
    yield
    personalization_fields_forget()


# --- environments ----------------------------------------------------------------------------


def test_there_is_one_text_environment_and_one_html_environment_per_process():
    assert liquid_environment() is liquid_environment(html=False)
    assert liquid_environment(html=True) is liquid_environment(html=True)
    assert liquid_environment() is not liquid_environment(html=True)
    assert liquid_environment().autoescape is False
    assert liquid_environment(html=True).autoescape is True


# --- missing values and default ----------------------------------------------------------------


def test_default_filter_fills_a_missing_profile_value():
    source = 'Hi {{ Profile.Name | default: "Shopper" }}!'
    assert message_render(source, profile={"Name": "Ann"}) == "Hi Ann!"
    assert message_render(source, profile={}) == "Hi Shopper!"
    assert message_render(source) == "Hi Shopper!"


def test_default_filter_fills_an_empty_built_in_field(db):
    profile = ProfileFactory(name="", city="")
    assert message_render('{{ Profile.City | default: "your city" }}', profile=profile) == (
        "your city"
    )


def test_missing_values_render_empty_without_raising():
    source = "[{{ Profile.Nope }}][{{ Event.Nope.Deeper }}][{{ Notify.nope }}][{{ Unknown.x }}]"
    assert message_render(source) == "[][][][]"


def test_a_filter_error_on_a_missing_value_drops_only_that_statement():
    source = "Total: {{ Event.Amount | divided_by: Event.Count }}. Thanks {{ Profile.Name }}"
    assert message_render(source, profile={"Name": "Bo"}, event={"Amount": 10}) == (
        "Total: . Thanks Bo"
    )


def test_a_condition_on_a_missing_or_odd_value_does_not_fail_the_message():
    source = "A{% if Profile.Points > 100 %}VIP{% else %}std{% endif %}B"
    assert message_render(source, profile={}) == "AstdB"
    assert message_render(source, profile={"Points": 500}) == "AVIPB"
    # A string compared with a number is a type error in Liquid: only the `if` is dropped.
    assert message_render(source, profile={"Points": "lots"}) == "AB"


# --- namespaces ------------------------------------------------------------------------------


def test_profile_context_has_built_in_fields_by_display_name_and_custom_properties(db):
    profile = ProfileFactory(
        name="Ann Lee",
        email="ann@example.com",
        phone="+14155550123",
        city="Lisbon",
        country="Portugal",
        date_of_birth=datetime.date(1990, 5, 17),
        properties={"Plan": "gold", "Points": 120},
    )
    values = profile_context(profile)["Profile"]
    assert values["Name"] == "Ann Lee"
    assert values["Email"] == "ann@example.com"
    assert values["Phone"] == "+14155550123"
    assert values["City"] == "Lisbon"
    assert values["Country"] == "Portugal"
    assert values["DOB"] == datetime.date(1990, 5, 17)
    assert values["Plan"] == "gold"
    assert values["Points"] == 120


def test_profile_lookups_are_case_insensitive_but_exact_match_wins(db):
    profile = ProfileFactory(name="Ann", properties={"tier": "low", "Tier": "high"})
    # The spec's own Notify example writes Profile.name in lower case.
    assert message_render('{{Profile.name | default:"Shopper"}}', profile=profile) == "Ann"
    assert message_render("{{ Profile.NAME }}", profile=profile) == "Ann"
    assert message_render("{{ Profile.tier }}/{{ Profile.Tier }}", profile=profile) == "low/high"


def test_built_in_columns_win_over_a_custom_property_of_the_same_name(db):
    profile = ProfileFactory(name="Column Name", properties={"name": "property name"})
    assert message_render("{{ Profile.Name }}|{{ Profile.name }}", profile=profile) == (
        "Column Name|Column Name"
    )


def test_custom_properties_render_with_liquid_filters_and_loops(db):
    profile = ProfileFactory(properties={"Points": 120, "Interests": ["tea", "jazz"]})
    source = "{{ Profile.Points | plus: 5 }} {% for i in Profile.Interests %}#{{ i }}{% endfor %}"
    assert message_render(source, profile=profile) == "125 #tea#jazz"


def test_event_namespace_reads_event_properties_from_a_model_or_a_mapping(db):
    event = EventFactory(name="Charged", properties={"Amount": 42.5, "Item": {"Name": "Mug"}})
    source = "{{ Event.Amount }} for {{ Event.Item.Name }}"
    assert message_render(source, event=event) == "42.5 for Mug"
    assert message_render(source, event={"Amount": 7, "Item": {"Name": "Cap"}}) == "7 for Cap"


def test_notify_namespace_reads_notify_fields():
    source = '{{Notify.orderID | default:"Order number not available"}}'
    assert message_render(source, notify={"orderID": "A-1001"}) == "A-1001"
    assert message_render(source, notify={}) == "Order number not available"


def test_emoji_in_templates_and_values_survive_rendering():
    source = "🎉 {{ Profile.Name }} {{ Notify.Flag }} ✨"
    assert message_render(source, profile={"Name": "Zoë 👋"}, notify={"Flag": "🇵🇹"}) == (
        "🎉 Zoë 👋 🇵🇹 ✨"
    )
    assert message_render("{{ Profile.Name | upcase }}", profile={"Name": "zoë 👋"}) == "ZOË 👋"


# --- escaping --------------------------------------------------------------------------------


def test_email_html_escapes_profile_values():
    source = "<p>Hello {{ Profile.Name }}</p>"
    rendered = message_render(source, profile={"Name": "<script>alert(1)</script>"}, html=True)
    assert rendered == "<p>Hello &lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_email_html_escapes_event_and_notify_values_too():
    rendered = message_render(
        '<a title="{{ Notify.t }}">{{ Event.x }}</a>',
        event={"x": "<b>"},
        notify={"t": '"><img src=x onerror=alert(1)>'},
        html=True,
    )
    assert "<b>" not in rendered
    assert "<img" not in rendered
    assert "&lt;b&gt;" in rendered
    assert "&#34;&gt;&lt;img" in rendered or "&quot;&gt;&lt;img" in rendered


def test_push_and_sms_text_is_not_escaped():
    source = "Hello {{ Profile.Name }} & welcome"
    assert message_render(source, profile={"Name": "<script> & Tom's"}) == (
        "Hello <script> & Tom's & welcome"
    )


# --- syntax errors ---------------------------------------------------------------------------


def test_valid_template_has_no_errors():
    assert template_errors('Hi {{ Profile.Name | default: "there" }}') == []
    assert template_errors("{% if Profile.Points > 10 %}VIP{% else %}Hi{% endif %}") == []


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("Hello\n\n{{ Profile.Name | }}\nBye", 3, "expected"),
        ("one\ntwo\n{% if Profile.VIP %}\nthree", 3, "'if' is never closed"),
        ("one\n{% for x in Profile.List %}\n{% if x %}\n{% endfor %}", 4, "endfor"),
        ("a\nb\nc\n{% frobnicate %}", 4, "frobnicate"),
        ("a\n{{ Profile.Name", 2, "expected '}}'"),
        ("a\nb\n{{ Profile.Name | shout }}", 3, "unknown filter 'shout'"),
        ("a\n{% include 'footer' %}", 2, "include"),
        ("a\n\n{% break %}", 3, "break"),
    ],
)
def test_syntax_errors_report_the_line_they_are_on(source, line, fragment):
    errors = template_errors(source)
    assert len(errors) == 1
    assert isinstance(errors[0], TemplateError)
    assert errors[0].line == line
    assert fragment in errors[0].message


def test_every_unknown_filter_is_reported_with_its_line():
    errors = template_errors("{{ a | nope }}\nok\n{{ b | upcase | shout }}")
    assert [(error.line, error.message) for error in errors] == [
        (1, "unknown filter 'nope'"),
        (3, "unknown filter 'shout'"),
    ]


def test_html_templates_are_checked_the_same_way():
    assert template_errors("<p>\n{{ x | }}\n</p>", html=True)[0].line == 2


def test_compiling_or_rendering_a_broken_template_raises_personalization_error():
    with pytest.raises(PersonalizationError) as raised:
        template_compile("ok\n{% if x %}")
    assert raised.value.errors[0].line == 2
    assert "line 2" in str(raised.value)
    with pytest.raises(PersonalizationError):
        message_render("{{ x | shout }}", profile={"Name": "Ann"})


def test_a_runaway_loop_is_a_template_error_not_a_hang():
    errors = template_errors("{% for i in (1..1000000) %}x{% endfor %}")
    assert errors and "limit" in errors[0].message


# --- caching ---------------------------------------------------------------------------------


def test_compiling_the_same_source_returns_the_same_template_object():
    source = "Cache me {{ Profile.Name }} 4f1c"
    first = template_compile(source)
    assert template_compile(source) is first
    assert template_compile(source, html=False) is first
    assert template_compile(source, html=True) is not first
    assert template_compile(source, html=True) is template_compile(source, html=True)


def test_rendering_does_not_parse_a_cached_template_again():
    source = "Hits {{ Profile.Name }} 9a2e"
    message_render(source, profile={"Name": "A"})
    before = template_compile.cache_info()
    for name in ("B", "C", "D"):
        assert message_render(source, profile={"Name": name}) == f"Hits {name} 9a2e"
    after = template_compile.cache_info()
    assert after.hits - before.hits == 3
    assert after.misses == before.misses


def test_the_compiled_template_cache_is_bounded():
    for number in range(TEMPLATE_CACHE_SIZE + 50):
        template_compile(f"bounded {number} {{{{ Profile.Name }}}}")
    info = template_compile.cache_info()
    assert info.maxsize == TEMPLATE_CACHE_SIZE
    assert info.currsize <= TEMPLATE_CACHE_SIZE


# --- personalization fields ------------------------------------------------------------------


def test_personalization_fields_lists_built_ins_then_distinct_custom_keys_sorted(db):
    ProfileFactory(properties={"Plan": "gold", "Points": 1, "favourite_colour": "red"})
    ProfileFactory(properties={"Plan": "silver", "Age": 30})
    ProfileFactory(properties={})
    ProfileFactory(properties=["not", "an", "object"])
    ProfileFactory(properties={"name": "shadowed by the built-in Name"})

    fields = personalization_fields()

    assert fields[:4] == ["Name", "Email", "Phone", "Identity"]
    assert "City" in fields and "Country" in fields
    custom = fields[fields.index("Longitude") + 1 :]
    assert custom == ["Age", "Plan", "Points", "favourite_colour"]
    assert fields.count("Name") == 1


def test_personalization_fields_are_cached_until_forgotten(db):
    ProfileFactory(properties={"Plan": "gold"})
    assert "Plan" in personalization_fields()

    ProfileFactory(properties={"Loyalty": "yes"})
    with CaptureQueriesContext(connection) as queries:
        cached = personalization_fields()
    assert len(queries) == 0
    assert "Loyalty" not in cached

    personalization_fields_forget()
    assert "Loyalty" in personalization_fields()


def test_personalization_fields_respects_the_limit(db):
    ProfileFactory(properties={f"key_{number:02d}": number for number in range(30)})
    assert len(personalization_fields(limit=20)) == 20
    assert personalization_fields(limit=200)[-1] == "key_29"
