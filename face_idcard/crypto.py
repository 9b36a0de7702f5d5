"""Encryption at rest for ID numbers, names, urls and selfies, and the keyed hash of ID numbers.

``MultiFernet`` over ``PII_ENCRYPTION_KEYS``: the first key encrypts, every key decrypts, so a
new key is rolled out by putting it first and running ``manage.py face_idcard_rotate_keys``.
With no key configured a development key is derived from ``SECRET_KEY`` when DEBUG is on
(with a warning, once); with DEBUG off the app refuses to store personal information at all.

The keyed hash (HMAC-SHA256) lets the app count attempts per ID number without storing the
number in the clear; a plain hash of an 18-digit number with a checksum is trivially reversed.

Generate a key with ``python -m face_idcard.crypto``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import warnings
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "InvalidToken",
    "decrypt_bytes",
    "decrypt_text",
    "encrypt_bytes",
    "encrypt_text",
    "get_fernet",
    "id_number_hash",
    "rotate_token",
]

logger = logging.getLogger("face_idcard.crypto")

_lock = threading.Lock()
# Cache of the MultiFernet for the configuration it was built from (keys, SECRET_KEY, DEBUG);
# rebuilt when any of them changes, so override_settings and key rotation just work.
_cached: tuple[tuple[object, ...], MultiFernet] | None = None
_warned_dev_key = False


class DevelopmentKeyWarning(UserWarning):
    """PII is encrypted with a key derived from SECRET_KEY (DEBUG only)."""


def _derive(label: str, secret_key: str) -> bytes:
    # Domain-separated so the encryption key and the hash key differ even though both come
    # from SECRET_KEY.
    return hashlib.sha256(f"face_idcard:{label}:{secret_key}".encode()).digest()


def _configured_keys() -> tuple[list[str | bytes], bool, str]:
    from django.conf import settings

    from .conf import face_idcard_settings

    keys = face_idcard_settings.PII_ENCRYPTION_KEYS
    if isinstance(keys, str | bytes):
        keys = [keys]
    return list(keys or []), bool(settings.DEBUG), str(settings.SECRET_KEY)


def get_fernet() -> MultiFernet:
    """The MultiFernet for the current settings (cached; newest key first)."""
    global _cached, _warned_dev_key
    keys, debug, secret_key = _configured_keys()
    fingerprint: tuple[object, ...] = (tuple(keys), debug, secret_key if not keys else "")
    cached = _cached
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    with _lock:
        if keys:
            fernets = [Fernet(key) for key in keys]
        elif debug:
            if not _warned_dev_key:
                _warned_dev_key = True
                warnings.warn(
                    "FACE_IDCARD['PII_ENCRYPTION_KEYS'] is empty: personal information is "
                    "encrypted with a development key derived from SECRET_KEY.",
                    DevelopmentKeyWarning,
                    stacklevel=2,
                )
                logger.warning("using a development PII key derived from SECRET_KEY")
            fernets = [Fernet(base64.urlsafe_b64encode(_derive("pii", secret_key)))]
        else:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "FACE_IDCARD['PII_ENCRYPTION_KEYS'] is empty while DEBUG is off: refusing to "
                "store personal information (see system check face_idcard.E005)."
            )
        multi = MultiFernet(fernets)
        _cached = (fingerprint, multi)
        return multi


def encrypt_bytes(data: bytes) -> bytes:
    return get_fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    return get_fernet().decrypt(token)


def encrypt_text(text: str) -> str:
    """A Fernet token (ASCII) for ``text``; empty stays empty."""
    if not text:
        return ""
    return get_fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt_text(token: str) -> str:
    if not token:
        return ""
    return get_fernet().decrypt(token.encode("ascii")).decode("utf-8")


def rotate_token(token: str) -> str:
    """``token`` re-encrypted under the newest key (no change to the plaintext)."""
    if not token:
        return ""
    return get_fernet().rotate(token.encode("ascii")).decode("ascii")


def _hash_key() -> bytes:
    from django.conf import settings

    from .conf import face_idcard_settings

    configured = face_idcard_settings.PII_HASH_KEY
    if configured:
        return configured.encode("utf-8") if isinstance(configured, str) else bytes(configured)
    return _derive("hash", str(settings.SECRET_KEY))


def id_number_hash(normalised_id_number: str) -> str:
    """Hex HMAC-SHA256 of an already normalised ID number (uppercase X)."""
    return hmac.new(_hash_key(), normalised_id_number.encode("utf-8"), hashlib.sha256).hexdigest()


def generate_keys(count: int = 1) -> Sequence[str]:
    return [Fernet.generate_key().decode("ascii") for _ in range(count)]


if __name__ == "__main__":  # pragma: no cover - a helper for operators
    print(generate_keys()[0])
