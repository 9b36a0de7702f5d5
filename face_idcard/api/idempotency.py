"""``Idempotency-Key``: a retried creation returns the first attempt, never a second one.

The same user and key within ``IDEMPOTENCY_TTL_HOURS`` return the attempt the first request
created; the same key with a different request is refused (422). The request is recognised by
a fingerprint: a keyed HMAC over the parsed fields and the photo's bytes (a retry has a new
multipart boundary, so the raw body would not do; a plain hash of such a small input could be
brute-forced for the ID number by whoever reads the table).

Concurrent duplicates: the key row, pointing at the attempt, is INSERTed in the transaction
that stores the attempt, right after the attempt's own INSERT (``submit``'s ``on_store``: no
transaction or savepoint of its own, no UPDATE after). A second request with the same key
blocks (PostgreSQL: on the advisory limit locks of the same user and ID number, or on the
uncommitted unique entry; SQLite: on the write lock) until the first commits, then fails on
the unique constraint, which rolls its whole transaction back (its attempt and events with
it: nothing published, nothing billed), and reads the first one's attempt. When the first
fails, its row is rolled back with it and the key stays free.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, router
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions

from .. import crypto
from ..conf import face_idcard_settings
from ..models import IdempotencyKey, VerificationAttempt
from ..services.submission import insert_rows
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


def _live(user: Any, key: str) -> IdempotencyKey | None:
    row: IdempotencyKey | None = (
        IdempotencyKey.objects.filter(
            user=user, key=key, expires_at__gt=timezone.now(), attempt__isnull=False
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
    create: Callable[[Callable[[VerificationAttempt], None]], VerificationAttempt],
) -> tuple[VerificationAttempt, bool]:
    """``(attempt, created)``: the first attempt for ``user`` and ``key``, else the one
    ``create(on_store)`` stores (``on_store`` goes to ``services.submit``)."""
    prints = fingerprints(fields, image)
    existing = _live(user, key)
    if existing is not None:
        return _replay(existing, prints), False
    using = router.db_for_write(IdempotencyKey)
    now = timezone.now()
    expires_at = now + timedelta(hours=float(face_idcard_settings.IDEMPOTENCY_TTL_HOURS))

    def claim(attempt: VerificationAttempt) -> None:
        row = IdempotencyKey(
            user=user,
            key=key,
            fingerprint=prints[0],
            attempt=attempt,
            created_at=now,
            expires_at=expires_at,
        )
        insert_rows([row], using=using)

    # Twice at most: the second time after removing an expired row that held the key.
    for _try in range(2):
        try:
            return create(claim), True
        except IntegrityError:
            existing = _live(user, key)
            if existing is not None:
                return _replay(existing, prints), False
            IdempotencyKey.objects.using(using).filter(
                user=user, key=key, expires_at__lte=timezone.now()
            ).delete()
    raise exceptions.APIException()  # the key stayed taken by no live row: cannot happen
