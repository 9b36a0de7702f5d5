"""The legacy API's HTTP client, under its old import path.

It lives with its provider now (:mod:`face_idcard.providers.legacy.client`); this module keeps
``from face_idcard.client import IdCardCompareClient`` working, without importing Django.
"""

from .providers.legacy.client import (
    API_PATH,
    DEFAULT_ENDPOINT,
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    CompareResult,
    IdCardCompareClient,
)

__all__ = [
    "API_PATH",
    "DEFAULT_ENDPOINT",
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "CompareResult",
    "IdCardCompareClient",
]
