from django.urls import include, path

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
]
