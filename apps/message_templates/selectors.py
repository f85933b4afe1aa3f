"""Reads for the template library and its preview."""

from django.db.models import Q, QuerySet

from apps.audience.models import Profile

from .models import MessageTemplate

PROFILE_SEARCH_LIMIT = 10


def template_list(*, q: str = "", channel: str = "") -> QuerySet[MessageTemplate]:
    # created_by in the same query: the list shows who made each template (no N+1).
    templates = MessageTemplate.objects.select_related("created_by")
    if channel:
        templates = templates.filter(channel=channel)
    if q.strip():
        templates = templates.filter(name__icontains=q.strip())
    return templates.order_by("-updated_at", "-id")


def template_exists() -> bool:
    return MessageTemplate.objects.exists()


def preview_profile_default() -> Profile | None:
    """The first test profile (partial index profile_test_idx), else None: a preview should
    show a real person's values only when the marketer marked someone for testing or picks
    one."""
    return Profile.objects.filter(is_test=True).order_by("id").first()


def preview_profile_search(*, q: str, limit: int = PROFILE_SEARCH_LIMIT) -> list[Profile]:
    """Profiles whose identity or email starts with `q` (test profiles first). Prefix, not
    substring, matches: a substring search scans every profile."""
    q = q.strip()
    if not q:
        return []
    return list(
        Profile.objects.filter(Q(identity__startswith=q) | Q(email__startswith=q))
        .order_by("-is_test", "id")
        .only("id", "identity", "email", "name", "is_test")[:limit]
    )
