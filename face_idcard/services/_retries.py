"""How often, and for how long, each retryable outcome may be tried again, and after how long.

One place for the retry budget, read by the pipeline (after a call, and while the circuit
breaker holds an attempt off a provider that is down) and the sweeper (after a lost worker), so
they cannot disagree about the ceiling.

A transient failure's budget is a time window, not a count: ``RETRY_WINDOW_MINUTES`` from the
attempt's first transient failure (``retry_until`` on its row). A provider that is down for a
minute costs an attempt one or two calls and a wait (the breaker, :mod:`._breaker`), never its
whole budget. ``RETRY_MAX_COUNT``, the count that was the budget before, still caps the retries
when a site sets it (default None: the window alone).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..conf import face_idcard_settings
from ..models import VerificationAttempt
from ..outcome import ErrorClass

#: The attempt's counter for each retryable class.
COUNTERS: Mapping[ErrorClass, str] = {
    ErrorClass.TRANSIENT: "retry_count",
    ErrorClass.RESIGN: "resign_count",
    ErrorClass.URL_FETCH: "url_fetch_count",
}

#: One more try each: a call refused as stale passes when signed afresh (the backend's
#: ``can_resign`` let the class through), and a url the provider failed to download twice
#: rarely works a third time (only backends that ``accepts_url`` are sent one).
RESIGN_RETRIES = 1
URL_FETCH_RETRIES = 1


def window() -> timedelta:
    """How long after its first transient failure an attempt keeps being retried."""
    return timedelta(minutes=float(face_idcard_settings.RETRY_WINDOW_MINUTES))


def budget(error_class: ErrorClass) -> int | None:
    """How many retries ``error_class`` gets in the whole life of an attempt (None: no count,
    the transient window alone)."""
    if error_class is ErrorClass.TRANSIENT:
        cap = face_idcard_settings.RETRY_MAX_COUNT
        return None if cap is None else int(cap)
    if error_class is ErrorClass.RESIGN:
        return RESIGN_RETRIES
    if error_class is ErrorClass.URL_FETCH:
        return URL_FETCH_RETRIES
    return 0


def within_window(attempt: VerificationAttempt, now: datetime | None = None) -> bool:
    """Whether the attempt's transient window is still open (or not started yet)."""
    until = attempt.retry_until
    return until is None or (now or timezone.now()) < until


def may_retry(
    attempt: VerificationAttempt, error_class: ErrorClass, now: datetime | None = None
) -> bool:
    counter = COUNTERS.get(error_class)
    if counter is None:
        return False
    ceiling = budget(error_class)
    if ceiling is not None and int(getattr(attempt, counter)) >= ceiling:
        return False
    return error_class is not ErrorClass.TRANSIENT or within_window(attempt, now)


def window_fields(attempt: VerificationAttempt, now: datetime | None = None) -> dict[str, Any]:
    """The write that starts the transient window at the first transient failure (or the
    first wait for a provider that is down); nothing once it has started."""
    if attempt.retry_until is not None:
        return {}
    return {"retry_until": (now or timezone.now()) + window()}


def next_counters(
    attempt: VerificationAttempt, error_class: ErrorClass, now: datetime | None = None
) -> dict[str, Any]:
    """The counter write that records one more retry of ``error_class`` (for a transient
    one, the start of its window too)."""
    counter = COUNTERS[error_class]
    fields: dict[str, Any] = {counter: int(getattr(attempt, counter)) + 1}
    if error_class is ErrorClass.TRANSIENT:
        fields.update(window_fields(attempt, now))
    return fields


def total_retries(attempt: VerificationAttempt) -> int:
    return sum(int(getattr(attempt, counter)) for counter in COUNTERS.values())


def backoff(retry_number: int) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**n)) seconds."""
    base = float(face_idcard_settings.RETRY_BACKOFF_BASE_SECONDS)
    cap = float(face_idcard_settings.RETRY_BACKOFF_MAX_SECONDS)
    ceiling = min(cap, base * (2 ** min(retry_number, 32)))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


def countdown(attempt: VerificationAttempt, error_class: ErrorClass) -> float:
    """Seconds to wait before the retry of ``error_class``."""
    if error_class is ErrorClass.TRANSIENT:
        wait = backoff(attempt.retry_count)
        if attempt.retry_until is not None:
            # Never past the window's end: the last try comes as the window closes, not a
            # whole backoff (up to RETRY_BACKOFF_MAX_SECONDS) after it.
            left = (attempt.retry_until - timezone.now()).total_seconds()
            wait = min(wait, max(0.0, left))
        return wait
    if error_class is ErrorClass.RESIGN:
        return 0.0  # a fresh signature is all it needs
    return backoff(0)
