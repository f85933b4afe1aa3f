from django.urls import path

from . import sandbox_views

app_name = "sandbox"

urlpatterns = [
    path("", sandbox_views.sandbox_inbox, name="inbox"),
    path("clear/", sandbox_views.sandbox_inbox_clear, name="clear"),
]
