from django.urls import path

from . import views

app_name = "audience"

urlpatterns = [
    path("", views.profile_list, name="profile_list"),
    path("<int:pk>/", views.profile_detail, name="profile_detail"),
    path("<int:pk>/test-profile/", views.profile_set_test, name="profile_set_test"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/sample.csv", views.import_sample_csv, name="import_sample_csv"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path(
        "imports/<int:pk>/rejected-rows.csv",
        views.import_rejections_csv,
        name="import_rejections_csv",
    ),
]
