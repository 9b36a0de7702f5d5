"""``submit``: validate, store encrypted, refuse over the daily limits, enqueue on commit."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import audit, crypto
from ..backends import default_alias, get_backend
from ..conf import face_idcard_settings
from ..masking import mask_id_number, mask_name
from ..models import EventKind, VerificationAttempt
from ..states import Decision, Status
from ..validators import validate_id_number, validate_image, validate_name, validate_url
from . import slots
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


#: Namespaces (first key of the two-key form of ``pg_advisory_xact_lock``) so that our locks
#: cannot collide with a host site's advisory locks, nor an ID hash with a user id.
_PG_LOCK_NAMESPACE_ID = 0x46494431  # "FID1"
_PG_LOCK_NAMESPACE_USER = 0x46495531  # "FIU1"


def _limits_in_force(user: Any) -> tuple[int, int]:
    """The daily limits that apply to this submission (0: no limit)."""
    per_id = int(face_idcard_settings.MAX_ATTEMPTS_PER_ID_PER_DAY or 0)
    per_user = int(face_idcard_settings.MAX_ATTEMPTS_PER_USER_PER_DAY or 0)
    return per_id, per_user if user is not None else 0


def lock_limit_keys(*, using: str, idcard_hash: str, user: Any, per_id: int, per_user: int) -> None:
    """Serialise, until the current transaction ends, the submissions that share a limit key.

    Must be called inside the transaction that stores the attempt. Without it two concurrent
    submits count the same rows and both pass the limit (the count-then-insert race), which
    is exactly what an enumeration burst does.

    PostgreSQL: transaction-level advisory locks on the ID hash and on the user, one
    statement. Each lock is released at commit, after which the next holder's count (a new
    READ COMMITTED snapshot per statement) sees the stored row. The locks are always taken in
    the same order (ID, then user), so two submits cannot deadlock each other. This relies
    on READ COMMITTED, Django's default: under REPEATABLE READ the snapshot would be taken
    before the lock is granted. A caller that submits several attempts in one transaction
    of its own holds every lock until it commits; should that deadlock with another such
    caller, PostgreSQL aborts one of them: an error, never an attempt over the limit.

    SQLite serialises writers: :func:`submit` makes the INSERT the first statement of its
    transaction, so the write lock is taken (waiting out the busy timeout) before anything is
    read, and the count that follows sees every committed attempt. Nothing to do here.
    (Inside a caller's transaction that has already read, SQLite answers "database is
    locked" to the second writer instead of waiting: an error, never an attempt over the
    limit.)

    Other databases get no lock: there the limit holds for sequential submits only.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    calls: list[str] = []
    params: list[object] = []
    if per_id:
        calls.append("pg_advisory_xact_lock(%s::integer, hashtext(%s))")
        params += [_PG_LOCK_NAMESPACE_ID, idcard_hash]
    if per_user:
        calls.append("pg_advisory_xact_lock(%s::integer, hashtext(%s))")
        params += [_PG_LOCK_NAMESPACE_USER, str(user.pk)]
    if calls:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(calls), params)


def check_limits(
    *, using: str, idcard_hash: str, user: Any, now: datetime, per_id: int, per_user: int
) -> None:
    """Raise :class:`AttemptLimitExceeded` when the ID number or the user is over the day.

    A rolling 24 hours, counted over every attempt stored, whatever its outcome, INCLUDING
    the one being submitted: :func:`submit` calls this after its INSERT, inside the same
    transaction and under :func:`lock_limit_keys`, and the raise rolls the INSERT back.
    """
    since = now - timedelta(days=1)
    attempts = VerificationAttempt.objects.using(using).filter(created_at__gte=since)
    if per_id and attempts.filter(idcard_hash=idcard_hash).count() > per_id:
        logger.warning("attempt refused: daily limit per ID number reached")
        raise AttemptLimitExceeded()
    if per_user and attempts.filter(user=user).count() > per_user:
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
    backend_name = backend or default_alias()
    service = get_backend(backend_name)
    if url is not None and not service.accepts_url:
        raise ValidationError(
            _("This verification service does not take a photo address. Upload the photo."),
            code="url_not_accepted",
        )
    number = validate_id_number(idcard_number)
    name = validate_name(idcard_name)
    prepared = validate_image(image, service.image_limits) if image is not None else None
    clean_url = validate_url(url) if url is not None else ""

    now = timezone.now()
    user = _user_or_none(user)
    idcard_hash = crypto.id_number_hash(number)
    per_id, per_user = _limits_in_force(user)

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
    countdown: float | None = 0.0
    if enqueue:
        # A rate-limited backend: the attempt's slot now, so that its message comes once, when
        # the slot opens (or, far ahead, the sweeper publishes it).
        limit = service.rate_limit_per_second
        if limit is not None:
            slot = slots.reserve(limit, backend_name)
            countdown = slot.countdown
            for field, value in slot.fields.items():
                setattr(attempt, field, value)
    if prepared is not None:
        attempt.selfie_name = save_selfie(prepared.data)
        attempt.selfie_content_type = prepared.content_type
    using = router.db_for_write(VerificationAttempt)
    try:
        with transaction.atomic(using=using):
            # The order matters for the limits to hold under concurrent submits: lock (where
            # the database has advisory locks), INSERT as the first write, then count
            # including this row; over the limit, the raise rolls the INSERT back.
            lock_limit_keys(
                using=using, idcard_hash=idcard_hash, user=user, per_id=per_id, per_user=per_user
            )
            attempt.save(force_insert=True, using=using)
            check_limits(
                using=using,
                idcard_hash=idcard_hash,
                user=user,
                now=now,
                per_id=per_id,
                per_user=per_user,
            )
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
            if enqueue and countdown is not None:
                enqueue_on_commit(attempt.pk, backend_name, countdown or None)
    except BaseException:
        # The row was not stored (refused over a limit, or failed): do not leave an orphaned
        # encrypted selfie behind.
        delete_selfie(attempt.selfie_name)
        raise
    logger.info("attempt %s: created (backend %s)", attempt.pk, backend_name)
    return attempt
