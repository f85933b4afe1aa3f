from django.urls import path

from . import views
from .wizard import views as wizard_views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", wizard_views.campaign_new, name="new"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", wizard_views.campaign_edit, name="edit"),
    path("<int:pk>/edit/<slug:step>/", wizard_views.campaign_step, name="step"),
    path("<int:pk>/clone/", views.campaign_clone, name="clone"),
    path("<int:pk>/stop/", views.campaign_stop, name="stop"),
    path("<int:pk>/archive/", views.campaign_archive, name="archive"),
    path("<int:pk>/unarchive/", views.campaign_unarchive, name="unarchive"),
    path("<int:pk>/delete/", views.campaign_delete, name="delete"),
]
