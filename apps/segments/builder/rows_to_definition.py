"""Rows -> a raw definition for `definition_validate`, with parse errors (by definition
path) for what cannot even be read. Blank rows are skipped; each row remembers the path it
became (`row["path"]`) so validation errors can be put beside its inputs."""

from collections.abc import Mapping
from typing import Any

from apps.segments.definitions import MAX_WITHIN_MINUTES

from .choices import DEMO_CITY_CENTRES, NO_VALUE_OPERATORS, UNIT_MINUTES
from .rows import rows_from_querydict
from .values import names_from_text, number_from_text, scalar_from_text, value_from_text


def _prop_is_blank(row: dict) -> bool:
    return not (row["name"].strip() or row["value"].strip() or row["value2"].strip())


def _properties(rows: list[dict], path: str) -> list[dict]:
    properties = []
    for row in rows:
        if _prop_is_blank(row):
            row["path"] = None
            continue
        row["path"] = f"{path}[{len(properties)}]"
        operator = row["operator"].strip()
        condition: dict[str, Any] = {"name": row["name"].strip(), "operator": operator}
        if operator == "between":
            condition["value"] = [scalar_from_text(row["value"]), scalar_from_text(row["value2"])]
        elif operator not in NO_VALUE_OPERATORS:
            condition["value"] = value_from_text(row["value"], operator=operator)
        properties.append(condition)
    return properties


def _not_followed_is_blank(row: dict) -> bool:
    return (
        not row["nf_event"].strip()
        and not row["nf_n"].strip()
        and all(_prop_is_blank(p) for p in row["nf_props"])
    )


def _event_is_blank(row: dict) -> bool:
    return (
        not row["event"].strip()
        and all(_prop_is_blank(p) for p in row["props"])
        and _not_followed_is_blank(row)
    )


def _not_followed_by(row: dict, path: str, errors: dict) -> dict:
    """The optional "…and not followed by B within N <unit>" of a did row, in minutes."""
    path = f"{path}.not_followed_by"
    n = number_from_text(row["nf_n"], f"{path}.within_minutes", errors, integer=True)
    unit = row["nf_unit"] if row["nf_unit"] in UNIT_MINUTES else "days"  # rows built in code
    within = None if n is None else n * UNIT_MINUTES[unit]
    if within is not None and within > MAX_WITHIN_MINUTES:
        # Validation would say "at most 43200" - minutes the marketer did not type.
        errors[f"{path}.within_minutes"] = "At most 30 days."
    follow: dict[str, Any] = {"event": row["nf_event"].strip(), "within_minutes": within}
    properties = _properties(row["nf_props"], f"{path}.properties")
    if properties:
        follow["properties"] = properties
    return follow


def _event_condition(row: dict, path: str, errors: dict) -> dict:
    row["path"] = path
    condition: dict[str, Any] = {
        "type": "event",
        "did": row["did"] != "did_not",
        "event": row["event"].strip(),
    }
    if row["period"] == "last_days":
        condition["period"] = {
            "type": "last_days",
            "days": number_from_text(row["days"], f"{path}.period.days", errors, integer=True),
        }
    elif row["period"] == "between":
        condition["period"] = {
            "type": "between",
            "from": row["from"].strip(),
            "to": row["to"].strip(),
        }
    if condition["did"]:
        n = number_from_text(row["count_n"], f"{path}.count.min", errors, integer=True)
        op = row["count_op"]
        if op == "exactly":
            count = {"min": n, "max": n}
        elif op == "at_most":
            # "At most N times" among people who did it: one to N (0 is "did not").
            count = {"min": 1, "max": n}
        elif op == "between":
            n2 = number_from_text(row["count_n2"], f"{path}.count.max", errors, integer=True)
            count = {"min": n, "max": n2}
        else:
            count = {"min": 1 if n is None else n, "max": None}
        if count != {"min": 1, "max": None}:
            condition["count"] = count
    properties = _properties(row["props"], f"{path}.properties")
    if properties:
        condition["properties"] = properties
    # Hidden (and ignored, like the count) on a "did not" row: there is no occurrence to follow.
    if condition["did"] and not _not_followed_is_blank(row):
        condition["not_followed_by"] = _not_followed_by(row, path, errors)
    else:
        for prop in row["nf_props"]:
            prop["path"] = None
    return condition


def definition_from_rows(rows: dict) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    definition: dict[str, Any] = {"version": 1, "kind": rows["kind"]}

    if rows["kind"] == "past":
        conditions = []
        for row in rows["conditions"]:
            path = f"behaviour.conditions[{len(conditions)}]"
            if row["type"] == "group":
                members = [r for r in row["conditions"] if not _event_is_blank(r)]
                for r in row["conditions"]:
                    r["path"] = None
                if not members:
                    row["path"] = None
                    continue
                row["path"] = path
                conditions.append(
                    {
                        "type": "group",
                        "match": row["match"],
                        "conditions": [
                            _event_condition(r, f"{path}.conditions[{j}]", errors)
                            for j, r in enumerate(members)
                        ],
                    }
                )
            elif _event_is_blank(row):
                row["path"] = None
            else:
                conditions.append(_event_condition(row, path, errors))
        if conditions:
            definition["behaviour"] = {"match": rows["match"], "conditions": conditions}

    profile = _properties(rows["profile"], "profile")
    if profile:
        definition["profile"] = profile

    demographics: dict[str, Any] = {}
    age_min = number_from_text(rows["age_min"], "demographics.age.min", errors, integer=True)
    age_max = number_from_text(rows["age_max"], "demographics.age.max", errors, integer=True)
    if age_min is not None or age_max is not None:
        demographics["age"] = {"min": age_min, "max": age_max}
    if rows["gender"]:
        demographics["gender"] = list(rows["gender"])
    if demographics:
        definition["demographics"] = demographics

    geography = {
        key: names
        for key in ("countries", "regions", "cities")
        if (names := names_from_text(rows[key]))
    }
    if geography:
        definition["geography"] = geography

    centres = []
    for row in rows["radius"]:
        if not any(row[k].strip() for k in ("label", "latitude", "longitude")):
            row["path"] = None
            continue
        path = row["path"] = f"radius[{len(centres)}]"
        label = row["label"].strip()
        latitude = number_from_text(row["latitude"], f"{path}.latitude", errors)
        longitude = number_from_text(row["longitude"], f"{path}.longitude", errors)
        if latitude is None and longitude is None and label in DEMO_CITY_CENTRES:
            # Picked a city from the list and typed no coordinates: use the city's centre.
            latitude, longitude = DEMO_CITY_CENTRES[label]
            row["latitude"], row["longitude"] = str(latitude), str(longitude)
        centre: dict[str, Any] = {
            "latitude": latitude,
            "longitude": longitude,
            "radius_km": number_from_text(row["km"], f"{path}.radius_km", errors),
        }
        if label:
            centre = {"label": label, **centre}
        centres.append(centre)
    if centres:
        definition["radius"] = centres

    reachability = {key: value == "yes" for key, value in rows["reach"].items() if value}
    if reachability:
        definition["reachability"] = reachability

    app_fields = _properties(rows["app_fields"], "app_fields")
    if app_fields:
        definition["app_fields"] = app_fields

    if rows["kind"] == "live":
        definition["live"] = _live(rows["live"], errors)
    return definition, errors


def _live(live: dict, errors: dict) -> dict:
    kind = live["type"]
    trigger: dict[str, Any] = {"type": kind, "event": live["event"].strip()}
    if kind == "date_property":
        trigger["property"] = live["property"].strip()
        trigger["offset"] = {
            "direction": live["direction"],
            "amount": number_from_text(live["amount"], "live.offset.amount", errors, integer=True),
            "unit": live["unit"],
        }
        if live["direction"] == "on":
            trigger["offset"]["amount"] = trigger["offset"]["amount"] or 0
        return trigger
    properties = _properties(live["props"], "live.properties")
    if properties:
        trigger["properties"] = properties
    if kind == "inaction":
        trigger["not_event"] = live["not_event"].strip()
        not_properties = _properties(live["not_props"], "live.not_properties")
        if not_properties:
            trigger["not_properties"] = not_properties
        trigger["within_minutes"] = number_from_text(
            live["within_minutes"], "live.within_minutes", errors, integer=True
        )
    return trigger


def definition_from_builder(querydict: Mapping) -> tuple[dict, dict[str, str]]:
    """The builder's post -> (raw definition for definition_validate, parse errors by path)."""
    return definition_from_rows(rows_from_querydict(querydict))
