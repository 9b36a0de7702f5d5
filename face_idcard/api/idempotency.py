"""``Idempotency-Key``: a retried creation returns the first attempt, never a second one.

The same user and key within ``IDEMPOTENCY_TTL_HOURS`` return the attempt the first request
created; the same key with a different request is refused (422). The request is recognised by
a fingerprint: a keyed HMAC over the parsed fields and the photo's bytes (a retry has a new
multipart boundary, so the raw body would not do; a plain hash of such a small input could be
brute-forced for the ID number by whoever reads the table).

Concurrent duplicates: the key's row, pointing at the attempt, is stored in the transaction
that stores the attempt (``services.submit`` called inside this module's
``transaction.atomic``). A second request with the same key waits (on the daily-limit locks
of the same user and ID number, or on the uncommitted unique entry, or on SQLite's write
lock) until the first commits, then fails on the unique constraint, which rolls its whole
transaction back (its attempt and events with it: nothing published, nothing billed), and
reads the first one's attempt. When the first fails, its row is rolled back with it and the
key stays free. The key is stored as a digest (:func:`key_digest`): compared exactly,
whatever the database's collation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions

from .. import crypto
from ..conf import face_idcard_settings
from ..exceptions import AttemptLimitExceeded
from ..models import IdempotencyKey, VerificationAttempt
from ..services import _limits as limits
from ..services._common import delete_selfie
from .errors import IdempotencyKeyReused

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_DERIVATION_LABEL = b"face_idcard:idempotency-fingerprint"


def key_from_request(headers: Mapping[str, str]) -> str | None:
    """The header's value, or None without one; 400 for a value that cannot be a key."""
    value = headers.get(HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all("!" <= ch <= "~" for ch in value):
        raise exceptions.ValidationError(
            {
                HEADER: [
                    exceptions.ErrorDetail(
                        str(_("The Idempotency-Key must be 1 to 255 visible ASCII characters.")),
                        code="idempotency_key_invalid",
                    )
                ]
            }
        )
    return value


def fingerprint_keys() -> list[bytes]:
    """The HMAC keys, newest first: ``IDEMPOTENCY_KEY``, else one derived from each live PII
    hash key (so a fingerprint made before a hash key rotation still matches)."""
    configured = face_idcard_settings.IDEMPOTENCY_KEY
    if configured:
        return [configured.encode() if isinstance(configured, str) else bytes(configured)]
    return [
        hmac.new(key.secret, _DERIVATION_LABEL, hashlib.sha256).digest()
        for key in crypto.hash_keys()
    ]


def fingerprints(fields: Mapping[str, Any], image: UploadedFile[Any] | None) -> list[str]:
    """The request's fingerprint under each key (the first is stored)."""
    canonical = json.dumps(
        {name: value for name, value in fields.items() if name != "image"},
        sort_keys=True,
        ensure_ascii=True,
        default=str,
    ).encode()
    macs = [hmac.new(key, digestmod=hashlib.sha256) for key in fingerprint_keys()]
    for mac in macs:
        mac.update(len(canonical).to_bytes(8, "big"))
        mac.update(canonical)
    if image is not None:
        image.seek(0)
        for chunk in image.chunks():
            for mac in macs:
                mac.update(chunk)
        image.seek(0)
    return [mac.hexdigest() for mac in macs]


def key_digest(key: str) -> str:
    """What is stored and compared for a key: its SHA-256, in hex. Keys are compared exactly,
    case included, whatever the column's collation (MySQL's ``_ci`` collations would make
    ``Order-1`` and ``order-1`` one key); and a digest is of one length, whatever the key's."""
    return hashlib.sha256(key.encode()).hexdigest()


def _live(user: Any, digest: str) -> IdempotencyKey | None:
    row: IdempotencyKey | None = (
        IdempotencyKey.objects.filter(
            user=user, key=digest, expires_at__gt=timezone.now(), attempt__isnull=False
        )
        .select_related("attempt")
        .first()
    )
    return row


def _replay(row: IdempotencyKey, prints: list[str]) -> VerificationAttempt:
    if not any(hmac.compare_digest(row.fingerprint, candidate) for candidate in prints):
        raise IdempotencyKeyReused()
    assert row.attempt is not None
    return row.attempt


def submit_once(
    *,
    user: Any,
    key: str,
    fields: Mapping[str, Any],
    image: UploadedFile[Any] | None,
    create: Callable[[], VerificationAttempt],
) -> tuple[VerificationAttempt, bool]:
    """``(attempt, created)``: the first attempt for ``user`` and ``key``, else the one
    ``create()`` (``services.submit``) stores, with the key's row in the same transaction."""
    prints = fingerprints(fields, image)
    digest = key_digest(key)
    existing = _live(user, digest)
    if existing is not None:
        return _replay(existing, prints), False
    using = router.db_for_write(IdempotencyKey)

    def create_and_bind() -> VerificationAttempt:
        """The attempt and the key's row pointing at it, in one transaction: the key row's
        unique constraint fails for the second of two concurrent duplicates (which waits for
        the first to commit), rolling its attempt back with it (nothing published, billed)."""
        attempt: VerificationAttempt | None = None
        try:
            with transaction.atomic(using=using):
                attempt = create()
                now = timezone.now()
                hours = float(face_idcard_settings.IDEMPOTENCY_TTL_HOURS)
                IdempotencyKey.objects.using(using).create(
                    user=user,
                    key=digest,
                    fingerprint=prints[0],
                    attempt=attempt,
                    created_at=now,
                    expires_at=now + timedelta(hours=hours),
                )
        except BaseException:
            # The attempt's row is rolled back: its encrypted selfie must not stay behind.
            if attempt is not None:
                delete_selfie(attempt.selfie_name, attempt.selfie_storage)
            raise
        return attempt

    # Twice at most: the second time after removing an expired row that held the key.
    for _try in range(2):
        try:
            return limits.retry_deadlocks(create_and_bind, using=using), True
        except (IntegrityError, AttemptLimitExceeded) as error:
            # A concurrent duplicate committed first: its attempt is the answer (also when
            # this one's limit count, which includes it, refused).
            existing = _live(user, digest)
            if existing is not None:
                return _replay(existing, prints), False
            if isinstance(error, limits.AccountsPerIdReached):
                error.record()  # the abuse event went with this transaction's rollback
            if isinstance(error, AttemptLimitExceeded):
                raise
            IdempotencyKey.objects.using(using).filter(
                user=user, key=digest, expires_at__lte=timezone.now()
            ).delete()
    raise exceptions.APIException()  # the key stayed taken by no live row: cannot happen
