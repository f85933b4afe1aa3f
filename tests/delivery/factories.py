"""Test data shared by the delivery tests."""


def inaction_trigger(event: str, not_event: str, *, minutes: int) -> dict:
    """A live "inaction within time" trigger: `event`, then no `not_event` within `minutes`."""
    return {
        "type": "inaction",
        "event": event,
        "properties": [],
        "not_event": not_event,
        "not_properties": [],
        "within_minutes": minutes,
    }
