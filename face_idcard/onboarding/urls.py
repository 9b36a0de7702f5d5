"""Mount with ``path("verify/", include("face_idcard.onboarding.urls"))``."""

from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.urls import path, reverse_lazy

from . import views

app_name = "face_idcard_onboarding"

urlpatterns = [
    path("", views.onboarding, name="page"),
    path("login/", views.OnboardingLoginView.as_view(), name="login"),
    path(
        "logout/",
        LogoutView.as_view(next_page=reverse_lazy("face_idcard_onboarding:login")),
        name="logout",
    ),
]
