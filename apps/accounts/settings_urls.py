from django.urls import path

from . import views

app_name = "settings"

urlpatterns = [
    path("account/", views.account_settings, name="account"),
    path("limits/", views.global_limits, name="global_limits"),
    path("api-credentials/", views.api_credentials, name="api_credentials"),
    path(
        "api-credentials/<int:pk>/revoke/",
        views.api_passcode_revoke,
        name="api_passcode_revoke",
    ),
    path("users/", views.users, name="users"),
    path("users/<int:pk>/role/", views.user_role, name="user_role"),
    path("users/<int:pk>/active/", views.user_active, name="user_active"),
]
