"""The attempts endpoints: create (multipart or JSON, idempotent), read, list, cancel, review.

The API's frame (:mod:`.frame`): the request's language, the error body, no caching, every
POST field sensitive in crash reports and one log line per 4xx and 5xx without the request.
A user sees only their own attempts; anyone else's is 404. Users with ``face_idcard.review``
also reach other people's attempts by id (to review or cancel them); the list is always the
caller's own.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from .. import _consent as consent
from .. import permissions, services
from .._reasons import public_filter
from ..exceptions import ConsentRequired, IllegalTransition
from ..models import VerificationAttempt
from . import idempotency
from .access import (
    CREATE_SCOPE,
    CanReview,
    CreateThrottle,
    configured_permission_classes,
    count_url_refusal,
    refuse_over_url_failure_budget,
)
from .access import has_app_permission as _has_app_permission
from .errors import Conflict
from .frame import APIFrame
from .parsing import (
    StrictJSONParser,
    check_content_length,
    install_upload_handlers,
    refuse_duplicate_form_fields,
    refuse_undeclared_query,
)
from .schema import OPERATION_IDS, AttemptSchema
from .serializers import (
    MAX_PAGE_SIZE,
    AttemptCreateJSONSerializer,
    AttemptCreateSerializer,
    AttemptSerializer,
    ErrorSerializer,
    ListQuerySerializer,
    NoticeSerializer,
    ReviewSerializer,
    may_see_reason_detail,
    may_see_similarity,
    represent,
)


class AttemptPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


COMMON_ERRORS = {
    401: _error("Not authenticated."),
    403: _error("Authenticated, without the permission."),
    405: _error("Method not allowed."),
    406: _error("Only application/json responses."),
}
BODY_ERRORS = {
    400: _error("Field errors (error.fields) or an unreadable body."),
    413: _error("The body is over the upload limit."),
    415: _error("Only multipart/form-data and application/json."),
}
OBJECT_ERRORS = {404: _error("No such attempt among yours.")}
#: The attempt's id in the path (any other text is a 404 too).
ATTEMPT_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The attempt's id."
)
IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_LENGTH,
        "pattern": "^[!-~]+$",
    },
    OpenApiParameter.HEADER,
    description="Makes a retry safe: 1 to 255 visible ASCII characters.",
)
#: The query parameters each action takes (the list's are its filters and its pages).
DECLARED_QUERY = {"list": frozenset(ListQuerySerializer().fields)}
ATTEMPT_EXAMPLE = OpenApiExample(
    "queued",
    value={
        "id": "6f1c2b1e-8d7a-4f5e-9b8a-0c1d2e3f4a5b",
        "status": "queued",
        "decision": "none",
        "reviewed": False,
        "reason": None,
        "message": "Your verification is in progress.",
        "idcard_number": "1101**********002X",
        "idcard_name": "张*",
        "external_reference": "order-1001",
        "notice_version": "2026-11",
        "similarity": None,
        "created_at": "2026-12-01T10:00:00+08:00",
        "finished_at": None,
    },
    response_only=True,
)


class AttemptViewSet(
    APIFrame,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet[VerificationAttempt],
):
    serializer_class = AttemptSerializer
    pagination_class = AttemptPagination
    parser_classes = [StrictJSONParser, MultiPartParser]  # noqa: RUF012
    throttle_scope = CREATE_SCOPE
    schema = AttemptSchema()
    lookup_value_regex = "[^/]+"  # any id reaches the view, and an invalid one is our 404

    # --- the request: body limits, declared query -------------------------------------------

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body (the session authentication's CSRF check may).
        install_upload_handlers(request)
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method in ("POST", "PUT", "PATCH"):
            check_content_length(request)
        super().initial(request, *args, **kwargs)
        if self.action in OPERATION_IDS:  # not for a method the route lacks (405) or OPTIONS
            refuse_undeclared_query(request.query_params, DECLARED_QUERY.get(self.action, ()))

    def get_permissions(self) -> list[BasePermission]:
        classes = configured_permission_classes()
        if self.action == "review":
            classes = [*classes, CanReview]
        return [permission() for permission in classes]

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.action == "create":
            throttles = [*throttles, CreateThrottle()]
        return throttles

    # --- which attempts -------------------------------------------------------------------

    def get_queryset(self) -> QuerySet[VerificationAttempt]:
        user: Any = self.request.user
        attempts: QuerySet[VerificationAttempt] = VerificationAttempt.objects.all()
        if not getattr(user, "is_authenticated", False):
            visible: QuerySet[VerificationAttempt] = attempts.none()
        elif self.action != "list" and _has_app_permission(user, permissions.REVIEW):
            visible = attempts
        else:
            visible = attempts.filter(user=user)
        return visible

    def get_object(self) -> VerificationAttempt:
        try:
            pk = uuid.UUID(str(self.kwargs.get("pk", "")))
        except ValueError:
            raise exceptions.NotFound() from None
        attempt: VerificationAttempt | None = self.get_queryset().filter(pk=pk).first()
        if attempt is None:
            raise exceptions.NotFound()
        return attempt

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        # Asked by the serializer only when an attempt has a similarity to show or hide.
        context["show_similarity"] = functools.partial(may_see_similarity, self.request.user)
        context["show_reason_detail"] = functools.partial(may_see_reason_detail, self.request.user)
        return context

    def _show(self, attempt: VerificationAttempt, code: int = 200, **headers: str) -> Response:
        user = self.request.user
        data = represent(
            attempt,
            functools.partial(may_see_similarity, user),
            functools.partial(may_see_reason_detail, user),
        )
        return Response(data, status=code, headers=headers or None)

    def _location(self, attempt: VerificationAttempt) -> str:
        """The new attempt's URL: next to the collection's, where the attempt was posted (the
        router's routes end with a slash), without a reverse() of every URL pattern."""
        if self.request.path.endswith("/"):
            return self.request.build_absolute_uri(f"{attempt.pk}/")
        return self.reverse_action("detail", args=[attempt.pk])

    # --- the endpoints --------------------------------------------------------------------

    @extend_schema(
        operation_id=OPERATION_IDS["create"],
        summary="Start a verification",
        description=(
            "multipart/form-data with the photo as `image`, or JSON (or multipart) with a "
            "public `url` of the photo where the backend takes one. Send an `Idempotency-Key` "
            "header to make a retry safe: the same key and request within 24 hours return the "
            "first attempt; the same key with another request is refused (422)."
        ),
        request={
            "multipart/form-data": AttemptCreateSerializer,
            "application/json": AttemptCreateJSONSerializer,
        },
        parameters=[
            IDEMPOTENCY_KEY,
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                description="The new attempt's URL.",
                response=[202],
            ),
        ],
        responses={
            202: OpenApiResponse(
                AttemptSerializer,
                description="Accepted (queued). Its links lead to the attempt and its cancel.",
            ),
            **BODY_ERRORS,
            **COMMON_ERRORS,
            422: _error("The Idempotency-Key was used for another request."),
            429: _error("Throttled, or over the daily limits (Retry-After)."),
            503: _error("backend_unavailable: the backend cannot be built (site settings)."),
        },
        examples=[ATTEMPT_EXAMPLE],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request.user
        if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
            raise exceptions.NotAuthenticated()  # whatever permission classes the host set
        refuse_duplicate_form_fields(request.data)
        key = idempotency.key_from_request(request.headers)
        serializer = AttemptCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        image = fields.pop("image", None)
        if not fields.pop("consent"):
            raise ConsentRequired()
        # The notice consented to, looked up (and stored on first use) before any transaction
        # of the view's, and remembered for submit: read first inside one, SQLite's deferred
        # transactions of concurrent requests would deadlock on their writes.
        consent.notice_for_version(fields.get("notice_version"))

        def create() -> VerificationAttempt:
            return services.submit(user=user, image=image, consent_at=timezone.now(), **fields)

        if "url" in fields:
            refuse_over_url_failure_budget(user)
        try:
            if key is None:
                attempt = create()
            else:
                # The attempt and the key's row in one transaction of the view's (submit's
                # own nests in it as a savepoint).
                attempt, _created = idempotency.submit_once(
                    user=user, key=key, fields=fields, image=image, create=create
                )
        except DjangoValidationError as error:
            if "url" in fields:
                count_url_refusal(user, error)
            raise
        return self._show(attempt, status.HTTP_202_ACCEPTED, Location=self._location(attempt))

    @extend_schema(
        operation_id=OPERATION_IDS["retrieve"],
        summary="One of your attempts",
        parameters=[ATTEMPT_ID],
        responses={
            200: AttemptSerializer,
            400: _error("A query parameter is not accepted."),
            **OBJECT_ERRORS,
            **COMMON_ERRORS,
        },
        examples=[ATTEMPT_EXAMPLE],
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._show(self.get_object())

    @extend_schema(
        operation_id=OPERATION_IDS["list"],
        summary="Your attempts, newest first",
        parameters=[ListQuerySerializer],
        responses={
            200: AttemptSerializer(many=True),
            400: _error("A filter value is not valid, or a query parameter is unknown."),
            404: _error("The cursor is not valid."),
            **COMMON_ERRORS,
        },
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A plain dict (initial() refused a parameter sent twice): an empty value is then
        # refused, where DRF reads an empty form value as an absent one.
        query = ListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        attempts = self.get_queryset()
        filters = query.validated_data
        if "status" in filters or "decision" in filters:
            # As the attempts are shown (reasons.public_status): one outcome for an
            # identity not confirmed, unless the caller sees the detail.
            attempts = attempts.filter(
                public_filter(
                    status=filters.get("status"),
                    decision=filters.get("decision"),
                    detailed=may_see_reason_detail(request.user),
                )
            )
        if "external_reference" in filters:
            attempts = attempts.filter(external_reference=filters["external_reference"])
        page = self.paginate_queryset(attempts)
        context = self.get_serializer_context()
        data = AttemptSerializer(page or [], many=True, context=context).data  # type: ignore[arg-type]
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id=OPERATION_IDS["cancel"],
        summary="Cancel an attempt that is still waiting (queued or between retries)",
        request=None,
        parameters=[ATTEMPT_ID],
        responses={
            200: AttemptSerializer,
            400: _error("A query parameter is not accepted."),
            409: _error("The attempt is already being processed or finished."),
            **OBJECT_ERRORS,
            **COMMON_ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        attempt = self.get_object()
        try:
            services.cancel(attempt, actor=request.user)
        except IllegalTransition:
            raise Conflict(code="not_cancelable") from None
        return self._show(attempt)

    @extend_schema(
        operation_id=OPERATION_IDS["review"],
        summary="Review a completed attempt (face_idcard.review)",
        request=ReviewSerializer,
        parameters=[ATTEMPT_ID],
        responses={
            200: AttemptSerializer,
            400: _error("Field errors."),
            409: _error("Not completed, or already reviewed."),
            413: _error("The body is too large."),
            415: _error("Only application/json and multipart/form-data."),
            **OBJECT_ERRORS,
            **COMMON_ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def review(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        attempt = self.get_object()
        serializer = ReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.review(
                attempt,
                reviewer=request.user,
                decision=serializer.validated_data["decision"],
                reason=serializer.validated_data["reason"],
            )
        except IllegalTransition:
            raise Conflict(code="not_reviewable") from None
        return self._show(attempt)

    @extend_schema(
        operation_id=OPERATION_IDS["notice"],
        summary="The privacy notice the attempt's consent covers",
        description=(
            "Its version, its full text in each language with the text's SHA-256, who the face "
            "may go to by backend alias, and whether it travels over the Internet. 404 also for "
            "an attempt made before notices were recorded."
        ),
        parameters=[ATTEMPT_ID],
        responses={
            200: NoticeSerializer,
            400: _error("A query parameter is not accepted."),
            **OBJECT_ERRORS,
            **COMMON_ERRORS,
        },
    )
    @action(detail=True, methods=["get"])
    def notice(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        notice = consent.notice_of(self.get_object())
        if notice is None:
            raise exceptions.NotFound()
        return Response(NoticeSerializer(consent.describe(notice)).data)
