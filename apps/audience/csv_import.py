"""Reading a CSV file of profiles: the header's column mapping, the rows as they stood in
the file, and each row turned into an Upload-API-style profile record.

The file is read as bytes and decoded one line at a time, so one badly encoded row is
rejected on its own instead of failing the whole import, and every rejected row can be shown
exactly as it was written."""

import csv
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

# profileData key → the header spellings that mean it, compared after `_normalize_header`
# (lower case, spaces, underscores and hyphens removed).
STANDARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "Email": ("email", "emailaddress"),
    "Phone": ("phone", "phonenumber"),
    "Name": ("name", "fullname"),
    "Gender": ("gender",),
    "DOB": ("dob", "dateofbirth", "birthdate", "birthday"),
    "Timezone": ("timezone", "tz"),
    "Language": ("language",),
    "Country": ("country",),
    "Region": ("region",),
    "City": ("city",),
    "Latitude": ("latitude", "lat"),
    "Longitude": ("longitude", "lng", "lon"),
    "MSG-email": ("msgemail",),
    "MSG-sms": ("msgsms",),
    "MSG-push": ("msgpush",),
}
# Columns that say which profile a row is about, outside profileData.
IDENTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "identity": ("identity",),
    "objectId": ("objectid",),
}

_ALIASES: dict[str, str] = {
    alias: key
    for table in (STANDARD_COLUMNS, IDENTITY_COLUMNS)
    for key, aliases in table.items()
    for alias in aliases
}
_BOOLEAN_WORDS = {"true": True, "false": False}
_SUBSCRIPTION_WORDS = {
    "true": True, "yes": True, "y": True, "1": True,
    "false": False, "no": False, "n": False, "0": False,
}  # fmt: skip
_INTEGER = re.compile(r"-?(0|[1-9]\d{0,14})")  # leading zeros (zip codes) stay text
_DECIMAL = re.compile(r"-?(0|[1-9]\d*)\.\d+")
_DELIMITERS = (",", ";", "\t")
_UTF8_BOM = b"\xef\xbb\xbf"
_NEWLINE = re.compile(rb"\r\n|\r|\n")
# How much of an upload the form reads to check its header.
HEADER_PROBE_BYTES = 64 * 1024


class CsvFileError(ValueError):
    """The file as a whole cannot be imported (no header, not text, no identity column)."""


@dataclass(frozen=True)
class CsvHeader:
    names: list[str]  # as written, stripped
    keys: list[str]  # per column: "identity", "objectId", a profileData key, or a custom name
    delimiter: str

    @property
    def width(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class CsvRow:
    number: int  # 1 is the first data row after the header
    raw: str  # the row as it stood in the file
    cells: list[str] | None = None  # None when the parser refused the row
    error: str = ""


@dataclass
class _LineTap:
    """Feeds csv.reader one decoded line at a time and remembers the lines of the current
    record, so a rejected row can be reported as written (a quoted cell may span lines)."""

    lines: Iterator[bytes]
    taken: list[str] = field(default_factory=list)
    undecodable: bool = False
    first: bool = True

    def __iter__(self) -> "_LineTap":
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        if self.first:
            self.first = False
            line = line.removeprefix(_UTF8_BOM)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("utf-8", errors="replace")
            self.undecodable = True
        self.taken.append(text)
        return text

    def take(self) -> tuple[str, bool]:
        raw = "".join(self.taken).rstrip("\r\n")
        undecodable = self.undecodable
        self.taken.clear()
        self.undecodable = False
        return raw, undecodable


def _normalize_header(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.lower())


def _guess_delimiter(first_line: str) -> str:
    """Excel in many European locales writes `;`; tab-separated exports are common too."""
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_header(cells: list[str], *, delimiter: str) -> CsvHeader:
    names = [c.strip() for c in cells]
    while names and not names[-1]:
        names.pop()  # trailing separators after the last column
    if not names:
        raise CsvFileError("The first row must be a header naming the columns.")
    keys: list[str] = []
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise CsvFileError(f"Column {position} of the header has no name.")
        key = _ALIASES.get(_normalize_header(name), name)
        if key in seen:
            raise CsvFileError(
                f'The columns "{names[seen[key] - 1]}" and "{name}" both mean {key}: '
                "keep one of them."
            )
        seen[key] = position
        keys.append(key)
    if not {"identity", "objectId", "Email"} & set(keys):
        raise CsvFileError(
            "The header has no identity column: add an Identity, objectId or Email column."
        )
    return CsvHeader(names=names, keys=keys, delimiter=delimiter)


def open_rows(binary_lines: Iterable[bytes]) -> tuple[CsvHeader, Iterator[CsvRow]]:
    """Read the header and return it with an iterator over the data rows. Raises
    CsvFileError when the file is empty, is not UTF-8 text, or its header is unusable."""
    lines = iter(binary_lines)
    first = next(lines, b"")
    if not first.strip(b"\r\n\t ,;" + _UTF8_BOM):
        raise CsvFileError("The file is empty: the first row must be a header.")
    if b"\x00" in first:
        raise CsvFileError("This is not a CSV text file (it contains binary data).")
    try:
        first_text = first.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."
        ) from exc
    delimiter = _guess_delimiter(first_text)
    tap = _LineTap(lines=_chain_first(first, lines))
    reader = csv.reader(tap, delimiter=delimiter)
    try:
        header_cells = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise CsvFileError("The header row cannot be read as CSV.") from exc
    tap.take()
    header = parse_header(header_cells, delimiter=delimiter)
    return header, _iter_rows(reader, tap, width=header.width)


def _chain_first(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _iter_rows(reader, tap: _LineTap, *, width: int) -> Iterator[CsvRow]:
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raw, _ = tap.take()
            number += 1
            yield CsvRow(number=number, raw=raw, error=f"The row is not valid CSV: {exc}.")
            continue
        raw, undecodable = tap.take()
        if not any(c.strip() for c in cells):
            continue  # blank lines are not rows
        number += 1
        if undecodable:
            error = "The row is not valid UTF-8 text."
            yield CsvRow(number=number, raw=raw, error=error)
            continue
        while len(cells) > width and not cells[-1].strip():
            cells.pop()  # trailing separators, as spreadsheets sometimes write
        if len(cells) != width:
            error = f"The row has {len(cells)} cells but the header has {width} columns."
            yield CsvRow(number=number, raw=raw, error=error)
            continue
        yield CsvRow(number=number, raw=raw, cells=cells)


def row_to_record(header: CsvHeader, cells: list[str]) -> tuple[dict[str, Any] | None, str]:
    """An Upload API profile record for one row, or None and the reason it cannot be one."""
    record: dict[str, Any] = {"type": "profile"}
    profile_data: dict[str, Any] = {}
    for key, cell in zip(header.keys, cells, strict=True):
        value = cell.strip()
        if not value:
            continue  # an empty cell leaves the profile's value as it is
        if key in IDENTITY_COLUMNS:
            record[key] = value
        elif key in STANDARD_COLUMNS:
            profile_data[key] = _standard_value(key, value)
        else:
            profile_data[key] = custom_property_value(value)
    if "identity" not in record and "objectId" not in record and "Email" not in profile_data:
        return None, "The row has no identity: fill its Identity, objectId or Email cell."
    record["profileData"] = profile_data
    return record, ""


def _standard_value(key: str, value: str) -> Any:
    # Anything not converted here goes through as text, for the Upload API's own
    # validation to accept or reject with its own message.
    if key in ("Latitude", "Longitude"):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if key.startswith("MSG-"):
        return _SUBSCRIPTION_WORDS.get(value.lower(), value)
    return value


def custom_property_value(value: str) -> Any:
    """Spreadsheet text to the JSON value a segment filter will compare: whole numbers and
    decimals become numbers, true/false booleans, everything else stays text. Numbers with
    a leading zero or a plus sign (zip codes, phone numbers) and very long digit strings
    (account numbers) stay text, because a number would lose what makes them what they are."""
    lowered = value.lower()
    if lowered in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[lowered]
    if _INTEGER.fullmatch(value):
        return int(value)
    if _DECIMAL.fullmatch(value):
        number = float(value)
        if math.isfinite(number):
            return number
    return value


def read_header_from_upload(upload: IO[bytes]) -> CsvHeader:
    """Check an uploaded file's header before it is stored; the rows are the worker's job."""
    upload.seek(0)
    head = upload.read(HEADER_PROBE_BYTES)
    upload.seek(0)
    if b"\x00" in head:
        raise CsvFileError("This is not a CSV text file (it contains binary data).")
    # The worker reads lines the way Django's File does: \n, \r\n or a lone \r ends one.
    newline = _NEWLINE.search(head)
    if newline is None and len(head) == HEADER_PROBE_BYTES:
        raise CsvFileError("The first line is too long to be a CSV header.")
    end = newline.end() if newline else len(head)
    header_line, rest = head[:end], head[end:]
    header, _ = open_rows([header_line])
    if not rest.strip(b"\r\n\t ,;"):
        raise CsvFileError("The file has a header but no rows of profiles.")
    return header


def sample_csv() -> str:
    """The downloadable example on the import page."""
    return (
        "Identity,Name,Email,Phone,Gender,DOB,Country,City,Timezone,MSG-email,plan,score\r\n"
        "u-1001,Ada Lovelace,ada@example.com,+14155550123,F,1990-12-10,United States,"
        "San Francisco,America/Los_Angeles,true,gold,42\r\n"
        "u-1002,Søren Kierkegaard,soren@example.dk,+4520123456,M,1985-05-05,Denmark,"
        "Copenhagen,Europe/Copenhagen,false,silver,7.5\r\n"
    )
