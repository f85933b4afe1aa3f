"""Addresses and definitions shared by the segment page tests."""

from apps.segments.definitions import definition_validate

LIST_URL = "/segments/"
NEW_URL = "/segments/new/"
ESTIMATE_URL = "/segments/estimate/"

INDIA = definition_validate(
    {"profile": [{"name": "Country", "operator": "equals", "value": "India"}]}
)

# The builder's form as the browser posts it: charged more than 100 in the last 30 days, in India.
CHARGED_IN_INDIA = {
    "name": "Indian big spenders",
    "kind": "past",
    "match": "all",
    "cond-0-type": "event",
    "cond-0-did": "did",
    "cond-0-event": "Charged",
    "cond-0-period": "last_days",
    "cond-0-days": "30",
    "cond-0-count_op": "at_least",
    "cond-0-count_n": "1",
    "cond-0-prop-0-name": "Amount",
    "cond-0-prop-0-operator": "greater_than",
    "cond-0-prop-0-value": "100",
    "profile-0-name": "Country",
    "profile-0-operator": "equals",
    "profile-0-value": "India",
}
