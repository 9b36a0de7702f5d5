"""services/_slots.py as tables: when a reserved slot's message should arrive, how a slot is
stored (whole microseconds, never reaching outside the reserved slot), and when it is parked.

No database and no worker: the limiter counts in a LocMem cache of its own.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from fractions import Fraction
from typing import Any

import pytest
import time_machine
from django.core.cache import caches

from face_idcard import _ratelimit as ratelimit
from face_idcard.services import _slots as slots

NOW = datetime(2031, 6, 7, 8, 9, 10, tzinfo=dt_timezone.utc)
#: countdown_to adds 1 us (the reservation's own step past the start) and 2 us (a worker's
#: clock is truncated to whole microseconds).
PAST_START = 3e-6


@pytest.fixture
def slot_cache(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "slots_table": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "slots_table",
        },
    }
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "RATE_LIMIT_CACHE": "slots_table"}
    caches["slots_table"].clear()  # the counts and hints of the test before


@pytest.mark.parametrize(
    ("start", "end", "low", "high"),
    [
        # No end stored: exactly the start (no spread), a hair after it.
        (2.0, None, 2.0 + PAST_START, 2.0 + PAST_START),
        (0.0, None, PAST_START, PAST_START),
        # A start already passed: at once, never a negative countdown.
        (-5.0, None, 0.0, 0.0),
        (-5.0, -4.0, 0.0, 0.0),
        # A slot [1, 2): spread over its first quarter.
        (1.0, 2.0, 1.0 + PAST_START, 1.25 + PAST_START),
        (10.0, 10.4, 10.0 + PAST_START, 10.1 + PAST_START),
    ],
)
def test_countdown_stays_in_the_first_quarter_of_the_stored_slot(
    start: float, end: float | None, low: float, high: float
) -> None:
    at = NOW + timedelta(seconds=start)
    ends = None if end is None else NOW + timedelta(seconds=end)
    random.seed(17)
    seen = [slots.countdown_to(at, ends, NOW) for _ in range(200)]
    # Timestamps near 2031 carry about 0.2 us of float precision.
    assert min(seen) >= low - 5e-7
    assert max(seen) <= high + 5e-7
    if low < high:
        # Spread, not all at the start: the slot's end is used.
        assert max(seen) - min(seen) > 0.8 * (high - low)


@pytest.mark.parametrize(
    ("timestamp", "up", "expected"),
    [
        # Between two microseconds: a start goes up, an end goes down (inside the slot).
        (1000.0000004, True, (1000, 1)),
        (1000.0000004, False, (1000, 0)),
        (1000.9999996, True, (1001, 0)),
        (1000.9999996, False, (1000, 999_999)),
        # On a whole microsecond: unchanged either way.
        (1000.25, True, (1000, 250_000)),
        (1000.25, False, (1000, 250_000)),
        (0.0, True, (0, 0)),
    ],
)
def test_stored_instants_are_whole_microseconds_rounded_into_the_slot(
    timestamp: float, up: bool, expected: tuple[int, int]
) -> None:
    seconds, micros = expected
    stored = slots._aware(timestamp, up=up)
    assert stored == datetime.fromtimestamp(seconds, tz=dt_timezone.utc).replace(microsecond=micros)
    assert stored.tzinfo is not None


@pytest.mark.usefixtures("slot_cache")
def test_a_near_slot_is_reserved_stored_inside_the_reservation_and_sent_at_once(
    settings: Any,
) -> None:
    # Even a broker that may hold nothing: a reserved slot is waited for in the worker.
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "BROKER_MAX_COUNTDOWN_SECONDS": 0}
    with time_machine.travel(NOW, tick=False):
        slot = slots.reserve(5, "slots-table")
    assert slot.reserved
    assert set(slot.fields) == {"next_attempt_at", "slot_ends_at", "parked"}
    start, end = slot.fields["next_attempt_at"], slot.fields["slot_ends_at"]
    # The next open slot after the current one: in the future, within the in-process wait.
    plan = ratelimit.schedule(5, ratelimit.span_seconds())
    assert NOW < start < end <= NOW + timedelta(seconds=slots.WAIT_IN_PROCESS_SECONDS + plan.slot)
    assert (end - start).total_seconds() == pytest.approx(plan.slot, abs=2e-6)
    assert slot.fields["parked"] is False
    assert slot.countdown == 0.0  # sent now; the worker waits inside the slot
    assert (start - NOW).total_seconds() < slot.wait < (end - NOW).total_seconds()
    with time_machine.travel(start + timedelta(microseconds=1), tick=False):
        assert slot.is_open()


def _fill_near_slots(limit: int, alias: str) -> None:
    """Reserve every slot of ``alias`` within the in-process wait."""
    while (
        ratelimit.reserve(limit=limit, scope=alias, within=slots.WAIT_IN_PROCESS_SECONDS)
        is not None
    ):
        pass


@pytest.mark.usefixtures("slot_cache")
@pytest.mark.parametrize(
    ("max_countdown", "parked"),
    [(300, False), (0, True)],
)
def test_beyond_the_near_slots_a_place_in_line_is_taken_and_parked_beyond_reach(
    settings: Any, max_countdown: int, parked: bool
) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "BROKER_MAX_COUNTDOWN_SECONDS": max_countdown}
    before = NOW + timedelta(seconds=max_countdown)  # each case its own slots
    with time_machine.travel(before, tick=False):
        _fill_near_slots(5, "slots-line")
        slot = slots.reserve(5, "slots-line")
        # A place in line counts nothing against the quota.
        assert ratelimit.available(limit=5, scope="slots-line") == ratelimit.available(
            limit=5, scope="slots-line-untouched"
        )
    assert not slot.reserved
    assert slot.fields["slot_ends_at"] is None  # admits nothing: the holder takes a permit
    start = slot.fields["next_attempt_at"]
    plan = ratelimit.schedule(5, ratelimit.span_seconds())
    # The line is empty: the next open slot after the current one.
    assert before < start <= before + timedelta(seconds=plan.slot * plan.period + plan.slot)
    assert slot.fields["parked"] is parked
    with time_machine.travel(start + timedelta(microseconds=1), tick=False):
        assert not slot.is_open()
    if parked:
        assert slot.countdown is None
    else:
        assert slot.countdown == slot.wait > 0.0


@pytest.mark.usefixtures("slot_cache")
# Slots of 0.1 s, 1.1/19 s (no whole number of microseconds) and 0.06875 s.
@pytest.mark.parametrize("limit", [3, 5, 17])
@pytest.mark.parametrize("take", ["reserve", "ticket"])
def test_reservations_and_places_in_line_fill_a_slot_then_move_on(limit: int, take: str) -> None:
    plan = ratelimit.schedule(limit, ratelimit.span_seconds())
    now = NOW.timestamp()
    taking = getattr(ratelimit, take)
    with time_machine.travel(NOW, tick=False):
        reserved = [taking(now, limit=limit, scope="slots-fill") for _ in range(9)]
        other = taking(now, limit=limit, scope="slots-other")
        # Reservations and places in line are counted apart: the other kind starts afresh.
        if take == "ticket":
            first_reserved = ratelimit.reserve(now, limit=limit, scope="slots-fill")
        else:
            first_reserved = ratelimit.ticket(now, limit=limit, scope="slots-fill")
    taken = [reservation.start for reservation in reserved]
    # `capacity` per open slot, in order, never two slots at once.
    firsts = sorted(set(taken))
    assert len(firsts) == math.ceil(9 / plan.capacity)
    assert [taken.count(first) for first in firsts[:-1]] == [plan.capacity] * (len(firsts) - 1)
    assert taken == sorted(taken)
    # Open slots only, one after another.
    indexes = [round(first / plan.slot) for first in firsts]
    assert all(index % plan.period == 0 for index in indexes)
    assert [b - a for a, b in itertools.pairwise(indexes)] == [plan.period] * (len(indexes) - 1)
    # Another alias counts apart.
    assert other.start == firsts[0]
    assert first_reserved.start == firsts[0]


@pytest.mark.usefixtures("slot_cache")
@pytest.mark.parametrize("limit", [3, 5, 17])
def test_a_reserved_slot_is_stored_in_whole_microseconds_inside_the_reservation(
    limit: int,
) -> None:
    plan = ratelimit.schedule(limit, ratelimit.span_seconds())
    stored = []
    with time_machine.travel(NOW, tick=False):
        for _ in range(9):
            slot = slots.reserve(limit, "slots-store")
            if slot.reserved:
                stored.append(slot.fields)
    assert stored
    # Stored in whole microseconds inside the reserved slot [n * slot, (n + 1) * slot): the
    # start rounded up, the end down. Slack: a 2031 timestamp times 10**6 is a float with a
    # resolution of 0.25 us.
    for fields in stored:
        start, end = (_micros(fields[name]) for name in ("next_attempt_at", "slot_ends_at"))
        index = round(Fraction(start, 10**6) / Fraction(plan.slot))
        exact_start = Fraction(index * plan.slot) * 10**6
        exact_end = Fraction((index + 1) * plan.slot) * 10**6
        assert exact_start - SLACK <= start < exact_start + 1
        assert exact_end - 1 < end <= exact_end + SLACK


SLACK = Fraction(1, 4)


def _micros(instant: datetime) -> int:
    return (instant - datetime(1970, 1, 1, tzinfo=dt_timezone.utc)) // timedelta(microseconds=1)


def test_a_slot_cannot_be_changed_once_reserved() -> None:
    slot = slots.Slot({"parked": False}, 1.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        slot.countdown = None  # type: ignore[misc]


@pytest.mark.usefixtures("slot_cache")
def test_a_free_slot_more_than_the_in_process_wait_ahead_is_a_place_in_line() -> None:
    """At 1 a second an open slot comes every 1.47 s: one that opens 1.2 s ahead is beyond
    the second a worker may wait, so the attempt takes a place in line (through the broker)
    instead of holding a process."""
    plan = ratelimit.schedule(1, ratelimit.span_seconds())
    every = plan.slot * plan.period
    assert every > slots.WAIT_IN_PROCESS_SECONDS + 0.3
    index = 10**9 * plan.period  # an open slot
    # 1.2 s before the open slot after it, inside the closed slots.
    at = (index + plan.period) * plan.slot - 1.2
    with time_machine.travel(at, tick=False):
        slot = slots.reserve(1, "slots-far")
    assert not slot.reserved
    assert slot.fields["slot_ends_at"] is None
    assert slot.countdown == pytest.approx(1.2, abs=plan.slot)
