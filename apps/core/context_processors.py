from dataclasses import dataclass

from django.urls import reverse

from apps.core.roles import Role, role_allows


@dataclass(frozen=True)
class NavItem:
    title: str
    url_name: str
    least: Role
    description: str


MAIN_NAV = [
    NavItem(
        "Campaigns",
        "campaigns:list",
        Role.VIEWER,
        "Push, SMS and email campaigns, scheduled or live.",
    ),
    NavItem("Notify", "core:notify", Role.MARKETER, "Transactional email sent from your servers."),
    NavItem(
        "Segments",
        "segments:list",
        Role.VIEWER,
        "Who a campaign reaches, with live reach estimates.",
    ),
    NavItem(
        "Audience",
        "audience:profile_list",
        Role.MARKETER,
        "Profiles, devices and events; CSV import.",
    ),
    NavItem(
        "Templates",
        "message_templates:list",
        Role.MARKETER,
        "Reusable push, SMS and email content.",
    ),
    NavItem("Stats", "core:stats", Role.VIEWER, "Delivery, clicks, opens and conversions."),
]

SETTINGS_NAV = [
    NavItem("Account", "settings:account", Role.ADMIN, "Account name, Account ID and time zone."),
    NavItem("Providers", "providers:provider_list", Role.ADMIN, "SMS, email and push providers."),
    NavItem("Provider groups", "providers:group_list", Role.ADMIN, "SMS failover by priority."),
    NavItem("Sandbox inbox", "providers:sandbox:inbox", Role.ADMIN, "What the local sandbox got."),
    NavItem(
        "Global limits", "settings:global_limits", Role.ADMIN, "Frequency caps, DND and throttling."
    ),
    NavItem(
        "API credentials",
        "settings:api_credentials",
        Role.ADMIN,
        "Account ID and passcodes for the REST API.",
    ),
    NavItem("Users", "settings:users", Role.ADMIN, "Who may sign in, and with which role."),
]


def _visible(items: list[NavItem], user, path: str) -> list[dict]:
    return [
        {
            "title": item.title,
            "url": reverse(item.url_name),
            "description": item.description,
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
