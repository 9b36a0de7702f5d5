"""A transient failure's retry never lands past the attempt's retry window: the last try comes
as the window closes, not a whole backoff (up to ``RETRY_BACKOFF_MAX_SECONDS``) after it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard.models import VerificationAttempt
from face_idcard.outcome import ErrorClass
from face_idcard.services import _retries as retries


def _attempt(**fields: Any) -> VerificationAttempt:
    # Not saved: countdown reads the row's counters and window only.
    return VerificationAttempt(**fields)


@pytest.mark.parametrize("left", [0.0, 3.0, 40.0])
def test_a_retry_is_never_scheduled_past_the_window(face_settings: Any, left: float) -> None:
    face_settings(RETRY_BACKOFF_BASE_SECONDS=2.0, RETRY_BACKOFF_MAX_SECONDS=300.0)
    # Ten failures in: the backoff is drawn from up to 300 s.
    attempt = _attempt(retry_count=10, retry_until=timezone.now() + timedelta(seconds=left))
    waits = [retries.countdown(attempt, ErrorClass.TRANSIENT) for _ in range(200)]
    assert all(0.0 <= wait <= left + 0.01 for wait in waits), max(waits)


def test_within_the_window_the_backoff_is_drawn_as_before(face_settings: Any) -> None:
    face_settings(RETRY_BACKOFF_BASE_SECONDS=2.0, RETRY_BACKOFF_MAX_SECONDS=300.0)
    attempt = _attempt(retry_count=10, retry_until=timezone.now() + timedelta(hours=1))
    waits = [retries.countdown(attempt, ErrorClass.TRANSIENT) for _ in range(200)]
    assert max(waits) > 100.0  # uniform over [0, 300]: the cap never binds here
    assert all(0.0 <= wait <= 300.0 for wait in waits)


def test_a_first_failure_has_no_window_yet(face_settings: Any) -> None:
    face_settings(RETRY_BACKOFF_BASE_SECONDS=2.0, RETRY_BACKOFF_MAX_SECONDS=300.0)
    attempt = _attempt(retry_count=0, retry_until=None)
    assert all(0.0 <= retries.countdown(attempt, ErrorClass.TRANSIENT) <= 2.0 for _ in range(50))
