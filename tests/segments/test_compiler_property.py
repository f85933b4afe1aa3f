"""Property-based check of the compiler: on small random audiences and random definitions, the
profiles the SQL returns are exactly those a straightforward Python evaluation of the same
definition (written here, independently of the compiler) accepts.

Each example creates its rows inside an atomic block that is rolled back, so examples never
see each other's data."""

import datetime as dt
import math
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apps.audience.models import Device, Event, Profile
from apps.segments.compiler import profiles_matching
from apps.segments.definitions import definition_validate, value_kind

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 15, 20, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

# --------------------------------------------------------------------------- random data

SCALARS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([1.5, -0.5, 100]),
    st.sampled_from(["a", "B", "ab", "10", "2.5", "abc", "2025-03-14", "2025-03-15T23:00:00", ""]),
    st.booleans(),
    st.none(),
)
JSON_VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.lists(st.fixed_dictionaries({}, optional={"C": SCALARS}), max_size=2),
    st.fixed_dictionaries({}, optional={"C": SCALARS}),
)
PROPERTIES = st.dictionaries(st.sampled_from(["A", "B", "Tags", "Items"]), JSON_VALUES, max_size=3)

# Fixed places whose pairwise distances are nowhere near the radii below, so floating-point
# rounding differences between PostgreSQL and Python cannot decide a case.
PLACES = [
    (0.0, 179.9),
    (0.0, -179.9),
    (48.8566, 2.3522),
    (48.8049, 2.1204),
    (51.5074, -0.1278),
    (89.9, 10.0),
    (89.9, -170.0),
    (-33.87, 151.21),
    (None, None),
]
RADII = [1, 30, 400, 5000]
TIMEZONES = ["UTC", "Asia/Kolkata", "America/Los_Angeles"]
# Hours before NOW: around day boundaries in each timezone, and around 1/2/30-day windows.
EVENT_AGES_HOURS = [0.5, 5, 15.5, 20.5, 23, 25, 47, 49, 24 * 29, 24 * 31, 24 * 40]

profiles_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "properties": PROPERTIES,
            "city": st.sampled_from(["Paris", "paris", "Lyon", ""]),
            "gender": st.sampled_from(["M", "F", "O", ""]),
            "date_of_birth": st.one_of(
                st.none(), st.sampled_from(["2000-03-15", "2000-03-16", "1985-03-14", "1990-12-31"])
            ),
            "email": st.sampled_from(["", "a@x.io"]),
            "phone": st.sampled_from(["", "+14155550100"]),
            "email_unsubscribed": st.booleans(),
            "sms_unsubscribed": st.booleans(),
            "push_opt_out": st.booleans(),
            "place": st.sampled_from(PLACES),
            "last_seen_hours": st.sampled_from(EVENT_AGES_HOURS),
            "events": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.sampled_from(["Charged", "Cart"]),
                        "hours": st.sampled_from(EVENT_AGES_HOURS),
                        "properties": PROPERTIES,
                    }
                ),
                max_size=4,
            ),
            "devices": st.lists(
                st.fixed_dictionaries(
                    {
                        "platform": st.sampled_from(["android", "ios", "web"]),
                        "token": st.booleans(),
                        "os_version": st.sampled_from(["10", "14", ""]),
                        "make": st.sampled_from(["Google", "samsung", ""]),
                    }
                ),
                max_size=2,
            ),
        }
    ),
    min_size=1,
    max_size=5,
)

# --------------------------------------------------------------------------- random definitions

NUMBERS = st.sampled_from([-1, 0, 1, 1.5, 2, 10, 100])
TEXTS = st.sampled_from(["a", "b", "AB", "10", "paris", "google"])
DATES = st.sampled_from(["2025-03-14", "2025-03-15", "2000-03-16", "1990-01-01"])


@st.composite
def property_conditions(draw, names):
    name = draw(st.sampled_from(names))
    operator = draw(
        st.sampled_from(
            [
                "equals",
                "not_equals",
                "greater_than",
                "greater_than_equals",
                "less_than",
                "less_than_equals",
                "contains",
                "does_not_contain",
                "exists",
                "does_not_exist",
                "between",
            ]
        )
    )
    if operator in ("exists", "does_not_exist"):
        return {"name": name, "operator": operator}
    if operator in ("contains", "does_not_contain"):
        return {"name": name, "operator": operator, "value": draw(TEXTS)}
    if operator == "between":
        pool = draw(st.sampled_from([NUMBERS, TEXTS, DATES]))
        low, high = sorted([draw(pool), draw(pool)])
        return {"name": name, "operator": operator, "value": [low, high]}
    scalar = st.one_of(NUMBERS, TEXTS, DATES)
    if operator in ("equals", "not_equals"):
        value = draw(st.one_of(scalar, st.booleans(), st.lists(scalar, min_size=1, max_size=2)))
    else:
        value = draw(scalar)
    return {"name": name, "operator": operator, "value": value}


# Each optional part in about one definition in four, so results are not mostly empty.
SOMETIMES = st.integers(0, 3).map(lambda n: n == 0)


@st.composite
def event_conditions(draw):
    did = draw(st.booleans())
    period = draw(
        st.one_of(
            st.none(),
            st.builds(lambda d: {"type": "last_days", "days": d}, st.sampled_from([1, 2, 30])),
            st.builds(
                lambda a, b: {
                    "type": "between",
                    "from": (TODAY - dt.timedelta(days=max(a, b))).isoformat(),
                    "to": (TODAY - dt.timedelta(days=min(a, b))).isoformat(),
                },
                st.integers(0, 3),
                st.integers(0, 3),
            ),
        )
    )
    low = draw(st.integers(0, 3))
    high = draw(st.one_of(st.none(), st.integers(low, 3)))
    if high == 0:
        high = None
    props = draw(st.lists(property_conditions(["A", "B", "Tags", "Items|C"]), max_size=2))
    cond = {
        "type": "event",
        "did": did,
        "event": draw(st.sampled_from(["Charged", "Cart"])),
        "period": period,
        "count": {"min": low, "max": high},
        "properties": props,
    }
    if did and draw(SOMETIMES):
        cond["not_followed_by"] = {
            "event": draw(st.sampled_from(["Charged", "Cart"])),
            "within_minutes": draw(st.sampled_from([60, 300, 1440])),
            "properties": draw(st.lists(property_conditions(["A", "Tags"]), max_size=1)),
        }
    return cond


@st.composite
def definitions(draw):
    defn = {}
    conditions = draw(
        st.lists(
            st.one_of(
                event_conditions(),
                st.builds(
                    lambda m, cs: {"type": "group", "match": m, "conditions": cs},
                    st.sampled_from(["all", "any"]),
                    st.lists(event_conditions(), min_size=1, max_size=2),
                ),
            ),
            max_size=2,
        )
    )
    if conditions:
        defn["behaviour"] = {
            "match": draw(st.sampled_from(["all", "any"])),
            "conditions": conditions,
        }
    profile_names = ["A", "B", "Tags", "Items|C", "City", "Date of Birth", "Email", "Last Seen"]
    if draw(SOMETIMES):
        defn["profile"] = draw(st.lists(property_conditions(profile_names), max_size=2))
    if draw(SOMETIMES):
        low = draw(st.one_of(st.none(), st.integers(20, 40)))
        high = draw(st.one_of(st.none(), st.integers(max(low or 0, 20), 45)))
        gender = draw(st.lists(st.sampled_from(["M", "F", "O"]), max_size=2))
        defn["demographics"] = {"age": {"min": low, "max": high}, "gender": gender}
    if draw(SOMETIMES):
        defn["geography"] = {
            "cities": draw(st.lists(st.sampled_from(["PARIS", "lyon"]), max_size=2))
        }
    if draw(SOMETIMES):
        centres = draw(
            st.lists(
                st.sampled_from([p for p in PLACES if p[0] is not None]), min_size=1, max_size=2
            )
        )
        defn["radius"] = [
            {"latitude": lat, "longitude": lon, "radius_km": draw(st.sampled_from(RADII))}
            for lat, lon in centres
        ]
    if draw(SOMETIMES):
        keys = [
            "has_email",
            "has_phone",
            "email_unsubscribed",
            "sms_unsubscribed",
            "push_reachable",
        ]
        defn["reachability"] = draw(
            st.dictionaries(st.sampled_from(keys), st.booleans(), max_size=2)
        )
    if draw(SOMETIMES):
        defn["app_fields"] = draw(st.lists(property_conditions(["os_version", "make"]), max_size=2))
    return defn


# --------------------------------------------------------------------------- Python evaluator

MISSING = object()


def values_of(doc: dict, name: str) -> list:
    """Every value a property name denotes: a list's elements, `A|B` through lists of objects."""
    segments = name.split("|")
    current = [doc]
    for segment in segments:
        found = []
        for value in current:
            items = value if isinstance(value, list) and value is not doc else [value]
            for item in items:
                if isinstance(item, dict) and segment in item:
                    found.append(item[segment])
        current = found
    flat = []
    for value in current:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def as_number(e):
    if isinstance(e, bool):
        return None
    if isinstance(e, int | float):
        return Decimal(str(e))
    if isinstance(e, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", e):
        return Decimal(e)
    return None


def as_date(e):
    if isinstance(e, str) and re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", e):
        return e[:10]
    return None


ORDER = {
    "equals": lambda a, b: a == b,
    "greater_than": lambda a, b: a > b,
    "greater_than_equals": lambda a, b: a >= b,
    "less_than": lambda a, b: a < b,
    "less_than_equals": lambda a, b: a <= b,
}


def compare(e, op, value, *, exact: bool) -> bool:
    kind = value_kind(value)
    if kind == "bool":
        return op == "equals" and isinstance(e, bool) and e == value
    if kind == "number":
        n = as_number(e)
        return n is not None and ORDER[op](n, Decimal(str(value)))
    if kind == "date":
        d = as_date(e)
        return d is not None and ORDER[op](d, value)
    if not isinstance(e, str):
        return False
    if op == "equals":
        # JSON properties: exact (case-sensitive); built-in text columns ignore case.
        return e == value if exact else e.lower() == value.lower()
    return ORDER[op](e, value)


def positive(e, op, value, *, exact: bool) -> bool:
    if op == "exists":
        return e is not None
    if op == "contains":
        return isinstance(e, str) and value.lower() in e.lower()
    if op == "between":
        return compare(e, "greater_than_equals", value[0], exact=exact) and compare(
            e, "less_than_equals", value[1], exact=exact
        )
    if op == "equals" and isinstance(value, list):
        return any(compare(e, "equals", v, exact=exact) for v in value)
    return compare(e, op, value, exact=exact)


NEGATED = {"not_equals": "equals", "does_not_contain": "contains", "does_not_exist": "exists"}


def condition_holds(values: list, cond: dict, *, exact: bool = True) -> bool:
    """`exact`: text equality is case-sensitive (JSON properties); False for built-in columns."""
    op = cond["operator"]
    hit = any(positive(e, NEGATED.get(op, op), cond.get("value"), exact=exact) for e in values)
    return not hit if op in NEGATED else hit


def profile_values(p: dict, name: str, tz) -> list:
    column = name.lower()
    if column in ("city", "email"):
        return [p[column]] if p[column] else []
    if column == "date of birth":
        return [p["date_of_birth"]] if p["date_of_birth"] else []
    if column == "last seen":
        seen = (NOW - dt.timedelta(hours=p["last_seen_hours"])).astimezone(tz)
        return [seen.strftime("%Y-%m-%dT%H:%M:%S")]
    return values_of(p["properties"], name)


def followed(p: dict, ev: dict, follow: dict) -> bool:
    """Whether another event `follow` matching its properties came within the window after."""
    ts = NOW - dt.timedelta(hours=ev["hours"])
    window = dt.timedelta(minutes=follow["within_minutes"])
    for other in p["events"]:
        other_ts = NOW - dt.timedelta(hours=other["hours"])
        if (
            other is not ev
            and other["name"] == follow["event"]
            and ts <= other_ts <= ts + window
            and all(
                condition_holds(values_of(other["properties"], c["name"]), c)
                for c in follow["properties"]
            )
        ):
            return True
    return False


def event_holds(p: dict, cond: dict, tz) -> bool:
    n = 0
    for ev in p["events"]:
        if ev["name"] != cond["event"]:
            continue
        ts = NOW - dt.timedelta(hours=ev["hours"])
        period = cond["period"]
        if period and period["type"] == "last_days":
            if ts < NOW - dt.timedelta(days=period["days"]):
                continue
        elif period:
            local_day = ts.astimezone(tz).date().isoformat()
            if not period["from"] <= local_day <= period["to"]:
                continue
        if not all(
            condition_holds(values_of(ev["properties"], c["name"]), c) for c in cond["properties"]
        ):
            continue
        follow = cond.get("not_followed_by")
        if follow and (
            # The window must have fully elapsed before an occurrence can count.
            ts > NOW - dt.timedelta(minutes=follow["within_minutes"]) or followed(p, ev, follow)
        ):
            continue
        n += 1
    if not cond["did"]:
        return n == 0
    low, high = cond["count"]["min"], cond["count"]["max"]
    return n >= low and (high is None or n <= high)


def combine(match: str, results) -> bool:
    return any(results) if match == "any" else all(results)


def distance_km(lat1, lon1, lat2, lon2) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def python_matches(p: dict, defn: dict, tz) -> bool:
    behaviour = defn.get("behaviour")
    if behaviour:
        results = []
        for cond in behaviour["conditions"]:
            if cond["type"] == "group":
                results.append(
                    combine(cond["match"], [event_holds(p, c, tz) for c in cond["conditions"]])
                )
            else:
                results.append(event_holds(p, cond, tz))
        if not combine(behaviour["match"], results):
            return False
    for cond in defn.get("profile", []):
        builtin = cond["name"].lower() in ("city", "email", "date of birth", "last seen")
        if not condition_holds(profile_values(p, cond["name"], tz), cond, exact=not builtin):
            return False
    demo = defn.get("demographics") or {}
    if demo.get("age"):
        if not p["date_of_birth"]:
            return False
        born = dt.date.fromisoformat(p["date_of_birth"])
        today = NOW.astimezone(tz).date()
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if demo["age"]["min"] is not None and age < demo["age"]["min"]:
            return False
        if demo["age"]["max"] is not None and age > demo["age"]["max"]:
            return False
    if demo.get("gender") and p["gender"] not in demo["gender"]:
        return False
    cities = (defn.get("geography") or {}).get("cities")
    if cities and p["city"].lower() not in [c.lower() for c in cities]:
        return False
    if defn.get("radius"):
        lat, lon = p["place"]
        if lat is None:
            return False
        if not any(
            distance_km(c["latitude"], c["longitude"], lat, lon) <= c["radius_km"]
            for c in defn["radius"]
        ):
            return False
    reach = defn.get("reachability") or {}
    push = not p["push_opt_out"] and any(d["token"] for d in p["devices"])
    actual = {
        "has_email": p["email"] != "",
        "has_phone": p["phone"] != "",
        "email_unsubscribed": p["email_unsubscribed"],
        "sms_unsubscribed": p["sms_unsubscribed"],
        "push_reachable": push,
    }
    if any(actual[key] != wanted for key, wanted in reach.items()):
        return False
    fields = defn.get("app_fields")
    if not fields:
        return True
    return any(
        all(condition_holds([d[c["name"]]] if d[c["name"]] else [], c, exact=False) for c in fields)
        for d in p["devices"]
    )


# --------------------------------------------------------------------------- the property


class _Rollback(Exception):
    pass


def create_audience(people: list[dict]) -> list[int]:
    ids = []
    token = 0
    for person in people:
        lat, lon = person["place"]
        profile = Profile.objects.create(
            properties=person["properties"],
            city=person["city"],
            gender=person["gender"],
            date_of_birth=person["date_of_birth"],
            email=person["email"],
            phone=person["phone"],
            email_unsubscribed=person["email_unsubscribed"],
            sms_unsubscribed=person["sms_unsubscribed"],
            push_opt_out=person["push_opt_out"],
            latitude=lat,
            longitude=lon,
            last_seen=NOW - dt.timedelta(hours=person["last_seen_hours"]),
        )
        ids.append(profile.pk)
        Event.objects.bulk_create(
            Event(
                profile=profile,
                name=ev["name"],
                ts=NOW - dt.timedelta(hours=ev["hours"]),
                properties=ev["properties"],
            )
            for ev in person["events"]
        )
        for device in person["devices"]:
            token += 1
            Device.objects.create(
                profile=profile,
                platform=device["platform"],
                push_token=f"token-{profile.pk}-{token}" if device["token"] else None,
                os_version=device["os_version"],
                make=device["make"],
            )
    return ids


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=profiles_strategy, raw=definitions(), tz_name=st.sampled_from(TIMEZONES))
def test_sql_matches_a_python_evaluation_of_the_same_definition(people, raw, tz_name):
    defn = definition_validate(raw)
    tz = zoneinfo.ZoneInfo(tz_name)
    try:
        with transaction.atomic():
            ids = create_audience(people)
            got = set(
                profiles_matching(defn, now=NOW, tz_name=tz_name).values_list("pk", flat=True)
            )
            expected = {
                pk for pk, p in zip(ids, people, strict=True) if python_matches(p, defn, tz)
            }
            assert got == expected, (defn, people)
            # Shown by --hypothesis-show-statistics: examples should not all be trivial.
            event(
                "none match"
                if not expected
                else "all match"
                if len(expected) == len(ids)
                else "some match"
            )
            raise _Rollback
    except _Rollback:
        pass
