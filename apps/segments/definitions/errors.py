"""How validation reports problems: `DefinitionError` (every problem by field path), the
collector that gathers them while normalising, so one pass reports them all, and `join_path`,
which builds those paths."""

from __future__ import annotations


class DefinitionError(ValueError):
    """A definition that cannot be compiled; `.errors` maps field paths to messages, e.g.
    {"behaviour.conditions[0].properties[1].value": "between needs exactly two values."}."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in self.errors.items()))


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class ErrorCollector:
    """Collects errors by path while normalising, so one pass reports every problem."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def unknown_keys(self, obj: dict, allowed: set[str] | tuple, path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.add(join_path(path, str(key)), "Unknown field.")

    def merge(self, errors: dict[str, str]) -> None:
        for path, message in errors.items():
            self.add(path, message)
