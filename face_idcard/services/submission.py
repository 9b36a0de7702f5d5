"""``submit``: validate, refuse over the daily limits, store encrypted, enqueue on commit."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import audit, crypto
from ..backends import get_backend
from ..conf import face_idcard_settings
from ..masking import mask_id_number, mask_name
from ..models import EventKind, VerificationAttempt
from ..states import Decision, Status
from ..validators import validate_id_number, validate_image, validate_name, validate_url
from .common import (
    AttemptLimitExceeded,
    ConsentRequired,
    delete_selfie,
    enqueue_on_commit,
    save_selfie,
)

logger = logging.getLogger("face_idcard.services")


def _user_or_none(user: Any) -> Any:
    if user is None or not getattr(user, "is_authenticated", False) or not user.pk:
        return None
    return user


def check_limits(*, idcard_hash: str, user: Any, now: datetime) -> None:
    """Raise :class:`AttemptLimitExceeded` when the ID number or the user used up the day.

    A rolling 24 hours, counted over every attempt stored, whatever its outcome.
    """
    since = now - timedelta(days=1)
    attempts = VerificationAttempt.objects.filter(created_at__gte=since)
    per_id = face_idcard_settings.MAX_ATTEMPTS_PER_ID_PER_DAY
    if per_id and attempts.filter(idcard_hash=idcard_hash).count() >= int(per_id):
        logger.warning("attempt refused: daily limit per ID number reached")
        raise AttemptLimitExceeded()
    per_user = face_idcard_settings.MAX_ATTEMPTS_PER_USER_PER_DAY
    if per_user and user is not None and attempts.filter(user=user).count() >= int(per_user):
        logger.warning("attempt refused: daily limit per user reached (user id %s)", user.pk)
        raise AttemptLimitExceeded()


def submit(
    *,
    idcard_number: str,
    idcard_name: str,
    image: bytes | None = None,
    url: str | None = None,
    user: Any = None,
    consent_at: datetime | None,
    notice_version: str | None = None,
    external_reference: str = "",
    backend: str | None = None,
    enqueue: bool = True,
) -> VerificationAttempt:
    """Store a new attempt and (on commit) queue it for the pipeline.

    Validates everything first: bad input is refused with a ``ValidationError`` before
    anything is stored or sent. Raises :class:`ConsentRequired` without ``consent_at`` and
    :class:`AttemptLimitExceeded` over the daily limits.
    """
    if consent_at is None:
        raise ConsentRequired()
    if (image is None) == (url is None):
        raise ValidationError(
            _("Send either a photo or the address of a photo."), code="image_or_url"
        )
    backend_name = backend or str(face_idcard_settings.BACKEND)
    service = get_backend(backend_name)
    number = validate_id_number(idcard_number)
    name = validate_name(idcard_name)
    prepared = validate_image(image, service.image_limits) if image is not None else None
    clean_url = validate_url(url) if url is not None else ""

    now = timezone.now()
    user = _user_or_none(user)
    idcard_hash = crypto.id_number_hash(number)
    check_limits(idcard_hash=idcard_hash, user=user, now=now)

    attempt = VerificationAttempt(
        id=uuid4(),
        user=user,
        backend=backend_name,
        idcard_number_encrypted=crypto.encrypt_text(number),
        idcard_name_encrypted=crypto.encrypt_text(name),
        idcard_hash=idcard_hash,
        idcard_number_masked=mask_id_number(number),
        idcard_name_masked=mask_name(name),
        url_encrypted=crypto.encrypt_text(clean_url),
        consent_at=consent_at,
        notice_version=(
            notice_version if notice_version is not None else face_idcard_settings.NOTICE_VERSION
        ),
        external_reference=external_reference,
        status=Status.QUEUED.value,
        decision=Decision.NONE.value,
        created_at=now,
        queued_at=now,
    )
    if prepared is not None:
        attempt.selfie_name = save_selfie(prepared.data)
        attempt.selfie_content_type = prepared.content_type
    try:
        with transaction.atomic():
            attempt.save(force_insert=True)
            audit.record_many(
                [
                    audit.event(
                        attempt,
                        EventKind.CREATED,
                        actor=user,
                        backend=backend_name,
                        mode="url" if clean_url else "image",
                        notice_version=attempt.notice_version,
                    ),
                    audit.event(attempt, EventKind.QUEUED, enqueued=enqueue),
                ]
            )
            if enqueue:
                enqueue_on_commit(attempt.pk)
    except BaseException:
        # The row was not stored: do not leave an orphaned encrypted selfie behind.
        delete_selfie(attempt.selfie_name)
        raise
    logger.info("attempt %s: created (backend %s)", attempt.pk, backend_name)
    return attempt
