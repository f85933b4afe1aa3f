"""Compile a segment definition (format v1) into ONE SQL query over profiles.

`profiles_matching(defn)` returns a Profile QuerySet whose WHERE clause is a single boolean SQL
expression: EXISTS / NOT EXISTS subqueries over events correlated on (profile_id, name, ts) —
the event_profile_name_ts_idx index — JSON predicates on properties, a bounding box then the
haversine distance for radius centres, EXISTS over devices for app fields, the profile's push
flags (kept by triggers on devices) for push reachability.
No user is ever loaded into Python. Every value reaches PostgreSQL as a query parameter.

JSON comparisons are type-aware without ever raising: each typed view of a JSON value is a
CASE expression that is NULL unless the value has that type (a number, a numeric string, an
ISO date string, a boolean), and NULL never satisfies a comparison. Negative operators
(not_equals, does_not_contain, does_not_exist) are NOT of the positive test over all the
values of the property, so a missing property satisfies them (CleverTap semantics) and a list
property satisfies them only when no element matches.

Shapes written so that indexes can serve them (PostgreSQL matches index expressions textually):
  - built-in text columns and geography: `lower(col) = ANY(ARRAY[lower(v), ...])`
    -> an expression index on lower(col);
  - text (or boolean) equality on a top-level JSON property k is exact and case-sensitive
    (CleverTap's semantics: "Premium" != "premium"), written as jsonb containment
    `properties @> '{"k": "v"}' OR properties @> '{"k": ["v"]}'` (the value, or a list holding
    it) -> the jsonb_path_ops GIN index, ANDed in a BitmapAnd with a column index (checked
    with EXPLAIN). Text equality on nested paths is exact too; contains/does_not_contain
    ignore case. Numbers keep the typed path (a number also matches a numeric string);
  - a number against list elements: jsonb_path_exists, not EXISTS over jsonb_array_elements,
    whose correlated SubPlan would keep PostgreSQL 15 from scanning events in parallel;
  - dates of birth and first/last seen: plain range comparisons on the column;
  - events: EXISTS correlated on (profile_id, name, ts), which PostgreSQL turns into a
    semi/anti join when the count bounds are the default.

The correlation to the outer profile row is written against a placeholder that is replaced by
the profile table's alias at SQL compile time, so the queryset still works when Django nests it
as a subquery (`profile__in=...`, INSERT ... SELECT) and relabels the table to U0.

Longer than ~400 lines on purpose: the JSON-value comparisons and the sections call each other
(an event condition filters its properties as JSON values; a between or a list of values is
and-ed and or-ed as sections are), so halves would import each other.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, Expression, F, QuerySet
from django.utils import timezone

from apps.accounts.selectors import account_timezone
from apps.audience.models import Profile
from apps.segments.definitions import PROFILE_COLUMNS, definition_validate, value_kind

# Replaced by the quoted alias of the outer profile table in _ProfileCondition.as_sql.
_P = "__herald_profile__"
PROFILE_ALIAS = _P  # what callers composing their own SQL replace with their alias

EARTH_RADIUS_KM = 6371.0088
NUMERIC_RE = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_PREFIX_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"

_SQL_OPS = {
    "equals": "=",
    "greater_than": ">",
    "greater_than_equals": ">=",
    "less_than": "<",
    "less_than_equals": "<=",
}
_NEGATED = {"not_equals": "equals", "does_not_contain": "contains", "does_not_exist": "exists"}

Fragment = tuple[str, list[Any]]


class _ProfileCondition(Expression):
    """A boolean SQL expression about one profile row, correlated through the row's alias."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, sql: str, params: list[Any]):
        super().__init__()
        self.sql = sql
        self.params = params
        self.pk = F("pk")

    def get_source_expressions(self):
        return [self.pk]

    def set_source_expressions(self, exprs):
        (self.pk,) = exprs

    def as_sql(self, compiler, connection):
        pk_sql, pk_params = compiler.compile(self.pk)
        # pk_sql is '"alias"."id"': everything before the last dot is the table reference.
        table = pk_sql.rsplit(".", 1)[0]
        return self.sql.replace(_P, table), [*pk_params, *self.params]

    def __repr__(self) -> str:
        return f"<ProfileCondition {self.sql[:60]}...>"


# --------------------------------------------------------------------------- JSON values


def _fmt(template: str, x: Fragment, *values: Any) -> Fragment:
    """Fill `template`: each {x} becomes x's SQL (its params repeated at each use), each %s
    takes the next of `values`, so parameters always follow their placeholders' order."""
    sql: list[str] = []
    params: list[Any] = []
    pending = list(values)
    i = 0
    while i < len(template):
        if template.startswith("{x}", i):
            sql.append(x[0])
            params.extend(x[1])
            i += 3
        elif template.startswith("%s", i):
            sql.append("%s")
            params.append(pending.pop(0))
            i += 2
        else:
            sql.append(template[i])
            i += 1
    if pending:
        raise ValueError("more values than placeholders")
    return "".join(sql), params


def _param(value: Any) -> Any:
    # Decimal so numbers compare exactly against jsonb numerics (0.1 stays 0.1).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


_TEXT = "({x} #>> '{}')"  # a jsonb string's text


def _add_compare(branches: dict[str, list[Fragment]], x: Fragment, op: str, value: Any) -> None:
    """Add `x <op> value` to the branch of each JSON type it can hold for: a number value
    matches JSON numbers and numeric strings, a date value date-prefixed strings, text strings,
    a boolean booleans. Inside a branch the type is known, so casts cannot fail."""
    kind = value_kind(value)
    sql_op = _SQL_OPS[op]
    if kind == "number":
        branches["number"].append(_fmt("({x})::numeric " + sql_op + " %s", x, _param(value)))
        branches["string"].append(
            _fmt(
                f"CASE WHEN {_TEXT} ~ '{NUMERIC_RE}' THEN {_TEXT}::numeric {sql_op} %s END",
                x,
                _param(value),
            )
        )
    elif kind == "bool":
        if op == "equals":
            branches["boolean"].append(_fmt("({x})::boolean = %s", x, value))
    elif kind == "date":
        branches["string"].append(
            _fmt(
                f"CASE WHEN {_TEXT} ~ '{DATE_PREFIX_RE}' "
                f'THEN left({_TEXT}, 10) COLLATE "C" {sql_op} %s END',
                x,
                value,
            )
        )
    elif op == "equals":
        # Text equality in JSON properties is exact (case-sensitive), as in CleverTap.
        branches["string"].append(_fmt(f"{_TEXT} = %s", x, value))
    else:
        branches["string"].append(_fmt(f'{_TEXT} COLLATE "C" {sql_op} %s', x, value))


def _typed_branches(x: Fragment, op: str, value: Any) -> dict[str, list[Fragment]]:
    branches: dict[str, list[Fragment]] = {"number": [], "string": [], "boolean": []}
    if op == "contains":
        branches["string"].append(_fmt(f"strpos(lower({_TEXT}), lower(%s)) > 0", x, value))
    elif op == "between":
        low: dict[str, list[Fragment]] = {"number": [], "string": [], "boolean": []}
        high: dict[str, list[Fragment]] = {"number": [], "string": [], "boolean": []}
        _add_compare(low, x, "greater_than_equals", value[0])
        _add_compare(high, x, "less_than_equals", value[1])
        for kind in branches:
            if low[kind] and high[kind]:
                # Both bounds have the same kind (validated), so one branch each.
                branches[kind].append(_and([low[kind][0], high[kind][0]]))
    else:
        for v in value if isinstance(value, list) else [value]:
            _add_compare(branches, x, op, v)
    return branches


_JSONPATH_OPS = {
    "equals": "==",
    "greater_than": ">",
    "greater_than_equals": ">=",
    "less_than": "<",
    "less_than_equals": "<=",
}


def _numeric_elements_path(op: str, value: Any) -> tuple[str, str] | None:
    """For a number value: (jsonpath, vars) true when any element of an array is a number, or
    a numeric string, that satisfies `op`; None for other values. JSON numbers compare exactly
    (jsonpath compares numerics); numeric strings go through .double(), exact for up to 15
    significant digits (PostgreSQL 15 has no .decimal())."""
    if op == "between":
        bounds = [("greater_than_equals", value[0]), ("less_than_equals", value[1])]
        if not all(value_kind(v) == "number" for _, v in bounds):
            return None
        tests = [bounds]
    elif op in _JSONPATH_OPS:
        values = value if isinstance(value, list) else [value]
        if not values or not all(value_kind(v) == "number" for v in values):
            return None
        tests = [[(op, v)] for v in values]
    else:
        return None
    variables: dict[str, Any] = {}
    alternatives = []
    for test in tests:
        as_number, as_string = [], []
        for test_op, v in test:
            var = f"v{len(variables)}"
            variables[var] = _param(v)
            as_number.append(f"@ {_JSONPATH_OPS[test_op]} ${var}")
            as_string.append(f"@.double() {_JSONPATH_OPS[test_op]} ${var}")
        alternatives.append('(@.type() == "number" && ' + " && ".join(as_number) + ")")
        # NUMERIC_RE, its escaped dot written [.] (no escapes inside a jsonpath string).
        alternatives.append(
            '(@.type() == "string" && @ like_regex "^-?[0-9]+([.][0-9]+)?$" && '
            + " && ".join(as_string)
            + ")"
        )
    path = "strict $[*] ? (" + " || ".join(alternatives) + ")"
    # Numbers written as JSON numbers from their exact decimal text.
    return path, "{" + ", ".join(f'"{k}": {v}' for k, v in variables.items()) + "}"


def _positive_json(x: Fragment, op: str, value: Any, *, lists: bool) -> Fragment:
    """A positive operator on the JSON value x, as ONE `CASE jsonb_typeof(x)` so the value is
    classified once per row. With `lists`, an array holds values to test (any element). The
    result may be NULL (= no match)."""
    if op == "exists":
        if not lists:
            return _fmt("jsonb_typeof({x}) <> 'null'", x)
        return _fmt(
            "CASE jsonb_typeof({x}) WHEN 'array' THEN EXISTS (SELECT 1 FROM "
            "jsonb_array_elements({x}) AS el(v) WHERE jsonb_typeof(el.v) <> 'null') "
            "WHEN 'null' THEN FALSE ELSE {x} IS NOT NULL END",
            x,
        )
    sql = "CASE jsonb_typeof(" + x[0] + ")"
    params = list(x[1])
    any_branch = False
    for kind, preds in _typed_branches(x, op, value).items():
        if preds:
            branch = _or(preds)
            sql += f" WHEN '{kind}' THEN " + branch[0]
            params += branch[1]
            any_branch = True
    if lists:
        numeric = _numeric_elements_path(op, value)
        if numeric is not None:
            # A jsonpath, not an EXISTS over jsonb_array_elements: that would be a correlated
            # SubPlan, which PostgreSQL 15 cannot run in parallel workers, so a scan with it
            # in its filter (e.g. "Amount > 100" over a month of purchases) would run serial.
            elements = _fmt("jsonb_path_exists({x}, %s::jsonpath, %s::jsonb, TRUE)", x, *numeric)
        else:
            inner = _positive_json(("el.v", []), op, value, lists=False)
            elements = _fmt("jsonb_array_elements({x})", x)
            elements = (
                f"EXISTS (SELECT 1 FROM {elements[0]} AS el(v) WHERE {inner[0]})",
                [*elements[1], *inner[1]],
            )
        sql += " WHEN 'array' THEN " + elements[0]
        params += elements[1]
        any_branch = True
    if not any_branch:
        return "FALSE", []
    return sql + " END", params


def _jsonpath(segments: list[str]) -> str:
    quoted = "".join('."' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in segments)
    # lax mode: member access on an array of objects unwraps it; [*] flattens a list leaf and
    # wraps a scalar; missing keys yield nothing instead of an error.
    return f"lax ${quoted}[*]"


def _lowered_array(values: list[str]) -> Fragment:
    """ARRAY[lower(%s), ...]: folded to constants by the planner, so an index on lower(...)
    still serves `= ANY(...)`, and lowering is PostgreSQL's on both sides."""
    return "ARRAY[" + ", ".join("lower(%s)" for _ in values) + "]", list(values)


def json_property_sql(doc: str, condition: Mapping[str, Any]) -> Fragment:
    """SQL and params for one segments-format property condition ({"name", "operator",
    "value"}, as `definition_validate` or `property_condition_validate` normalise it) on the
    jsonb expression `doc`, e.g. "ev.properties". True when any of the property's values (a
    list's elements) passes; negative operators negate that, so a missing property satisfies
    them. Public so other apps that filter events by property (the A/B winner's conversion
    goal) share the segments' semantics instead of re-implementing them."""
    name, op, value = condition["name"], condition["operator"], condition.get("value")
    negate = op in _NEGATED
    positive_op = _NEGATED.get(op, op)
    element = ("el.v", [])
    segments = name.split("|")
    values = value if isinstance(value, list) else [value]
    if (
        len(segments) == 1
        and positive_op == "equals"
        and all(value_kind(v) in ("string", "bool") for v in values)
    ):
        # Exact equality on text or booleans (CleverTap's: "Premium" != "premium"), the most
        # common filter, as jsonb containment that the jsonb_path_ops GIN index serves:
        # the property is the value, or a list with the value among its elements. Containment
        # of a scalar inside an array only holds at the top level, hence the second form.
        # Numbers stay on the typed path: they must also match numeric strings ("5").
        sql = "(" + " OR ".join(f"{doc} @> %s::jsonb OR {doc} @> %s::jsonb" for _ in values) + ")"
        params = [
            json.dumps(document, ensure_ascii=False)
            for v in values
            for document in ({name: v}, {name: [v]})
        ]
        if negate:
            return f"(NOT COALESCE({sql}, FALSE))", params
        return sql, params
    if len(segments) == 1:
        pred = _positive_json((f"({doc} -> %s)", [name]), positive_op, value, lists=True)
        sql, params = f"COALESCE({pred[0]}, FALSE)", pred[1]
    else:
        pred = _positive_json(element, positive_op, value, lists=False)
        sql = (
            "EXISTS (SELECT 1 FROM jsonb_path_query(" + doc + ", %s::jsonpath) AS el(v) "
            "WHERE " + pred[0] + ")"
        )
        params = [_jsonpath(segments), *pred[1]]
    return (f"(NOT {sql})" if negate else sql), params


TEXT_COLUMNS = frozenset(
    {"name", "email", "phone", "identity", "gender", "country", "region", "city", "timezone",
     "language"}
)  # fmt: skip


def _text_compare(c: Fragment, op: str, value: Any) -> Fragment:
    """c <op> value for a text column c ('' or NULL = missing), typed by the value's kind."""
    kind = value_kind(value)
    sql_op = _SQL_OPS[op]
    if kind == "number":
        template = "(CASE WHEN {x} ~ '" + NUMERIC_RE + "' THEN ({x})::numeric END) "
        return _fmt(template + sql_op + " %s", c, _param(value))
    if kind == "bool":
        return "FALSE", []
    if kind == "date":
        template = "(CASE WHEN {x} ~ '" + DATE_PREFIX_RE + "' THEN left({x}, 10) END) "
        return _fmt(template + 'COLLATE "C" ' + sql_op + " %s", c, value)
    if op == "equals":
        # Written so an expression index on lower(column) serves it.
        return _fmt("lower({x}) = lower(%s)", c, value)
    return _fmt("NULLIF({x}, '') COLLATE \"C\" " + sql_op + " %s", c, value)


def _text_positive(c: Fragment, op: str, value: Any) -> Fragment:
    if op == "exists":
        return _fmt("{x} <> ''", c)
    if op == "contains":
        return _fmt("strpos(lower({x}), lower(%s)) > 0", c, value)
    if op == "between":
        return _and(
            [_text_compare(c, "greater_than_equals", value[0]),
             _text_compare(c, "less_than_equals", value[1])]
        )  # fmt: skip
    if op == "equals" and isinstance(value, list):
        if all(value_kind(v) == "string" for v in value):
            lowered = _lowered_array(value)
            return _fmt("lower({x}) = ANY(" + lowered[0] + ")", c, *lowered[1])
        return _or([_text_compare(c, "equals", v) for v in value])
    return _text_compare(c, op, value)


def _date_positive(c: str, op: str, value: Any) -> Fragment:
    """date_of_birth: date values compare as dates (index-friendly), text as its ISO text."""
    if op == "exists":
        return f"{c} IS NOT NULL", []
    if op == "between":
        return _and(
            [_date_positive(c, "greater_than_equals", value[0]),
             _date_positive(c, "less_than_equals", value[1])]
        )  # fmt: skip
    if op == "equals" and isinstance(value, list):
        return _or([_date_positive(c, "equals", v) for v in value])
    kind = value_kind(value)
    if kind == "date" and op in _SQL_OPS:
        return f"{c} {_SQL_OPS[op]} %s::date", [value]
    if kind == "string":
        return _text_positive((f"({c})::text", []), op, value)
    return "FALSE", []  # a date is never a number or a boolean


def _timestamp_positive(c: str, op: str, value: Any, ctx: _Context) -> Fragment:
    """first_seen/last_seen: a date value means that whole day in the account timezone."""
    if op == "exists":
        return f"{c} IS NOT NULL", []
    if op == "between":
        return _and(
            [_timestamp_positive(c, "greater_than_equals", value[0], ctx),
             _timestamp_positive(c, "less_than_equals", value[1], ctx)]
        )  # fmt: skip
    if op == "equals" and isinstance(value, list):
        return _or([_timestamp_positive(c, "equals", v, ctx) for v in value])
    kind = value_kind(value)
    if kind == "date" and op in _SQL_OPS:
        day = dt.date.fromisoformat(value)
        start = ctx.day_start(day)
        end = ctx.day_start(day + dt.timedelta(days=1))
        return {
            "equals": (f"({c} >= %s AND {c} < %s)", [start, end]),
            "greater_than": (f"{c} >= %s", [end]),
            "greater_than_equals": (f"{c} >= %s", [start]),
            "less_than": (f"{c} < %s", [start]),
            "less_than_equals": (f"{c} < %s", [end]),
        }[op]
    if kind == "string":
        local = (f"to_char({c} AT TIME ZONE %s, 'YYYY-MM-DD\"T\"HH24:MI:SS')", [ctx.tz_name])
        return _text_positive(local, op, value)
    return "FALSE", []


def _column_condition(column: str, table: str, op: str, value: Any, ctx: _Context) -> Fragment:
    """A built-in column condition, written on the column itself so indexes can serve it."""
    negate = op in _NEGATED
    positive_op = _NEGATED.get(op, op)
    c = f"{table}.{column}"
    if column == "date_of_birth":
        sql, params = _date_positive(c, positive_op, value)
    elif column in ("first_seen", "last_seen"):
        sql, params = _timestamp_positive(c, positive_op, value, ctx)
    else:
        sql, params = _text_positive((c, []), positive_op, value)
    if negate:
        return f"NOT COALESCE({sql}, FALSE)", params
    return f"({sql})", params


# --------------------------------------------------------------------------- sections


class _Context:
    def __init__(self, tz_name: str, now: dt.datetime):
        self.tz_name = tz_name
        self.tz = zoneinfo.ZoneInfo(tz_name)
        self.now = now

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)

    def today(self) -> dt.date:
        return self.now.astimezone(self.tz).date()


def _and(parts: list[Fragment]) -> Fragment:
    parts = [p for p in parts if p[0]]
    if not parts:
        return "TRUE", []
    if len(parts) == 1:
        return parts[0]
    return "(" + " AND ".join(s for s, _ in parts) + ")", [p for _, ps in parts for p in ps]


def _or(parts: list[Fragment]) -> Fragment:
    if not parts:
        return "FALSE", []
    if len(parts) == 1:
        return parts[0]
    return "(" + " OR ".join(s for s, _ in parts) + ")", [p for _, ps in parts for p in ps]


def period_bounds(
    period: dict | None, ctx: _Context
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) in UTC-aware datetimes; None for an open side."""
    if period is None:
        return None, None
    if period["type"] == "last_days":
        return ctx.now - dt.timedelta(days=period["days"]), None
    start = ctx.day_start(dt.date.fromisoformat(period["from"]))
    end = ctx.day_start(dt.date.fromisoformat(period["to"]) + dt.timedelta(days=1))
    return start, end


def _event_condition(cond: dict, ctx: _Context) -> Fragment:
    where = [f"ev.profile_id = {_P}.id", "ev.name = %s"]
    params: list[Any] = [cond["event"]]
    start, end = period_bounds(cond["period"], ctx)
    if start is not None:
        where.append("ev.ts >= %s")
        params.append(start)
    if end is not None:
        where.append("ev.ts < %s")
        params.append(end)
    for prop in cond["properties"]:
        sql, prop_params = json_property_sql("ev.properties", prop)
        where.append(sql)
        params.extend(prop_params)
    follow = cond.get("not_followed_by")
    if follow:
        window = dt.timedelta(minutes=follow["within_minutes"])
        # Only occurrences whose window has fully elapsed are judged: a cart added five
        # minutes ago is not (yet) abandoned. Also an index bound on (profile_id, name, ts).
        where.append("ev.ts <= %s")
        params.append(ctx.now - window)
        # No matching follow-up event in [ts, ts + window]: an index probe on
        # (profile_id, name, ts) per candidate occurrence.
        follow_where = ["fe.profile_id = ev.profile_id", "fe.name = %s"]
        follow_params: list[Any] = [follow["event"]]
        if follow["event"] == cond["event"]:
            # Only an event of the same name can be the occurrence itself; otherwise the
            # names differ already and the test costs a heap fetch per probed row.
            follow_where.append("fe.id <> ev.id")
        if start is not None:
            # Redundant (fe.ts >= ev.ts >= start) but a constant bound the planner can use
            # for the whole follow-up scan, e.g. a hash anti-join over the period's events.
            follow_where.append("fe.ts >= %s")
            follow_params.append(start)
        follow_where += ["fe.ts >= ev.ts", "fe.ts <= ev.ts + %s"]
        follow_params.append(window)
        for prop in follow["properties"]:
            sql, prop_params = json_property_sql("fe.properties", prop)
            follow_where.append(sql)
            follow_params.extend(prop_params)
        where.append(
            "NOT EXISTS (SELECT 1 FROM audience_event AS fe WHERE "
            + " AND ".join(follow_where)
            + ")"
        )
        params.extend(follow_params)
    body = "SELECT 1 FROM audience_event AS ev WHERE " + " AND ".join(where)
    if not cond["did"]:
        return f"NOT EXISTS ({body})", params
    low, high = cond["count"]["min"], cond["count"]["max"]
    parts: list[Fragment] = []
    # Counting stops early: "at least n" is an EXISTS past the first n-1 rows, "at most m" a
    # NOT EXISTS past the first m rows, both walking the (profile_id, name, ts) index.
    if low == 1:
        parts.append((f"EXISTS ({body})", params))
    elif low > 1:
        parts.append((f"EXISTS ({body} OFFSET %s)", [*params, low - 1]))
    if high is not None:
        parts.append((f"NOT EXISTS ({body} OFFSET %s)", [*params, high]))
    return _and(parts)


def _behaviour(behaviour: dict, ctx: _Context) -> Fragment:
    parts = []
    for cond in behaviour["conditions"]:
        if cond["type"] == "group":
            inner = [_event_condition(c, ctx) for c in cond["conditions"]]
            parts.append(_or(inner) if cond["match"] == "any" else _and(inner))
        else:
            parts.append(_event_condition(cond, ctx))
    return _or(parts) if behaviour["match"] == "any" else _and(parts)


def _profile_property(cond: dict, ctx: _Context) -> Fragment:
    column = PROFILE_COLUMNS.get(cond["name"].lower())
    if column is None:
        return json_property_sql(f"{_P}.properties", cond)
    return _column_condition(column, _P, cond["operator"], cond.get("value"), ctx)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _demographics(demo: dict, ctx: _Context) -> Fragment:
    parts: list[Fragment] = []
    age = demo.get("age")
    if age:
        today = ctx.today()
        if age["min"] is not None:
            # At least `min` years old: born on or before today's date `min` years ago.
            parts.append((f"{_P}.date_of_birth <= %s", [_years_before(today, age["min"])]))
        if age["max"] is not None:
            # At most `max`: the (max+1)th birthday is still ahead.
            parts.append((f"{_P}.date_of_birth > %s", [_years_before(today, age["max"] + 1)]))
    if demo.get("gender"):
        parts.append((f"{_P}.gender = ANY(%s)", [list(demo["gender"])]))
    return _and(parts)


def _geography(geo: dict) -> Fragment:
    parts = []
    for key, column in (("countries", "country"), ("regions", "region"), ("cities", "city")):
        if geo.get(key):
            lowered, params = _lowered_array(geo[key])
            parts.append((f"lower({_P}.{column}) = ANY({lowered})", params))
    return _and(parts)


def radius_box(lat: float, lon: float, km: float) -> tuple[float, float, list[tuple[float, float]]]:
    """Latitude range and longitude ranges (split at the antimeridian) that contain every point
    within `km` of the centre; a conservative prefilter for the exact distance test."""
    delta = km / EARTH_RADIUS_KM  # angular radius
    margin = 1e-6
    lat_min = lat - math.degrees(delta) - margin
    lat_max = lat + math.degrees(delta) + margin
    if lat_min <= -90 or lat_max >= 90 or delta >= math.pi / 2:
        # The circle covers a pole: every longitude is possible.
        return max(lat_min, -90.0), min(lat_max, 90.0), [(-180.0, 180.0)]
    dlon = math.degrees(math.asin(min(1.0, math.sin(delta) / math.cos(math.radians(lat))))) + margin
    lo, hi = lon - dlon, lon + dlon
    if lo < -180:
        return lat_min, lat_max, [(lo + 360, 180.0), (-180.0, hi)]
    if hi > 180:
        return lat_min, lat_max, [(lo, 180.0), (-180.0, hi - 360)]
    return lat_min, lat_max, [(lo, hi)]


def _radius(centres: list[dict]) -> Fragment:
    parts = []
    for c in centres:
        lat_min, lat_max, lon_ranges = radius_box(c["latitude"], c["longitude"], c["radius_km"])
        lon_sql, lon_params = _or(
            [(f"{_P}.longitude BETWEEN %s AND %s", [lo, hi]) for lo, hi in lon_ranges]
        )
        distance = (
            f"2 * {EARTH_RADIUS_KM} * asin(least(1.0, sqrt("
            f"power(sin(radians({_P}.latitude - %s) / 2), 2) + cos(radians(%s)) * "
            f"cos(radians({_P}.latitude)) * power(sin(radians({_P}.longitude - %s) / 2), 2))))"
        )
        parts.append(
            (
                f"({_P}.latitude BETWEEN %s AND %s AND {lon_sql} AND {distance} <= %s)",
                [
                    lat_min,
                    lat_max,
                    *lon_params,
                    c["latitude"],
                    c["latitude"],
                    c["longitude"],
                    c["radius_km"],
                ],
            )
        )
    return _or(parts)


def _push_reachable() -> str:
    # The per-platform flags say "has a device with a push token" and are kept by triggers on
    # audience_device (audience migration 0009): three columns of the profile row instead of
    # a device probe per profile. They know nothing of the opt-out, which applies on top.
    return f"(NOT {_P}.push_opt_out AND ({_P}.push_android OR {_P}.push_ios OR {_P}.push_web))"


def _reachability(reach: dict) -> Fragment:
    parts: list[Fragment] = []
    for key, value in reach.items():
        if key == "has_email":
            parts.append((f"{_P}.email {'<>' if value else '='} ''", []))
        elif key == "has_phone":
            parts.append((f"{_P}.phone {'<>' if value else '='} ''", []))
        elif key in ("email_unsubscribed", "sms_unsubscribed"):
            parts.append((f"{'' if value else 'NOT '}{_P}.{key}", []))
        elif key == "push_reachable":
            sql = _push_reachable()
            parts.append((sql if value else f"NOT {sql}", []))
    return _and(parts)


def _app_fields(conds: list[dict], ctx: _Context) -> Fragment:
    # One device must satisfy every listed field: all predicates inside one EXISTS.
    where: list[str] = [f"dv.profile_id = {_P}.id"]
    params: list[Any] = []
    for cond in conds:
        sql, cond_params = _column_condition(
            cond["name"], "dv", cond["operator"], cond.get("value"), ctx
        )
        where.append(sql)
        params.extend(cond_params)
    return "EXISTS (SELECT 1 FROM audience_device AS dv WHERE " + " AND ".join(where) + ")", params


def definition_sql(
    defn: dict, *, now: dt.datetime | None = None, tz_name: str | None = None
) -> Fragment:
    """The boolean SQL (with the profile-alias placeholder) and its params for a normalised
    definition. Live definitions compile their profile-side sections only."""
    if tz_name is None:
        tz_name = account_timezone().key
    ctx = _Context(tz_name, now or timezone.now())
    parts: list[Fragment] = []
    if defn.get("kind", "past") == "past" and defn.get("behaviour"):
        parts.append(_behaviour(defn["behaviour"], ctx))
    for cond in defn.get("profile", []):
        parts.append(_profile_property(cond, ctx))
    if defn.get("demographics"):
        parts.append(_demographics(defn["demographics"], ctx))
    if defn.get("geography"):
        parts.append(_geography(defn["geography"]))
    if defn.get("radius"):
        parts.append(_radius(defn["radius"]))
    if defn.get("reachability"):
        parts.append(_reachability(defn["reachability"]))
    if defn.get("app_fields"):
        parts.append(_app_fields(defn["app_fields"], ctx))
    return _and(parts)


def profiles_matching(
    defn: dict, *, now: dt.datetime | None = None, tz_name: str | None = None
) -> QuerySet[Profile]:
    """Profiles matching a definition, as one SQL query. `defn` is validated (normalising is
    idempotent); `now` and `tz_name` default to the clock and the account timezone."""
    defn = definition_validate(defn)
    sql, params = definition_sql(defn, now=now, tz_name=tz_name)
    if sql == "TRUE":
        return Profile.objects.all()
    return Profile.objects.filter(_ProfileCondition(sql, params))
