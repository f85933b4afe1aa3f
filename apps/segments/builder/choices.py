"""The builder's fixed choices: operators, counts, periods, app fields, genders,
reachability flags, live trigger types and offsets, in the words the page shows."""

from apps.audience.cities import CITIES

OPERATORS = [
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("greater_than", ">"),
    ("greater_than_equals", "≥"),
    ("less_than", "<"),
    ("less_than_equals", "≤"),
    ("contains", "contains"),
    ("does_not_contain", "does not contain"),
    ("exists", "exists"),
    ("does_not_exist", "does not exist"),
    ("between", "between"),
]
NO_VALUE_OPERATORS = {"exists", "does_not_exist"}
LIST_OPERATORS = {"equals", "not_equals"}  # "a, b" means any of / none of
COUNT_OPS = [
    ("at_least", "at least"),
    ("at_most", "at most"),
    ("exactly", "exactly"),
    ("between", "between"),
]
PERIODS = [("ever", "ever"), ("last_days", "in the last N days"), ("between", "between dates")]
APP_FIELDS = [
    ("app_version", "App version"),
    ("make", "Device make"),
    ("model", "Device model"),
    ("os_version", "OS version"),
    ("sdk_version", "SDK version"),
]
GENDERS = [("M", "Male"), ("F", "Female"), ("O", "Other")]
REACHABILITY = [
    ("has_email", "Has email address"),
    ("has_phone", "Has phone number"),
    ("email_unsubscribed", "Unsubscribed email"),
    ("sms_unsubscribed", "Unsubscribed SMS"),
    ("push_reachable", "Reachable by push"),
]
LIVE_TYPES = [
    ("action", "Single action"),
    ("inaction", "Inaction within time"),
    ("date_property", "On a date/time"),
]
OFFSET_DIRECTIONS = [("before", "before"), ("on", "on"), ("after", "after")]
OFFSET_UNITS = [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
# "not followed by … within N <unit>" is stored in minutes; the units it is typed in.
UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 24 * 60}

# "Paris, France" -> the demo city's centre, for the radius datalist.
DEMO_CITY_CENTRES: dict[str, tuple[float, float]] = {
    f"{c.city}, {c.country}": (c.latitude, c.longitude) for c in CITIES
}
