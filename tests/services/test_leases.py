"""``face_idcard.services._leases``: the lease's length and the recovery of expired ones, called
directly (the sweeper's and the pipeline's paths through it: test_sweeper, test_deferred_runs)."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import _leases as leases
from face_idcard.states import Status
from tests.support.dispatchers import RecordingDispatcher
from tests.support.factories import submit_attempt

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt_timezone.utc)


submit = functools.partial(submit_attempt, idcard_name="王五", enqueue=False)


def expired(attempt: VerificationAttempt, seconds_ago: float) -> uuid.UUID:
    """What a killed worker leaves behind, its lease run out ``seconds_ago``; its token."""
    token = uuid.uuid4()
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        status=Status.PROCESSING.value,
        claim_token=token,
        lease_expires_at=timezone.now() - timedelta(seconds=seconds_ago),
        provider_calls=1,
    )
    return token


@pytest.mark.parametrize("lease_seconds", [1, 300])
def test_the_lease_comes_from_the_settings(settings: Any, lease_seconds: int) -> None:
    settings.FACE_IDCARD = {"CLAIM_LEASE_SECONDS": lease_seconds}
    assert leases.lease_until(NOW) == NOW + timedelta(seconds=lease_seconds)


@pytest.mark.django_db
def test_recovery_takes_the_oldest_first_within_the_batch(
    face_settings: Any, dispatched: RecordingDispatcher
) -> None:
    newer, older, live = submit(), submit(), submit()
    token = expired(older, seconds_ago=20)
    expired(newer, seconds_ago=10)
    VerificationAttempt.objects.filter(pk=live.pk).update(
        status=Status.PROCESSING.value,
        claim_token=uuid.uuid4(),
        lease_expires_at=timezone.now() + timedelta(seconds=60),
    )
    assert leases.recover_expired(timezone.now(), batch=1) == (1, 0)
    row = VerificationAttempt.objects.get(pk=older.pk)
    assert row.status == Status.QUEUED
    assert row.lease_expires_at is None
    assert row.claim_token == token  # kept for a late answer from that worker
    assert row.retry_count == 1
    assert row.events.filter(kind=EventKind.REQUEUED_BY_SWEEPER.value).count() == 1
    assert VerificationAttempt.objects.get(pk=newer.pk).status == Status.PROCESSING
    # The rest next time; the live lease never.
    assert leases.recover_expired(timezone.now(), batch=10) == (1, 0)
    assert VerificationAttempt.objects.get(pk=live.pk).status == Status.PROCESSING


@pytest.mark.django_db
def test_recovery_under_fail_ends_the_attempt_and_keeps_the_token(
    face_settings: Any, dispatched: RecordingDispatcher
) -> None:
    face_settings(LOST_CALL_POLICY="fail")
    attempt = submit()
    token = expired(attempt, seconds_ago=10)
    assert leases.recover_expired(timezone.now(), batch=10) == (0, 1)
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert (row.status, row.error_code, row.error_class) == (
        Status.FAILED,
        "internal.worker_lost",
        "unknown",
    )
    assert row.claim_token == token and row.lease_expires_at is None
    assert dispatched.sent == []  # never called again


@pytest.mark.django_db
def test_an_unknown_lost_call_policy_is_refused_before_any_change(
    face_settings: Any, dispatched: RecordingDispatcher
) -> None:
    face_settings(LOST_CALL_POLICY="retry")
    attempt = submit()
    expired(attempt, seconds_ago=10)
    with pytest.raises(ImproperlyConfigured, match="LOST_CALL_POLICY"):
        leases.recover_expired(timezone.now(), batch=10)
    assert VerificationAttempt.objects.get(pk=attempt.pk).status == Status.PROCESSING
