"""Every URL in the project, every role: who may open what.

The URL list comes from Django's resolver at collection time, so a view added later by
anyone is checked without touching this file — unless it takes URL parameters (then add a
line to SAMPLE_KWARGS), is public (then add it to PUBLIC_URL_NAMES, on purpose), or opens a
new top-level section (then add it to SECTION_ROLES)."""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from apps.core.roles import ROLE_RANK, Role
from tests.accounts.factories import UserFactory

# --- The URL list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", "" when the pattern has none
    route: str  # the full pattern, e.g. "audience/<int:pk>/"
    callback: Callable
    has_params: bool

    @property
    def label(self) -> str:
        return self.name or f"/{self.route}"

    @property
    def least_role(self) -> Role | None:
        return getattr(self.callback, "least_role", None)

    @property
    def is_public(self) -> bool:
        return getattr(self.callback, "public_view", False) is True


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "", params: bool = False):
    for entry in resolver.url_patterns:
        entry_params = params or entry.pattern.regex.groups > 0
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner, entry_params)
        elif isinstance(entry, URLPattern):
            name = ""
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(name, prefix + str(entry.pattern), entry.callback, entry_params)


ROUTES = list(_walk(get_resolver()))
PROTECTED = [r for r in ROUTES if not r.is_public]

# --- Public on purpose -----------------------------------------------------------------------

# Views anyone may open without logging in. The REST API under /1/ authenticates every
# request with its own headers, so its whole namespace is public to the session check.
PUBLIC_URL_NAMES = {"accounts:login", "accounts:logout", "core:healthz", "favicon"}
PUBLIC_NAMESPACES = {"api"}

# --- Who may open what (the roles of the product) --------------------------------------------
# Admin: account, providers, provider groups, global limits, API credentials, users.
# Marketer: segments, campaigns, templates, audience, Notify, stats.
# Viewer: read-only campaign lists, saved segments and stats.
# Keyed by the first path segment; the value is the set of least roles a view there may ask.
SECTION_ROLES: dict[str, set[Role]] = {
    "": {Role.VIEWER},  # the home page
    "settings": {Role.ADMIN},
    "audience": {Role.MARKETER},
    # Viewers read saved segments; building, changing or deleting one needs a marketer.
    "segments": {Role.VIEWER, Role.MARKETER},
    "templates": {Role.MARKETER},
    "notify": {Role.MARKETER},
    # Viewers read the lists and stats; creating or changing a campaign needs a marketer.
    "campaigns": {Role.VIEWER, Role.MARKETER},
    "stats": {Role.VIEWER, Role.MARKETER},
}
VIEWER_PAGES = ["/", "/campaigns/", "/segments/", "/stats/"]
MARKETER_PAGES = [
    "/campaigns/new/",
    "/segments/new/",
    "/templates/",
    "/templates/new/",
    "/audience/",
    "/notify/",
]
ADMIN_PAGES = [
    "/settings/account/",
    "/settings/providers/",
    "/settings/provider-groups/",
    "/settings/limits/",
    "/settings/api-credentials/",
    "/settings/users/",
]

# --- Sample objects for URLs with parameters -------------------------------------------------


def _profile() -> dict:
    from apps.audience.models import Profile

    return {"pk": Profile.objects.create(identity="matrix-profile").pk}


def _profile_import() -> dict:
    from apps.audience.models import ProfileImport

    return {"pk": ProfileImport.objects.create(original_name="x.csv", file="imports/x.csv").pk}


def _passcode() -> dict:
    from apps.accounts.services import api_passcode_create

    passcode, _ = api_passcode_create(name="matrix")
    return {"pk": passcode.pk}


def _other_user() -> dict:
    return {"pk": UserFactory(username="sample", role=Role.MARKETER).pk}


def _provider() -> dict:
    from apps.providers.services import provider_create

    provider = provider_create(
        channel="sms", kind="twilio", nickname="matrix", credentials={"auth_token": "x"}
    )
    return {"pk": provider.pk}


def _provider_group() -> dict:
    from apps.providers.services import provider_create, provider_group_save

    provider = provider_create(channel="sms", kind="twilio", nickname="matrix-group")
    return {"pk": provider_group_save(name="matrix", providers=[provider]).pk}


def _segment() -> dict:
    from apps.segments.models import Segment

    return {"pk": Segment.objects.create(name="matrix segment", definition={"version": 1}).pk}


def _campaign() -> dict:
    from apps.campaigns.services import campaign_create_draft

    return {"pk": campaign_create_draft(name="matrix campaign", channel="sms").pk}


def _campaign_scheduled() -> dict:
    from apps.campaigns.models import Campaign

    return {
        "pk": Campaign.objects.create(name="matrix running", channel="push", status="running").pk
    }


def _message_template() -> dict:
    from apps.message_templates.services import template_create

    return {"pk": template_create(name="matrix", channel="sms", content={"body": "Hi"}).pk}


# URL name → a function that creates the object the URL points at and returns its kwargs.
SAMPLE_KWARGS: dict[str, Callable[[], dict]] = {
    "audience:profile_detail": _profile,
    "audience:profile_set_test": _profile,
    "audience:import_detail": _profile_import,
    "audience:import_rejections_csv": _profile_import,
    "settings:api_passcode_revoke": _passcode,
    "settings:user_role": _other_user,
    "settings:user_active": _other_user,
    "providers:provider_detail": _provider,
    "providers:provider_test_send": _provider,
    "providers:provider_set_active": _provider,
    "providers:provider_delete": _provider,
    "providers:group_edit": _provider_group,
    "providers:group_make_default": _provider_group,
    "providers:group_delete": _provider_group,
    "segments:detail": _segment,
    "segments:edit": _segment,
    "segments:refresh": _segment,
    "segments:duplicate": _segment,
    "segments:delete": _segment,
    "campaigns:detail": _campaign,
    "campaigns:clone": _campaign,
    "campaigns:archive": _campaign,
    "campaigns:unarchive": _campaign,
    "campaigns:delete": _campaign,
    "campaigns:stop": _campaign_scheduled,
    "campaigns:edit": _campaign,
    "campaigns:step": lambda: {**_campaign(), "step": "setup"},
    "delivery:progress": _campaign,
    "message_templates:detail": _message_template,
    "message_templates:edit": _message_template,
    "message_templates:duplicate": _message_template,
    "message_templates:delete": _message_template,
}

# What a POST sends, where an empty body would not reach the interesting part. The ones that
# matter most are the escalations: a marketer promoting someone to admin, creating a user or
# a passcode, must be refused with nothing written.
SAMPLE_POST: dict[str, dict] = {
    "settings:account": {"name": "Taken over", "timezone": "Europe/Paris"},
    "settings:api_credentials": {"name": "stolen"},
    "settings:users": {
        "username": "intruder",
        "email": "intruder@example.com",
        "role": "admin",
        "password1": "plum-orchard-Harbour-42",
        "password2": "plum-orchard-Harbour-42",
    },
    "settings:user_role": {"role": "admin"},
    # A viewer's edit with a valid body would change the template if the role check slipped.
    "message_templates:edit": {"name": "Taken over", "body": "Pwned"},
    "campaigns:step": {"name": "Taken over", "campaign_type": "one_time"},
    "campaigns:new": {"name": "Sneaked in", "channel": "sms", "campaign_type": "one_time"},
    "settings:user_active": {"is_active": "0"},
    "audience:profile_set_test": {"is_test": "true"},
}

ROLES = ["anonymous", Role.VIEWER, Role.MARKETER, Role.ADMIN]

# --- Helpers ---------------------------------------------------------------------------------


def _database_snapshot() -> dict[str, list[tuple]]:
    return {
        model._meta.label: list(model.objects.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def _url_for(route: Route) -> str:
    assert route.name, f"/{route.route} has no URL name; name it so the matrix can reverse it"
    if not route.has_params:
        return reverse(route.name)
    if route.name not in SAMPLE_KWARGS:
        pytest.fail(
            f"add sample kwargs for {route.name} to SAMPLE_KWARGS in "
            "tests/core/test_permission_matrix.py"
        )
    return reverse(route.name, kwargs=SAMPLE_KWARGS[route.name]())


def _section(route: Route) -> str:
    return route.route.split("/", 1)[0]  # "" for the home page


# --- 1. Every view declares who may open it ---------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_every_view_declares_its_least_role_or_is_public(route):
    assert route.least_role is not None or route.is_public, (
        f"{route.label} (/{route.route}) has neither @role_required(Role.X) nor @public"
    )
    assert not (route.least_role is not None and route.is_public), (
        f"{route.label} is both @public and @role_required: pick one"
    )


def test_only_the_allow_listed_urls_are_public():
    public = {r.label for r in ROUTES if r.is_public}
    allowed = {
        r.label
        for r in ROUTES
        if r.name in PUBLIC_URL_NAMES or r.name.split(":", 1)[0] in PUBLIC_NAMESPACES
    }
    assert public == allowed, (
        f"public but not allow-listed: {sorted(public - allowed)}; "
        f"allow-listed but not public: {sorted(allowed - public)}"
    )
    assert {r.name for r in ROUTES} >= PUBLIC_URL_NAMES, "an allow-listed URL no longer exists"
    api_routes = [r for r in ROUTES if r.name.startswith("api:")]
    assert api_routes and all(r.route.startswith("1/") for r in api_routes)


def test_sample_kwargs_only_name_urls_that_exist_and_take_parameters():
    parameterized = {r.name for r in ROUTES if r.has_params}
    stale = set(SAMPLE_KWARGS) - parameterized
    assert not stale, f"SAMPLE_KWARGS names URLs that do not exist or take no parameters: {stale}"


# --- 2. The matrix: every protected URL, role and method ------------------------------


CASES = [
    pytest.param(route, role, method, id=f"{route.label}-{role}-{method}")
    for route in PROTECTED
    for role in ROLES
    for method in ("GET", "POST")
]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "role", "method"), CASES)
def test_each_role_gets_exactly_what_the_view_allows(route, role, method):
    if route.least_role is None:
        pytest.fail(f"{route.label} has no @role_required, so no role can be checked")
    users = {r: UserFactory(username=f"matrix-{r}", role=r) for r in Role}
    url = _url_for(route)
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    before = _database_snapshot() if method == "POST" else None

    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, SAMPLE_POST.get(route.name, {}))

    login_url = f"{reverse('accounts:login')}?next={quote(url)}"
    redirected_to_login = response.status_code == 302 and response["Location"] == login_url
    where = f"{method} {url} ({route.label}) as {role}: got {response.status_code}"
    if role == "anonymous":
        assert redirected_to_login, (
            f"{where}, expected a redirect to {login_url}. Put @role_required outermost so "
            "the role check runs before method checks."
        )
    elif ROLE_RANK[role] < ROLE_RANK[route.least_role]:
        assert response.status_code == 403, f"{where}, expected 403"
    else:
        assert not redirected_to_login and response.status_code != 403, (
            f"{where}, expected the page (least role {route.least_role.label})"
        )
        assert response.status_code < 500, where
    if method == "POST" and (role == "anonymous" or response.status_code == 403):
        assert _database_snapshot() == before, f"{where}, and the refused POST changed data"


# --- 3. The role hierarchy the product describes ----------------------------------------------


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: r.label)
def test_each_section_asks_for_the_role_the_product_gives_it(route):
    section = _section(route)
    assert section in SECTION_ROLES, (
        f"{route.label} opens a new section '/{section}/': add it to SECTION_ROLES in "
        "tests/core/test_permission_matrix.py with the role that may use it"
    )
    assert route.least_role in SECTION_ROLES[section], (
        f"{route.label} asks for {route.least_role}, but /{section}/ is for "
        f"{sorted(r.label for r in SECTION_ROLES[section])}"
    )


@pytest.mark.parametrize(
    ("path", "least"),
    [(p, Role.VIEWER) for p in VIEWER_PAGES]
    + [(p, Role.MARKETER) for p in MARKETER_PAGES]
    + [(p, Role.ADMIN) for p in ADMIN_PAGES],
)
def test_each_product_area_opens_for_exactly_its_role(path, least):
    assert resolve(path).func.least_role == least


@pytest.mark.django_db
def test_a_viewer_reads_campaigns_segments_and_stats_but_nothing_else(viewer_client):
    for path in VIEWER_PAGES:
        assert viewer_client.get(path).status_code == 200, path
    for path in MARKETER_PAGES + ADMIN_PAGES:
        assert viewer_client.get(path).status_code == 403, path


@pytest.mark.django_db
def test_a_marketer_works_on_the_audience_and_campaigns_but_not_settings(marketer_client):
    for path in VIEWER_PAGES + MARKETER_PAGES:
        assert marketer_client.get(path).status_code == 200, path
    for path in ADMIN_PAGES:
        assert marketer_client.get(path).status_code == 403, path


@pytest.mark.django_db
def test_an_admin_opens_every_settings_page(admin_client):
    for path in VIEWER_PAGES + MARKETER_PAGES + ADMIN_PAGES:
        assert admin_client.get(path).status_code == 200, path
