"""The words and limits of segment definition format v1: operators, built-in profile
columns, app fields, genders, reachability flags, live trigger types, and the largest
numbers, texts and dates a definition may hold."""

from __future__ import annotations

import re

OPERATORS = (
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
)
NO_VALUE_OPERATORS = frozenset({"exists", "does_not_exist"})
ORDER_OPERATORS = frozenset(
    {"greater_than", "greater_than_equals", "less_than", "less_than_equals"}
)
TEXT_OPERATORS = frozenset({"contains", "does_not_contain"})
# Operators satisfied by a missing property (CleverTap: "not equals X" includes people without it).
NEGATIVE_OPERATORS = frozenset({"not_equals", "does_not_contain", "does_not_exist"})

OPERATOR_LABELS = {
    "equals": "=",
    "not_equals": "≠",
    "greater_than": ">",
    "greater_than_equals": "≥",
    "less_than": "<",
    "less_than_equals": "≤",
    "contains": "contains",
    "does_not_contain": "does not contain",
    "exists": "exists",
    "does_not_exist": "does not exist",
    "between": "between",
}

# Built-in Profile columns addressable by name in "profile" (matched case-insensitively).
PROFILE_COLUMNS = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "identity": "identity",
    "gender": "gender",
    "date of birth": "date_of_birth",
    "country": "country",
    "region": "region",
    "city": "city",
    "timezone": "timezone",
    "language": "language",
    "first seen": "first_seen",
    "last seen": "last_seen",
}
APP_FIELDS = ("app_version", "make", "model", "os_version", "sdk_version")
APP_FIELD_LABELS = {
    "app_version": "App version",
    "make": "Device make",
    "model": "Device model",
    "os_version": "OS version",
    "sdk_version": "SDK version",
}
GENDERS = {"m": "M", "male": "M", "f": "F", "female": "F", "o": "O", "other": "O"}
GENDER_LABELS = {"M": "Male", "F": "Female", "O": "Other"}
REACHABILITY_KEYS = (
    "has_email",
    "has_phone",
    "email_unsubscribed",
    "sms_unsubscribed",
    "push_reachable",
)
LIVE_TYPES = ("action", "inaction", "date_property")
OFFSET_UNITS = ("minutes", "hours", "days")
OFFSET_DIRECTIONS = ("before", "after", "on")

MAX_CONDITIONS = 50
MAX_RADIUS_KM = 20000
# Inaction windows longer than 30 days are not "within time" any more.
MAX_WITHIN_MINUTES = 60 * 24 * 30

MAX_TEXT = 1000
MAX_COUNT = 100_000
MAX_AGE = 150
# Day arithmetic in the account timezone stays far from datetime's year 1 and 9999 limits.
MIN_DATE = "1800-01-01"
MAX_DATE = "2999-12-31"
ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
