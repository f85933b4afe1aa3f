from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import F, QuerySet

from .models import ApiPasscode, User
from .services import account_settings_get


def user_list() -> QuerySet[User]:
    """Everyone, active users first, then by username."""
    return User.objects.order_by("-is_active", "username")


def api_passcode_list() -> QuerySet[ApiPasscode]:
    """Active passcodes first (revoked_at is NULL), newest first, with their creators."""
    return ApiPasscode.objects.select_related("created_by").order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at"
    )


def account_timezone() -> ZoneInfo:
    """The account's time zone (Settings → Account), UTC if it names none Python knows. The
    one place Herald reads it: schedules, DND windows, live campaigns' days, segments' dates
    and every time the dashboard shows."""
    try:
        return ZoneInfo(account_settings_get().timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
