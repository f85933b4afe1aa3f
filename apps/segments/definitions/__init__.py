"""Segment definition format v1: validation, normalisation and human-readable summaries.

The format is the contract between the compiler, the builder pages, the API translation and the
bench (see the segments-format brief). `definition_validate` is the only door in: everything
downstream (compiler, estimates, cache keys) works on its normalised output, so two spellings
of the same audience compile to the same SQL and share one cached estimate.

Normalised shape: "version" and "kind" are always present; every other section is present only
when it constrains something (so `{}` and `{"profile": []}` normalise to the same thing). Inside
sections every key is present (`period` is None for "ever", a property condition without a value
has "value": None).

`validate` checks the top level and hands each section to its module (`behaviour`, `live`,
`profile_sections`, `properties`), which normalise one field at a time with `fields` and
report problems by path through `errors`; `vocabulary` holds the words and limits of the
format, `summaries` the lines the pages show.
"""

from .errors import DefinitionError
from .fields import value_kind
from .properties import property_condition_validate
from .summaries import definition_summary, event_summary, property_summary
from .validate import TOP_LEVEL_KEYS, definition_validate
from .vocabulary import (
    APP_FIELD_LABELS,
    APP_FIELDS,
    GENDER_LABELS,
    GENDERS,
    ISO_DATE_RE,
    LIVE_TYPES,
    MAX_AGE,
    MAX_CONDITIONS,
    MAX_COUNT,
    MAX_DATE,
    MAX_RADIUS_KM,
    MAX_TEXT,
    MAX_WITHIN_MINUTES,
    MIN_DATE,
    NEGATIVE_OPERATORS,
    NO_VALUE_OPERATORS,
    OFFSET_DIRECTIONS,
    OFFSET_UNITS,
    OPERATOR_LABELS,
    OPERATORS,
    ORDER_OPERATORS,
    PROFILE_COLUMNS,
    REACHABILITY_KEYS,
    TEXT_OPERATORS,
)

__all__ = [
    "APP_FIELDS",
    "APP_FIELD_LABELS",
    "GENDERS",
    "GENDER_LABELS",
    "ISO_DATE_RE",
    "LIVE_TYPES",
    "MAX_AGE",
    "MAX_CONDITIONS",
    "MAX_COUNT",
    "MAX_DATE",
    "MAX_RADIUS_KM",
    "MAX_TEXT",
    "MAX_WITHIN_MINUTES",
    "MIN_DATE",
    "NEGATIVE_OPERATORS",
    "NO_VALUE_OPERATORS",
    "OFFSET_DIRECTIONS",
    "OFFSET_UNITS",
    "OPERATORS",
    "OPERATOR_LABELS",
    "ORDER_OPERATORS",
    "PROFILE_COLUMNS",
    "REACHABILITY_KEYS",
    "TEXT_OPERATORS",
    "TOP_LEVEL_KEYS",
    "DefinitionError",
    "definition_summary",
    "definition_validate",
    "event_summary",
    "property_condition_validate",
    "property_summary",
    "value_kind",
]
