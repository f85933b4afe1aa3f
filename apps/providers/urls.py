from django.urls import include, path

from . import views

app_name = "providers"

# Mounted under /settings/ (Admin only).
urlpatterns = [
    path("providers/", views.provider_list, name="provider_list"),
    path("providers/new/", views.provider_create, name="provider_create"),
    path("providers/push-routes/", views.push_routes_save, name="push_routes_save"),
    path("providers/<int:pk>/", views.provider_detail, name="provider_detail"),
    path("providers/<int:pk>/test/", views.provider_test_send, name="provider_test_send"),
    path("providers/<int:pk>/active/", views.provider_set_active, name="provider_set_active"),
    path("providers/<int:pk>/delete/", views.provider_delete, name="provider_delete"),
    path("provider-groups/", views.group_list, name="group_list"),
    path("provider-groups/new/", views.group_create, name="group_create"),
    path("provider-groups/<int:pk>/", views.group_edit, name="group_edit"),
    path("provider-groups/<int:pk>/default/", views.group_make_default, name="group_make_default"),
    path("provider-groups/<int:pk>/delete/", views.group_delete, name="group_delete"),
    path("sandbox/", include("apps.providers.sandbox_urls")),
]
