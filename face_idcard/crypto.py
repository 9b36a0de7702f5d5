"""Encryption at rest for ID numbers, names, urls and selfies, and the keyed hash of ID numbers.

AES-256-GCM for the texts (:func:`encrypt_text`) and the selfies (:class:`EncryptedStream`),
under keys derived from each of ``PII_ENCRYPTION_KEYS``. The first key encrypts, every key
decrypts, so a new key is rolled out by putting it first and running
``manage.py face_idcard_rotate_keys``.

Each ciphertext is bound to its attempt and field (the associated data of AES-GCM): a
database writer who swaps two attempts' ciphertexts, or the number and name of one, gets a
:class:`CiphertextMismatch` on reading instead of a quiet exchange of identities. Ciphertexts
made before the binding (Fernet texts, selfies sealed as ``FIS2``) still read; their marker
tells them apart, and ``rotate_keys`` rewrites them bound.
With no key configured a development key is derived from ``SECRET_KEY`` when DEBUG is on
(with a warning, once); with DEBUG off the app refuses to store personal information at all.

The keyed hash (HMAC-SHA256) lets the app count attempts per ID number without storing the
number in the clear; a plain hash of an 18-digit number with a checksum is trivially reversed,
and so is the keyed one by whoever holds the key (the stored mask leaves about 10^5
candidates). So the hash keys, ``PII_HASH_KEYS``, are their own secrets, kept apart from the
database and never derived from ``SECRET_KEY``: the first hashes, every one is matched, each
hash is stored with its key's id, and ``rotate_keys`` re-hashes under the newest.

Generate a key with ``python -m face_idcard.crypto``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "NAME",
    "NUMBER",
    "SELFIE",
    "URL",
    "CiphertextMismatch",
    "InvalidToken",
    "decrypt_bytes",
    "decrypt_text",
    "encrypt_bytes",
    "encrypt_text",
    "get_fernet",
    "hash_keys",
    "id_number_hash",
    "id_number_hash_with_key",
    "id_number_hashes",
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
    if not isinstance(keys, list | tuple):
        from django.core.exceptions import ImproperlyConfigured

        # One spelling, as for PII_HASH_KEYS: a key written without its list is refused
        # (system check E006) rather than read one way here and another elsewhere.
        raise ImproperlyConfigured("FACE_IDCARD['PII_ENCRYPTION_KEYS'] must be a list of keys.")
    return list(keys), bool(settings.DEBUG), str(settings.SECRET_KEY)


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


#: The fields a ciphertext is bound to (with its attempt's id): the ID number,
NUMBER = "idcard_number"
#: the name,
NAME = "idcard_name"
#: the photo url,
URL = "url"
#: and the selfie.
SELFIE = "selfie"
#: A webhook endpoint's signing secrets (bound to the endpoint's id).
WEBHOOK_SECRETS = "webhook_secrets"
_FIELDS = frozenset({NUMBER, NAME, URL, SELFIE, WEBHOOK_SECRETS})


class CiphertextMismatch(InvalidToken):
    """A bound ciphertext does not open as the given attempt's field: it belongs to another
    attempt or field, a byte changed, or its key is no longer configured. The text names the
    attempt and the field, never a value."""

    def __init__(self, attempt_id: object, field: str) -> None:
        super().__init__(
            f"the {field} of attempt {attempt_id} cannot be decrypted: the ciphertext belongs "
            "to another attempt or field, was changed, or its key is no longer configured"
        )


def _binding(attempt_id: object, field: str) -> bytes:
    """The associated data: the attempt's id (one spelling whatever form is given) and the
    field. ``ValueError`` for an id that is no UUID or an unknown field (a programming error)."""
    if field not in _FIELDS:
        raise ValueError(f"unknown encrypted field {field!r}")
    return f"face_idcard:{uuid.UUID(str(attempt_id))}:{field}".encode("ascii")


#: The first bytes of a sealed selfie (:class:`EncryptedStream`), bound to its attempt: never
#: the start of a Fernet token, which is URL-safe base64 of a 0x80 version byte ("gAAAAA").
SEALED_MAGIC = b"\x00FIS3"
#: Selfies sealed before the binding (the magic alone as associated data): still read.
UNBOUND_SEALED_MAGIC = b"\x00FIS2"
_NONCE_BYTES = 12
_TAG_BYTES = 16
#: Plaintext encrypted per step by :class:`EncryptedStream`.
_STREAM_CHUNK = 256 * 1024
_SELFIE_KEY_INFO = b"face_idcard:selfie:aes-256-gcm:v2"
_TEXT_KEY_INFO = b"face_idcard:text:aes-256-gcm:v1"
#: The start of a bound text (:func:`encrypt_text`); ":" is never in a Fernet token.
BOUND_TEXT_PREFIX = "b1:"


def _raw_keys() -> list[bytes]:
    """The raw 32 bytes of each configured key, newest first (the development key when
    :func:`get_fernet` allows it)."""
    get_fernet()  # the same checks and warnings, and ImproperlyConfigured without a key
    keys, _debug, secret_key = _configured_keys()
    encoded = keys or [base64.urlsafe_b64encode(_derive("pii", secret_key))]
    return [base64.urlsafe_b64decode(key) for key in encoded]


_cached_derived_keys: dict[bytes, tuple[tuple[bytes, ...], list[bytes]]] = {}


def _derived_keys(info: bytes) -> list[bytes]:
    """AES-256-GCM keys, newest first, each derived with HKDF-SHA256 from one
    ``PII_ENCRYPTION_KEYS`` entry and ``info``: one setting (and one rotation) covers texts and
    selfies while no key serves two purposes."""
    raw = tuple(_raw_keys())
    cached = _cached_derived_keys.get(info)
    if cached is not None and cached[0] == raw:
        return cached[1]
    derived = [
        HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key) for key in raw
    ]
    _cached_derived_keys[info] = (raw, derived)
    return derived


def selfie_keys() -> list[bytes]:
    """The AES-256-GCM keys of sealed selfies, newest (the one that seals) first."""
    return _derived_keys(_SELFIE_KEY_INFO)


def text_keys() -> list[bytes]:
    """The AES-256-GCM keys of bound texts, newest (the one that encrypts) first."""
    return _derived_keys(_TEXT_KEY_INFO)


def write_encrypted(data: bytes, out: IO[bytes], *, attempt_id: object) -> None:
    """Write ``data`` sealed to ``out`` (the format of :class:`EncryptedStream`, read back by
    :func:`decrypt_bytes`), a chunk at a time."""
    for piece in EncryptedStream(data, attempt_id=attempt_id).pieces():
        out.write(piece)


def encrypted_length(size: int) -> int:
    """The length of a sealed selfie of ``size`` bytes: magic, nonce, ciphertext (as long as
    the plaintext) and tag."""
    return len(SEALED_MAGIC) + _NONCE_BYTES + size + _TAG_BYTES


class EncryptedStream(io.RawIOBase):
    """``data`` sealed, as a read-only file produced while it is read: a storage's ``save``
    reads it straight into place (no temporary file, never a second copy in memory).

    The format: :data:`SEALED_MAGIC`, a random 96-bit nonce, then AES-256-GCM of ``data``
    under the newest of :func:`selfie_keys` with the magic and the attempt's binding as
    associated data (the selfie opens only as ``attempt_id``'s), its 16-byte tag last. Raw bytes, no base64: a third smaller than a Fernet token, and about forty
    times cheaper to make (AES-GCM runs in hardware; Fernet's CBC, HMAC and base64 took
    about 2 ms of the web worker's CPU for a 450 KB photo, bench/api.py). Fernet tokens of
    selfies stored before it are still read (:func:`decrypt_bytes`).

    ``size`` is its length; ``seek(0)`` starts it again and gives the same bytes (the nonce
    is drawn once, here; the key is looked up here too, so that a missing key raises before
    a storage has created anything).
    """

    def __init__(self, data: bytes, *, attempt_id: object) -> None:
        super().__init__()
        self._associated = SEALED_MAGIC + _binding(attempt_id, SELFIE)
        self._key = selfie_keys()[0]
        self._data = data
        self._nonce = os.urandom(_NONCE_BYTES)
        self.size = encrypted_length(len(data))
        self._start()

    def _start(self) -> None:
        self._pieces = self.pieces()
        self._pending = memoryview(b"")
        self._position = 0

    def pieces(self) -> Iterator[bytes]:
        """The sealed selfie, about ``_STREAM_CHUNK`` bytes at a time."""
        encryptor = Cipher(algorithms.AES(self._key), modes.GCM(self._nonce)).encryptor()
        encryptor.authenticate_additional_data(self._associated)
        yield SEALED_MAGIC + self._nonce
        view = memoryview(self._data)
        for start in range(0, len(view), _STREAM_CHUNK):
            yield encryptor.update(view[start : start + _STREAM_CHUNK])
        yield encryptor.finalize() + encryptor.tag

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._pending = memoryview(piece)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """To the start (again), or where it is already (``tell``); nowhere else."""
        if whence == io.SEEK_SET and offset == 0:
            self._start()
        elif not (
            (whence == io.SEEK_CUR and offset == 0)
            or (whence == io.SEEK_SET and offset == self._position)
        ):
            raise io.UnsupportedOperation("an encrypted stream seeks only to its start")
        return self._position


def _open(keys: list[bytes], nonce: bytes, sealed: bytes, associated: bytes) -> bytes | None:
    for key in keys:
        try:
            return AESGCM(key).decrypt(nonce, sealed, associated)
        except InvalidTag:
            continue
    return None


def decrypt_bytes(token: bytes, *, attempt_id: object) -> bytes:
    """The plaintext of ``attempt_id``'s sealed selfie (under any live key); a selfie sealed
    before the binding or a Fernet token also reads. :class:`CiphertextMismatch` for another
    attempt's selfie, a wrong key or a changed byte; :class:`InvalidToken` for anything else."""
    if token.startswith(SEALED_MAGIC):
        associated = SEALED_MAGIC + _binding(attempt_id, SELFIE)
    elif token.startswith(UNBOUND_SEALED_MAGIC):
        associated = UNBOUND_SEALED_MAGIC
    else:
        return get_fernet().decrypt(token)
    start = len(SEALED_MAGIC)
    nonce, sealed = token[start : start + _NONCE_BYTES], token[start + _NONCE_BYTES :]
    if len(nonce) < _NONCE_BYTES or len(sealed) < _TAG_BYTES:
        raise CiphertextMismatch(attempt_id, SELFIE)
    plain = _open(selfie_keys(), nonce, sealed, associated)
    if plain is None:
        raise CiphertextMismatch(attempt_id, SELFIE)
    return plain


def is_bound(token: str | bytes) -> bool:
    """Whether ``token`` (a text or a sealed selfie) is bound to its attempt and field (the
    ones made before the binding are rewritten by ``rotate_keys``)."""
    if isinstance(token, bytes):
        return token.startswith(SEALED_MAGIC)
    return token.startswith(BOUND_TEXT_PREFIX)


def encrypt_text(text: str, *, attempt_id: object, field: str) -> str:
    """``text`` encrypted (AES-256-GCM, newest key) and bound to ``attempt_id``'s ``field``
    (:data:`NUMBER`, :data:`NAME`, :data:`URL`): ASCII, :data:`BOUND_TEXT_PREFIX` then
    URL-safe base64 of the nonce and the ciphertext. Empty stays empty."""
    if not text:
        return ""
    associated = _binding(attempt_id, field)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(text_keys()[0]).encrypt(nonce, text.encode("utf-8"), associated)
    return BOUND_TEXT_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt_text(token: str, *, attempt_id: object, field: str) -> str:
    """The text of ``attempt_id``'s ``field``: :class:`CiphertextMismatch` when ``token`` was
    made for another attempt or field (or changed, or its key is gone). A Fernet token made
    before the binding reads as ever (:class:`InvalidToken` when it does not)."""
    if not token:
        return ""
    if not token.startswith(BOUND_TEXT_PREFIX):
        return get_fernet().decrypt(token.encode("ascii")).decode("utf-8")
    associated = _binding(attempt_id, field)
    try:
        raw = base64.urlsafe_b64decode(token[len(BOUND_TEXT_PREFIX) :].encode("ascii"))
    except (binascii.Error, UnicodeEncodeError):
        raise CiphertextMismatch(attempt_id, field) from None
    nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    plain = None
    if len(nonce) == _NONCE_BYTES and len(sealed) >= _TAG_BYTES:
        plain = _open(text_keys(), nonce, sealed, associated)
    if plain is None:
        raise CiphertextMismatch(attempt_id, field)
    return plain.decode("utf-8")


def rotate_token(
    token: str, *, attempt_id: object, field: str, to_attempt_id: object = None
) -> str:
    """``token`` re-encrypted under the newest key and bound (to ``to_attempt_id`` when it
    is given: a copy for a new attempt), whatever format it had; no change to the text."""
    text = decrypt_text(token, attempt_id=attempt_id, field=field)
    bound_to = attempt_id if to_attempt_id is None else to_attempt_id
    return encrypt_text(text, attempt_id=bound_to, field=field)


#: Used for the keyed hash when DEBUG is on and no hash key is configured (with a warning).
#: A constant, never derived from SECRET_KEY: rotating SECRET_KEY must not change a hash.
DEVELOPMENT_HASH_KEY = b"face_idcard development hash key - not a secret, never in production"
_warned_dev_hash_key = False


class DevelopmentHashKeyWarning(UserWarning):
    """ID numbers are hashed with the public development key (DEBUG only)."""


@dataclass(frozen=True)
class HashKey:
    """One entry of ``PII_HASH_KEYS``: a stable id (stored beside each hash) and the secret."""

    key_id: str
    secret: bytes = field(repr=False)


def hash_key_id(secret: bytes) -> str:
    """The id of a key given without one: a fingerprint (not a list position, which would
    shift when a key is added). 48 bits of an HMAC: names the key, tells nothing of it."""
    return "k" + hmac.new(secret, b"face_idcard:hash-key-id", hashlib.sha256).hexdigest()[:12]


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("a hash key is a str or bytes")


def parse_hash_key(entry: object) -> HashKey:
    """``"secret"`` (id: its fingerprint) or ``{"id": "2025a", "key": "secret"}``."""
    if isinstance(entry, dict):
        key_id, secret = str(entry.get("id") or ""), _as_bytes(entry.get("key") or "")
        if not key_id or len(key_id) > 32:
            raise ValueError("a hash key id is 1 to 32 characters")
    else:
        secret = _as_bytes(entry)
        key_id = hash_key_id(secret) if secret else ""
    if not secret:
        raise ValueError("a hash key must not be empty")
    return HashKey(key_id, secret)


def configured_hash_keys() -> list[object]:
    """``PII_HASH_KEYS`` as configured: a list, newest (the one that hashes) first."""
    from .conf import face_idcard_settings

    keys = face_idcard_settings.PII_HASH_KEYS
    if not isinstance(keys, list | tuple):
        from django.core.exceptions import ImproperlyConfigured

        # A single key written without its list would silently hash with a different key
        # than the site meant after the next rotation: refused (system check E016).
        raise ImproperlyConfigured("FACE_IDCARD['PII_HASH_KEYS'] must be a list of keys.")
    return list(keys)


def hash_keys() -> list[HashKey]:
    """The live hash keys, newest (the one that hashes) first.

    None configured: the development key when DEBUG is on (warned about once), else
    ``ImproperlyConfigured`` (system check face_idcard.E015).
    """
    global _warned_dev_hash_key
    from django.conf import settings

    entries = configured_hash_keys()
    if entries:
        return [parse_hash_key(entry) for entry in entries]
    if not settings.DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "FACE_IDCARD['PII_HASH_KEYS'] is empty while DEBUG is off: refusing to hash ID "
            "numbers (see system check face_idcard.E015)."
        )
    if not _warned_dev_hash_key:
        _warned_dev_hash_key = True
        warnings.warn(
            "FACE_IDCARD['PII_HASH_KEYS'] is empty: ID numbers are hashed with the public "
            "development key.",
            DevelopmentHashKeyWarning,
            stacklevel=2,
        )
        logger.warning("using the public development key for the ID number hash")
    return [HashKey("dev", DEVELOPMENT_HASH_KEY)]


def _hmac(secret: bytes, normalised_id_number: str) -> str:
    return hmac.new(secret, normalised_id_number.encode("utf-8"), hashlib.sha256).hexdigest()


def id_number_hash(normalised_id_number: str) -> str:
    """Hex HMAC-SHA256 of an already normalised ID number (uppercase X), newest key."""
    return _hmac(hash_keys()[0].secret, normalised_id_number)


def id_number_hash_with_key(normalised_id_number: str) -> tuple[str, str]:
    """``(key id, hash)`` under the newest key: what is stored."""
    newest = hash_keys()[0]
    return newest.key_id, _hmac(newest.secret, normalised_id_number)


def id_number_hashes(normalised_id_number: str) -> list[str]:
    """The number's hash under every live key: what look-ups and limits match."""
    return [_hmac(key.secret, normalised_id_number) for key in hash_keys()]


def generate_keys(count: int = 1) -> Sequence[str]:
    return [Fernet.generate_key().decode("ascii") for _ in range(count)]


if __name__ == "__main__":  # pragma: no cover - a helper for operators
    print(generate_keys()[0])
