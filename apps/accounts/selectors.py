from django.db.models import F, QuerySet

from .models import ApiPasscode, User


def user_list() -> QuerySet[User]:
    """Everyone, active users first, then by username."""
    return User.objects.order_by("-is_active", "username")


def api_passcode_list() -> QuerySet[ApiPasscode]:
    """Active passcodes first (revoked_at is NULL), newest first, with their creators."""
    return ApiPasscode.objects.select_related("created_by").order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at"
    )
