"""``POST withdrawal/``: the person withdraws their consent (:func:`services.withdraw`).

The caller's own attempts only: those not yet sent are canceled, the selfie and the personal
information of every one erased at once (legal hold excepted), all within the request. The
answer says what was done and what was not and why (a hold applies; the provider keeps its own
record of a check), in the request's language; never the reason of a hold, never PII.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from .access import configured_permission_classes
from .frame import APIFrame
from .parsing import StrictJSONParser, check_content_length
from .serializers import ErrorSerializer, StrictBooleanField


class WithdrawalRequestSerializer(serializers.Serializer[Any]):
    """The person confirms: withdrawal erases for good."""

    confirm = StrictBooleanField(
        help_text="true: withdraw consent and delete the personal information now."
    )

    def validate_confirm(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError(
                _("Confirm that you want to withdraw your consent and delete your data."),
                code="confirmation_required",
            )
        return value


class WithdrawalSerializer(serializers.Serializer[Any]):
    """What the withdrawal did (counts) and what the person is told."""

    attempts = serializers.IntegerField(help_text="Your verifications found.")
    canceled = serializers.IntegerField(help_text="Not yet sent: canceled.")
    in_flight = serializers.IntegerField(
        help_text="Already with the verification service: its answer is kept without PII."
    )
    erased = serializers.IntegerField(help_text="Whose photo and personal information went now.")
    document_reviews = serializers.IntegerField(
        help_text="Your document reviews (verification without the face) found: withdrawn if "
        "pending, their ID card photos and personal information deleted (counted in erased)."
    )
    legal_hold = serializers.BooleanField(
        help_text="Some records are under a legal hold and were not deleted (never why)."
    )
    messages = serializers.ListField(
        child=serializers.CharField(),
        help_text="What was done and what could not be deleted and why, in your language.",
    )


def represent(result: Any) -> dict[str, Any]:
    return {
        "attempts": result.attempts,
        "canceled": result.canceled,
        "in_flight": result.in_flight,
        "erased": result.erased,
        "document_reviews": result.document_reviews,
        "legal_hold": result.legal_hold,
        "messages": result.statements(),
    }


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class WithdrawalView(APIFrame):
    parser_classes = [StrictJSONParser]  # noqa: RUF012
    log_action = "withdrawal"

    def get_permissions(self) -> list[BasePermission]:
        return [permission() for permission in configured_permission_classes()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            check_content_length(request)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        summary="Withdraw your consent and delete your data",
        description=(
            "Cancels your verifications not yet sent, deletes the photo, ID card number and "
            "name of all of them now (a legal hold excepted: then `legal_hold` is true), keeps "
            "a record without them and the audit log. `messages` says what was done and what "
            "cannot be deleted and why (the verification service's own record of a check)."
        ),
        request=WithdrawalRequestSerializer,
        responses={
            200: WithdrawalSerializer,
            400: _error("confirm is missing or false, or the body is unreadable."),
            401: _error("Not authenticated."),
            403: _error("Authenticated, without the permission."),
            405: _error("Method not allowed."),
            406: _error("Only application/json responses."),
            413: _error("The body is too large."),
            415: _error("Only application/json."),
        },
        examples=[
            OpenApiExample(
                "withdrawn",
                value={
                    "attempts": 2,
                    "canceled": 1,
                    "in_flight": 0,
                    "erased": 2,
                    "document_reviews": 0,
                    "legal_hold": False,
                    "messages": [
                        "Your consent is withdrawn: nothing more of yours will be verified."
                    ],
                },
                response_only=True,
            )
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request.user
        if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
            raise exceptions.NotAuthenticated()
        serializer = WithdrawalRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.withdraw(user=user, actor=user)
        return Response(WithdrawalSerializer(represent(result)).data)
