"""Rows: the plain dicts of raw strings the builder renders, one per condition, property
and centre, in page order; `rows_from_querydict` reads them from the posted fields."""

import re
from collections.abc import Mapping

from .choices import GENDERS, REACHABILITY, UNIT_MINUTES


def empty_prop_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "name": "",
        "operator": "equals",
        "value": "",
        "value2": "",
        "errors": {},
    }


def empty_event_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "type": "event",
        "did": "did",
        "event": "",
        "period": "ever",
        "days": "",
        "from": "",
        "to": "",
        "count_op": "at_least",
        "count_n": "1",
        "count_n2": "",
        "props": [],
        # "…and not followed by [nf_event] within [nf_n] [nf_unit]" (optional, did only)
        "nf_event": "",
        "nf_n": "",
        "nf_unit": "days",
        "nf_props": [],
        "errors": {},
    }


def empty_group_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "type": "group",
        "match": "any",
        "conditions": [empty_event_row(f"{prefix}-sub-0")],
        "errors": {},
    }


def empty_radius_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "label": "",
        "latitude": "",
        "longitude": "",
        "km": "25",
        "errors": {},
    }


def empty_live() -> dict:
    return {
        "type": "action",
        "event": "",
        "props": [],
        "not_event": "",
        "not_props": [],
        "within_minutes": "",
        "property": "",
        "direction": "before",
        "amount": "",
        "unit": "minutes",
        "errors": {},
    }


def empty_rows() -> dict:
    return {
        "kind": "past",
        "match": "all",
        "conditions": [],
        "profile": [],
        "age_min": "",
        "age_max": "",
        "gender": [],
        "countries": "",
        "regions": "",
        "cities": "",
        "radius": [],
        "reach": {key: "" for key, _ in REACHABILITY},
        "app_fields": [],
        "live": empty_live(),
        "errors": {},
        "other_errors": [],
    }


def _indices(querydict: Mapping, pattern: str) -> list[int]:
    """Row indices present in the post, in numeric order: `cond-(\\d+)-type` -> [0, 2, 5]."""
    regex = re.compile(pattern)
    found = {int(m.group(1)) for key in querydict if (m := regex.fullmatch(key))}
    return sorted(found)


def _get(querydict: Mapping, key: str, default: str = "") -> str:
    value = querydict.get(key, default)
    return value if isinstance(value, str) else default


def _prop_rows_from(querydict: Mapping, prefix: str) -> list[dict]:
    rows = []
    for i in _indices(querydict, re.escape(prefix) + r"-(\d+)-name"):
        p = f"{prefix}-{i}"
        row = empty_prop_row(p)
        row.update(
            name=_get(querydict, f"{p}-name"),
            operator=_get(querydict, f"{p}-operator", "equals"),
            value=_get(querydict, f"{p}-value"),
            value2=_get(querydict, f"{p}-value2"),
        )
        rows.append(row)
    return rows


def _event_row_from(querydict: Mapping, p: str) -> dict:
    row = empty_event_row(p)
    for key in (
        "did",
        "event",
        "period",
        "days",
        "from",
        "to",
        "count_op",
        "count_n",
        "count_n2",
        "nf_event",
        "nf_n",
        "nf_unit",
    ):
        row[key] = _get(querydict, f"{p}-{key}", row[key])
    if row["nf_unit"] not in UNIT_MINUTES:
        row["nf_unit"] = "days"  # a hand-made post: read and re-shown as the default
    row["props"] = _prop_rows_from(querydict, f"{p}-prop")
    row["nf_props"] = _prop_rows_from(querydict, f"{p}-nfprop")
    return row


def rows_from_querydict(querydict: Mapping) -> dict:
    rows = empty_rows()
    rows["kind"] = "live" if _get(querydict, "kind") == "live" else "past"
    rows["match"] = "any" if _get(querydict, "match") == "any" else "all"
    for i in _indices(querydict, r"cond-(\d+)-type"):
        p = f"cond-{i}"
        if _get(querydict, f"{p}-type") == "group":
            group = empty_group_row(p)
            group["match"] = "all" if _get(querydict, f"{p}-match") == "all" else "any"
            group["conditions"] = [
                _event_row_from(querydict, f"{p}-sub-{j}")
                for j in _indices(querydict, re.escape(p) + r"-sub-(\d+)-did")
            ]
            rows["conditions"].append(group)
        else:
            rows["conditions"].append(_event_row_from(querydict, p))
    rows["profile"] = _prop_rows_from(querydict, "profile")
    rows["app_fields"] = _prop_rows_from(querydict, "app")
    for key in ("age_min", "age_max", "countries", "regions", "cities"):
        rows[key] = _get(querydict, key)
    getlist = getattr(querydict, "getlist", None)
    genders = getlist("gender") if getlist else querydict.get("gender", [])
    rows["gender"] = [g for g in genders if g in dict(GENDERS)]
    for i in _indices(querydict, r"radius-(\d+)-label"):
        p = f"radius-{i}"
        row = empty_radius_row(p)
        for key in ("label", "latitude", "longitude", "km"):
            row[key] = _get(querydict, f"{p}-{key}")
        rows["radius"].append(row)
    for key, _ in REACHABILITY:
        value = _get(querydict, f"reach-{key}")
        rows["reach"][key] = value if value in ("yes", "no") else ""
    live = rows["live"]
    for key in (
        "type",
        "event",
        "not_event",
        "within_minutes",
        "property",
        "direction",
        "amount",
        "unit",
    ):
        live[key] = _get(querydict, f"live-{key}", live[key])
    live["props"] = _prop_rows_from(querydict, "live-prop")
    live["not_props"] = _prop_rows_from(querydict, "live-notprop")
    return rows
