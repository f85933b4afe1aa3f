"""What a value box holds <-> JSON values: numbers, booleans, quoted text, comma lists
and geography names, read the way the marketer typed them."""

import json
import re
from typing import Any

from .choices import LIST_OPERATORS

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def scalar_from_text(text: str) -> Any:
    """`100` is a number, `true`/`false` booleans, `"100"` (quoted) the text 100; anything
    else, ISO dates included, is text (the compiler recognises dates in text)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return json.loads(text)
        except ValueError:
            return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _split_commas(text: str) -> list[str]:
    """Splits on commas outside double quotes: `"a, b", c` -> ['"a, b"', 'c']."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def value_from_text(text: str, *, operator: str) -> Any:
    if operator in LIST_OPERATORS and "," in text:
        parts = [p for p in _split_commas(text) if p]
        if len(parts) > 1:
            return [scalar_from_text(p) for p in parts]
    return scalar_from_text(text)


def scalar_to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if value is None:
        return ""
    text = str(value)
    # Quote text that would read back as something else (a number, a boolean, a list).
    if scalar_from_text(text) != text or "," in text or text != text.strip() or not text:
        return json.dumps(text, ensure_ascii=False)
    return text


def value_to_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(scalar_to_text(v) for v in value)
    return scalar_to_text(value)


def names_from_text(text: str) -> list[str]:
    """Geography lists: comma-separated names, each kept as text."""
    names = []
    for part in _split_commas(text):
        if len(part) >= 2 and part[0] == part[-1] == '"':
            part = part[1:-1]
        if part:
            names.append(part)
    return names


def names_to_text(names: list) -> str:
    return ", ".join(f'"{n}"' if "," in str(n) else str(n) for n in names)


def number_from_text(text: str, path: str, errors: dict, *, integer: bool = False) -> Any:
    """A number typed in a box, or None when empty; an error names the field otherwise."""
    text = text.strip()
    if not text:
        return None
    if _INT.fullmatch(text):
        return int(text)
    if not integer and _FLOAT.fullmatch(text):
        return float(text)
    errors[path] = "Enter a whole number." if integer else "Enter a number."
    return None
