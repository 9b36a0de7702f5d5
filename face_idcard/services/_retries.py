"""How often each retryable outcome may be tried again, and after how long.

One place for the retry budget, read by the pipeline (after a call) and the sweeper (after a
lost worker), so the two cannot disagree about the ceiling.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

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


def budget(error_class: ErrorClass) -> int:
    """How many retries ``error_class`` gets in the whole life of an attempt."""
    if error_class is ErrorClass.TRANSIENT:
        return int(face_idcard_settings.MAX_RETRIES)
    if error_class is ErrorClass.RESIGN:
        return RESIGN_RETRIES
    if error_class is ErrorClass.URL_FETCH:
        return URL_FETCH_RETRIES
    return 0


def may_retry(attempt: VerificationAttempt, error_class: ErrorClass) -> bool:
    counter = COUNTERS.get(error_class)
    return counter is not None and int(getattr(attempt, counter)) < budget(error_class)


def next_counters(attempt: VerificationAttempt, error_class: ErrorClass) -> dict[str, int]:
    """The counter write that records one more retry of ``error_class``."""
    counter = COUNTERS[error_class]
    return {counter: int(getattr(attempt, counter)) + 1}


def total_retries(attempt: VerificationAttempt) -> int:
    return sum(int(getattr(attempt, counter)) for counter in COUNTERS.values())


def backoff(retry_number: int) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**n)) seconds."""
    base = float(face_idcard_settings.RETRY_BACKOFF_BASE)
    cap = float(face_idcard_settings.RETRY_BACKOFF_MAX)
    ceiling = min(cap, base * (2 ** min(retry_number, 32)))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


def countdown(attempt: VerificationAttempt, error_class: ErrorClass) -> float:
    """Seconds to wait before the retry of ``error_class``."""
    if error_class is ErrorClass.TRANSIENT:
        return backoff(attempt.retry_count)
    if error_class is ErrorClass.RESIGN:
        return 0.0  # a fresh signature is all it needs
    return backoff(0)
