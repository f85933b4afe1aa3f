from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from apps.core.roles import public

# Browsers ask for /favicon.ico on pages that name no icon (the API's JSON, say).
favicon = public(RedirectView.as_view(url=lazy(static, str)("favicon.ico")))

urlpatterns = [
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("settings/", include("apps.accounts.settings_urls")),
    path("settings/", include("apps.providers.urls")),
    path("audience/", include("apps.audience.urls")),
    path("segments/", include("apps.segments.urls")),
    path("campaigns/", include("apps.campaigns.urls")),
    path("campaigns/", include("apps.delivery.urls")),  # the campaign page's delivery panel
    path("templates/", include("apps.message_templates.urls")),
    path("1/", include("apps.api.urls")),
    path("favicon.ico", favicon, name="favicon"),
]
