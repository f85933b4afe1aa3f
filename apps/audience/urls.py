from django.urls import path

from . import views

app_name = "audience"

urlpatterns = [
    path("", views.profile_list, name="profile_list"),
]
