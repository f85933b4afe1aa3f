"""The CSV reader and the column mapping, without the database."""

import pytest

from apps.audience.csv_import import (
    CsvFileError,
    custom_property_value,
    open_rows,
    parse_header,
    row_to_record,
)


def lines(text: str) -> list[bytes]:
    return text.encode().splitlines(keepends=True)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Identity", "identity"),
        ("IDENTITY", "identity"),
        ("objectId", "objectId"),
        ("object_id", "objectId"),
        ("E-mail", "Email"),
        ("email_address", "Email"),
        ("phone_number", "Phone"),
        ("Date of birth", "DOB"),
        ("date_of_birth", "DOB"),
        ("dob", "DOB"),
        ("msg_email", "MSG-email"),
        ("MSG-sms", "MSG-sms"),
        ("msg push", "MSG-push"),
        ("lat", "Latitude"),
        ("lng", "Longitude"),
        ("time_zone", "Timezone"),
        ("first_name", "first_name"),  # not a standard field: a custom property
        ("Plan", "Plan"),
    ],
)
def test_header_names_map_to_upload_api_keys_whatever_their_spelling(header, key):
    parsed = parse_header(["identity" if key != "identity" else "x", header], delimiter=",")
    assert parsed.keys[1] == key


def test_a_header_needs_one_column_that_says_who_each_row_is():
    with pytest.raises(CsvFileError, match="no identity column"):
        parse_header(["Name", "Phone"], delimiter=",")
    for identifying in ("Identity", "objectId", "Email"):
        assert parse_header([identifying, "Name"], delimiter=",").width == 2


def test_a_row_becomes_an_upload_api_profile_record():
    header = parse_header(
        [
            "Identity",
            "Name",
            "Latitude",
            "MSG-sms",
            "plan",
            "score",
            "ratio",
            "vip",
            "zip",
            "empty",
        ],
        delimiter=",",
    )
    record, reason = row_to_record(
        header, [" u-1 ", "Ada", "51.5", "no", "gold", "42", "0.25", "TRUE", "02134", ""]
    )
    assert reason == ""
    assert record == {
        "type": "profile",
        "identity": "u-1",
        "profileData": {
            "Name": "Ada",
            "Latitude": 51.5,
            "MSG-sms": False,
            "plan": "gold",
            "score": 42,
            "ratio": 0.25,
            "vip": True,
            "zip": "02134",
        },
    }


def test_a_row_identified_by_email_or_object_id_carries_that_key():
    header = parse_header(["objectId", "Email"], delimiter=",")
    assert row_to_record(header, ["__h1", ""])[0] == {
        "type": "profile",
        "objectId": "__h1",
        "profileData": {},
    }
    assert row_to_record(header, ["", "a@example.com"])[0]["profileData"] == {
        "Email": "a@example.com"
    }
    assert row_to_record(header, ["", ""]) == (
        None,
        "The row has no identity: fill its Identity, objectId or Email cell.",
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("3.14", 3.14),
        ("true", True),
        ("False", False),
        ("007", "007"),  # a code, not a number
        ("+14155550123", "+14155550123"),
        ("1234567890123456789", "1234567890123456789"),  # longer than a double keeps exactly
        ("1e5", "1e5"),
        ("yes", "yes"),
        ("gold", "gold"),
    ],
)
def test_custom_property_text_becomes_a_number_or_boolean_only_when_it_clearly_is_one(text, value):
    assert custom_property_value(text) == value
    assert type(custom_property_value(text)) is type(value)


def test_rows_are_numbered_from_the_first_data_row_and_blank_lines_are_skipped():
    header, rows = open_rows(lines("Identity,Name\r\nu-1,Ada\r\n\r\n,\r\nu-2,Bob\r\nu-3\r\n"))
    result = [(r.number, r.cells, r.raw, r.error) for r in rows]
    assert header.names == ["Identity", "Name"]
    assert result == [
        (1, ["u-1", "Ada"], "u-1,Ada", ""),
        (2, ["u-2", "Bob"], "u-2,Bob", ""),
        (3, None, "u-3", "The row has 1 cells but the header has 2 columns."),
    ]


def test_trailing_separators_do_not_count_as_extra_columns():
    header, rows = open_rows(lines("Identity,Name,,\nu-1,Ada,,\nu-2,Bob,extra\n"))
    assert header.width == 2
    first, second = list(rows)
    assert first.cells == ["u-1", "Ada"]
    assert second.error == "The row has 3 cells but the header has 2 columns."


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_are_read(delimiter):
    text = delimiter.join(["Identity", "Name", "score"]) + "\n"
    text += delimiter.join(["u-1", "Zoë", "1,5"]) + "\n"
    header, rows = open_rows(lines(text))
    assert header.delimiter == delimiter
    assert next(rows).cells == ["u-1", "Zoë", "1,5"]


def test_a_byte_order_mark_is_not_part_of_the_first_column_name():
    header, _ = open_rows(lines("\ufeffIdentity,Name\n"))
    assert header.keys == ["identity", "Name"]
