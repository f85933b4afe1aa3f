import json

from django import template

register = template.Library()


@register.filter
def property_value(value) -> str:
    """A JSON property as a marketer typed it: text as is, anything else as JSON
    (true, 42, ["a", "b"]) rather than Python's True or ['a', 'b']."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@register.filter
def short_token(token: str | None) -> str:
    """Enough of a push token to tell two apart, without filling the table."""
    if not token:
        return ""
    return token if len(token) <= 20 else f"{token[:10]}…{token[-6:]}"
