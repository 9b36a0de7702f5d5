"""Claiming an attempt: the conditional UPDATE that lets exactly one worker call the provider.

``status IN (queued, retry_wait) AND (lease is null or expired) AND (not waiting for a later
retry)`` → ``processing`` with a fresh claim token and lease, through the ORM's
``QuerySet.update`` (one UPDATE, atomic on every database: of concurrent claims, exactly one
matches the row). The winner then reads the row back by its claim token.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from django.db import router
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from ..conf import face_idcard_settings
from ..models import VerificationAttempt
from ..states import CLAIMABLE, Status


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=float(face_idcard_settings.CLAIM_LEASE_SECONDS))


def claim(attempt_id: UUID, now: datetime) -> VerificationAttempt | None:
    """The attempt, now ``processing`` under a new claim token, or None if not claimable."""
    alias = router.db_for_write(VerificationAttempt)
    attempts = VerificationAttempt._base_manager.using(alias)
    token = uuid4()
    won = (
        attempts.filter(pk=attempt_id, status__in=sorted(CLAIMABLE))
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Status.PROCESSING.value,
            claim_token=token,
            lease_expires_at=lease_until(now),
            started_at=Coalesce(F("started_at"), now),
            provider_calls=F("provider_calls") + 1,
        )
    )
    if won != 1:
        return None
    # Read back by the token: had another worker claimed the row again in between (possible
    # only once the lease ran out), the claim is lost rather than acted on twice.
    claimed: VerificationAttempt | None = attempts.filter(pk=attempt_id, claim_token=token).first()
    return claimed
