"""The rate limiter as tables, on a simulated clock and a LocMem cache of its own: the slot
plans the module docstring promises, what acquire, available, reserve and holds answer at the
edges of a slot, how far a caller is deferred, and how long a count lives. No database, no
worker, no real seconds (the fast selection `make mutation` runs for ratelimit.py)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import time_machine
from django.core.cache import caches

from face_idcard import _ratelimit as ratelimit

SPAN = 1.1  # the default margin of 0.1 s
CACHE = "ratelimit_table"


@pytest.fixture
def table_cache(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        CACHE: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": CACHE},
    }
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "RATE_LIMIT_CACHE": CACHE,
        "RATE_LIMIT_PER_SECOND": 10,
        "RATE_LIMIT_MARGIN_SECONDS": 0.1,
    }
    caches[CACHE].clear()


def _limit(settings: Any, limit: int | float | None, margin: float | None = 0.1) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "RATE_LIMIT_PER_SECOND": limit,
        "RATE_LIMIT_MARGIN_SECONDS": margin,
    }


# --- The plan ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "slots", "period", "capacity"),
    [
        # The docstring: L = 1 is one request in a slot of T/3, then T closed.
        (1, 3, 4, 1),
        (2, 7, 4, 1),
        (5, 19, 4, 1),
        (10, 19, 2, 1),
        (20, 19, 1, 1),
        (50, 19, 2, 5),
        (100, 19, 1, 5),
    ],
)
def test_the_plan_for_a_limit(limit: int, slots: int, period: int, capacity: int) -> None:
    plan = ratelimit.schedule(limit, SPAN)
    assert (round(SPAN / plan.slot), plan.period, plan.capacity) == (slots, period, capacity)
    assert (plan.limit, plan.span) == (limit, SPAN)


def test_every_plan_keeps_the_documented_bounds() -> None:
    for limit in range(1, 301):
        plan = ratelimit.schedule(limit, SPAN)
        # Slots no shorter than T / 20, at most every fourth one open.
        assert plan.slot >= SPAN / 20 - 1e-12, limit
        assert 1 <= plan.period <= 4, limit
        touched = math.ceil((round(SPAN / plan.slot) + 1) / plan.period)
        assert touched * plan.capacity <= limit, limit
        expected = 0.75 if limit == 1 else 0.869
        assert plan.fraction >= expected - 1e-9, limit
        assert plan.per_span == pytest.approx(plan.fraction * limit)
    for limit in (5, 10, 20, 40, 50, 100):
        assert ratelimit.schedule(limit, SPAN).fraction == pytest.approx(0.95)
    assert ratelimit.schedule(1, SPAN).fraction == pytest.approx(0.75)


@pytest.mark.parametrize(("limit", "span"), [(0, 1.0), (-1, 1.0), (1, 0.0), (1, -1.0)])
def test_an_impossible_plan_is_refused(limit: int, span: float) -> None:
    with pytest.raises(ValueError):
        ratelimit.schedule(limit, span)


@pytest.mark.parametrize(
    ("configured", "limit"),
    [(None, None), (10, 10), (1, 1), (0, 1), (-3, 1), (2.9, 2), ("7", 7)],
)
def test_the_configured_limit(settings: Any, configured: object, limit: int | None) -> None:
    _limit(settings, configured)  # type: ignore[arg-type]
    assert ratelimit.limit_per_second() == limit


@pytest.mark.parametrize(
    ("margin", "span"), [(0.1, 1.1), (0.0, 1.0), (None, 1.0), (-0.5, 1.0), (0.25, 1.25)]
)
def test_the_span_is_one_second_plus_the_margin(
    settings: Any, margin: float | None, span: float
) -> None:
    _limit(settings, 10, margin)
    assert ratelimit.span_seconds() == pytest.approx(span)


# --- acquire and available at the edges of a slot --------------------------------------------

# 10 req/s over 1.1 s: 19 slots of 1.1/19 s, every second one open, one request each.
PLAN_10 = ratelimit.schedule(10, SPAN)


def _open_slot(index: int) -> float:
    """The start of an open slot of PLAN_10 (index rounded up to one)."""
    return (index + (-index % PLAN_10.period)) * PLAN_10.slot


@pytest.mark.usefixtures("table_cache")
def test_an_open_slot_admits_its_capacity_then_defers_to_the_next_open_one() -> None:
    start = _open_slot(10**9)
    inside = start + PLAN_10.slot / 2
    random.seed(3)
    assert ratelimit.available(inside)
    assert ratelimit.acquire(inside) == ratelimit.ALLOWED
    assert not ratelimit.available(inside)
    denied = ratelimit.acquire(inside)
    assert not denied.allowed
    # Sent to the next open slot, within the first half of it (jitter), a microsecond past.
    next_open = start + PLAN_10.period * PLAN_10.slot
    arrival = inside + denied.retry_after
    assert next_open + 1e-6 - 1e-9 <= arrival <= next_open + 0.5 * PLAN_10.slot + 1e-6 + 1e-9
    assert ratelimit.acquire(arrival).allowed


@pytest.mark.usefixtures("table_cache")
def test_a_closed_slot_admits_nothing_and_takes_nothing() -> None:
    start = _open_slot(10**9 + 7)
    closed = start + PLAN_10.slot * 1.5  # the slot after an open one (period 2)
    assert not ratelimit.available(closed)
    permit = ratelimit.acquire(closed)
    assert not permit.allowed
    assert 0 < permit.retry_after <= PLAN_10.slot * 0.5 + PLAN_10.slot / 2 + 1e-6 + 1e-9
    # Nothing was counted: the next open slot still has its capacity.
    assert ratelimit.acquire(start + PLAN_10.period * PLAN_10.slot).allowed


@pytest.mark.usefixtures("table_cache")
def test_the_first_instant_of_a_slot_belongs_to_it() -> None:
    start = _open_slot(10**9 + 11)
    assert ratelimit.acquire(start).allowed
    assert not ratelimit.available(start + PLAN_10.slot * 0.999)


@pytest.mark.usefixtures("table_cache")
def test_a_backlog_is_deferred_at_most_the_lookahead(settings: Any) -> None:
    _limit(settings, 100)
    plan = ratelimit.schedule(100, SPAN)
    now = math.floor(2e9 / plan.slot / plan.period) * plan.period * plan.slot + 1e-4
    random.seed(5)
    retries = [ratelimit.acquire(now).retry_after for _ in range(2000)]
    denied = retries[plan.capacity :]
    assert all(r > 0 for r in denied)
    # The x-th request over capacity goes x // capacity open slots on, but never further
    # than MAX_LOOKAHEAD_SECONDS (2 s): at most 2 s plus one period plus the jitter.
    period = plan.slot * plan.period
    assert max(denied) <= 2.0 + period + 0.5 * plan.slot + 1e-6
    assert max(denied) > 2.0 - period
    # The first `capacity` denied go to the very next open slot.
    first = sorted(denied[: plan.capacity])
    assert first[-1] <= period + 0.5 * plan.slot + 1e-6


@pytest.mark.usefixtures("table_cache")
def test_scopes_count_apart(settings: Any) -> None:
    start = _open_slot(10**9 + 21) + 1e-4
    assert ratelimit.acquire(start, limit=10, scope="a").allowed
    assert not ratelimit.acquire(start, limit=10, scope="a").allowed
    assert ratelimit.available(start, limit=10, scope="b")
    assert ratelimit.acquire(start, limit=10, scope="b").allowed
    # And a limit passed explicitly, not the setting's.
    _limit(settings, None)
    assert ratelimit.acquire(start, scope="a") == ratelimit.ALLOWED
    assert ratelimit.available(start, scope="a")
    assert not ratelimit.available(start, limit=10, scope="a")


@pytest.mark.usefixtures("table_cache")
def test_a_count_outlives_its_slot_by_five_whole_seconds() -> None:
    start = _open_slot(10**9 + 31)
    key = ratelimit._key(PLAN_10, math.floor(start / PLAN_10.slot))
    with time_machine.travel(start, tick=False) as clock:
        assert ratelimit.acquire(start).allowed
        clock.move_to(start + math.ceil(PLAN_10.slot) + 5 - 0.01)
        assert caches[CACHE].get(key) == 1
        clock.move_to(start + math.ceil(PLAN_10.slot) + 5 + 0.01)
        assert caches[CACHE].get(key) is None


@pytest.mark.usefixtures("table_cache")
def test_an_evicted_count_starts_again() -> None:
    start = _open_slot(10**9 + 41)
    index = math.floor(start / PLAN_10.slot)
    cache = caches[CACHE]
    original_incr = cache.incr
    calls = []

    def evicting_incr(key: str, delta: int = 1, version: int | None = None) -> int:
        calls.append(key)
        if len(calls) == 1:
            cache.delete(key)  # evicted between add() and incr()
        return original_incr(key, delta, version)

    cache.incr = evicting_incr  # type: ignore[method-assign]
    try:
        assert ratelimit._take(PLAN_10, index) == 1
        assert ratelimit._take(PLAN_10, index) == 2
    finally:
        del cache.incr
    # Evicted again, but someone else restarted it first: joined, not reset.
    key = ratelimit._key(PLAN_10, index + 2)

    def racing_incr(k: str, delta: int = 1, version: int | None = None) -> int:
        if not calls or calls[-1] != "raced":
            calls.append("raced")
            cache.delete(k)
            cache.add(k, 5)
            raise ValueError("evicted")
        return original_incr(k, delta, version)

    cache.incr = racing_incr  # type: ignore[method-assign]
    try:
        assert ratelimit._take(PLAN_10, index + 2) == 6
    finally:
        del cache.incr
    assert cache.get(key) == 6


# --- Reservations ----------------------------------------------------------------------------


@pytest.mark.usefixtures("table_cache")
def test_a_reservation_is_the_next_open_slot_after_the_current_one() -> None:
    start = _open_slot(10**9 + 51)
    # Even inside an open slot with room: the NEXT open one (the caller comes back later).
    reservation = ratelimit.reserve(start + 1e-4)
    assert reservation is not None
    next_open = start + PLAN_10.period * PLAN_10.slot
    assert reservation.start == pytest.approx(next_open, abs=1e-6)
    assert reservation.end == pytest.approx(next_open + PLAN_10.slot, abs=1e-6)
    # Then the one after, the slot being full (capacity 1).
    again = ratelimit.reserve(start + 1e-4)
    assert again is not None
    assert again.start == pytest.approx(next_open + PLAN_10.period * PLAN_10.slot, abs=1e-6)


@pytest.mark.usefixtures("table_cache")
def test_a_reserved_count_outlives_its_far_slot() -> None:
    start = _open_slot(10**9 + 61)
    with time_machine.travel(start, tick=False) as clock:
        reservations = [ratelimit.reserve(start) for _ in range(40)]
        last = reservations[-1]
        assert last is not None
        index = round(last.start / PLAN_10.slot)
        key = ratelimit._key(PLAN_10, index)
        ttl = math.ceil(last.end - start) + 5
        clock.move_to(start + ttl - 0.01)
        assert caches[CACHE].get(key) == 1
        clock.move_to(start + ttl + 0.01)
        assert caches[CACHE].get(key) is None


@pytest.mark.parametrize(
    ("start", "end", "now", "held"),
    [
        (10.0, 11.0, 10.0, True),
        (10.0, 11.0, 10.5, True),
        (10.0, 11.0, 10.999, True),
        (10.0, 11.0, 11.0, False),
        (10.0, 11.0, 9.999, False),
        (None, 11.0, 10.5, False),
        (10.0, None, 10.5, False),
        (None, None, 10.5, False),
    ],
)
def test_holds(start: float | None, end: float | None, now: float, held: bool) -> None:
    assert ratelimit.holds(start, end, now) is held


def test_holds_reads_the_clock_when_not_told() -> None:
    with time_machine.travel(1000.5, tick=False):
        assert ratelimit.holds(1000.0, 1001.0)
        assert not ratelimit.holds(1001.0, 1002.0)


def test_a_reserved_arrival_is_in_the_first_quarter_of_the_slot() -> None:
    reservation = ratelimit.Reservation(100.0, 101.0)
    random.seed(8)
    arrivals = [reservation.arrival() for _ in range(500)]
    assert min(arrivals) >= 100.0 + 1e-6
    assert max(arrivals) <= 100.25 + 1e-6
    assert max(arrivals) - min(arrivals) > 0.2


def test_permits_plans_and_reservations_are_frozen() -> None:
    for value, name in [
        (ratelimit.ALLOWED, "allowed"),
        (PLAN_10, "capacity"),
        (ratelimit.Reservation(1.0, 2.0), "start"),
    ]:
        with pytest.raises(AttributeError):
            setattr(value, name, 0)
    # The shared ALLOWED permit in particular cannot be turned into a refusal.
    assert ratelimit.ALLOWED == ratelimit.Permit(True, 0.0)


@pytest.mark.usefixtures("table_cache")
def test_the_clock_is_read_when_no_instant_is_given() -> None:
    start = _open_slot(10**9 + 71)
    with time_machine.travel(start + 1e-3, tick=False):
        assert ratelimit.available()
        assert ratelimit.acquire() == ratelimit.ALLOWED
        assert not ratelimit.available()
        assert not ratelimit.acquire().allowed
        reservation = ratelimit.reserve()
    assert reservation is not None
    assert reservation.start == pytest.approx(start + PLAN_10.period * PLAN_10.slot, abs=1e-6)


@pytest.mark.usefixtures("table_cache")
def test_with_one_slot_per_period_a_reservation_is_the_very_next_slot() -> None:
    # L = 20: every slot is open (period 1), so "the next open slot" is the next slot.
    plan = ratelimit.schedule(20, SPAN)
    assert plan.period == 1
    start = (10**9 + 7) * plan.slot
    reservation = ratelimit.reserve(start + plan.slot / 2, limit=20)
    assert reservation is not None
    assert reservation.start == pytest.approx(start + plan.slot, abs=1e-6)


@pytest.mark.usefixtures("table_cache")
def test_a_limit_of_one_is_read_against_its_own_plan() -> None:
    # L = 1: slots of T/3, one open in four. The first third of an open slot's span admits.
    plan = ratelimit.schedule(1, SPAN)
    start = (10**9 * plan.period) * plan.slot
    inside = start + plan.slot * 0.6
    assert ratelimit.available(inside, limit=1)
    assert not ratelimit.available(start + plan.slot * 1.5, limit=1)


# --- Reservations within a horizon, and places in line ----------------------------------------


@pytest.mark.usefixtures("table_cache")
def test_a_reservation_within_a_horizon_takes_only_a_slot_that_starts_in_it() -> None:
    start = _open_slot(10**9 + 81)
    next_open = start + PLAN_10.period * PLAN_10.slot
    now = start + 1e-4
    # The next open slot starts PLAN_10.period slots ahead: a horizon short of it gets nothing
    # and counts nothing there.
    short = next_open - now - 1e-3
    assert ratelimit.reserve(now, within=short) is None
    assert ratelimit.reserve(now, within=short + 2e-3) is not None  # it, the first time
    # Full (capacity 1): the one after is beyond the same horizon, so nothing.
    assert ratelimit.reserve(now, within=short + 2e-3) is None
    # Without a horizon, the one after.
    later = ratelimit.reserve(now)
    assert later is not None
    assert later.start == pytest.approx(next_open + PLAN_10.period * PLAN_10.slot, abs=1e-6)


@pytest.mark.usefixtures("table_cache")
def test_a_horizon_counts_nothing_in_the_slot_it_refuses() -> None:
    start = _open_slot(10**9 + 91)
    now = start + 1e-4
    next_open = start + PLAN_10.period * PLAN_10.slot
    for _ in range(5):
        assert ratelimit.reserve(now, within=0.0) is None
    # The refused slot was never counted: the first reservation without a horizon takes it.
    reservation = ratelimit.reserve(now)
    assert reservation is not None
    assert reservation.start == pytest.approx(next_open, abs=1e-6)


@pytest.mark.usefixtures("table_cache")
def test_places_in_line_are_handed_out_at_the_quotas_pace_and_count_nothing_against_it() -> None:
    start = _open_slot(10**9 + 101)
    now = start + 1e-4
    places = [ratelimit.ticket(now) for _ in range(6)]
    starts = [place.start for place in places if place is not None]
    assert len(starts) == 6
    # One place per open slot (capacity 1), from the next open slot on, in order.
    step = PLAN_10.period * PLAN_10.slot
    first = start + step
    assert starts == pytest.approx([first + n * step for n in range(6)], abs=1e-6)
    # The quota did not move: the current slot still admits, and the next open slot's first
    # reservation is that slot itself.
    assert ratelimit.available(now)
    reservation = ratelimit.reserve(now)
    assert reservation is not None
    assert reservation.start == pytest.approx(first, abs=1e-6)
    # Each scope has its own line.
    other = ratelimit.ticket(now, scope="another-account")
    assert other is not None and other.start == pytest.approx(first, abs=1e-6)


@pytest.mark.usefixtures("table_cache")
def test_a_place_in_line_follows_the_settings_and_the_clock(settings: Any) -> None:
    start = _open_slot(10**9 + 111)
    with time_machine.travel(start + 1e-4, tick=False):
        place = ratelimit.ticket()
    assert place is not None
    assert place.start == pytest.approx(start + PLAN_10.period * PLAN_10.slot, abs=1e-6)
    # Its own limit: at 20 a second every slot is open.
    plan = ratelimit.schedule(20, SPAN)
    fast = ratelimit.ticket(start + 1e-4, limit=20, scope="fast")
    assert fast is not None
    assert fast.start == pytest.approx((math.floor((start + 1e-4) / plan.slot) + 1) * plan.slot)
    _limit(settings, None)
    assert ratelimit.ticket(start) is None
    assert ratelimit.ticket(start, limit=None) is None


@pytest.mark.usefixtures("table_cache")
def test_a_search_skips_full_slots_when_its_hint_is_gone() -> None:
    """The next-free-slot hint is a plain cache value that can be evicted: the search then
    probes forward past the full slots, one open slot at a time."""
    start = _open_slot(10**9 + 121)
    now = start + 1e-4
    for take in (ratelimit.reserve, ratelimit.ticket):
        taken = [take(now, scope=f"evicted-{take.__name__}") for _ in range(4)]
        # The hint gone (evicted): the quota's, or the line's.
        caches[CACHE].delete_many(
            [
                ratelimit._key(PLAN_10, "next", f"evicted-{take.__name__}"),
                ratelimit._key(PLAN_10, "next", f"line:evicted-{take.__name__}"),
            ]
        )
        following = take(now, scope=f"evicted-{take.__name__}")
        assert following is not None
        last = taken[-1]
        assert last is not None
        assert following.start == pytest.approx(
            last.start + PLAN_10.period * PLAN_10.slot, abs=1e-6
        )


def test_a_cache_that_cannot_be_reached_is_an_outage_not_a_guess(settings: Any) -> None:
    """Redis down: admitting blindly could exceed the quota, refusing blindly would fail
    attempts for an outage of ours. Every call says so (a port nothing listens on)."""
    from face_idcard.exceptions import CacheUnavailable

    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "RATE_LIMIT_CACHE": "unreachable",
        "RATE_LIMIT_PER_SECOND": 10,
    }
    start = _open_slot(10**9 + 131)
    for call in (ratelimit.acquire, ratelimit.available, ratelimit.reserve, ratelimit.ticket):
        with pytest.raises(CacheUnavailable):
            call(start + 1e-4)
