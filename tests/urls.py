from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/face-idcard/", include("face_idcard.api.urls")),
    path("verify/", include("face_idcard.onboarding.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
