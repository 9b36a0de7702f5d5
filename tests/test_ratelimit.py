"""The provider rate limit shared through Django's cache: callers are deferred, never failed."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from face_idcard import ratelimit, services
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests import imagefactory
from tests.celery_app import wait_terminal


@pytest.fixture(autouse=True)
def _clear_windows() -> None:
    # Only our keys: with Redis the test cache shares its database with the Celery broker,
    # and cache.clear() would flush the broker's queues too.
    now = math.floor(time.time())
    caches["default"].delete_many([f"{ratelimit.KEY_PREFIX}{w}" for w in range(now - 5, now + 30)])


def test_no_limit_always_allows(settings: Any) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "RATE_LIMIT_PER_SECOND": None}
    assert all(ratelimit.acquire().allowed for _ in range(100))


def test_window_allows_the_limit_then_defers_to_the_next_second(settings: Any) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "RATE_LIMIT_PER_SECOND": 3}
    now = math.floor(time.time()) + 0.4
    permits = [ratelimit.acquire(now) for _ in range(5)]
    assert [p.allowed for p in permits] == [True, True, True, False, False]
    for permit in permits[3:]:
        # Wait until the next window (0.6 s away) plus at most 0.25 s of jitter.
        assert 0.6 <= permit.retry_after <= 0.85 + 1e-9
    assert ratelimit.acquire(now + 1).allowed


def test_the_count_is_shared_through_the_cache(settings: Any) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "RATE_LIMIT_PER_SECOND": 2}
    now = math.floor(time.time()) + 0.1
    assert ratelimit.acquire(now).allowed
    # Another process would see the same cache key: simulate its call by incrementing it.
    caches["default"].incr(f"{ratelimit.KEY_PREFIX}{math.floor(now)}")
    assert not ratelimit.acquire(now).allowed


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_pipeline_defers_instead_of_failing(face_settings: Any, simulator: Any) -> None:
    face_settings(RATE_LIMIT_PER_SECOND=2)
    # Start early in a second so that every call lands well inside its window.
    while time.time() % 1 > 0.1:
        time.sleep(0.01)
    image = imagefactory.jpeg(320, 240)
    attempts = [
        services.submit(
            idcard_number=magic.MATCH,
            idcard_name="周八",
            image=image,
            consent_at=timezone.now(),
        )
        for _ in range(5)
    ]
    done = [wait_terminal(a.pk, timeout=20) for a in attempts]
    assert all(a.status == Status.COMPLETED for a in done)
    assert all(a.retry_count == 0 and a.provider_calls == 1 for a in done)
    assert not VerificationAttempt.objects.filter(
        events__kind=EventKind.RETRY_SCHEDULED.value
    ).exists()
    time.sleep(0.05)
    per_second = Counter(math.floor(call.time) for call in simulator.ledger.calls())
    assert sum(per_second.values()) == 5
    assert max(per_second.values()) <= 2
    assert len(per_second) >= 3
