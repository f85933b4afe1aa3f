"""The builder form: indexed fields <-> definitions, errors beside the right input, and rows
added or removed through htmx (or a plain post without JavaScript)."""

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.http import QueryDict

from apps.segments import builder
from apps.segments.definitions import definition_validate
from apps.segments.models import Segment
from tests.segments.factories import SegmentFactory
from tests.segments.helpers import CHARGED_LAST_30_DAYS

NEW_URL = "/segments/new/"

PAST = {
    "version": 1,
    "kind": "past",
    "behaviour": {
        "match": "any",
        "conditions": [
            {
                "type": "event",
                "did": True,
                "event": "Charged",
                "period": {"type": "last_days", "days": 30},
                "count": {"min": 2, "max": None},
                "properties": [
                    {"name": "Amount", "operator": "greater_than", "value": 100},
                    {"name": "Items|Category", "operator": "equals", "value": ["Books", "Toys"]},
                    {"name": "Coupon", "operator": "equals", "value": "100"},
                    {"name": "Note", "operator": "contains", "value": "a, b"},
                    {"name": "Paid", "operator": "equals", "value": True},
                ],
            },
            {
                "type": "event",
                "did": False,
                "event": "App Uninstalled",
                "period": {"type": "between", "from": "2025-01-01", "to": "2025-01-31"},
            },
            {"type": "event", "event": "Viewed", "count": {"min": 3, "max": 3}},
            {"type": "event", "event": "Searched", "count": {"min": 1, "max": 4}},
            {"type": "event", "event": "Shared", "count": {"min": 2, "max": 5}},
            {
                "type": "group",
                "match": "all",
                "conditions": [
                    {"type": "event", "event": "Added To Cart"},
                    {
                        "type": "event",
                        "did": False,
                        "event": "Charged",
                        "properties": [{"name": "Amount", "operator": "exists"}],
                    },
                ],
            },
        ],
    },
    "profile": [
        {"name": "Customer Type", "operator": "equals", "value": "Platinum"},
        {"name": "Amount Spent", "operator": "between", "value": [10, 20.5]},
        {"name": "Date of Birth", "operator": "less_than", "value": "2000-01-01"},
        {"name": "Plan", "operator": "not_equals", "value": ["free", "trial"]},
        {"name": "Nickname", "operator": "does_not_exist"},
    ],
    "demographics": {"age": {"min": 25, "max": 40}, "gender": ["F", "O"]},
    "geography": {
        "countries": ["United States", "India"],
        "regions": ["California"],
        "cities": ["San Francisco"],
    },
    "radius": [
        {"label": "Paris, France", "latitude": 48.8566, "longitude": 2.3522, "radius_km": 25},
        {"label": "", "latitude": -36.85, "longitude": 179.9, "radius_km": 12.5},
    ],
    "reachability": {"has_email": True, "sms_unsubscribed": False, "push_reachable": True},
    "app_fields": [
        {"name": "os_version", "operator": "equals", "value": "10"},
        {"name": "make", "operator": "contains", "value": "Sam"},
    ],
}

LIVE_INACTION = {
    "version": 1,
    "kind": "live",
    "live": {
        "type": "inaction",
        "event": "Added To Cart",
        "properties": [{"name": "Value", "operator": "greater_than_equals", "value": 50}],
        "not_event": "Charged",
        "not_properties": [{"name": "Currency", "operator": "equals", "value": "EUR"}],
        "within_minutes": 10,
    },
    "geography": {"countries": ["France"]},
}
LIVE_ACTION = {
    "version": 1,
    "kind": "live",
    "live": {"type": "action", "event": "Searched", "properties": []},
}
LIVE_DATE = {
    "version": 1,
    "kind": "live",
    "live": {
        "type": "date_property",
        "event": "Flight Booked",
        "property": "Departure",
        "offset": {"direction": "before", "amount": 2, "unit": "hours"},
    },
}


class _FormFields(HTMLParser):
    """What a browser would post for the builder form: inputs, checked boxes, selected
    options; buttons are left out (no button was clicked)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "select" and self._select:
            chosen = [v for v, selected in self._options if selected] or [self._options[0][0]]
            self.fields.append((self._select, chosen[0]))
            self._select = None


def posted_fields(html: str) -> QueryDict:
    parser = _FormFields("segment-builder")
    parser.feed(html)
    querydict = QueryDict(mutable=True)
    for name, value in parser.fields:
        querydict.appendlist(name, value)
    return querydict


# --- Round trip: a stored definition, rendered and posted back, is the same definition ------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "definition",
    [PAST, LIVE_INACTION, LIVE_ACTION, LIVE_DATE],
    ids=["past", "inaction", "action", "date"],
)
def test_a_rendered_definition_posts_back_as_the_same_definition(marketer_client, definition):
    normalised = definition_validate(definition)
    segment = SegmentFactory(name="Round trip", kind=normalised["kind"], definition=normalised)

    page = marketer_client.get(f"/segments/{segment.pk}/edit/")
    raw, parse_errors = builder.definition_from_builder(posted_fields(page.content.decode()))

    assert parse_errors == {}
    assert definition_validate(raw) == normalised


@pytest.mark.django_db
def test_saving_the_edit_page_unchanged_keeps_the_definition(marketer_client):
    normalised = definition_validate(PAST)
    segment = SegmentFactory(name="Unchanged", definition=normalised)
    page = marketer_client.get(f"/segments/{segment.pk}/edit/")

    fields = posted_fields(page.content.decode())
    response = marketer_client.post(f"/segments/{segment.pk}/edit/", dict(fields.lists()))

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.definition == normalised
    assert segment.name == "Unchanged"


def test_builder_rows_then_parsing_gives_the_definition_back_without_a_page():
    normalised = definition_validate(PAST)
    rows = builder.builder_rows(normalised)
    raw, errors = builder.definition_from_rows(rows)
    assert errors == {}
    assert definition_validate(raw) == normalised


# --- Reading what was typed --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "operator", "value"),
    [
        ("100", "greater_than", 100),
        ("12.5", "less_than", 12.5),
        ('"100"', "equals", "100"),
        ("true", "equals", True),
        ("2025-01-31", "greater_than", "2025-01-31"),
        ("Books, Toys", "equals", ["Books", "Toys"]),
        ("Books, Toys", "contains", "Books, Toys"),
        ('"a, b", c', "not_equals", ["a, b", "c"]),
        ("India", "equals", "India"),
    ],
)
def test_a_value_box_reads_numbers_booleans_quoted_text_and_lists(text, operator, value):
    assert builder.value_from_text(text, operator=operator) == value


@pytest.mark.parametrize("value", [100, 12.5, "100", True, "a, b", ["x", "y, z", 3], " padded"])
def test_every_value_renders_as_text_that_reads_back_the_same(value):
    operator = "equals" if isinstance(value, list) else "contains"
    if not isinstance(value, str):
        operator = "equals"
    assert builder.value_from_text(builder.value_to_text(value), operator=operator) == value


def test_rows_left_blank_are_not_conditions():
    querydict = QueryDict(
        "kind=past&match=all&cond-0-type=event&cond-0-did=did&cond-0-event=&cond-0-period=ever"
        "&cond-0-count_op=at_least&cond-0-count_n=1&profile-0-name=&profile-0-operator=equals"
        "&profile-0-value=&radius-0-label=&radius-0-latitude=&radius-0-longitude=&radius-0-km=25"
    )
    raw, errors = builder.definition_from_builder(querydict)
    assert errors == {}
    assert definition_validate(raw) == {"version": 1, "kind": "past"}


def test_a_demo_city_without_coordinates_uses_the_city_centre():
    querydict = QueryDict("kind=past&radius-0-label=Paris, France&radius-0-km=25")
    raw, errors = builder.definition_from_builder(querydict)
    assert errors == {}
    assert raw["radius"] == [
        {"label": "Paris, France", "latitude": 48.8566, "longitude": 2.3522, "radius_km": 25}
    ]


def test_a_live_segment_ignores_the_past_behaviour_rows_still_on_the_page():
    querydict = QueryDict(
        "kind=live&cond-0-type=event&cond-0-did=did&cond-0-event=Charged"
        "&live-type=action&live-event=Searched"
    )
    raw, errors = builder.definition_from_builder(querydict)
    assert errors == {}
    assert "behaviour" not in raw
    assert definition_validate(raw)["live"]["event"] == "Searched"


# --- Errors beside the right input -------------------------------------------------------------


def _post(client, **fields):
    data = {"name": "Errors", "kind": "past", "match": "all", **fields}
    return client.post(NEW_URL, data)


def _error_near(response, field: str) -> str:
    """The message shown under input `field` (its errorlist has id "<field>-error")."""
    html = response.content.decode()
    marker = f'id="{field}-error"><li>'
    assert marker in html, f"no error shown for {field}"
    return html.split(marker, 1)[1].split("</li>", 1)[0]


@pytest.mark.django_db
def test_between_with_one_value_is_shown_beside_that_property_value(marketer_client):
    response = _post(
        marketer_client,
        **{
            "cond-0-type": "event",
            "cond-0-did": "did",
            "cond-0-event": "Charged",
            "cond-0-period": "ever",
            "cond-0-count_op": "at_least",
            "cond-0-count_n": "1",
            "cond-0-prop-0-name": "Ignored",
            "cond-0-prop-0-operator": "equals",
            "cond-0-prop-0-value": "",
            "cond-0-prop-1-name": "Amount",
            "cond-0-prop-1-operator": "between",
            "cond-0-prop-1-value": "10",
            "cond-0-prop-1-value2": "",
        },
    )
    assert response.status_code == 400
    assert "value" in _error_near(response, "cond-0-prop-1-value2").lower()
    assert 'value="10"' in response.content.decode()  # what was typed is kept
    assert not Segment.objects.exists()


@pytest.mark.django_db
def test_a_date_range_ending_before_it_starts_is_shown_beside_the_end_date(marketer_client):
    response = _post(
        marketer_client,
        **{
            "cond-3-type": "event",
            "cond-3-did": "did",
            "cond-3-event": "Charged",
            "cond-3-period": "between",
            "cond-3-from": "2025-02-01",
            "cond-3-to": "2025-01-01",
            "cond-3-count_op": "at_least",
            "cond-3-count_n": "1",
        },
    )
    assert response.status_code == 400
    assert "before the start" in _error_near(response, "cond-3-to")


@pytest.mark.django_db
def test_a_radius_without_a_centre_is_shown_beside_its_latitude(marketer_client):
    response = _post(
        marketer_client,
        **{
            "radius-0-label": "Atlantis",
            "radius-0-latitude": "",
            "radius-0-longitude": "",
            "radius-0-km": "10",
        },
    )
    assert response.status_code == 400
    assert "centre" in _error_near(response, "radius-0-latitude")


@pytest.mark.django_db
def test_text_in_a_number_box_and_an_unknown_operator_are_each_shown_at_their_field(
    marketer_client,
):
    response = _post(
        marketer_client,
        **{
            "cond-0-type": "event",
            "cond-0-did": "did",
            "cond-0-event": "Charged",
            "cond-0-period": "last_days",
            "cond-0-days": "thirty",
            "cond-0-count_op": "at_least",
            "cond-0-count_n": "1",
            "profile-0-name": "Plan",
            "profile-0-operator": "is_like",
            "profile-0-value": "gold",
            "age_min": "old",
        },
    )
    assert response.status_code == 400
    assert "whole number" in _error_near(response, "cond-0-days")
    assert "Unknown operator" in _error_near(response, "profile-0-operator")
    assert "whole number" in _error_near(response, "age_min")


@pytest.mark.django_db
def test_an_invalid_builder_post_from_htmx_answers_200_so_htmx_swaps_it(marketer_client):
    response = marketer_client.post(
        NEW_URL,
        {"name": "", "kind": "past", "age_min": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Give the segment a name" in _error_near(response, "name")
    assert "whole number" in _error_near(response, "age_min")


@pytest.mark.django_db
def test_a_live_segment_without_its_other_event_shows_the_error_there(marketer_client):
    response = _post(
        marketer_client,
        kind="live",
        **{
            "live-type": "inaction",
            "live-event": "Added To Cart",
            "live-not_event": "",
            "live-within_minutes": "0",
        },
    )
    assert response.status_code == 400
    assert "event name" in _error_near(response, "live-not_event")
    assert "at least 1" in _error_near(response, "live-within_minutes")


# --- Add and remove rows -----------------------------------------------------------------------

ONE_CONDITION = {"name": "Rows", **CHARGED_LAST_30_DAYS}


@pytest.mark.django_db
def test_adding_a_property_row_through_htmx_returns_just_the_behaviour_section(htmx_client):
    response = htmx_client.post(NEW_URL, {**ONE_CONDITION, "action": "add-cond-0-prop"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "Segment name" not in html  # the partial, not the page
    assert 'name="cond-0-prop-0-name"' in html
    assert 'value="Charged"' in html  # what was typed stays
    assert response["HX-Trigger"] == "segment-changed"  # the estimate follows
    assert not Segment.objects.exists()


@pytest.mark.django_db
def test_removing_a_condition_renumbers_the_rest(htmx_client):
    data = {
        **ONE_CONDITION,
        "cond-1-type": "event",
        "cond-1-did": "did_not",
        "cond-1-event": "App Uninstalled",
        "cond-1-period": "ever",
        "cond-1-count_op": "at_least",
        "cond-1-count_n": "1",
        "action": "remove-cond-0",
    }
    html = htmx_client.post(NEW_URL, data).content.decode()

    assert 'value="Charged"' not in html
    assert 'name="cond-0-event" value="App Uninstalled"' in html
    assert "cond-1-" not in html


@pytest.mark.django_db
def test_adding_a_group_and_a_condition_in_it(htmx_client):
    html = htmx_client.post(NEW_URL, {**ONE_CONDITION, "action": "add-group"}).content.decode()
    assert 'name="cond-1-type" value="group"' in html
    assert 'name="cond-1-sub-0-event"' in html

    fields = posted_fields(f'<form id="segment-builder">{html}</form>')
    fields.update({"name": "Rows", "kind": "past", "action": "add-cond-1-sub"})
    html = htmx_client.post(NEW_URL, dict(fields.lists())).content.decode()
    assert 'name="cond-1-sub-1-event"' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "section_field"),
    [
        ("add-profile", 'name="profile-0-name"'),
        ("add-radius", 'name="radius-0-label"'),
        ("add-app", 'name="app-0-name"'),
        ("add-live-prop", 'name="live-prop-0-name"'),
        ("add-live-notprop", 'name="live-notprop-0-name"'),
    ],
)
def test_each_section_adds_its_rows(htmx_client, action, section_field):
    html = htmx_client.post(NEW_URL, {"name": "", "kind": "past", "action": action}).content
    assert section_field in html.decode()


@pytest.mark.django_db
def test_without_javascript_an_add_button_returns_the_whole_page_and_saves_nothing(
    marketer_client,
):
    response = marketer_client.post(NEW_URL, {**ONE_CONDITION, "action": "add-profile"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and 'name="profile-0-name"' in html
    assert 'value="Charged"' in html
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("path", "label"),
    [
        (
            "behaviour.conditions[0].properties[1].value",
            "Past behaviour → condition 1 → property filter 2 → value",
        ),
        ("radius[2].radius_km", "Radius centre 3 → radius (km)"),
        ("live.within_minutes", "Live trigger → within (minutes)"),
        ("definition", "definition"),
    ],
)
def test_an_error_path_reads_as_where_the_problem_is(path, label):
    assert builder.error_label(path) == label


@pytest.mark.django_db
def test_exactly_zero_times_is_shown_beside_the_count_box_that_is_visible(marketer_client):
    response = _post(
        marketer_client,
        **{
            "cond-0-type": "event",
            "cond-0-did": "did",
            "cond-0-event": "Charged",
            "cond-0-period": "ever",
            "cond-0-count_op": "exactly",
            "cond-0-count_n": "0",
        },
    )
    assert response.status_code == 400
    assert "did not" in _error_near(response, "cond-0-count_n")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {
            "cond-0-type": "event",
            "cond-0-event": "X",
            "cond-0-period": "someday",
            "cond-0-count_op": "often",
            "cond-0-count_n": "-3",
        },
        {
            "cond-0-type": "group",
            "cond-0-match": "some",
            "cond-0-sub-0-did": "did",
            "cond-0-sub-0-event": "X",
            "cond-0-sub-0-prop-0-name": "A",
            "cond-0-sub-0-prop-0-operator": "between",
            "cond-0-sub-0-prop-0-value": "z",
            "cond-0-sub-0-prop-0-value2": "a",
        },
        {"kind": "live", "live-type": "bogus", "live-event": ""},
        {
            "kind": "live",
            "live-type": "date_property",
            "live-event": "Flight Booked",
            "live-property": "",
            "live-direction": "sideways",
            "live-amount": "1.5",
            "live-unit": "weeks",
        },
        {
            "radius-0-label": "x",
            "radius-0-latitude": "91",
            "radius-0-longitude": "abc",
            "radius-0-km": "0",
        },
        {
            "reach-has_email": "perhaps",
            "gender": ["X", "F"],
            "age_min": "40",
            "age_max": "20",
            "app-0-name": "colour",
            "app-0-operator": "equals",
            "app-0-value": "red",
        },
        {"action": "remove-cond-7-prop-3"},
        {"action": "add-nothing"},
    ],
)
def test_odd_input_gets_field_errors_or_is_ignored_never_a_server_error(marketer_client, fields):
    for url in (NEW_URL, "/segments/estimate/"):
        response = marketer_client.post(url, {"name": "Odd", **fields})
        assert response.status_code in (200, 400), (url, response.status_code)
    assert not Segment.objects.exists()


@pytest.mark.django_db
def test_unknown_choices_fall_back_to_the_defaults(marketer_client):
    response = marketer_client.post(
        NEW_URL,
        {
            "name": "Odd",
            "kind": "sideways",
            "match": "most",
            "cond-0-type": "weird",
            "cond-0-did": "maybe",
            "cond-0-event": "Charged",
            "cond-0-period": "someday",
            "cond-0-count_op": "often",
            "cond-0-count_n": "2",
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.kind == "past"
    assert segment.definition["behaviour"]["conditions"] == [
        {
            "type": "event",
            "did": True,
            "event": "Charged",
            "period": None,
            "count": {"min": 2, "max": None},
            "properties": [],
        }
    ]


# --- "…and not followed by [event] within [N] [unit]" (issue 5) ---------------------------------

ABANDONED = {
    "version": 1,
    "kind": "past",
    "behaviour": {
        "match": "all",
        "conditions": [
            {
                "type": "event",
                "event": "Added To Cart",
                "period": {"type": "last_days", "days": 7},
                "properties": [{"name": "Value", "operator": "greater_than_equals", "value": 50}],
                "not_followed_by": {
                    "event": "Charged",
                    "within_minutes": 1440,
                    "properties": [
                        {"name": "Amount", "operator": "greater_than", "value": 0},
                        {"name": "Currency", "operator": "equals", "value": ["EUR", "USD"]},
                    ],
                },
            },
            {
                "type": "event",
                "event": "Viewed",
                "count": {"min": 2, "max": 2},
                "not_followed_by": {"event": "Added To Cart", "within_minutes": 90},
            },
            {"type": "event", "did": False, "event": "App Uninstalled"},
            {
                "type": "group",
                "match": "any",
                "conditions": [
                    {
                        "type": "event",
                        "event": "Searched",
                        "not_followed_by": {"event": "Viewed", "within_minutes": 2160},
                    },
                    {
                        "type": "event",
                        "event": "Shared",
                        "not_followed_by": {"event": "Opened", "within_minutes": 60 * 24 * 30},
                    },
                ],
            },
        ],
    },
}

# What a browser posts for one "did" row, before the not-followed-by fields.
CART_ROW = {
    "name": "Carts",
    "kind": "past",
    "match": "all",
    "cond-0-type": "event",
    "cond-0-did": "did",
    "cond-0-event": "Added To Cart",
    "cond-0-period": "last_days",
    "cond-0-days": "7",
    "cond-0-count_op": "at_least",
    "cond-0-count_n": "1",
}


@pytest.mark.django_db
def test_not_followed_by_round_trips_through_the_edit_page(marketer_client):
    normalised = definition_validate(ABANDONED)
    segment = SegmentFactory(name="Abandoned", definition=normalised)

    page = marketer_client.get(f"/segments/{segment.pk}/edit/")
    fields = posted_fields(page.content.decode())
    raw, parse_errors = builder.definition_from_builder(fields)

    assert parse_errors == {}
    assert definition_validate(raw) == normalised
    # The window is shown in the largest unit that divides it exactly.
    assert (fields["cond-0-nf_n"], fields["cond-0-nf_unit"]) == ("1", "days")
    assert (fields["cond-1-nf_n"], fields["cond-1-nf_unit"]) == ("90", "minutes")
    assert (fields["cond-3-sub-0-nf_n"], fields["cond-3-sub-0-nf_unit"]) == ("36", "hours")
    assert (fields["cond-3-sub-1-nf_n"], fields["cond-3-sub-1-nf_unit"]) == ("30", "days")
    assert fields["cond-0-nfprop-1-value"] == "EUR, USD"

    response = marketer_client.post(f"/segments/{segment.pk}/edit/", dict(fields.lists()))
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.definition == normalised


def test_not_followed_by_rows_then_parsing_gives_the_definition_back_without_a_page():
    normalised = definition_validate(ABANDONED)
    raw, errors = builder.definition_from_rows(builder.builder_rows(normalised))
    assert errors == {}
    assert definition_validate(raw) == normalised


@pytest.mark.parametrize(
    ("minutes", "shown"),
    [
        (1, ("1", "minutes")),
        (59, ("59", "minutes")),
        (60, ("1", "hours")),
        (150, ("150", "minutes")),
        (1440, ("1", "days")),
        (2880, ("2", "days")),
        (1500, ("25", "hours")),
    ],
)
def test_a_window_is_shown_in_the_largest_unit_that_divides_it(minutes, shown):
    assert builder.within_in_largest_unit(minutes) == shown


@pytest.mark.parametrize(
    ("n", "unit", "minutes"),
    [("45", "minutes", 45), ("2", "hours", 120), ("1", "days", 1440), ("3", "weeks", 4320)],
)
def test_a_window_typed_in_a_unit_is_stored_in_minutes(n, unit, minutes):
    fields = QueryDict(mutable=True)
    fields.update(
        {**CART_ROW, "cond-0-nf_event": "Charged", "cond-0-nf_n": n, "cond-0-nf_unit": unit}
    )
    raw, errors = builder.definition_from_builder(fields)
    assert errors == {}
    (cond,) = definition_validate(raw)["behaviour"]["conditions"]
    # An unknown unit (a hand-made post) is read as the default, days.
    assert cond["not_followed_by"] == {
        "event": "Charged",
        "within_minutes": minutes,
        "properties": [],
    }


def test_a_did_not_row_ignores_its_hidden_not_followed_by_fields():
    fields = QueryDict(mutable=True)
    fields.update(
        {
            **CART_ROW,
            "cond-0-did": "did_not",
            "cond-0-nf_event": "Charged",
            "cond-0-nf_n": "1",
            "cond-0-nf_unit": "days",
            "cond-0-nfprop-0-name": "Amount",
            "cond-0-nfprop-0-operator": "exists",
        }
    )
    raw, errors = builder.definition_from_builder(fields)
    assert errors == {}
    (cond,) = definition_validate(raw)["behaviour"]["conditions"]
    assert cond["did"] is False and "not_followed_by" not in cond


def test_a_row_without_not_followed_by_fields_has_none():
    raw, errors = builder.definition_from_builder(
        QueryDict(mutable=True) | {**CART_ROW, "cond-0-nf_n": "", "cond-0-nf_unit": "hours"}
    )
    assert errors == {}
    assert "not_followed_by" not in definition_validate(raw)["behaviour"]["conditions"][0]


@pytest.mark.django_db
def test_the_not_followed_by_inputs_sit_in_the_block_that_did_not_rows_hide(marketer_client):
    segment = SegmentFactory(name="Abandoned", definition=definition_validate(ABANDONED))
    html = marketer_client.get(f"/segments/{segment.pk}/edit/").content.decode()

    row = html.split('id="cond-0"', 1)[1].split('id="cond-1"', 1)[0]
    block = row.split('<div class="not-followed">', 1)[1]
    assert 'name="cond-0-nf_event" value="Charged"' in block
    assert 'name="cond-0-nf_n" value="1"' in block
    assert '<option value="days" selected>' in block
    assert 'name="cond-0-nfprop-0-name" value="Amount"' in block
    css = (
        Path(__file__).resolve().parents[2] / "apps/segments/static/segments/segments.css"
    ).read_text()
    assert ".condition:has(option[value=did_not]:checked) .not-followed { display: none; }" in css


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "input_name", "message"),
    [
        ({"cond-0-nf_event": "Charged", "cond-0-nf_n": "0"}, "cond-0-nf_n", "at least 1"),
        ({"cond-0-nf_event": "Charged", "cond-0-nf_n": "a day"}, "cond-0-nf_n", "whole number"),
        ({"cond-0-nf_event": "Charged", "cond-0-nf_n": ""}, "cond-0-nf_n", "whole number"),
        (
            {"cond-0-nf_event": "Charged", "cond-0-nf_n": "31", "cond-0-nf_unit": "days"},
            "cond-0-nf_n",
            "At most 30 days",
        ),
        ({"cond-0-nf_event": "", "cond-0-nf_n": "1"}, "cond-0-nf_event", "event name"),
        (
            {
                "cond-0-nf_event": "Charged",
                "cond-0-nf_n": "1",
                "cond-0-nfprop-0-name": "",
                "cond-0-nfprop-0-operator": "equals",
                "cond-0-nfprop-0-value": "",
                "cond-0-nfprop-1-name": "Amount",
                "cond-0-nfprop-1-operator": "between",
                "cond-0-nfprop-1-value": "10",
                "cond-0-nfprop-1-value2": "",
            },
            "cond-0-nfprop-1-value2",
            "value",
        ),
        (
            {
                "cond-0-nf_event": "Charged",
                "cond-0-nf_n": "1",
                "cond-0-nfprop-0-name": "Amount",
                "cond-0-nfprop-0-operator": "is_like",
                "cond-0-nfprop-0-value": "1",
            },
            "cond-0-nfprop-0-operator",
            "Unknown operator",
        ),
    ],
    ids=["zero", "text", "empty", "too-long", "no-event", "between-one-value", "bad-operator"],
)
def test_a_bad_not_followed_by_is_shown_beside_its_input(
    marketer_client, fields, input_name, message
):
    response = marketer_client.post(NEW_URL, {**CART_ROW, "cond-0-nf_unit": "days", **fields})

    assert response.status_code == 400
    assert message in _error_near(response, input_name)
    assert not Segment.objects.exists()


@pytest.mark.django_db
def test_a_bad_not_followed_by_in_a_group_is_shown_beside_that_member(marketer_client):
    response = marketer_client.post(
        NEW_URL,
        {
            "name": "Grouped",
            "kind": "past",
            "match": "all",
            "cond-0-type": "group",
            "cond-0-match": "any",
            "cond-0-sub-0-did": "did",
            "cond-0-sub-0-event": "Searched",
            "cond-0-sub-1-did": "did",
            "cond-0-sub-1-event": "Viewed",
            "cond-0-sub-1-nf_event": "Charged",
            "cond-0-sub-1-nf_n": "-2",
            "cond-0-sub-1-nf_unit": "hours",
        },
    )
    assert response.status_code == 400
    assert "at least 1" in _error_near(response, "cond-0-sub-1-nf_n")
    assert 'name="cond-0-sub-1-nf_n" value="-2"' in response.content.decode()  # kept as typed


@pytest.mark.django_db
def test_the_estimate_names_a_bad_not_followed_by_window(marketer_client):
    response = marketer_client.post(
        "/segments/estimate/",
        {**CART_ROW, "cond-0-nf_event": "Charged", "cond-0-nf_n": "0", "cond-0-nf_unit": "days"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Past behaviour → condition 1 → not followed by → within (minutes)" in html


@pytest.mark.django_db
def test_adding_and_removing_a_filter_on_the_event_that_follows(htmx_client):
    typed = {**CART_ROW, "cond-0-nf_event": "Charged", "cond-0-nf_n": "1", "cond-0-nf_unit": "days"}
    html = htmx_client.post(NEW_URL, {**typed, "action": "add-cond-0-nfprop"}).content.decode()
    assert "<html" not in html
    assert 'name="cond-0-nfprop-0-name"' in html
    assert 'name="cond-0-nf_event" value="Charged"' in html  # what was typed stays

    html = htmx_client.post(
        NEW_URL,
        {
            **typed,
            "cond-0-nfprop-0-name": "Amount",
            "cond-0-nfprop-0-operator": "exists",
            "cond-0-nfprop-1-name": "Currency",
            "cond-0-nfprop-1-operator": "equals",
            "cond-0-nfprop-1-value": "EUR",
            "action": "remove-cond-0-nfprop-0",
        },
    ).content.decode()
    assert 'name="cond-0-nfprop-0-name" value="Currency"' in html
    assert "cond-0-nfprop-1-" not in html
    assert 'value="Amount"' not in html
