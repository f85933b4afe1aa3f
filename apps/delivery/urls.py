from django.urls import path

from . import views

app_name = "delivery"

urlpatterns = [
    path("<int:pk>/progress/", views.campaign_progress, name="progress"),
]
