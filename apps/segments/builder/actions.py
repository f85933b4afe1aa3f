"""The add/remove buttons (`action=add-cond`, `action=remove-cond-2-prop-1`, …): edit the
rows before they are rendered again, so the page works with or without JavaScript."""

import re

from .rows import empty_event_row, empty_group_row, empty_prop_row, empty_radius_row

# Which section of the page an action re-renders (the htmx target).
_ACTION = re.compile(r"(add|remove)-(.+)")


def action_section(action: str) -> str:
    target = _ACTION.fullmatch(action).group(2) if _ACTION.fullmatch(action) else ""
    if target.startswith("cond") or target == "group":
        return "behaviour"
    if target.startswith("profile"):
        return "profile"
    if target.startswith("radius"):
        return "radius"
    if target.startswith("app"):
        return "app_fields"
    if target.startswith("live"):
        return "live"
    return ""


def _renumber(rows: dict) -> None:
    """Gives every row the prefix of its position, after an add or a remove."""

    def props(items: list[dict], prefix: str) -> None:
        for i, row in enumerate(items):
            row["prefix"] = f"{prefix}-{i}"

    def event(row: dict, prefix: str) -> None:
        row["prefix"] = prefix
        props(row["props"], f"{prefix}-prop")
        props(row["nf_props"], f"{prefix}-nfprop")

    for i, row in enumerate(rows["conditions"]):
        prefix = f"cond-{i}"
        if row["type"] == "group":
            row["prefix"] = prefix
            for j, member in enumerate(row["conditions"]):
                event(member, f"{prefix}-sub-{j}")
        else:
            event(row, prefix)
    props(rows["profile"], "profile")
    props(rows["app_fields"], "app")
    for i, row in enumerate(rows["radius"]):
        row["prefix"] = f"radius-{i}"
    props(rows["live"]["props"], "live-prop")
    props(rows["live"]["not_props"], "live-notprop")


def _find(rows: dict, prefix: str) -> tuple[list, int] | None:
    """The list holding the row whose field prefix is `prefix`, and its index there."""

    def search(items: list[dict]) -> tuple[list, int] | None:
        for i, row in enumerate(items):
            if row.get("prefix") == prefix:
                return items, i
            for key in ("props", "nf_props", "conditions"):
                if key in row and (found := search(row[key])):
                    return found
        return None

    live = rows["live"]
    for items in (
        rows["conditions"],
        rows["profile"],
        rows["app_fields"],
        rows["radius"],
        live["props"],
        live["not_props"],
    ):
        if found := search(items):
            return found
    return None


def apply_action(rows: dict, action: str) -> bool:
    """Adds or removes the row an `action` button names; False if it names nothing."""
    match = _ACTION.fullmatch(action or "")
    if not match:
        return False
    verb, target = match.groups()
    if verb == "remove":
        found = _find(rows, target)
        if not found:
            return False
        items, index = found
        del items[index]
    elif target == "cond":
        rows["conditions"].append(empty_event_row(""))
    elif target == "group":
        rows["conditions"].append(empty_group_row(""))
        rows["conditions"][-1]["conditions"][0]["prefix"] = ""
    elif target in ("profile", "app", "radius", "live-prop", "live-notprop"):
        new = empty_radius_row("") if target == "radius" else empty_prop_row("")
        if target == "app":
            new["name"] = "app_version"  # a select: an empty name would not round-trip
        holder = {
            "live-prop": rows["live"]["props"],
            "live-notprop": rows["live"]["not_props"],
            "profile": rows["profile"],
            "app": rows["app_fields"],
            "radius": rows["radius"],
        }
        holder[target].append(new)
    elif target.endswith(("-prop", "-nfprop", "-sub")):
        owner_prefix, _, kind = target.rpartition("-")
        found = _find(rows, owner_prefix)
        if not found:
            return False
        items, index = found
        owner = items[index]
        if kind == "prop" and "props" in owner:
            owner["props"].append(empty_prop_row(""))
        elif kind == "nfprop" and "nf_props" in owner:
            owner["nf_props"].append(empty_prop_row(""))
        elif kind == "sub" and owner.get("type") == "group":
            owner["conditions"].append(empty_event_row(""))
        else:
            return False
    else:
        return False
    _renumber(rows)
    return True
