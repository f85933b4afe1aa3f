"""Every wire format the sandbox answers: each module of this package (other than base)
exposes `WIRE`, and `load_wires()` collects them."""

import importlib
import pkgutil

from apps.providers.sandbox.wire.base import Wire


def load_wires() -> list[Wire]:
    wires = []
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            wires.append(importlib.import_module(f"{__name__}.{module.name}").WIRE)
    return wires
