"""Definition validation: normalisation, every error by field path, and summaries."""

import pytest

from apps.segments.definitions import (
    DefinitionError,
    definition_summary,
    definition_validate,
    property_condition_validate,
)


def errors_of(raw) -> dict:
    with pytest.raises(DefinitionError) as exc:
        definition_validate(raw)
    return exc.value.errors


def event(**extra) -> dict:
    return {"type": "event", "event": "Charged", **extra}


def behaviour(*conditions, match="all") -> dict:
    return {"behaviour": {"match": match, "conditions": list(conditions)}}


def test_empty_sections_normalise_to_the_whole_user_base():
    expected = {"version": 1, "kind": "past"}
    assert definition_validate({}) == expected
    assert definition_validate(None) == expected
    assert (
        definition_validate(
            {"profile": [], "behaviour": {"conditions": []}, "geography": {"cities": []}}
        )
        == expected
    )


def test_an_event_condition_gets_its_defaults():
    assert definition_validate(behaviour({"event": " Charged "})) == {
        "version": 1,
        "kind": "past",
        "behaviour": {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "did": True,
                    "event": "Charged",
                    "period": None,
                    "count": {"min": 1, "max": None},
                    "properties": [],
                }
            ],
        },
    }


def test_normalising_is_idempotent():
    raw = {
        **behaviour(
            event(period={"type": "last_days", "days": "30"}, count={"min": "2", "max": ""}),
            {"type": "group", "match": "any", "conditions": [event(did=False)]},
        ),
        "profile": [{"name": "Plan", "operator": "exists", "value": ""}],
        "demographics": {"age": {"min": 25}, "gender": ["female", "M"]},
        "radius": [{"latitude": "48.85", "longitude": 2.35, "radius_km": 25}],
        "reachability": {"has_email": True, "has_phone": None},
        "app_fields": [{"name": "os_version", "operator": "equals", "value": "10"}],
    }
    once = definition_validate(raw)
    assert definition_validate(once) == once
    assert once["behaviour"]["conditions"][0]["count"] == {"min": 2, "max": None}
    assert once["profile"] == [{"name": "Plan", "operator": "exists", "value": None}]
    assert once["demographics"] == {"age": {"min": 25, "max": None}, "gender": ["F", "M"]}
    assert once["reachability"] == {"has_email": True}
    assert once["radius"][0]["latitude"] == 48.85


def test_not_followed_by_is_kept_only_when_given():
    plain = definition_validate(behaviour(event()))
    assert "not_followed_by" not in plain["behaviour"]["conditions"][0]
    follow = {"event": "Charged", "within_minutes": "1440"}
    defn = definition_validate(behaviour(event(event="Added To Cart", not_followed_by=follow)))
    (cond,) = defn["behaviour"]["conditions"]
    assert cond["not_followed_by"] == {"event": "Charged", "within_minutes": 1440, "properties": []}
    assert definition_summary(defn) == [
        "Did Added To Cart at least once, not followed by Charged within 1 day"
    ]


def test_did_not_ignores_count():
    defn = definition_validate(behaviour(event(did=False, count={"min": 3, "max": 5})))
    assert defn["behaviour"]["conditions"][0]["count"] == {"min": 1, "max": None}


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"colour": "red"}, "colour"),
        (behaviour(event(foo=1)), "behaviour.conditions[0].foo"),
        (behaviour(event(properties=[{"name": "A", "operator": "like", "value": 1}])),
         "behaviour.conditions[0].properties[0].operator"),
        (behaviour(event(properties=[{"name": "A", "operator": "between", "value": [1]}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "A", "operator": "between", "value": 1}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "A", "operator": "between", "value": [5, 1]}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "A", "operator": "between", "value": [1, "z"]}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "A", "operator": "equals"}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "A", "operator": "equals", "value": ""}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "A", "operator": "greater_than", "value": True}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "A", "operator": "equals", "value": {"x": 1}}])),
         "behaviour.conditions[0].properties[0].value"),
        (behaviour(event(properties=[{"name": "", "operator": "exists"}])),
         "behaviour.conditions[0].properties[0].name"),
        (behaviour(event(period={"type": "between", "from": "2025-02-01", "to": "2025-01-01"})),
         "behaviour.conditions[0].period.to"),
        (behaviour(event(period={"type": "between", "from": "2025-02-30", "to": "2025-03-01"})),
         "behaviour.conditions[0].period.from"),
        (behaviour(event(period={"type": "last_days", "days": 0})),
         "behaviour.conditions[0].period.days"),
        (behaviour(event(period={"type": "yesterday"})), "behaviour.conditions[0].period.type"),
        (behaviour(event(count={"min": 3, "max": 2})), "behaviour.conditions[0].count.max"),
        (behaviour(event(count={"min": -1})), "behaviour.conditions[0].count.min"),
        (behaviour(event(count={"min": 0, "max": 0})), "behaviour.conditions[0].count.max"),
        (behaviour({"type": "event"}), "behaviour.conditions[0].event"),
        (behaviour(event(), match="most"), "behaviour.match"),
        (behaviour({"type": "group", "conditions": [
            {"type": "group", "conditions": [event()]}]}),
         "behaviour.conditions[0].conditions[0]"),
        ({"profile": [{"name": "Plan", "operator": "nope", "value": 1}]}, "profile[0].operator"),
        ({"radius": [{"radius_km": 25}]}, "radius[0].latitude"),
        ({"radius": [{"latitude": 1, "radius_km": 25}]}, "radius[0].longitude"),
        ({"radius": [{"latitude": 91, "longitude": 0, "radius_km": 25}]}, "radius[0].latitude"),
        ({"radius": [{"latitude": 0, "longitude": -181, "radius_km": 25}]}, "radius[0].longitude"),
        ({"radius": [{"latitude": 0, "longitude": 0, "radius_km": 0}]}, "radius[0].radius_km"),
        ({"radius": [{"latitude": 0, "longitude": 0, "radius_km": 20001}]}, "radius[0].radius_km"),
        ({"demographics": {"age": {"min": 40, "max": 20}}}, "demographics.age.max"),
        ({"demographics": {"gender": ["X"]}}, "demographics.gender"),
        ({"reachability": {"has_email": "yes"}}, "reachability.has_email"),
        ({"reachability": {"has_fax": True}}, "reachability.has_fax"),
        ({"app_fields": [{"name": "ram", "operator": "equals", "value": 1}]}, "app_fields[0].name"),
        ({"kind": "live"}, "live"),
        ({"kind": "live", "live": {"type": "action"}}, "live.event"),
        ({"kind": "live", "live": {"type": "sometimes", "event": "A"}}, "live.type"),
        ({"kind": "live", "live": {"type": "inaction", "event": "A", "not_event": "B",
                                   "within_minutes": 0}}, "live.within_minutes"),
        ({"kind": "live", "live": {"type": "inaction", "event": "A", "within_minutes": 10}},
         "live.not_event"),
        ({"kind": "live", "live": {"type": "date_property", "event": "Flight", "property": "D",
                                   "offset": {"direction": "around", "amount": 1}}},
         "live.offset.direction"),
        ({"kind": "live", "live": {"type": "action", "event": "A"}, **behaviour(event())},
         "behaviour"),
        ({"live": {"type": "action", "event": "A"}}, "live"),
        ({"kind": "future"}, "kind"),
        (behaviour(event(not_followed_by={"event": "Charged"})),
         "behaviour.conditions[0].not_followed_by.within_minutes"),
        (behaviour(event(not_followed_by={"within_minutes": 10})),
         "behaviour.conditions[0].not_followed_by.event"),
        (behaviour(event(did=False, not_followed_by={"event": "A", "within_minutes": 10})),
         "behaviour.conditions[0].not_followed_by"),
        (behaviour(event(not_followed_by={"event": "A", "within_minutes": 10, "x": 1})),
         "behaviour.conditions[0].not_followed_by.x"),
        ({"profile": [{"name": "A", "operator": "equals", "value": "nul\x00"}]},
         "profile[0].value"),
        ({"profile": [{"name": "A\x00", "operator": "exists"}]}, "profile[0].name"),
        ({"profile": [{"name": "A", "operator": "equals", "value": "x" * 1001}]},
         "profile[0].value"),
        ({"profile": [{"name": "Last Seen", "operator": "equals", "value": "9999-12-31"}]},
         "profile[0].value"),
        (behaviour(event(period={"type": "between", "from": "0001-01-01", "to": "2025-01-01"})),
         "behaviour.conditions[0].period.from"),
        (behaviour(event(count={"min": 10**9})), "behaviour.conditions[0].count.min"),
        ({"demographics": {"age": {"min": 10**6}}}, "demographics.age.min"),
        ({"version": 2}, "version"),
    ],
)  # fmt: skip
def test_bad_definitions_name_the_field(raw, path):
    assert path in errors_of(raw)


def test_every_problem_is_reported_at_once():
    errors = errors_of(
        {
            "profile": [{"name": "A", "operator": "between", "value": [1]}],
            "radius": [{"radius_km": 5}],
            **behaviour(event(period={"type": "last_days", "days": -3})),
        }
    )
    assert set(errors) == {
        "profile[0].value",
        "radius[0].latitude",
        "behaviour.conditions[0].period.days",
    }
    assert errors["profile[0].value"] == "between needs exactly two values [low, high]."


def test_a_definition_that_is_not_an_object_is_refused():
    assert errors_of(["x"]) == {"definition": "Expected a JSON object."}


def test_live_definitions_normalise():
    inaction = definition_validate(
        {
            "kind": "live",
            "live": {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within_minutes": "10",
            },
            "geography": {"countries": ["India"]},
        }
    )
    assert inaction["live"] == {
        "type": "inaction",
        "event": "Added To Cart",
        "properties": [],
        "not_event": "Charged",
        "not_properties": [],
        "within_minutes": 10,
    }
    on_date = definition_validate(
        {
            "kind": "live",
            "live": {
                "type": "date_property",
                "event": "Flight Booked",
                "property": "Departure",
                "offset": {"direction": "before", "amount": 1, "unit": "days"},
            },
        }
    )
    assert on_date["live"]["offset"] == {"direction": "before", "amount": 1, "unit": "days"}


def test_summary_lines_read_like_the_builder():
    defn = definition_validate(
        {
            **behaviour(
                event(
                    period={"type": "last_days", "days": 30},
                    properties=[{"name": "Amount", "operator": "greater_than", "value": 100}],
                ),
                event(event="Added To Cart", count={"min": 2, "max": 2}),
                event(event="Uninstalled", did=False),
                {
                    "type": "group",
                    "match": "any",
                    "conditions": [event(event="A"), event(event="B")],
                },
            ),
            "profile": [{"name": "Customer Type", "operator": "equals", "value": "Platinum"}],
            "demographics": {"age": {"min": 25, "max": 40}, "gender": ["F"]},
            "geography": {"countries": ["United States"], "cities": ["SF", "LA"]},
            "radius": [{"label": "Paris, France", "latitude": 48.8, "longitude": 2.3,
                        "radius_km": 25}],
            "reachability": {"email_unsubscribed": False, "push_reachable": True},
            "app_fields": [{"name": "os_version", "operator": "equals", "value": "10"}],
        }
    )  # fmt: skip
    assert definition_summary(defn) == [
        "All of:",
        "Did Charged at least once in the last 30 days where Amount > 100",
        "Did Added To Cart exactly twice",
        "Never did Uninstalled",
        "(Did A at least once or Did B at least once)",
        'Profile: Customer Type = "Platinum"',
        "Age 25 to 40",
        "Gender: Female",
        "Country: United States",
        "City: SF or LA",
        "Within 25 km of Paris, France",
        "Not unsubscribed from email",
        "Reachable by push",
        'A device with OS version = "10"',
    ]
    assert definition_summary(definition_validate({})) == ["All users"]


def test_live_summaries():
    defn = definition_validate(
        {
            "kind": "live",
            "live": {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within_minutes": 10,
            },
        }
    )
    assert definition_summary(defn) == [
        "Live: does Added To Cart and not Charged within 10 minutes"
    ]


# --- Summary wording (issue 5) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "words"),
    [
        ({"min": 1, "max": None}, "at least once"),
        ({"min": 3, "max": None}, "at least 3 times"),
        ({"min": 1, "max": 1}, "exactly once"),
        ({"min": 4, "max": 4}, "exactly 4 times"),
        ({"min": 1, "max": 2}, "at most twice"),
        ({"min": 1, "max": 5}, "at most 5 times"),
        ({"min": 0, "max": 5}, "at most 5 times"),
        ({"min": 2, "max": 5}, "between 2 and 5 times"),
        ({"min": 0, "max": None}, "any number of times"),
    ],
)
def test_a_did_condition_says_how_often_in_plain_words(count, words):
    defn = definition_validate(
        behaviour(event(count=count, period={"type": "last_days", "days": 30}))
    )
    assert definition_summary(defn) == [f"Did Charged {words} in the last 30 days"]


@pytest.mark.parametrize(
    ("period", "line"),
    [
        (None, "Never did Charged"),
        ({"type": "last_days", "days": 1}, "Did not do Charged in the last day"),
        ({"type": "last_days", "days": 7}, "Did not do Charged in the last 7 days"),
        (
            {"type": "between", "from": "2025-01-01", "to": "2025-01-31"},
            "Did not do Charged between 2025-01-01 and 2025-01-31",
        ),
    ],
)
def test_a_did_not_condition_reads_naturally_with_and_without_a_period(period, line):
    assert definition_summary(definition_validate(behaviour(event(did=False, period=period)))) == [
        line
    ]


@pytest.mark.parametrize(
    ("minutes", "window"),
    [
        (1, "1 minute"),
        (90, "90 minutes"),
        (60, "1 hour"),
        (120, "2 hours"),
        (1440, "1 day"),
        (2160, "36 hours"),
        (4320, "3 days"),
    ],
)
def test_not_followed_by_reads_its_window_in_the_largest_whole_unit(minutes, window):
    follow = {"event": "Charged", "within_minutes": minutes}
    defn = definition_validate(
        behaviour(
            event(
                event="Added To Cart",
                period={"type": "last_days", "days": 7},
                not_followed_by=follow,
            )
        )
    )
    assert definition_summary(defn) == [
        "Did Added To Cart at least once in the last 7 days, "
        f"not followed by Charged within {window}"
    ]


def test_not_followed_by_with_filters_on_both_events_says_which_filter_is_whose():
    follow = {
        "event": "Charged",
        "within_minutes": 1440,
        "properties": [{"name": "Amount", "operator": "greater_than", "value": 0}],
    }
    defn = definition_validate(
        behaviour(
            event(
                event="Added To Cart",
                count={"min": 1, "max": 3},
                properties=[{"name": "Value", "operator": "greater_than_equals", "value": 50}],
                not_followed_by=follow,
            )
        )
    )
    assert definition_summary(defn) == [
        "Did Added To Cart at most 3 times where Value ≥ 50, "
        "not followed by Charged where Amount > 0 within 1 day"
    ]


def test_live_windows_and_offsets_use_singular_units_and_the_largest_whole_unit():
    inaction = definition_validate(
        {
            "kind": "live",
            "live": {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within_minutes": 120,
            },
        }
    )
    on_date = definition_validate(
        {
            "kind": "live",
            "live": {
                "type": "date_property",
                "event": "Flight Booked",
                "property": "Departure",
                "offset": {"direction": "before", "amount": 1, "unit": "days"},
            },
        }
    )
    assert definition_summary(inaction) == [
        "Live: does Added To Cart and not Charged within 2 hours"
    ]
    assert definition_summary(on_date) == ["Live: 1 day before Departure of Flight Booked"]


def test_a_property_condition_alone_normalises_as_it_does_inside_a_definition():
    raw = {"name": " Amount ", "operator": "between", "value": [10, 100.0]}

    alone = property_condition_validate(raw)

    assert alone == {"name": "Amount", "operator": "between", "value": [10, 100]}
    assert definition_validate({"profile": [raw]})["profile"] == [alone]


def test_a_property_condition_alone_reports_every_problem_under_its_path():
    with pytest.raises(DefinitionError) as caught:
        property_condition_validate(
            {"name": "", "operator": "equals", "value": None, "colour": "red"},
            path="goal-filter-2",
        )

    assert caught.value.errors == {
        "goal-filter-2.colour": "Unknown field.",
        "goal-filter-2.name": "Enter a property name.",
        "goal-filter-2.value": "This operator needs a value.",
    }


def test_a_property_condition_alone_keeps_to_the_names_it_is_given():
    with pytest.raises(DefinitionError) as caught:
        property_condition_validate(
            {"name": "colour", "operator": "exists"}, names=("make", "model")
        )

    assert caught.value.errors == {"name": "Choose one of: make, model."}
