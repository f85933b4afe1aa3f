"""Addresses and definitions shared by the segment page tests."""

from apps.segments.definitions import definition_validate

LIST_URL = "/segments/"
NEW_URL = "/segments/new/"
ESTIMATE_URL = "/segments/estimate/"

INDIA = definition_validate(
    {"profile": [{"name": "Country", "operator": "equals", "value": "India"}]}
)

# The builder's fields as the browser posts them for one condition: charged at least once in
# the last 30 days (the segment page, the wizard's Who step and the save-services tests).
CHARGED_LAST_30_DAYS = {
    "kind": "past",
    "match": "all",
    "cond-0-type": "event",
    "cond-0-did": "did",
    "cond-0-event": "Charged",
    "cond-0-period": "last_days",
    "cond-0-days": "30",
    "cond-0-count_op": "at_least",
    "cond-0-count_n": "1",
}

# ... charged more than 100 of it, in India.
CHARGED_IN_INDIA = {
    "name": "Indian big spenders",
    **CHARGED_LAST_30_DAYS,
    "cond-0-prop-0-name": "Amount",
    "cond-0-prop-0-operator": "greater_than",
    "cond-0-prop-0-value": "100",
    "profile-0-name": "Country",
    "profile-0-operator": "equals",
    "profile-0-value": "India",
}
