"""One error body for every failure of the API, with stable codes, and the handler that makes it.

Every response that is not a success looks like::

    {"error": {"code": "invalid", "message": "...", "fields": {"idcard_number": [
        {"code": "id_checksum", "message": "..."}]}}}

``code`` is stable (clients branch on it); ``message`` is for people, in the request's
language; ``fields`` is present for field errors only. The handler maps every exception,
expected or not, so no input produces Django's HTML error page: a body Django's parser
finds suspicious (too many files, a malformed multipart) is a 400, an outage of the database,
the cache or the broker (:mod:`face_idcard.outages`) a 503 ``unavailable`` with
``Retry-After``, an unexpected exception a 500 ``internal_error``. The handler logs nothing: the view writes one line for every 4xx and
5xx (:mod:`face_idcard.api.frame`), with the exception's type only (its text could hold
request data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from ..exceptions import (
    AttemptLimitExceeded,
    BackendUnavailable,
    ConsentRequired,
    IllegalTransition,
    PermissionRequired,
    SelfReviewRefused,
)
from ..outages import is_outage

#: Retry-After for the per-identity daily limits: a constant, so the header tells nothing
#: about when this ID number was last tried (the limits are a rolling 24 hours).
LIMIT_RETRY_AFTER_SECONDS = 24 * 60 * 60

#: Retry-After of a 503 for an outage (database, cache, broker): a restart or a failover is
#: over in seconds, and a client that retries with the same Idempotency-Key is never served
#: twice.
OUTAGE_RETRY_AFTER_SECONDS = 5


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _(
        "This Idempotency-Key was already used for a different request. Use a new key."
    )
    default_code = "idempotency_key_reused"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The attempt is not in a state that allows this.")
    default_code = "conflict"


#: Which request field a ``ValidationError`` code of the services belongs to, by prefix.
_FIELD_BY_CODE_PREFIX = (
    ("id_minor", "guardian_consent"),
    ("id_", "idcard_number"),
    ("name_", "idcard_name"),
    ("image_or_url", ""),
    ("image_", "image"),
    ("url_", "url"),
    ("consent", "consent"),
    ("notice_", "notice_version"),
    ("capture_", "capture_source"),
    ("review_decision", "decision"),
    ("review_reason", "reason"),
)


def field_for_code(code: str | None) -> str:
    for prefix, field in _FIELD_BY_CODE_PREFIX:
        if (code or "").startswith(prefix):
            return field
    return ""


def error_body(
    code: str, message: Any, fields: Mapping[str, list[dict[str, str]]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": str(message)}
    if fields:
        error["fields"] = {name: list(items) for name, items in fields.items()}
    return {"error": error}


def _drf_fields(detail: Any) -> tuple[dict[str, list[dict[str, str]]], list[dict[str, str]]]:
    """DRF's nested ``detail`` as ``fields`` and the errors that belong to no field."""
    fields: dict[str, list[dict[str, str]]] = {}
    general: list[dict[str, str]] = []

    def items(value: Any) -> list[dict[str, str]]:
        if isinstance(value, list):
            return [entry for element in value for entry in items(element)]
        if isinstance(value, dict):
            return [entry for element in value.values() for entry in items(element)]
        return [{"code": str(getattr(value, "code", "invalid")), "message": str(value)}]

    if isinstance(detail, dict):
        for name, value in detail.items():
            if name in ("non_field_errors", "__all__"):
                general += items(value)
            else:
                fields[str(name)] = items(value)
    else:
        general += items(detail)
    return fields, general


def _validation_response(
    fields: dict[str, list[dict[str, str]]], general: list[dict[str, str]]
) -> Response:
    if general and not fields:
        return Response(error_body(general[0]["code"], general[0]["message"]), status=400)
    message = general[0]["message"] if general else _("Some of the information is not valid.")
    return Response(error_body("invalid", message, fields), status=400)


def django_validation_response(exc: DjangoValidationError) -> Response:
    fields: dict[str, list[dict[str, str]]] = {}
    general: list[dict[str, str]] = []
    for error in exc.error_list:
        message = error.message % error.params if error.params else error.message
        entry = {"code": str(error.code or "invalid"), "message": str(message)}
        field = field_for_code(error.code)
        if field:
            fields.setdefault(field, []).append(entry)
        else:
            general.append(entry)
    return _validation_response(fields, general)


def _simple(exc: exceptions.APIException, code: str | None = None) -> Response:
    detail = exc.detail
    message = detail if not isinstance(detail, list | dict) else exc.default_detail
    code = code or str(getattr(detail, "code", None) or exc.default_code)
    response = Response(error_body(code, message), status=exc.status_code)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        response["Retry-After"] = str(max(1, int(wait + 0.999)))
    return response


def exception_handler(exc: BaseException, context: Mapping[str, Any]) -> Response:
    """The API views' DRF exception handler (theirs only: the host's own handler is kept)."""
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(*_drf_fields(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        return _simple(exc, "throttled")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return _simple(exc, "not_authenticated")
    if isinstance(exc, exceptions.PermissionDenied | PermissionRequired | DjangoPermissionDenied):
        return Response(
            error_body("permission_denied", _("You do not have permission to do this.")),
            status=403,
        )
    if isinstance(exc, SelfReviewRefused):
        return Response(error_body("self_review", exc.message), status=403)
    if isinstance(exc, exceptions.NotFound | Http404):
        return Response(error_body("not_found", _("Not found.")), status=404)
    if isinstance(exc, exceptions.ParseError) and getattr(exc.detail, "code", "") in (
        "duplicate_field",
        "not_object",
        "unexpected_file",
    ):
        return _simple(exc)
    if isinstance(exc, exceptions.ParseError | MultiPartParserError | UnreadablePostError):
        return Response(
            error_body("malformed_request", _("The request body could not be read.")), status=400
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _simple(exc, "unsupported_media_type")
    if isinstance(exc, exceptions.APIException):
        return _simple(exc)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", PayloadTooLarge.default_detail), status=413)
    if isinstance(exc, SuspiciousOperation):
        # Django's parser refusing a crafted body (TooManyFieldsSent, TooManyFilesSent,
        # SuspiciousMultipartForm...): the client's fault, never a 500.
        return Response(
            error_body("malformed_request", _("The request body could not be read.")), status=400
        )
    if isinstance(exc, DjangoValidationError):
        return django_validation_response(exc)
    if isinstance(exc, ConsentRequired):
        entry = {"code": "consent_required", "message": str(exc.message)}
        return _validation_response({"consent": [entry]}, [])
    if isinstance(exc, AttemptLimitExceeded):
        response = Response(error_body("attempt_limit", exc.message), status=429)
        response["Retry-After"] = str(LIMIT_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, BackendUnavailable):  # misconfigured: logged where it was found
        return Response(error_body("backend_unavailable", exc.message), status=503)
    if isinstance(exc, IllegalTransition):
        return _simple(Conflict())
    if isinstance(exc, DatabaseError) or is_outage(exc):
        # Nothing was stored: the submission's transaction rolled back (its selfie deleted),
        # and a throttle or the rate limiter that could not reach its cache refused first.
        response = Response(
            error_body("unavailable", _("The service is temporarily unavailable.")), status=503
        )
        response["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
        return response
    return Response(
        error_body(
            "internal_error", _("Something went wrong on our side. Please try again later.")
        ),
        status=500,
    )
