from django.urls import path, re_path

from . import views

app_name = "api"

urlpatterns = [
    path("upload", views.upload, name="upload"),
    path("profile.json", views.profile_detail, name="profile"),
    # Last: any other /1/ path answers in the API's error shape, never with an HTML page.
    re_path(r".*", views.endpoint_not_found, name="endpoint_not_found"),
]
