"""How many SMS parts a text takes, as the carrier counts them.

GSM-7 (GSM 03.38) when every character is in the basic table or the extension table, UCS-2
otherwise. Extension characters (€ [ ] { } ^ ~ | \\ and form feed) are sent as ESC + char, so
they take two septets. In UCS-2 a character outside the Basic Multilingual Plane (most emoji)
is a surrogate pair: two UTF-16 units. A multi-part message carries a 6-byte concatenation
header in each part, leaving 153 septets or 67 units, and encoders never split an escape
sequence or a surrogate pair across parts, so a part can end one unit short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_SINGLE_PART = 160
GSM_MULTI_PART = 153
UCS2_SINGLE_PART = 70
UCS2_MULTI_PART = 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SmsParts:
    encoding: Encoding
    characters: int  # septets for GSM-7, UTF-16 units for UCS-2: what the carrier counts
    parts: int
    per_part: int  # capacity of one part at this length: 160/153 or 70/67
    remaining: int  # units still free in the last part before another part is needed

    def __str__(self) -> str:
        return f"{self.characters} characters · {self.parts} parts · {self.encoding}"


def _unit_lengths(text: str) -> tuple[Encoding, list[int]]:
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text):
        return "GSM-7", [2 if char in GSM_EXTENSION else 1 for char in text]
    return "UCS-2", [2 if ord(char) > 0xFFFF else 1 for char in text]


def sms_parts(text: str) -> SmsParts:
    encoding, lengths = _unit_lengths(text)
    single, multi = (
        (GSM_SINGLE_PART, GSM_MULTI_PART)
        if encoding == "GSM-7"
        else (UCS2_SINGLE_PART, UCS2_MULTI_PART)
    )
    characters = sum(lengths)
    if characters == 0:
        return SmsParts(encoding, 0, 0, single, single)
    if characters <= single:
        return SmsParts(encoding, characters, 1, single, single - characters)
    # Pack greedily: a two-unit character that does not fit starts the next part.
    parts, used = 1, 0
    for length in lengths:
        if used + length > multi:
            parts, used = parts + 1, 0
        used += length
    return SmsParts(encoding, characters, parts, multi, multi - used)


def sms_preview_context(text: str) -> dict[str, object]:
    """The context `message_templates/previews/_sms_preview.html` expects."""
    return {"text": text, "sms": sms_parts(text)}
