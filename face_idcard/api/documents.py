"""The non-face alternative in the API (``NON_FACE_ALTERNATIVES``).

- ``GET verification-paths/``: the ways this site verifies a person, the face and each
  alternative side by side (none is presented as the lesser one), with where to go for each.
- ``POST document-reviews/``: multipart, the photos of the ID card's two sides (``front``,
  ``back``) with the number, name and consent: a document review, pending a staff decision
  (:func:`services.submit_documents`). The person's choice of this path is that record.
- ``GET document-reviews/{id}/``: one of the caller's own reviews (anyone else's is 404).

The same frame as the attempts' endpoints (:mod:`.frame`): answers in the request's language,
every POST field sensitive in crash reports, one log line per failure without the request;
bodies capped before and while they are read, masked identity only.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from .. import _alternatives as alternatives
from .. import services
from ..exceptions import ConsentRequired
from ..models import DocumentReview
from ..services._documents import SIDES, DocumentImageRejected
from .access import CREATE_SCOPE, CreateThrottle, configured_permission_classes
from .errors import PayloadTooLarge, _validation_response
from .frame import APIFrame
from .parsing import (
    MULTIPART_OVERHEAD_BYTES,
    CappedUploadHandler,
    refuse_duplicate_form_fields,
    refuse_undeclared_query,
    upload_max_bytes,
)
from .serializers import AttemptCreateSerializer, ErrorSerializer

#: The operations' fixed ids (a generated client keeps its method names).
OPERATION_IDS = {
    "paths": "face_idcard_verification_paths",
    "create": "face_idcard_document_reviews_create",
    "retrieve": "face_idcard_document_reviews_retrieve",
}


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


COMMON_ERRORS = {
    400: _error("A query parameter is not accepted."),
    401: _error("Not authenticated."),
    403: _error("Authenticated, without the permission."),
    405: _error("Method not allowed."),
    406: _error("Only application/json responses."),
}


# --- The paths offered -------------------------------------------------------------------------


class PathSerializer(serializers.Serializer[Any]):
    path = serializers.ChoiceField(
        choices=[alternatives.FACE, *alternatives.KNOWN],
        help_text="face, or a way without the face.",
    )
    uses_face = serializers.BooleanField()
    title = serializers.CharField(help_text="What the person is shown, in their language.")
    url = serializers.CharField(help_text="Where to send it (this API).")


class PathsSerializer(serializers.Serializer[Any]):
    paths = PathSerializer(many=True)


def offered_paths() -> list[dict[str, Any]]:
    """The face path and each alternative offered, in that order, equal in form."""
    paths: list[dict[str, Any]] = [
        {
            "path": alternatives.FACE,
            "uses_face": True,
            "title": str(_("With your face: a photo of you compared with your ID card record")),
            "url": reverse("face_idcard_api:attempt-list"),
        }
    ]
    if alternatives.offers(alternatives.DOCUMENT_REVIEW):
        paths.append(
            {
                "path": alternatives.DOCUMENT_REVIEW,
                "uses_face": False,
                "title": str(alternatives.KNOWN[alternatives.DOCUMENT_REVIEW]),
                "url": reverse("face_idcard_api:document-review-list"),
            }
        )
    return paths


class _Frame(APIFrame):
    """The API's frame (language, error body, log line), the permissions and no query."""

    #: The query parameters the view takes (none).
    declared_query: frozenset[str] = frozenset()

    def get_permissions(self) -> list[BasePermission]:
        return [permission() for permission in configured_permission_classes()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method in ("GET", "POST"):
            refuse_undeclared_query(request.query_params, self.declared_query)

    def _user(self, request: Request) -> Any:
        user = request.user
        if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
            raise exceptions.NotAuthenticated()
        return user


class VerificationPathsView(_Frame):
    log_action = "verification_paths"

    @extend_schema(
        operation_id=OPERATION_IDS["paths"],
        summary="The ways to verify: with the face, and without it",
        description=(
            "Each path this site offers, the face first and each way without the face after "
            "it, in the same form: a person who refuses face verification must be offered "
            "the others as plainly (China's 2025 face-recognition measures)."
        ),
        responses={200: PathsSerializer, **COMMON_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._user(request)
        return Response({"paths": offered_paths()})


# --- The document review -------------------------------------------------------------------


class DocumentUploadHandler(CappedUploadHandler):
    """The capped handler for two file parts, ``front`` and ``back``, each once and each held
    to the upload limit on its own (from its first chunk: nothing of a refused part is read)."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.seen: set[str] = set()

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name not in SIDES:
            raise exceptions.ParseError(
                _("Only the photos of the ID card are accepted, in the fields front and back."),
                code="unexpected_file",
            )
        if field_name in self.seen:
            raise exceptions.ParseError(
                _("A field appears more than once."), code="duplicate_field"
            )
        self.seen.add(field_name)
        FileUploadHandler.new_file(self, field_name, *args, **kwargs)
        self.received = 0


def document_body_limit() -> int:
    return 2 * upload_max_bytes() + MULTIPART_OVERHEAD_BYTES


class DocumentReviewCreateSerializer(AttemptCreateSerializer):
    """The number, the name, the consent and both sides of the card (multipart only)."""

    image = None  # type: ignore[assignment]
    url = None  # type: ignore[assignment]
    guardian_consent = None  # type: ignore[assignment]
    front = serializers.FileField(
        use_url=False, help_text=_("A photo of the ID card's front (JPEG or PNG).")
    )
    back = serializers.FileField(
        use_url=False, help_text=_("A photo of the ID card's back (JPEG or PNG).")
    )

    def validate_consent(self, value: bool) -> bool:
        # Refused with the other fields' errors (a person fixes everything at once).
        if not value:
            raise serializers.ValidationError(
                str(ConsentRequired().message), code="consent_required"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return attrs


class DocumentReviewSerializer(serializers.Serializer[Any]):
    """A review as its person sees it: masked identity, the state, never the reviewer."""

    id = serializers.UUIDField()
    path = serializers.CharField(help_text="document_review: the path the person chose.")
    status = serializers.ChoiceField(
        choices=["pending", "approved", "rejected", "withdrawn"],
        help_text="pending until a staff member decides.",
    )
    message = serializers.CharField(help_text="What it means, in the person's language.")
    idcard_number = serializers.CharField(help_text="Masked.")
    idcard_name = serializers.CharField(help_text="Masked.")
    external_reference = serializers.CharField()
    notice_version = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


MESSAGES = {
    "pending": _("Your ID card photos are waiting for a staff member to check them."),
    "approved": _("A staff member checked your ID card photos: your identity is confirmed."),
    "rejected": _(
        "A staff member could not confirm your identity from these photos. You may send "
        "clearer photos, or verify another way."
    ),
    "withdrawn": _("You withdrew your consent: this review was stopped."),
}


def represent(review: DocumentReview) -> dict[str, Any]:
    return {
        "id": review.pk,
        "path": alternatives.DOCUMENT_REVIEW,
        "status": review.status,
        "message": str(MESSAGES.get(review.status, "")),
        "idcard_number": review.idcard_number_masked,
        "idcard_name": review.idcard_name_masked,
        "external_reference": review.external_reference,
        "notice_version": review.notice_version,
        "created_at": review.created_at,
        "decided_at": review.decided_at,
    }


def _offered() -> None:
    """404 where the site does not offer the document review (it does not exist there)."""
    if not alternatives.offers(alternatives.DOCUMENT_REVIEW):
        raise exceptions.NotFound()


class DocumentReviewListView(_Frame):
    log_action = "document_reviews"
    parser_classes = [MultiPartParser]  # noqa: RUF012
    # The attempts' creation budget: a way around the face is no way around the rate.
    throttle_scope = CREATE_SCOPE

    def get_throttles(self) -> list[BaseThrottle]:
        return [*super().get_throttles(), CreateThrottle()]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body (the session authentication's CSRF check may).
        request.upload_handlers = [
            DocumentUploadHandler(request),
            MemoryFileUploadHandler(request),
            TemporaryFileUploadHandler(request),
        ]
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            announced = request.META.get("CONTENT_LENGTH") or ""
            try:
                length = int(announced) if announced else 0
            except ValueError:
                raise exceptions.ParseError() from None
            if length < 0:
                raise exceptions.ParseError()
            if length > document_body_limit():
                raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id=OPERATION_IDS["create"],
        summary="Verify without the face: send photos of your ID card for a staff review",
        description=(
            "multipart/form-data: `front` and `back` (photos of the ID card's two sides, "
            "JPEG or PNG, each within the upload limit), the ID number, the name and the "
            "consent. A staff member approves or rejects it; poll the review. One pending "
            "review per account."
        ),
        request={"multipart/form-data": DocumentReviewCreateSerializer},
        responses={
            201: DocumentReviewSerializer,
            400: _error("Field errors (error.fields) or an unreadable body."),
            401: _error("Not authenticated."),
            403: _error("Authenticated, without the permission."),
            404: _error("This site does not offer the document review."),
            405: _error("Method not allowed."),
            406: _error("Only application/json responses."),
            413: _error("The body is over the upload limit."),
            415: _error("Only multipart/form-data."),
            429: _error("Throttled (Retry-After)."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = self._user(request)
        _offered()
        refuse_duplicate_form_fields(request.data)
        serializer = DocumentReviewCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if not fields.pop("consent"):
            raise ConsentRequired()
        try:
            review = services.submit_documents(user=user, consent_at=timezone.now(), **fields)
        except DocumentImageRejected as error:
            entries = [
                {
                    "code": str(item.code or "invalid"),
                    "message": str(item.message % item.params if item.params else item.message),
                }
                for item in error.error_list
            ]
            return _validation_response({error.side: entries}, [])
        location = request.build_absolute_uri(
            reverse("face_idcard_api:document-review-detail", args=[review.pk])
        )
        return Response(
            DocumentReviewSerializer(represent(review)).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


REVIEW_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The review's id."
)


class DocumentReviewDetailView(_Frame):
    log_action = "document_review"

    @extend_schema(
        operation_id=OPERATION_IDS["retrieve"],
        summary="One of your document reviews",
        parameters=[REVIEW_ID],
        responses={
            200: DocumentReviewSerializer,
            404: _error("No such review among yours."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = self._user(request)
        try:
            pk = uuid.UUID(str(kwargs.get("pk", "")))
        except ValueError:
            raise exceptions.NotFound() from None
        review = DocumentReview.objects.filter(pk=pk, user=user).first()
        if review is None:
            raise exceptions.NotFound()
        return Response(DocumentReviewSerializer(represent(review)).data)
