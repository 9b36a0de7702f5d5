"""Mount with ``path("api/face-idcard/", include("face_idcard.api.urls"))``."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AttemptViewSet
from .withdrawal import WithdrawalView

app_name = "face_idcard_api"

router = SimpleRouter()
router.register("attempts", AttemptViewSet, basename="attempt")

urlpatterns = router.urls
urlpatterns.append(path("withdrawal/", WithdrawalView.as_view(), name="withdrawal"))
