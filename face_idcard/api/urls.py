"""Mount with ``path("api/face-idcard/", include("face_idcard.api.urls"))``."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from .documents import DocumentReviewDetailView, DocumentReviewListView, VerificationPathsView
from .views import AttemptViewSet
from .withdrawal import WithdrawalView

app_name = "face_idcard_api"

router = SimpleRouter()
router.register("attempts", AttemptViewSet, basename="attempt")

urlpatterns = router.urls
urlpatterns.append(path("withdrawal/", WithdrawalView.as_view(), name="withdrawal"))
# The non-face alternative (face_idcard.api.documents).
urlpatterns += [
    path("verification-paths/", VerificationPathsView.as_view(), name="verification-paths"),
    path("document-reviews/", DocumentReviewListView.as_view(), name="document-review-list"),
    path(
        "document-reviews/<str:pk>/",
        DocumentReviewDetailView.as_view(),
        name="document-review-detail",
    ),
]
