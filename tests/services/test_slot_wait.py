"""A run that finds the quota used up waits in the worker for a slot that opens within a
second (issue 30, item 3), and goes through the broker only for a slot further ahead.

The broker's countdown is kept by the worker's timer, which wakes about once a second: a
deferred message for a slot shorter than that arrived after its slot, was deferred again, and
missed the next one too (a lone attempt waited 8 to 15 s). Real clock, the simulator over
real HTTP.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from face_idcard import _ratelimit as ratelimit
from face_idcard import services
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.services import _slots as slots
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support import imagefactory
from tests.support.celery_app import ledger_calls
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db(transaction=True)

submit = functools.partial(submit_attempt, idcard_name="赵六", enqueue=False)


@pytest.fixture
def limited(settings: Any, face_settings: Callable[..., None]) -> Callable[[int], None]:
    settings.CACHES = {
        **settings.CACHES,
        "slot_wait": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "slot_wait",
        },
    }
    caches["slot_wait"].clear()

    def apply(limit: int) -> None:
        face_settings(RATE_LIMIT_PER_SECOND=limit, RATE_LIMIT_CACHE="slot_wait")

    return apply


def _fill_current_slot(limit: int, alias: str) -> None:
    while ratelimit.acquire(limit=limit, scope=alias).allowed:
        pass


def _take_the_coming_seconds(alias: str) -> None:
    """At 1 request a second, fill the current slot, reserve the coming ones and take the
    first places in line, so that both the first free slot and the next turn in line are
    more than twice the in-process wait away."""
    _fill_current_slot(1, alias)
    for take in (ratelimit.reserve, ratelimit.ticket):
        while True:
            reservation = take(limit=1, scope=alias)
            assert reservation is not None
            if reservation.start - time.time() > 2 * slots.WAIT_IN_PROCESS_SECONDS:
                break


def _slot_starts(limit: int) -> float:
    """How far apart the quota's open slots start, in seconds."""
    plan = ratelimit.schedule(limit, ratelimit.span_seconds())
    return plan.slot * plan.period


def test_a_run_in_a_full_slot_waits_in_the_worker_for_a_near_slot(
    limited: Callable[[int], None], simulator: Any
) -> None:
    limited(20)
    assert _slot_starts(20) < slots.WAIT_IN_PROCESS_SECONDS
    attempt = submit(magic.MATCH)
    _fill_current_slot(20, attempt.backend)
    started = time.monotonic()
    outcome = pipeline.run(attempt.pk)
    waited = time.monotonic() - started
    # Decided in this run: no deferral, no second message, one call.
    assert (outcome.action, outcome.status) == ("done", Status.COMPLETED.value)
    assert len(ledger_calls(simulator, attempt.pk)) == 1
    assert waited < slots.WAIT_IN_PROCESS_SECONDS + 1.0
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.claim_token is None and row.provider_calls == 1


def test_the_waiting_run_calls_inside_its_reserved_slot(
    limited: Callable[[int], None], simulator: Any
) -> None:
    """The slot the run waited for is the one it calls in: the call goes out after the full
    slot has closed, so the quota's bound holds."""
    limited(20)
    attempt = submit(magic.MATCH)
    plan = ratelimit.schedule(20, ratelimit.span_seconds())
    # The slot current before the filling is full (and so is any the filling ran into).
    full_slot = int(time.time() // plan.slot)
    _fill_current_slot(20, attempt.backend)
    pipeline.run(attempt.pk)
    call = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.PROVIDER_CALL)
    # The event is written after the answer; the call went out at or after the next slot.
    assert call.created_at.timestamp() >= (full_slot + 1) * plan.slot


def test_a_slot_beyond_the_wait_goes_through_the_broker(
    limited: Callable[[int], None], simulator: Any
) -> None:
    limited(1)
    attempt = submit(magic.MATCH)
    _take_the_coming_seconds(attempt.backend)
    started = time.monotonic()
    outcome = pipeline.run(attempt.pk)
    # Deferred at once, not slept on: the claim is given back with the slot on the row.
    assert time.monotonic() - started < slots.WAIT_IN_PROCESS_SECONDS
    assert outcome.action == "defer"
    assert outcome.countdown > slots.WAIT_IN_PROCESS_SECONDS
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert (row.status, row.claim_token, row.provider_calls) == (Status.QUEUED, None, 0)
    assert ledger_calls(simulator, attempt.pk) == []


def test_a_submit_for_a_near_slot_sends_at_once_and_the_run_waits_for_its_slot(
    limited: Callable[[int], None], simulator: Any, dispatched: Any
) -> None:
    """The message of an attempt whose reserved slot is near goes out with no countdown (no
    broker timer); the run that comes early waits for the slot, then calls in it."""
    limited(3)  # an open slot each 0.4 s
    first = submit(magic.MATCH)
    _fill_current_slot(3, first.backend)
    # And the next one: the attempt's slot is 0.4 to 0.8 s away, near but not yet open.
    assert ratelimit.reserve(limit=3, scope=first.backend) is not None
    attempt = services.submit(
        idcard_number=magic.MATCH,
        idcard_name="赵六",
        image=imagefactory.jpeg(320, 240),
        consent_at=timezone.now(),
    )
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    [(sent, countdown)] = dispatched.sent
    assert sent == attempt.pk and not countdown  # sent now
    outcome = pipeline.run(attempt.pk)
    assert (outcome.action, outcome.status) == ("done", Status.COMPLETED.value)
    call = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.PROVIDER_CALL)
    assert call.created_at >= row.next_attempt_at
    assert len(ledger_calls(simulator, attempt.pk)) == 1


def test_a_submit_for_a_far_slot_goes_through_the_broker(
    limited: Callable[[int], None], dispatched: Any
) -> None:
    limited(1)
    first = submit(magic.MATCH)
    _take_the_coming_seconds(first.backend)
    attempt = services.submit(
        idcard_number=magic.MATCH,
        idcard_name="赵六",
        image=imagefactory.jpeg(320, 240),
        consent_at=timezone.now(),
    )
    [(sent, countdown)] = dispatched.sent
    assert sent == attempt.pk
    assert countdown is not None and countdown > slots.WAIT_IN_PROCESS_SECONDS
