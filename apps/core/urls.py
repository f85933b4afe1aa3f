from django.urls import path

from apps.core.roles import Role

from . import views

app_name = "core"

# Sections that later issues fill in. Each shows an honest "coming soon" page for now,
# behind the role that will own it.
COMING_SOON = [
    ("notify/", "notify", "Notify", Role.MARKETER),
    ("stats/", "stats", "Stats", Role.VIEWER),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    *[
        path(route, views.coming_soon_view(title, least), name=name)
        for route, name, title, least in COMING_SOON
    ],
]
