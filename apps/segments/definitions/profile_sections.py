"""The sections about who a person is and where: demographics (age, gender), geography
(countries, regions, cities), radius centres and reachability flags."""

from __future__ import annotations

from typing import Any

from .errors import ErrorCollector
from .fields import float_value, int_value
from .vocabulary import GENDERS, MAX_AGE, MAX_RADIUS_KM, REACHABILITY_KEYS


def demographics_normalise(raw: Any, errs: ErrorCollector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add("demographics", "Expected an object with age and gender.")
        return None
    errs.unknown_keys(raw, {"age", "gender"}, "demographics")
    out: dict[str, Any] = {}
    age = raw.get("age")
    if isinstance(age, dict):
        errs.unknown_keys(age, {"min", "max"}, "demographics.age")
        low, high = age.get("min"), age.get("max")
        low = (
            None
            if low in (None, "")
            else int_value(low, errs, "demographics.age.min", minimum=0, maximum=MAX_AGE)
        )
        high = (
            None
            if high in (None, "")
            else int_value(high, errs, "demographics.age.max", minimum=0, maximum=MAX_AGE)
        )
        if low is not None and high is not None and low > high:
            errs.add("demographics.age.max", "The maximum age is below the minimum.")
        elif low is not None or high is not None:
            out["age"] = {"min": low, "max": high}
    elif age is not None:
        errs.add("demographics.age", "Expected {min, max}.")
    gender = raw.get("gender")
    if isinstance(gender, str):
        gender = [gender]
    if gender:
        if not isinstance(gender, list):
            errs.add("demographics.gender", "Expected a list of M, F, O.")
        else:
            codes = []
            for g in gender:
                code = GENDERS.get(str(g).strip().lower())
                if code is None:
                    errs.add("demographics.gender", f"Unknown gender {g!r}: use M, F or O.")
                elif code not in codes:
                    codes.append(code)
            if codes:
                out["gender"] = sorted(codes)
    return out or None


def geography_normalise(raw: Any, errs: ErrorCollector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add("geography", "Expected an object with countries, regions and cities.")
        return None
    errs.unknown_keys(raw, {"countries", "regions", "cities"}, "geography")
    out = {}
    for key in ("countries", "regions", "cities"):
        values = raw.get(key)
        if values in (None, ""):
            continue
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errs.add(f"geography.{key}", "Expected a list of names.")
            continue
        cleaned = [v.strip() for v in values if v.strip()]
        if cleaned:
            out[key] = cleaned
    return out or None


def radius_normalise(raw: Any, errs: ErrorCollector) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errs.add("radius", "Expected a list of centres.")
        return []
    out = []
    for i, item in enumerate(raw):
        path = f"radius[{i}]"
        if not isinstance(item, dict):
            errs.add(path, "Expected a centre with latitude, longitude and radius_km.")
            continue
        errs.unknown_keys(item, {"label", "latitude", "longitude", "radius_km"}, path)
        lat = item.get("latitude")
        lon = item.get("longitude")
        if lat in (None, "") or lon in (None, ""):
            errs.add(
                f"{path}.latitude" if lat in (None, "") else f"{path}.longitude",
                "A radius needs a centre: latitude and longitude.",
            )
            continue
        lat = float_value(lat, errs, f"{path}.latitude")
        lon = float_value(lon, errs, f"{path}.longitude")
        km = float_value(item.get("radius_km"), errs, f"{path}.radius_km")
        if lat is not None and not -90 <= lat <= 90:
            errs.add(f"{path}.latitude", "Latitude must be between -90 and 90.")
            lat = None
        if lon is not None and not -180 <= lon <= 180:
            errs.add(f"{path}.longitude", "Longitude must be between -180 and 180.")
            lon = None
        if km is not None and not 0 < km <= MAX_RADIUS_KM:
            errs.add(
                f"{path}.radius_km", f"The radius must be above 0 and at most {MAX_RADIUS_KM} km."
            )
            km = None
        label = item.get("label") or ""
        if not isinstance(label, str):
            errs.add(f"{path}.label", "Expected text.")
            label = ""
        if None not in (lat, lon, km):
            out.append({"label": label.strip(), "latitude": lat, "longitude": lon, "radius_km": km})
    return out


def reachability_normalise(raw: Any, errs: ErrorCollector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add("reachability", "Expected an object of true/false flags.")
        return None
    errs.unknown_keys(raw, REACHABILITY_KEYS, "reachability")
    out = {}
    for key in REACHABILITY_KEYS:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, bool):
            errs.add(f"reachability.{key}", "Expected true or false.")
            continue
        out[key] = value
    return out or None
