from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/face-idcard/", include("face_idcard.api.urls")),
    path("verify/", include("face_idcard.onboarding.urls")),
    # Django's set_language view: the onboarding page shows its language switch when mounted.
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
