"""The Upload API's keys and limits: which keys identify a profile, timestamps, event names,
token platforms and fields, genders, true/false words, dates, and the profile columns an
upload may set."""

import re
from datetime import UTC, datetime, timedelta

from ..models import Gender, Platform

# Record key → Profile column. Only one of these may identify a record; `email` (or `Email`)
# identifies it when none of them is given, and otherwise just fills the email column.
KEY_FIELDS: dict[str, str] = {"identity": "identity", "objectId": "object_id", "FBID": "fbid"}
KEY_MAX_LENGTH = {"identity": 255, "object_id": 64, "fbid": 64, "email": 254}

EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LATEST_TS_AHEAD = timedelta(days=1)
EVENT_NAME_MAX_LENGTH = 128
PROPERTY_KEY_MAX_LENGTH = 120

TOKEN_PLATFORMS = {"fcm": Platform.ANDROID, "apns": Platform.IOS, "webpush": Platform.WEB}
# tokenData key → (Device field, max length)
TOKEN_FIELDS = {
    "appVersion": ("app_version", 32),
    "make": ("make", 64),
    "model": ("model", 64),
    "osVersion": ("os_version", 32),
    "sdkVersion": ("sdk_version", 32),
}
DEVICE_FIELDS = (
    "platform",
    *(name for name, _ in TOKEN_FIELDS.values()),
    "push_keys",
    "last_active",
)

GENDERS = {
    "m": Gender.MALE,
    "male": Gender.MALE,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "o": Gender.OTHER,
    "other": Gender.OTHER,
}
TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CLEVERTAP_DATE = re.compile(r"^\$D_(-?\d+)$")

# Profile columns an upload may set (Identity is handled apart: it is also a lookup key).
PROFILE_COLUMNS = (
    "identity",
    "email",
    "phone",
    "name",
    "gender",
    "date_of_birth",
    "country",
    "region",
    "city",
    "latitude",
    "longitude",
    "timezone",
    "language",
    "email_unsubscribed",
    "sms_unsubscribed",
    "push_opt_out",
)
