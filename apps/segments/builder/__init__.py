"""The segment builder's form: indexed field names <-> definition format v1.

The builder is a plain server-rendered form whose inputs have indexed names
(`cond-0-event`, `cond-0-prop-1-operator`, `cond-1-sub-0-event`, `profile-2-value`,
`radius-0-latitude`, `live-prop-0-name`, …). Three steps, each a pure function:

- `rows_from_querydict(querydict)` (`rows`) reads the posted fields into *rows*: plain dicts
  of the raw strings the marketer typed, one per condition / property / centre, in page order.
- `definition_from_rows(rows)` (`rows_to_definition`) turns rows into a raw definition (for
  `definition_validate`) and parse errors for what cannot even be read (a latitude that is
  not a number). Rows left completely blank are skipped, so an added-but-unfilled row does
  not turn the live estimate into an error. Each row remembers the definition path it
  became, so validation errors can be shown beside the right input (`errors.attach_errors`).
- `builder_rows(definition)` (`definition_to_rows`) renders a stored definition back into rows.

Add/remove buttons post `action=add-cond`, `action=remove-cond-2-prop-1`, … and
`apply_action` (`actions`) edits the rows before they are rendered again, so the page works
with or without JavaScript. Rows, not a definition, are what is re-rendered: what the
marketer typed survives a round trip even when it is not valid yet. The fixed choices the
page offers are in `choices`; reading and writing one value box is `values`.
"""

from .actions import action_section, apply_action
from .choices import (
    APP_FIELDS,
    COUNT_OPS,
    DEMO_CITY_CENTRES,
    GENDERS,
    LIST_OPERATORS,
    LIVE_TYPES,
    NO_VALUE_OPERATORS,
    OFFSET_DIRECTIONS,
    OFFSET_UNITS,
    OPERATORS,
    PERIODS,
    REACHABILITY,
    UNIT_MINUTES,
)
from .definition_to_rows import builder_rows, within_in_largest_unit
from .errors import attach_errors, error_label
from .rows import (
    empty_event_row,
    empty_group_row,
    empty_live,
    empty_prop_row,
    empty_radius_row,
    empty_rows,
    rows_from_querydict,
)
from .rows_to_definition import definition_from_builder, definition_from_rows
from .values import value_from_text, value_to_text

__all__ = [
    "APP_FIELDS",
    "COUNT_OPS",
    "DEMO_CITY_CENTRES",
    "GENDERS",
    "LIST_OPERATORS",
    "LIVE_TYPES",
    "NO_VALUE_OPERATORS",
    "OFFSET_DIRECTIONS",
    "OFFSET_UNITS",
    "OPERATORS",
    "PERIODS",
    "REACHABILITY",
    "UNIT_MINUTES",
    "action_section",
    "apply_action",
    "attach_errors",
    "builder_rows",
    "definition_from_builder",
    "definition_from_rows",
    "empty_event_row",
    "empty_group_row",
    "empty_live",
    "empty_prop_row",
    "empty_radius_row",
    "empty_rows",
    "error_label",
    "rows_from_querydict",
    "value_from_text",
    "value_to_text",
    "within_in_largest_unit",
]
