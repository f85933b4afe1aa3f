"""Writes for saved segments. Every definition goes through `definition_validate` first, so
what is stored is always the normalised form the compiler and the estimate cache key on."""

import dataclasses
import functools
import operator
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q

from .definitions import DefinitionError, definition_validate
from .estimates import ReachEstimate, estimate_cached, segment_estimate
from .models import Segment

NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length


class SegmentInvalid(Exception):
    """A segment that cannot be saved; `.errors` maps a field path ("name", or a definition
    path such as "behaviour.conditions[0].event") to a message, as DefinitionError does."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class SegmentInUse(Exception):
    """Deleting a segment that a scheduled campaign still uses."""

    def __init__(self, usages: list[str]):
        self.usages = usages
        super().__init__("Used by " + ", ".join(usages))


def segment_name_error(*, name: str, exclude_pk: int | None = None) -> str | None:
    """Why `name` cannot be a segment's name, or None when it can."""
    name = (name or "").strip()
    if not name:
        return "Give the segment a name."
    if len(name) > NAME_MAX_LENGTH:
        return f"At most {NAME_MAX_LENGTH} characters."
    if _name_taken(name, exclude_pk=exclude_pk):
        return f"A segment called “{name}” already exists."
    return None


def _clean(*, name: str, definition: Any, exclude_pk: int | None = None) -> tuple[str, dict]:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if name_error := segment_name_error(name=name, exclude_pk=exclude_pk):
        errors["name"] = name_error
    normalised: dict = {}
    try:
        normalised = definition_validate(definition)
    except DefinitionError as error:
        errors.update(error.errors)
    if errors:
        raise SegmentInvalid(errors)
    return name, normalised


def _name_taken(name: str, *, exclude_pk: int | None = None) -> bool:
    segments = Segment.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        segments = segments.exclude(pk=exclude_pk)
    return segments.exists()


def _save(segment: Segment) -> Segment:
    # The check above answers the common case with a friendly message; the constraint is what
    # decides when two marketers save the same name at the same moment.
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as error:
        if "segment_name_ci_unique" in str(error):
            raise SegmentInvalid(
                {"name": f"A segment called “{segment.name}” already exists."}
            ) from error
        raise
    return segment


def segment_create(*, name: str, definition: Any, created_by=None) -> Segment:
    name, normalised = _clean(name=name, definition=definition)
    segment = Segment(
        name=name, kind=normalised["kind"], definition=normalised, created_by=created_by
    )
    _take_cached_estimate(segment)
    return _save(segment)


def segment_update(*, segment: Segment, name: str, definition: Any) -> Segment:
    name, normalised = _clean(name=name, definition=definition, exclude_pk=segment.pk)
    if normalised != segment.definition:
        # The stored reach described the old definition; showing it under the new one would lie.
        segment.last_estimate = None
        segment.estimated_at = None
    segment.name = name
    segment.kind = normalised["kind"]
    segment.definition = normalised
    _take_cached_estimate(segment)
    return _save(segment)


def _take_cached_estimate(segment: Segment) -> None:
    """The builder's panel counted the definition before it was saved (the estimate cache
    holds it for ESTIMATE_TTL_SECONDS): keep that count, so the segment's page shows the reach
    the marketer just saw instead of "Not estimated yet"."""
    cached = estimate_cached(segment.definition)
    if cached is not None and _is_newer(cached, segment):
        segment.last_estimate = estimate_as_dict(cached)
        segment.estimated_at = cached.computed_at


def _copy_name(name: str) -> str:
    """ "Copy of X", then "Copy of X (2)", … — the first one no segment has yet."""
    n = 1
    while True:
        suffix = "" if n == 1 else f" ({n})"
        base = "Copy of " + name
        candidate = base[: NAME_MAX_LENGTH - len(suffix)] + suffix
        if not _name_taken(candidate):
            return candidate
        n += 1


def segment_duplicate(*, segment: Segment, created_by=None) -> Segment:
    for _ in range(5):  # another copy may take the same name between the check and the insert
        copy = Segment(
            name=_copy_name(segment.name),
            kind=segment.kind,
            definition=segment.definition,
            created_by=created_by,
            last_estimate=segment.last_estimate,
            estimated_at=segment.estimated_at,
        )
        try:
            return _save(copy)
        except SegmentInvalid:
            continue
    raise SegmentInvalid({"name": "Could not find a free name for the copy; try again."})


def segment_usages(segment: Segment) -> list[str]:
    """Names of the scheduled or running campaigns that use `segment`, which therefore may
    not be deleted. Read through the reverse relation so segments does not import campaigns."""
    return list(
        segment.campaigns.filter(status__in=("scheduled", "running"))
        .order_by("name")
        .values_list("name", flat=True)
    )


def segment_delete(*, segment: Segment) -> None:
    usages = segment_usages(segment)
    if usages:
        raise SegmentInUse(usages)
    try:
        with transaction.atomic():
            segment.delete()
    except ProtectedError as protected:
        # Drafts and finished campaigns point at it too (campaign.segment is PROTECT, so no
        # campaign silently loses its audience): name them rather than fail.
        raise SegmentInUse(sorted({str(c) for c in protected.protected_objects})) from None


def estimate_as_dict(estimate: ReachEstimate) -> dict:
    """The counts of an estimate, JSON-ready (computed_at goes to its own column)."""
    counts = dataclasses.asdict(estimate)
    counts.pop("computed_at", None)
    return counts


def segment_refresh_estimate(*, segment: Segment) -> ReachEstimate:
    """Counts the segment's reach now (bypassing the estimate cache) and stores it."""
    estimate = segment_estimate(definition=segment.definition, use_cache=False)
    _record_estimate(estimate, definition=segment.definition, segment=segment)
    return estimate


def segment_estimate_recorded(*, definition: Any, segment: Segment | None = None) -> ReachEstimate:
    """The reach the live previews show (the builder's panel, the wizard's Who step): from the
    estimate cache when the definition was counted in the last ESTIMATE_TTL_SECONDS, else
    counted now. A count made now becomes the last estimate of every saved segment with this
    definition, and a cached one that of `segment` (the one the Who step counts) when it is
    newer than its own: the segment's page, the list and the Who step's table then show the
    count the marketer saw. A cached answer for no particular segment costs no SQL."""
    normalised = definition_validate(definition)
    cached = estimate_cached(normalised)
    if cached is not None:
        if segment is not None and _is_newer(cached, segment):
            _record_estimate(cached, definition=None, segment=segment)
        return cached
    estimate = segment_estimate(definition=normalised, use_cache=False)
    _record_estimate(estimate, definition=normalised, segment=segment)
    return estimate


def _is_newer(estimate: ReachEstimate, segment: Segment) -> bool:
    return segment.estimated_at is None or segment.estimated_at < estimate.computed_at


def _record_estimate(
    estimate: ReachEstimate, *, definition: dict | None, segment: Segment | None
) -> None:
    """Store `estimate` on the segments with this normalised definition (services store
    definitions normalised) and on `segment`. One conditional UPDATE of the two columns: it
    never overwrites a concurrent edit of the rest, nor a newer count."""
    matches = [Q(definition=definition)] if definition is not None else []
    if segment is not None:
        matches.append(Q(pk=segment.pk))
    if not matches:
        return
    counts = estimate_as_dict(estimate)
    Segment.objects.filter(functools.reduce(operator.or_, matches)).filter(
        Q(estimated_at__isnull=True) | Q(estimated_at__lt=estimate.computed_at)
    ).update(last_estimate=counts, estimated_at=estimate.computed_at)
    if segment is not None and _is_newer(estimate, segment):
        segment.last_estimate = counts
        segment.estimated_at = estimate.computed_at
