"""`definition_validate`: the only door in. Checks the top level (version, kind, which sections
a past or a live segment may have) and normalises every section with its own module."""

from __future__ import annotations

from typing import Any

from .behaviour import behaviour_normalise
from .errors import DefinitionError, ErrorCollector
from .live import live_normalise
from .profile_sections import (
    demographics_normalise,
    geography_normalise,
    radius_normalise,
    reachability_normalise,
)
from .properties import property_list_normalise
from .vocabulary import APP_FIELDS

TOP_LEVEL_KEYS = {
    "version",
    "kind",
    "behaviour",
    "profile",
    "demographics",
    "geography",
    "radius",
    "reachability",
    "app_fields",
    "live",
}


def definition_validate(raw: Any) -> dict:
    """Validate and normalise a definition; raise DefinitionError with every problem by path."""
    errs = ErrorCollector()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DefinitionError({"definition": "Expected a JSON object."})
    errs.unknown_keys(raw, TOP_LEVEL_KEYS, "")
    version = raw.get("version", 1)
    if version not in (1, "1"):
        errs.add("version", "Only version 1 is supported.")
    kind = raw.get("kind", "past") or "past"
    if kind not in ("past", "live"):
        errs.add("kind", "Choose past or live.")
        kind = "past"
    out: dict[str, Any] = {"version": 1, "kind": kind}

    if kind == "live":
        if raw.get("behaviour"):
            errs.add("behaviour", "A live segment has a trigger instead of past behaviour.")
        live = live_normalise(raw.get("live"), errs)
    else:
        if raw.get("live") is not None:
            errs.add("live", "Only live segments have a trigger.")
        live = None
        behaviour = behaviour_normalise(raw.get("behaviour"), errs)
        if behaviour:
            out["behaviour"] = behaviour

    profile = property_list_normalise(raw.get("profile"), errs, "profile")
    if profile:
        out["profile"] = profile
    demographics = demographics_normalise(raw.get("demographics"), errs)
    if demographics:
        out["demographics"] = demographics
    geography = geography_normalise(raw.get("geography"), errs)
    if geography:
        out["geography"] = geography
    radius = radius_normalise(raw.get("radius"), errs)
    if radius:
        out["radius"] = radius
    reachability = reachability_normalise(raw.get("reachability"), errs)
    if reachability:
        out["reachability"] = reachability
    app_fields = property_list_normalise(
        raw.get("app_fields"), errs, "app_fields", names=APP_FIELDS
    )
    if app_fields:
        out["app_fields"] = app_fields
    if live:
        out["live"] = live

    if errs.errors:
        raise DefinitionError(errs.errors)
    return out
