from django.urls import path

from . import views

app_name = "settings"

urlpatterns = [
    path("account/", views.account_settings, name="account"),
    path("api-credentials/", views.api_credentials, name="api_credentials"),
    path("users/", views.users, name="users"),
]
