from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("upload", views.upload, name="upload"),
    path("profile.json", views.profile_detail, name="profile"),
]
