"""The legacy API's request signature, under its old import path.

It lives with its provider now (:mod:`face_idcard.providers.legacy.signing`).
"""

from .providers.legacy.signing import (
    DEFAULT_LIFETIME_SECONDS,
    DIGEST_SIZE,
    MAX_LIFETIME_SECONDS,
    MalformedSignature,
    ParsedSignature,
    legacy_authorization,
    legacy_digest,
    legacy_plaintext,
    parse_legacy_authorization,
    sign_legacy,
    verify_legacy_digest,
)

__all__ = [
    "DEFAULT_LIFETIME_SECONDS",
    "DIGEST_SIZE",
    "MAX_LIFETIME_SECONDS",
    "MalformedSignature",
    "ParsedSignature",
    "legacy_authorization",
    "legacy_digest",
    "legacy_plaintext",
    "parse_legacy_authorization",
    "sign_legacy",
    "verify_legacy_digest",
]
