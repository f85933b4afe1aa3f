"""Liquid personalization: the environments, templates compiled once, and the `Profile`,
`Event` and `Notify` namespaces a message is rendered with.

Decisions (issue 6):
- Two environments, each built once per process: plain text (push, SMS, email subject and
  text part) with autoescape off, and HTML (email body) with autoescape on. In python-liquid 2
  autoescape is an Environment setting, and the built-in filters (`escape`, `join`,
  `newline_to_br`, ...) read `environment.autoescape`; a per-template switch would leave those
  filters behaving as the other kind, so a second environment is the honest way.
- Syntax is strict: a template that does not parse, names an unknown filter, or uses
  `include`/`render` (messages have no template loader) is rejected, with line numbers.
- Values are lenient: a missing value is `Undefined` and renders "", so `| default:` works. A
  render-time error inside one statement (`divided_by:` a missing number) drops that
  statement's output instead of failing the message. Resource limits (loop iterations, output
  size) still raise: that is a broken template, not a missing value.
- Lookups in the namespaces are exact first, then case-insensitive: the spec's own Notify
  example writes `{{Profile.name | default:"Shopper"}}` while the menu offers "Name", and both
  should work. Exact wins, so two custom keys differing only in case stay reachable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from liquid import BoundTemplate, Environment
from liquid.exceptions import (
    DisabledTagError,
    LiquidError,
    LiquidSyntaxError,
    ResourceLimitError,
    TemplateInheritanceError,
    UnknownFilterError,
)

from apps.audience.models import Profile

# Built-in profile fields by the names the personalization menu shows, in menu order.
BUILT_IN_FIELDS: tuple[tuple[str, str], ...] = (
    ("Name", "name"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Identity", "identity"),
    ("Gender", "gender"),
    ("DOB", "date_of_birth"),
    ("City", "city"),
    ("Region", "region"),
    ("Country", "country"),
    ("Timezone", "timezone"),
    ("Language", "language"),
    ("Latitude", "latitude"),
    ("Longitude", "longitude"),
)

# Workers render a handful of live variants; the web process also sees every draft a preview
# renders (one new source per keystroke pause). 512 keeps the live ones hot while bounding
# memory when those drafts are large email HTML.
TEMPLATE_CACHE_SIZE = 512
# Block tags whose closing tag is "end" + name; used only to point at the line of an error
# that python-liquid reports without a position (an unclosed block, an expression cut short).
_BLOCK_TAGS = frozenset(
    {"if", "unless", "for", "case", "capture", "tablerow", "comment", "raw", "doc", "ifchanged"}
)
# Errors that mean the template itself is wrong; everything else at render time is a value
# problem (a missing or odd value reaching a filter) and only drops the statement.
_TEMPLATE_ERRORS = (
    LiquidSyntaxError,
    TemplateInheritanceError,
    ResourceLimitError,
    UnknownFilterError,
    DisabledTagError,
)


@dataclass(frozen=True)
class TemplateError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class PersonalizationError(ValueError):
    """A template that cannot be used: syntax, unknown filter, or a resource limit."""

    def __init__(self, errors: list[TemplateError]):
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


class MessageEnvironment(Environment):
    # Message templates are written by marketers and rendered for millions of recipients:
    # bound the work one render may do.
    loop_iteration_limit = 10_000
    output_stream_limit = 2_000_000

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        # No loader: `include`/`render` could only fail at send time. Unregistered, they are
        # a syntax error ("unexpected tag 'include'") when the template is saved.
        for tag in ("include", "render"):
            self.tags.pop(tag, None)

    def error(
        self,
        exc: type[LiquidError] | LiquidError,
        msg: str | None = None,
        token: Any = None,
    ) -> None:
        if not isinstance(exc, LiquidError):
            exc = exc(msg, token=token)
        elif not exc.token:
            exc.token = token
        if isinstance(exc, _TEMPLATE_ERRORS):
            raise exc
        # Anything else is a value problem at render time: python-liquid skips the rest of
        # the failing top-level statement and carries on with the next one.


# Built at import, one of each kind for the whole process (building is cheap; templates hold a
# reference to their environment, so replacing one would strand the compiled cache).
_ENVIRONMENTS = {
    False: MessageEnvironment(autoescape=False, strict_filters=True),
    True: MessageEnvironment(autoescape=True, strict_filters=True),
}


def liquid_environment(*, html: bool = False) -> MessageEnvironment:
    """The one text environment (html=False) or the one HTML environment (html=True)."""
    return _ENVIRONMENTS[bool(html)]


class Namespace(Mapping[str, object]):
    """A read-only mapping with exact, then case-insensitive, key lookup."""

    __slots__ = ("_folded", "_values")

    def __init__(self, values: Mapping[str, object] | None = None):
        self._values: dict[str, object] = {
            str(key): _wrap(value) for key, value in (values or {}).items()
        }
        self._folded: dict[str, str] = {}
        for key in self._values:
            self._folded.setdefault(key.casefold(), key)

    def __getitem__(self, key: object) -> object:
        try:
            return self._values[key]  # type: ignore[index]
        except KeyError:
            pass
        if isinstance(key, str):
            real_key = self._folded.get(key.casefold())
            if real_key is not None:
                return self._values[real_key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Namespace({self._values!r})"


def _wrap(value: object) -> object:
    if isinstance(value, Mapping) and not isinstance(value, Namespace):
        return Namespace(value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def profile_context(profile: Profile | Mapping[str, object] | None) -> dict[str, Namespace]:
    """{"Profile": built-in fields by display name plus every custom property}.

    A mapping is taken as the properties themselves (previews with sample values). Built-in
    columns win over a custom property of the same name: the columns are what the Upload API
    and the profile page treat as the truth.
    """
    if profile is None:
        return {"Profile": Namespace()}
    if isinstance(profile, Mapping):
        return {"Profile": Namespace(profile)}
    values: dict[str, object] = {}
    if isinstance(profile.properties, Mapping):
        values.update(profile.properties)
    built_in_names = {display.casefold() for display, _ in BUILT_IN_FIELDS}
    # A custom "name" would otherwise shadow the built-in "Name" through case folding.
    values = {key: value for key, value in values.items() if key.casefold() not in built_in_names}
    for display, attribute in BUILT_IN_FIELDS:
        values[display] = getattr(profile, attribute)
    return {"Profile": Namespace(values)}


def _event_properties(event: object) -> Mapping[str, object] | None:
    if event is None or isinstance(event, Mapping):
        return event
    properties = getattr(event, "properties", None)
    return properties if isinstance(properties, Mapping) else {}


def _line_of(source: str, index: int) -> int:
    return source.count("\n", 0, max(index, 0)) + 1


def _fails_without_position(env: Environment, snippet: str) -> bool:
    try:
        env.from_string(snippet)
    except LiquidError as err:
        return err.context() is None
    return False


def _unlocated_error_line(env: Environment, source: str) -> int:
    """Find the line of an error python-liquid reported without a position: first a single
    statement that fails on its own, then the innermost block left open, else the last line."""
    try:
        tokens = list(env.tokenizer()(source))
    except LiquidError:
        return _line_of(source, len(source))
    open_blocks: list[Any] = []
    for position, token in enumerate(tokens):
        if token.kind == "output":
            if _fails_without_position(env, token.value):
                return _line_of(source, token.start_index)
        elif token.kind == "tag":
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            expression = following.value if following and following.kind == "expression" else ""
            snippet = "{% " + token.value + " " + expression + " %}"
            if token.value in _BLOCK_TAGS:
                snippet += "{% end" + token.value + " %}"
                open_blocks.append(token)
            elif token.value.startswith("end") and open_blocks:
                if open_blocks[-1].value == token.value[3:]:
                    open_blocks.pop()
                continue
            if _fails_without_position(env, snippet):
                return _line_of(source, token.start_index)
    if open_blocks:
        return _line_of(source, open_blocks[-1].start_index)
    return _line_of(source, len(source))


_UNCLOSED_BLOCK = re.compile(r"^expected tag end(\w+), found end of (?:expression|file)$")


def _template_error(env: Environment, source: str, err: LiquidError) -> TemplateError:
    message = str(err.message or type(err).__name__)
    # python-liquid says "expected tag endif, found end of expression" for a block never closed.
    unclosed = _UNCLOSED_BLOCK.match(message)
    if unclosed:
        message = f"'{unclosed[1]}' is never closed: add {{% end{unclosed[1]} %}}"
    context = err.context() if err.token is not None and err.token.source == source else None
    if context is not None:
        return TemplateError(line=context[0], message=message)
    return TemplateError(line=_unlocated_error_line(env, source), message=message)


_EMPTY_NAMESPACES = {"Profile": Namespace(), "Event": Namespace(), "Notify": Namespace()}


@functools.lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _compile(source: str, html: bool) -> BoundTemplate:
    env = liquid_environment(html=html)
    try:
        template = env.from_string(source)
    except LiquidError as err:
        raise PersonalizationError([_template_error(env, source, err)]) from err
    unknown_filters = sorted(
        (
            TemplateError(line=_line_of(source, span.index), message=f"unknown filter '{name}'")
            for name, spans in template.analyze(include_partials=False).filters.items()
            if name not in env.filters
            for span in spans
        ),
        key=lambda error: error.line,
    )
    if unknown_filters:
        raise PersonalizationError(unknown_filters)
    # Some mistakes only show when rendering (`{% break %}` outside a loop, a loop over a huge
    # literal range). A render with empty namespaces finds them now rather than at send time.
    try:
        template.render(**_EMPTY_NAMESPACES)
    except LiquidError as err:
        raise PersonalizationError([_template_error(env, source, err)]) from err
    return template


def template_compile(source: str, *, html: bool = False) -> BoundTemplate:
    """The compiled template for `source`, parsed once per process (LRU of
    TEMPLATE_CACHE_SIZE). Raises PersonalizationError when the template cannot be used."""
    # Positional, normalised arguments: lru_cache keys `f(s)` and `f(s, html=False)` apart.
    return _compile(source, bool(html))


template_compile.cache_info = _compile.cache_info  # type: ignore[attr-defined]
template_compile.cache_clear = _compile.cache_clear  # type: ignore[attr-defined]


def template_errors(source: str, *, html: bool = False) -> list[TemplateError]:
    """Everything wrong with `source`, with 1-based line numbers; [] when it is valid."""
    try:
        template_compile(source, html=html)
    except PersonalizationError as err:
        return err.errors
    return []


def message_render(
    source: str,
    *,
    profile: Profile | Mapping[str, object] | None = None,
    event: object = None,
    notify: Mapping[str, object] | None = None,
    html: bool = False,
) -> str:
    """Render `source` for one recipient. Missing values render empty (use `| default:`);
    raises PersonalizationError only for a template that cannot be used."""
    template = template_compile(source, html=html)
    return template_render(
        template, render_namespaces(profile, event=event, notify=notify), source, html=html
    )


def render_namespaces(
    profile: Profile | Mapping[str, object] | None = None,
    *,
    event: object = None,
    notify: Mapping[str, object] | None = None,
) -> dict[str, Namespace]:
    """The Profile, Event and Notify namespaces of one recipient: build them once and render
    every field of that recipient's message with template_render."""
    return {
        **profile_context(profile),
        "Event": Namespace(_event_properties(event)),
        "Notify": Namespace(notify),
    }


def template_render(
    template: BoundTemplate, namespaces: Mapping[str, Namespace], source: str, *, html: bool
) -> str:
    """Render a template_compile result with render_namespaces; a failure is reported
    against `source` like message_render's."""
    try:
        return template.render(**namespaces)
    except LiquidError as err:
        env = liquid_environment(html=html)
        raise PersonalizationError([_template_error(env, source, err)]) from err


PERSONALIZATION_FIELDS_CACHE_KEY = "message_templates:personalization_fields:v1"
PERSONALIZATION_FIELDS_TTL = 600
# The menu wants the keys in use: the most recent profiles carry them. Reading every profile's
# jsonb on a cache miss would take seconds at millions of profiles.
PERSONALIZATION_FIELDS_SAMPLE = 50_000
_CUSTOM_KEYS_MAX = 1000

# COLLATE "C" sorts by code point, the same order as Python's sorted().
_CUSTOM_KEYS_SQL = """
    SELECT DISTINCT k.key COLLATE "C" AS key
    FROM (SELECT properties FROM {table} ORDER BY id DESC LIMIT %s) AS p
    CROSS JOIN LATERAL jsonb_object_keys(
        CASE WHEN jsonb_typeof(p.properties) = 'object' THEN p.properties
             ELSE '{{}}'::jsonb END
    ) AS k(key)
    ORDER BY 1
    LIMIT %s
"""


def _custom_property_keys() -> list[str]:
    sql = _CUSTOM_KEYS_SQL.format(table=Profile._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [PERSONALIZATION_FIELDS_SAMPLE, _CUSTOM_KEYS_MAX])
        return [row[0] for row in cursor.fetchall()]


def personalization_fields(limit: int = 200) -> list[str]:
    """Profile properties for the personalization menu: the built-in fields in menu order,
    then the distinct custom property keys seen in the data, sorted. Cached for
    PERSONALIZATION_FIELDS_TTL seconds."""
    fields = cache.get(PERSONALIZATION_FIELDS_CACHE_KEY)
    if fields is None:
        built_in = [display for display, _ in BUILT_IN_FIELDS]
        taken = {name.casefold() for name in built_in}
        custom = [key for key in _custom_property_keys() if key.casefold() not in taken]
        fields = built_in + custom
        cache.set(PERSONALIZATION_FIELDS_CACHE_KEY, fields, PERSONALIZATION_FIELDS_TTL)
    return fields[:limit]


def personalization_fields_forget() -> None:
    """Drop the cached field list (after an import that brought new properties)."""
    cache.delete(PERSONALIZATION_FIELDS_CACHE_KEY)
