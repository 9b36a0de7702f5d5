"""The frame every API view shares: the request's language, the API's error body, no caching,
and one log line for each failure.

Every view answers with :mod:`.errors`' body whatever happens, in the request's language
(``Accept-Language``, through ``LocaleMiddleware`` when the host has it, else read here).

Crash reports carry no personal information: every POST field is marked sensitive
(``sensitive_post_parameters``), so Django's error report and ``mail_admins`` show stars;
every 4xx and 5xx is logged here, once, as one line without the request (logger
``face_idcard.api``: the method, the action, the status, the error code, the exception's type,
the user id; ERROR for a 5xx, WARNING for a 4xx), and
:class:`face_idcard.logfilters.APIResponsesLoggedByTheApp` keeps ``django.request`` from
logging the same response again with the request object attached. An exception outside DRF's
handler (reading the request's frame, rendering) gets the same line, as a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils import translation
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from .caching import NoStore
from .errors import exception_handler

__all__ = ["APIFrame", "logger"]

logger = logging.getLogger("face_idcard.api")


# Every field: the ID number and the name, the photos' names, the url, the reference and
# whatever else a client sends. Django's error reports and mail_admins show stars instead.
@method_decorator(sensitive_post_parameters(), name="dispatch")
class APIFrame(NoStore):
    """Mix in first: ``class AttemptViewSet(APIFrame, ..., GenericViewSet)``."""

    renderer_classes = [JSONRenderer]  # noqa: RUF012
    #: The view's name in its log line, where it is not a viewset (whose action is used).
    log_action = "-"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        language = getattr(request, "LANGUAGE_CODE", None) or translation.get_language_from_request(
            request
        )
        try:
            with translation.override(language):
                response = super().dispatch(request, *args, **kwargs)
                if isinstance(response, Response):
                    # Rendered here, inside the language: the data holds no lazy text, but
                    # DRF's own messages are translated when rendered.
                    response.render()
                response.setdefault("Content-Language", translation.get_language() or language)
        except Exception as error:
            # Outside DRF's handler: Django answers 500, and its record of it is dropped
            # (logfilters), so the line is written here. The DRF request once it exists (its
            # user authenticated), else Django's.
            self._log_line(
                getattr(self, "request", request),
                500,
                "internal_error",
                f"{type(error).__name__} outside the handler",
            )
            raise
        return response

    def get_exception_handler(self) -> Any:
        return exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        # Remembered for the log line: the type only (the text could hold request data).
        self.failure = type(exc).__name__
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            data = getattr(response, "data", None)
            error = data.get("error") if isinstance(data, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            self._log_line(request, response.status_code, code, getattr(self, "failure", None))
        return response

    def _log_line(
        self, request: HttpRequest | Request, status: int, code: str | None, failure: str | None
    ) -> None:
        """The one line for a 4xx or 5xx: no path (an id typed into it could be an ID
        number), no body, no request object."""
        try:
            user_id = getattr(request.user, "pk", None)
        except Exception:  # authentication itself failed, before or now (the database down)
            user_id = None
        logger.log(
            logging.ERROR if status >= 500 else logging.WARNING,
            "API %s %s: %d %s (%s), user id %s",
            request.method,
            getattr(self, "action", None) or self.log_action,
            status,
            code or "-",
            failure or "-",
            user_id,
        )
