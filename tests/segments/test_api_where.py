"""The Create Campaign API's `where` translates losslessly into a segment definition, and bad
input is reported in API terms."""

import pytest

from apps.segments.api_where import definition_from_api_where
from apps.segments.definitions import DefinitionError


def errors_of(where) -> dict:
    with pytest.raises(DefinitionError) as exc:
        definition_from_api_where(where)
    return exc.value.errors


def test_an_empty_where_is_the_whole_user_base():
    assert definition_from_api_where({}) == {"version": 1, "kind": "past"}


def test_the_spec_example_event_dates_and_profile_fields():
    where = {
        "event_name": "Charged",
        "from": 20171001,
        "to": 20171220,
        "common_profile_properties": {
            "profile_fields": [{"name": "Customer Type", "operator": "equals", "value": "Platinum"}]
        },
    }
    assert definition_from_api_where(where) == {
        "version": 1,
        "kind": "past",
        "behaviour": {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "did": True,
                    "event": "Charged",
                    "period": {"type": "between", "from": "2017-10-01", "to": "2017-12-20"},
                    "count": {"min": 1, "max": None},
                    "properties": [],
                }
            ],
        },
        "profile": [{"name": "Customer Type", "operator": "equals", "value": "Platinum"}],
    }


def test_the_spec_event_occurrence_example():
    where = {
        "advanced_query": {
            "did_all": [
                {
                    "event_name": "App Launched",
                    "from": 20200101,
                    "to": 20200218,
                    "operator": "greater_than_equals",
                    "value": 5,
                }
            ]
        }
    }
    (cond,) = definition_from_api_where(where)["behaviour"]["conditions"]
    assert cond["event"] == "App Launched"
    assert cond["count"] == {"min": 5, "max": None}
    assert cond["period"] == {"type": "between", "from": "2020-01-01", "to": "2020-02-18"}


@pytest.mark.parametrize(
    ("operator", "value", "count"),
    [
        ("greater_than", 2, {"min": 3, "max": None}),
        ("greater_than_equals", 2, {"min": 2, "max": None}),
        ("less_than", 3, {"min": 1, "max": 2}),
        ("less_than_equals", 3, {"min": 1, "max": 3}),
        ("equals", 4, {"min": 4, "max": 4}),
        ("between", [2, 6], {"min": 2, "max": 6}),
        ("between", [0, 6], {"min": 0, "max": 6}),
    ],
)
def test_occurrence_operators_map_onto_count_bounds(operator, value, count):
    where = {
        "advanced_query": {"did_all": [{"event_name": "X", "operator": operator, "value": value}]}
    }
    assert definition_from_api_where(where)["behaviour"]["conditions"][0]["count"] == count


def test_did_all_did_any_and_did_not_land_in_their_places():
    where = {
        "event_name": "App Launched",
        "advanced_query": {
            "did_all": [{"event_name": "Charged", "operator": "greater_than", "value": 1}],
            "did_any": [
                {"event_name": "Viewed", "from": 20240101, "to": 20240131},
                {
                    "event_name": "Searched",
                    "event_properties": [
                        {"property_name": "Query", "operator": "contains", "property_value": "red"}
                    ],
                },
            ],
            "did_not": [{"event_name": "Uninstalled", "from": 20240101, "to": 20240131}],
        },
    }
    behaviour = definition_from_api_where(where)["behaviour"]
    assert behaviour["match"] == "all"
    top, did_all, did_not, group = behaviour["conditions"]
    assert (top["event"], top["did"], top["period"]) == ("App Launched", True, None)
    assert (did_all["event"], did_all["count"]) == ("Charged", {"min": 2, "max": None})
    assert (did_not["event"], did_not["did"]) == ("Uninstalled", False)
    assert did_not["period"] == {"type": "between", "from": "2024-01-01", "to": "2024-01-31"}
    assert group["type"] == "group" and group["match"] == "any"
    viewed, searched = group["conditions"]
    assert viewed["event"] == "Viewed" and viewed["period"]["to"] == "2024-01-31"
    assert searched["properties"] == [{"name": "Query", "operator": "contains", "value": "red"}]


def test_event_properties_accept_both_spellings_and_nested_names():
    where = {
        "advanced_query": {
            "did_all": [
                {
                    "event_name": "Charged",
                    "event_properties": [
                        {"name": "Amount", "operator": "between", "value": [10, 20]},
                        {"property_name": "Items|Category", "operator": "equals",
                         "property_value": "Books"},
                    ],
                }
            ]
        }
    }  # fmt: skip
    props = definition_from_api_where(where)["behaviour"]["conditions"][0]["properties"]
    assert props == [
        {"name": "Amount", "operator": "between", "value": [10, 20]},
        {"name": "Items|Category", "operator": "equals", "value": "Books"},
    ]


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ({"advanced_query": {"did_all": [{"event_name": "X", "operator": "roughly", "value": 1}]}},
         "where.advanced_query.did_all[0].operator"),
        ({"advanced_query": {"did_all": [{"operator": "between", "value": [3]}]}},
         "where.advanced_query.did_all[0].value"),
        ({"advanced_query": {"did_all": [{"operator": "less_than", "value": 1}]}},
         "where.advanced_query.did_all[0].value"),
        ({"advanced_query": {"did_any": [{"event_name": "X", "from": 20240201, "to": 20240101}]}},
         "where.advanced_query.did_any[0].to"),
        ({"advanced_query": {"did_not": [{"from": 20240101, "to": 20240102}]}},
         "where.advanced_query.did_not[0].event_name"),
        ({"advanced_query": {"did_not": [{"event_name": "X", "operator": "equals", "value": 2}]}},
         "where.advanced_query.did_not[0].operator"),
        ({"advanced_query": {"did_all": [{"event_name": "X", "event_properties": [
            {"name": "Amount", "operator": "between", "value": [5]}]}]}},
         "where.advanced_query.did_all[0].event_properties[0].value"),
        ({"advanced_query": {"did_all": [{"event_name": "X", "event_properties": [
            {"property_name": "Amount", "operator": "bigger", "property_value": 5}]}]}},
         "where.advanced_query.did_all[0].event_properties[0].operator"),
        ({"event_name": "Charged", "from": 20171301, "to": 20171220}, "where.from"),
        ({"event_name": "Charged", "from": 20171001}, "where.to"),
        ({"from": 20171001, "to": 20171002}, "where.event_name"),
        ({"common_profile_properties": {"profile_fields": [
            {"name": "Age", "operator": "between", "value": [40, 20]}]}},
         "where.common_profile_properties.profile_fields[0].value"),
        ({"common_profile_properties": {"profile_fields": [{"name": "Age", "operator": "nope"}]}},
         "where.common_profile_properties.profile_fields[0].operator"),
        ({"segment_name": "x"}, "where.segment_name"),
    ],
)  # fmt: skip
def test_errors_are_reported_in_api_terms(where, path):
    assert path in errors_of(where)


def test_a_where_that_is_not_an_object_is_refused():
    assert errors_of(["Charged"]) == {"where": "Expected an object (send {} for everyone)."}
