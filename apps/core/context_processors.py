from dataclasses import dataclass

from django.urls import reverse

from apps.core.roles import Role, role_allows


@dataclass(frozen=True)
class NavItem:
    title: str
    url_name: str
    least: Role
    section: str  # first path segment, to highlight the current item


MAIN_NAV = [
    NavItem("Campaigns", "core:campaigns", Role.VIEWER, "campaigns"),
    NavItem("Notify", "core:notify", Role.MARKETER, "notify"),
    NavItem("Segments", "core:segments", Role.MARKETER, "segments"),
    NavItem("Audience", "audience:profile_list", Role.MARKETER, "audience"),
    NavItem("Templates", "core:templates", Role.MARKETER, "templates"),
    NavItem("Stats", "core:stats", Role.VIEWER, "stats"),
]

SETTINGS_NAV = [
    NavItem("Account", "settings:account", Role.ADMIN, "account"),
    NavItem("Providers", "core:providers", Role.ADMIN, "providers"),
    NavItem("Provider groups", "core:provider_groups", Role.ADMIN, "provider-groups"),
    NavItem("Global limits", "core:global_limits", Role.ADMIN, "limits"),
    NavItem("API credentials", "settings:api_credentials", Role.ADMIN, "api-credentials"),
    NavItem("Users", "settings:users", Role.ADMIN, "users"),
]


def _visible(items: list[NavItem], user, path: str) -> list[dict]:
    return [
        {
            "title": item.title,
            "url": reverse(item.url_name),
            "active": path.startswith(reverse(item.url_name)),
        }
        for item in items
        if role_allows(user, item.least)
    ]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "main_nav": _visible(MAIN_NAV, user, request.path),
        "settings_nav": _visible(SETTINGS_NAV, user, request.path),
    }
