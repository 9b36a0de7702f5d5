"""Keep personal information out of logs that are not the app's own.

Third-party HTTP loggers: requests/urllib3 at DEBUG write every request line, and SDKs such as Tencent's
``tencentcloud_sdk_common`` write whole request bodies (ID number, name, image) at DEBUG. A
site that turns DEBUG logging on to chase something else must not start logging personal
information. Installed by the app's ``ready()`` unless ``QUIET_HTTP_LOGGERS`` is False: their
records below INFO are dropped (warnings and errors still pass).

``django.request``: Django logs every 4xx and 5xx response with the request object attached,
and ``mail_admins`` or an error tracker then renders the request's data. The API's views log
their own line for each of their failures (logger ``face_idcard.api``, no request data), so
:class:`APIResponsesLoggedByTheApp` drops Django's record for those responses. Installed by
the app's ``ready()`` always.
"""

from __future__ import annotations

import logging

#: Logger filters are not inherited by child loggers, so every logger that writes is named.
HTTP_LOGGERS = (
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.response",
    "urllib3.util.retry",
    "tencentcloud_sdk_common",
    "tencentcloud_sdk_common.http",
)


class DropBelowInfo(logging.Filter):
    """Drops DEBUG records (where bodies are written), lets INFO and above through."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_FILTER = DropBelowInfo()

#: The application namespace of ``face_idcard.api.urls`` (``app_name``).
API_NAMESPACE = "face_idcard_api"


class APIResponsesLoggedByTheApp(logging.Filter):
    """Drops ``django.request`` records of requests that the API's views answered: they
    logged the response themselves, without the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        match = getattr(request, "resolver_match", None)
        return API_NAMESPACE not in (getattr(match, "app_names", None) or ())


_REQUEST_FILTER = APIResponsesLoggedByTheApp()


def install_request_filter() -> None:
    logger = logging.getLogger("django.request")
    if _REQUEST_FILTER not in logger.filters:
        logger.addFilter(_REQUEST_FILTER)


def uninstall_request_filter() -> None:
    logging.getLogger("django.request").removeFilter(_REQUEST_FILTER)


def install() -> None:
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def uninstall() -> None:
    for name in HTTP_LOGGERS:
        logging.getLogger(name).removeFilter(_FILTER)
