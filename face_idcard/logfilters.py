"""Keep third-party HTTP loggers from writing request or response bodies.

requests/urllib3 at DEBUG write every request line, and SDKs such as Tencent's
``tencentcloud_sdk_common`` write whole request bodies (ID number, name, image) at DEBUG. A
site that turns DEBUG logging on to chase something else must not start logging personal
information. Installed by the app's ``ready()`` unless ``QUIET_HTTP_LOGGERS`` is False: their
records below INFO are dropped (warnings and errors still pass).
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


def install() -> None:
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def uninstall() -> None:
    for name in HTTP_LOGGERS:
        logging.getLogger(name).removeFilter(_FILTER)
