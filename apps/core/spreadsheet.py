"""Cells we write into CSV downloads come from uploaded files and API payloads. A cell that
starts with = + - @ (or a tab / carriage return) is run as a formula by spreadsheet programs,
so user text is prefixed with an apostrophe (OWASP's advice for CSV injection)."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
