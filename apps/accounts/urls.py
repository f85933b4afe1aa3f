from django.contrib.auth import views as auth_views
from django.urls import path

from apps.core.roles import public

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        public(
            auth_views.LoginView.as_view(
                template_name="accounts/login.html", redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
    # Django's LogoutView accepts POST only, so a link or an <img> cannot log anyone out.
    path("logout/", public(auth_views.LogoutView.as_view()), name="logout"),
]
