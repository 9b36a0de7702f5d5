"""The provider rate limit shared through Django's cache: strict over any sliding window, and
callers are deferred, never failed."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings

from face_idcard import _ratelimit as ratelimit
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.simulator import SimulatorServer
from face_idcard.states import Status
from tests.support.celery_app import apply_face_settings, wait_terminal
from tests.support.factories import submit_attempt

# The throughput the module docstring promises, as a fraction of `limit` per `1 + margin` s.
PROMISED_FRACTION_LIMIT_1 = 0.75
PROMISED_FRACTION = 0.869
# Float rounding of slot boundaries (now / slot with now ~ 1e9 s) is far below this.
ROUNDING = 1e-6


def _limit(settings: Any, limit: int | None, margin: float = 0.1, **more: Any) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "RATE_LIMIT_PER_SECOND": limit,
        "RATE_LIMIT_MARGIN_SECONDS": margin,
        **more,
    }


@pytest.fixture
def unit_cache(settings: Any) -> None:
    """A LocMem cache of its own for the simulated-clock tests (fast, whatever the default)."""
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit_unit": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "ratelimit_unit",
        },
    }
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "RATE_LIMIT_CACHE": "ratelimit_unit"}


def _fresh_epoch(rng: random.Random) -> float:
    # Simulated clocks start at unrelated instants, so their slot keys never meet.
    return 1.5e9 + rng.randrange(10**6) * 10.0 + rng.random()


def _assert_strict(admitted: list[float], limit: int, span: float) -> None:
    """No interval of `span` seconds holds more than `limit` admissions."""
    admitted = sorted(admitted)
    for first, last in zip(admitted, admitted[limit:], strict=False):
        assert last - first > span - ROUNDING, (limit, span, first, last)


def test_no_limit_always_allows(settings: Any) -> None:
    _limit(settings, None)
    assert all(ratelimit.acquire().allowed for _ in range(100))


def test_every_plan_keeps_any_interval_under_the_limit() -> None:
    """The bound of the docstring, checked by brute force over where an interval can start."""
    for span in (1.0, 1.1, 1.5):
        for limit in range(1, 120):
            plan = ratelimit.schedule(limit, span)
            open_slots = [n * plan.slot for n in range(0, 60 * plan.period, plan.period)]
            # The count of open slots met by [a, a + span] only changes where a or a + span
            # crosses a slot edge: try every such edge and just beside it.
            edges = {start + d for start in open_slots for d in (0.0, plan.slot)}
            starts = {e + shift for e in edges for shift in (0.0, -span)}
            worst = 0
            for a in starts:
                for b in (a - 1e-7, a, a + 1e-7):
                    # Up to ROUNDING shorter than span: float edges are not exact.
                    reach = b + span - ROUNDING
                    met = sum(1 for s in open_slots if s <= reach and b < s + plan.slot)
                    worst = max(worst, met)
            assert worst * plan.capacity <= limit, (limit, span, plan)


@pytest.mark.usefixtures("unit_cache")
@pytest.mark.parametrize("margin", [0.0, 0.1])
def test_no_sliding_window_admits_more_than_the_limit(settings: Any, margin: float) -> None:
    rng = random.Random(4)
    span = 1.0 + margin
    duration = 2.5
    for limit in range(1, 51):
        _limit(settings, limit, margin, RATE_LIMIT_CACHE="ratelimit_unit")
        # Dense streams (the limiter saturated, admissions at slot starts) and streams about
        # as fast as the limit (admissions anywhere in a slot, also near its end).
        for mean_gap in (0.002, 0.7 / limit, 1.3 / limit):
            start = _fresh_epoch(rng)
            now, admitted = start, []
            while now < start + duration:
                if ratelimit.acquire(now).allowed:
                    admitted.append(now)
                now += rng.expovariate(1 / mean_gap)
            _assert_strict(admitted, limit, span)
            if mean_gap == 0.002:
                promised = PROMISED_FRACTION_LIMIT_1 if limit == 1 else PROMISED_FRACTION
                # Less one limit's worth for the partial periods at both ends of the run.
                assert len(admitted) >= promised * limit * duration / span - limit, limit


@pytest.mark.usefixtures("unit_cache")
def test_a_deferred_caller_is_sent_to_an_open_slot(settings: Any) -> None:
    rng = random.Random(7)
    for limit in (1, 2, 3, 7, 30):
        _limit(settings, limit, RATE_LIMIT_CACHE="ratelimit_unit")
        now = _fresh_epoch(rng)
        # Fill whatever slot is current, then ask once more.
        while ratelimit.acquire(now).allowed:
            pass
        permit = ratelimit.acquire(now)
        assert not permit.allowed
        assert 0 < permit.retry_after < 3.5
        # Nobody else is waiting: coming back when told to is admitted.
        assert ratelimit.acquire(now + permit.retry_after).allowed, limit


@pytest.mark.usefixtures("unit_cache")
def test_a_backlog_is_spread_over_the_coming_slots(settings: Any) -> None:
    _limit(settings, 10, RATE_LIMIT_CACHE="ratelimit_unit")
    now = _fresh_epoch(random.Random(9))
    while not ratelimit.acquire(now).allowed:
        now += 0.001
    denied = [ratelimit.acquire(now) for _ in range(12)]
    assert not any(p.allowed for p in denied)
    retries = sorted(now + p.retry_after for p in denied)
    assert retries[-1] - retries[0] > 0.5  # not all at the next slot
    # Replayed at their retry times, with no other traffic, every one of them is admitted.
    assert all(ratelimit.acquire(at).allowed for at in retries)


def test_workers_share_the_count_through_the_cache(settings: Any) -> None:
    """Real clock, real default cache (Redis when the test broker is Redis), several threads
    each taking permits as fast as they are allowed to."""
    limit, margin, duration, threads = 10, 0.1, 2.0, 4
    _limit(settings, limit, margin)
    admitted: list[float] = []
    lock = threading.Lock()
    stop = time.time() + duration
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while (now := time.time()) < stop:
                permit = ratelimit.acquire(now)
                if permit.allowed:
                    with lock:
                        admitted.append(now)
                else:
                    time.sleep(min(permit.retry_after, max(0.0, stop - time.time())))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not errors
    _assert_strict(admitted, limit, 1.0 + margin)
    # Deferred callers come back in time to use most of the quota.
    assert len(admitted) >= 0.8 * PROMISED_FRACTION * limit * duration / (1 + margin)


def test_the_cache_backend_is_the_configured_one() -> None:
    # The threaded test above ran against Redis in the Redis configuration, LocMem otherwise.
    from django.core.cache import caches

    backend = type(caches["default"]).__name__
    expected = "RedisCache" if django_settings.TEST_BROKER.startswith("redis://") else "LocMemCache"
    assert backend == expected


def _submit_many(count: int) -> list[Any]:
    return [submit_attempt(idcard_name="周八") for _ in range(count)]


@pytest.mark.pipeline
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_pipeline_stays_under_the_providers_sliding_quota(
    settings: Any, simulator_factory: Callable[..., SimulatorServer]
) -> None:
    """The simulator answers code 15 above `qps` in any sliding second; the pipeline, limited
    to the same figure, never gets that answer: it defers, and every attempt completes."""
    qps, count = 6, 18
    sim = simulator_factory(qps=qps)
    apply_face_settings(settings, sim, RATE_LIMIT_PER_SECOND=qps)
    started = time.monotonic()
    attempts = _submit_many(count)
    done = [wait_terminal(a.pk, timeout=30) for a in attempts]
    elapsed = time.monotonic() - started
    assert all(a.status == Status.COMPLETED for a in done)
    assert all(a.retry_count == 0 and a.provider_calls == 1 for a in done)
    assert not VerificationAttempt.objects.filter(
        pk__in=[a.pk for a in attempts], events__kind=EventKind.RETRY_SCHEDULED.value
    ).exists()
    time.sleep(0.05)
    calls = sim.ledger.calls()
    assert len(calls) == count
    assert [c.code for c in calls if c.code in (15, "15")] == []
    # Deferred, not failed: the run spans several seconds, as the quota requires.
    assert elapsed > (count - qps) / qps


# --- Reserved slots (issue 10) --------------------------------------------------------------


@pytest.mark.usefixtures("unit_cache")
@pytest.mark.parametrize("limit", [1, 3, 20, 37])
def test_reservations_keep_the_strict_window_and_fill_every_slot(settings: Any, limit: int) -> None:
    """A backlog that reserves all at once gets one slot each, in order, with no interval of
    1 s + margin holding more than the limit, mixed with callers taking the current slot."""
    _limit(settings, limit, RATE_LIMIT_CACHE="ratelimit_unit")
    rng = random.Random(limit)
    now = _fresh_epoch(rng)
    admitted: list[float] = []
    reservations = []
    for _ in range(40 * limit):
        if ratelimit.acquire(now).allowed:
            admitted.append(now)
        else:
            reservation = ratelimit.reserve(now)
            assert reservation is not None
            reservations.append(reservation)
    # Each holder arrives once, when told, and finds its slot its own.
    for reservation in reservations:
        at = reservation.arrival()
        assert ratelimit.holds(reservation.start, reservation.end, at)
        assert at > now
        admitted.append(at)
    plan = ratelimit.schedule(limit, ratelimit.span_seconds())
    _assert_strict(admitted, limit, plan.span)
    # No slot was skipped: the backlog ends where the sustained rate says it should.
    last = max(r.end for r in reservations)
    assert last - now <= len(admitted) / (plan.per_span / plan.span) + 2 * plan.slot * plan.period


@pytest.mark.usefixtures("unit_cache")
def test_a_reserved_slot_is_not_given_to_a_caller_arriving_in_it(settings: Any) -> None:
    _limit(settings, 20, RATE_LIMIT_CACHE="ratelimit_unit")
    now = _fresh_epoch(random.Random(11))
    while ratelimit.acquire(now).allowed:
        pass
    reservation = ratelimit.reserve(now)
    assert reservation is not None
    # Capacity is one per slot at 20 req/s: the holder took it, a newcomer is turned away.
    assert not ratelimit.available(reservation.start)
    assert not ratelimit.acquire(reservation.start).allowed
    # After the slot, a late holder no longer holds it.
    assert not ratelimit.holds(reservation.start, reservation.end, reservation.end)


@pytest.mark.usefixtures("unit_cache")
def test_the_next_free_slot_hint_keeps_reservations_to_a_probe_or_two(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(settings, 20, RATE_LIMIT_CACHE="ratelimit_unit")
    now = _fresh_epoch(random.Random(12))
    taken: list[int] = []
    original = ratelimit._take

    def counting(*args: Any, **kwargs: Any) -> int:
        taken.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ratelimit, "_take", counting)
    for _ in range(2000):
        ratelimit.reserve(now)
    assert len(taken) <= 2000 * 1.01


def test_no_limit_reserves_nothing(settings: Any) -> None:
    _limit(settings, None)
    assert ratelimit.reserve() is None
    assert ratelimit.available()
