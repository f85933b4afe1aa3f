"""One module per wizard step (see wizard/frame.py for the functions each has), by slug in
the order of frame.STEPS."""

from types import ModuleType

from ..frame import STEPS
from . import schedule, setup, test, what, when, who

MODULES: dict[str, ModuleType] = {
    "setup": setup,
    "who": who,
    "when": when,
    "what": what,
    "test": test,
    "schedule": schedule,
}


def summaries(campaign) -> list[dict]:
    """Each step's (label, rows) for the campaign page, Schedule excluded."""
    return [
        {"step": step, "label": step.label, "rows": MODULES[step.slug].summary(campaign)}
        for step in STEPS[:-1]
    ]
