"""The provider's request-per-second quota, shared by every worker through Django's cache.

The guarantee
-------------
A provider's quota (and the simulator's ``qps`` option) counts requests in a *sliding* one-second
window. With ``RATE_LIMIT_PER_SECOND = L`` and ``RATE_LIMIT_MARGIN_SECONDS = m`` this limiter
admits at most ``L`` requests in any interval of length ``T = 1 + m`` seconds, wherever that
interval starts:
any ``L + 1`` admitted requests are more than ``T`` seconds apart (first to last). The margin
absorbs what the limiter cannot see: clock differences between hosts and the varying delay
between taking a permit and the request reaching the provider (database claim, reading the
selfie, the network). Hosts' clocks must be NTP-synchronised: the slots below are aligned to
wall time (``time.time()``), and a host whose clock is off by more than the margin breaks it.

How, with nothing but atomic ``add`` and ``incr``
-------------------------------------------------
Wall time is cut into slots of length ``s = T / j`` (slot ``n`` is ``[n*s, (n+1)*s)``). Only
every ``p``-th slot is *open* (``n % p == 0``) and admits up to ``c`` requests, counted by one
cache key per slot (``add(key, 0)`` then ``incr(key)``: single atomic commands with Redis, so
any number of processes on any number of hosts share the count). A closed slot admits nothing
and costs no cache round trip.

How many open slots can an interval ``[a, a + T]`` touch? It touches open slots number
``i, i + 1, ..., i + r - 1`` (starts ``p*s`` apart) only if it begins before the end of the
first, ``a < i*p*s + s``, and reaches the start of the last, ``a + T >= (i + r - 1)*p*s``;
so ``(r - 1)*p*s < T + s``, i.e. ``r - 1 < (j + 1) / p``, hence
``r <= ceil((j + 1) / p)`` =: ``q``. With ``c = floor(L / q)`` the interval holds at most
``q * c <= L`` requests. (``p = 1`` is the familiar "a window overlaps at most k + 1
sub-windows".) Sustained throughput is ``c`` per ``p*s`` seconds, ``c * j / p`` per ``T``.

:func:`schedule` picks ``1 <= j <= 20`` (slots no shorter than ``T / 20``, a few cache keys a
second) and ``1 <= p <= 4`` maximising ``c * j / p``. Achieved throughput, as a fraction of
``L`` requests per ``T`` seconds: 3/4 for ``L = 1`` (one request in a slot of ``T/3``, then
``T`` closed), at least 0.869 for every ``L >= 2`` (0.95 for many, e.g. 5, 10, 20, 40, 50,
100); per second, divide by ``T`` as well (default margin 0.1 s: at least 0.79 of ``L``
for ``L >= 2``).

Reserved slots and places in line
---------------------------------
:func:`reserve` gives a waiting request its own place in an open slot that starts within a
short horizon (``within`` seconds, a second in the pipeline): it counts itself there at once
(the same ``incr`` as :func:`acquire`, so the bound above holds unchanged) and its holder waits
for it in the worker, where a sleep of under a second is punctual. A next-free-slot hint per
scope (a plain cache value, only ever a slot found full plus one) lets a probe skip the slots
already taken; a stale hint costs probes, never a request too many. A holder that reaches the
provider after its slot ended takes a permit again (:func:`holds`).

A request with no free slot within the horizon takes a :func:`ticket` instead: a place in line,
counted on keys of its own and *never* against the quota. Tickets are handed out at the
quota's own pace (``capacity`` per open slot, after the ones already given), so a backlog
comes back spread over time at the rate the provider will take it; its holder then takes a
permit like any request (:func:`acquire`, or a reserved slot within the horizon). Counting a
far slot in advance would waste it whenever its holder arrives late (a busy worker pool, a
broker's countdown kept by a timer that wakes once a second), and under a backlog every
late holder would go to the back of a line whose slots are all counted: the provider saw
under a tenth of the quota while hundreds waited. A ticket holder that arrives late takes
whichever slot is current; a slot nobody holds is used by whoever comes first.

A denied caller of :func:`acquire` is told how long to wait: until an open slot, plus jitter within its first
half so that deferred tasks do not all arrive at the same instant. The ``x``-th request over
the capacity of a slot (``x`` from 0) is sent ``x // c`` open slots further on (at most
:data:`MAX_LOOKAHEAD_SECONDS` ahead), so that a backlog spreads over the coming slots instead
of every waiting task coming back, and being deferred again, at each one. The pipeline defers,
never fails. With LocMemCache the count is per process (fine for tests and one-process sites).
When the cache cannot be reached, every function here raises
:class:`~face_idcard.exceptions.CacheUnavailable` rather than guess: admitting blindly could
exceed the quota, refusing blindly would fail attempts for an outage of ours. The worker
delivers the attempt again with backoff, the API answers 503 (:mod:`face_idcard.outages`).

The slot keys include the limit and the span: while a changed ``RATE_LIMIT_PER_SECOND`` or
``RATE_LIMIT_MARGIN_SECONDS`` rolls out, workers on the old and the new setting count apart, so lower
the limit (or stop the old workers) first if that moment must stay under the quota too.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import caches

from .conf import face_idcard_settings
from .exceptions import CacheUnavailable

KEY_PREFIX = "face_idcard:rate:"
#: Bounds of the search in :func:`schedule` (see the module docstring).
MAX_SLOTS_PER_SPAN = 20
MAX_PERIOD = 4
#: A deferred request is never sent further ahead than this (a long backlog comes back and
#: is spread again, rather than being parked for minutes).
MAX_LOOKAHEAD_SECONDS = 2.0
# Deferred requests arrive spread over this fraction of the open slot they are sent to.
_JITTER = 0.5
# A slot's key outlives the slot by this much (whole seconds: Redis EX takes an integer), so
# a key cannot expire, and its count restart, while its slot is still current.
_KEY_TTL_EXTRA = 5
# A reserved request arrives within this fraction of its slot (after the start).
_RESERVED_ARRIVAL = 0.25
# Bound on the probes of one reservation (each a cache incr); the hint keeps it to one or two.
_MAX_PROBES = 100_000
# Tickets (places in line) are counted on keys of their own: this marks their scope.
_TICKETS = "line:"


@dataclass(frozen=True)
class Permit:
    allowed: bool
    #: Seconds to wait before trying again (0 when allowed).
    retry_after: float


ALLOWED = Permit(True, 0.0)


@dataclass(frozen=True)
class Schedule:
    """Slots of ``slot`` seconds; every ``period``-th one admits ``capacity`` requests."""

    limit: int
    span: float
    slot: float
    period: int
    capacity: int

    @property
    def per_span(self) -> float:
        """Sustained admissions per ``span`` seconds (at most ``limit``)."""
        return self.capacity * self.span / (self.slot * self.period)

    @property
    def fraction(self) -> float:
        """Sustained throughput as a fraction of ``limit`` requests per ``span``."""
        return self.per_span / self.limit


@functools.lru_cache(maxsize=64)
def schedule(limit: int, span: float) -> Schedule:
    """The slot plan admitting at most ``limit`` requests in any ``span`` seconds (see above)."""
    if limit < 1 or span <= 0:
        raise ValueError("limit must be >= 1 and span > 0")
    best: tuple[tuple[float, int, int], Schedule] | None = None
    for period in range(1, MAX_PERIOD + 1):
        for slots in range(1, MAX_SLOTS_PER_SPAN + 1):
            touched = math.ceil((slots + 1) / period)
            capacity = limit // touched
            if capacity == 0:
                continue
            # Most throughput; on a tie the smoother plan (fewer closed slots, longer slots).
            rank = (capacity * slots / period, -period, -slots)
            if best is None or rank > best[0]:
                plan = Schedule(limit, span, span / slots, period, capacity)
                best = (rank, plan)
    # period = 4, slots = 3 always qualifies (touched = 1, capacity = limit).
    assert best is not None
    return best[1]


def limit_per_second() -> int | None:
    value = face_idcard_settings.RATE_LIMIT_PER_SECOND
    if value is None:
        return None
    return max(1, int(value))


def span_seconds() -> float:
    """The interval the limit is kept over: one second plus the configured margin."""
    margin = face_idcard_settings.RATE_LIMIT_MARGIN_SECONDS
    return 1.0 + max(0.0, float(margin or 0.0))


_FROM_SETTINGS: int | None = -1


def _plan(limit: int | None) -> Schedule | None:
    """The plan for ``limit`` requests a second (``_FROM_SETTINGS``: the setting's), or None
    when there is no limit."""
    if limit == _FROM_SETTINGS:
        limit = limit_per_second()
    if limit is None:
        return None
    return schedule(max(1, int(limit)), span_seconds())


def acquire(
    now: float | None = None, *, limit: int | None = _FROM_SETTINGS, scope: str = ""
) -> Permit:
    """Take one request from the current open slot, or say how long to wait.

    ``limit`` is the requests per second for ``scope`` (a backend alias: each account has
    its own quota); left out, ``RATE_LIMIT_PER_SECOND``. None means no limit.
    """
    plan = _plan(limit)
    if plan is None:
        return ALLOWED
    now = time.time() if now is None else now
    index = math.floor(now / plan.slot)
    if index % plan.period:
        # A closed slot: no cache round trip, come back when the next one opens.
        return _defer(plan, now, _next_open(plan, index), 0)
    with _reaching_cache():
        count = _take(plan, index, scope)
    if count <= plan.capacity:
        return ALLOWED
    # Spread the overflow: the x-th request too many goes x // capacity open slots further.
    further = (count - plan.capacity - 1) // plan.capacity
    return _defer(plan, now, index + plan.period, further)


@dataclass(frozen=True)
class Reservation:
    """One request counted in a future open slot: it may be sent from ``start`` to ``end``."""

    start: float
    end: float

    def arrival(self) -> float:
        """When to come back: spread over the start of the slot, never before it."""
        spread = random.uniform(0, _RESERVED_ARRIVAL * (self.end - self.start))  # noqa: S311
        return self.start + 1e-6 + spread


def holds(start: float | None, end: float | None, now: float | None = None) -> bool:
    """Whether a reservation for ``[start, end)`` may be used at ``now``."""
    if start is None or end is None:
        return False
    now = time.time() if now is None else now
    return start <= now < end


def available(
    now: float | None = None, *, limit: int | None = _FROM_SETTINGS, scope: str = ""
) -> bool:
    """Whether the current slot may still admit a request (a read: takes nothing)."""
    plan = _plan(limit)
    if plan is None:
        return True
    now = time.time() if now is None else now
    index = math.floor(now / plan.slot)
    if index % plan.period:
        return False
    with _reaching_cache():
        count = caches[str(face_idcard_settings.RATE_LIMIT_CACHE)].get(_key(plan, index, scope), 0)
    return int(count or 0) < plan.capacity


def reserve(
    now: float | None = None,
    *,
    limit: int | None = _FROM_SETTINGS,
    scope: str = "",
    within: float | None = None,
) -> Reservation | None:
    """Count one request in the first open slot after the current one that has room.

    ``within``: only a slot that starts within that many seconds of ``now`` is taken. None
    when there is no limit (nothing to wait for) or no slot within ``within`` has room (take
    a :func:`ticket` then).
    """
    plan = _plan(limit)
    if plan is None:
        return None
    now = time.time() if now is None else now
    horizon = None if within is None else now + within
    return _first_free(plan, now, scope, counted=True, horizon=horizon)


def ticket(
    now: float | None = None, *, limit: int | None = _FROM_SETTINGS, scope: str = ""
) -> Reservation | None:
    """A place in line: the open slot in which to come back and ask for a permit.

    Handed out at the quota's pace after the tickets already given, counted apart from the
    quota (the holder still takes a permit when it comes back: a ticket admits nothing).
    None when there is no limit.
    """
    plan = _plan(limit)
    if plan is None:
        return None
    now = time.time() if now is None else now
    return _first_free(plan, now, scope, counted=False, horizon=None)


def _first_free(
    plan: Schedule, now: float, scope: str, *, counted: bool, horizon: float | None
) -> Reservation | None:
    """Take a place in the first open slot after ``now`` with room, on the quota's keys
    (``counted``) or the tickets' own; None if the first one with room starts after
    ``horizon``."""
    cache = caches[str(face_idcard_settings.RATE_LIMIT_CACHE)]
    keys = scope if counted else f"{_TICKETS}{scope}"
    hint_key = _key(plan, "next", keys)
    candidate = _next_open(plan, math.floor(now / plan.slot) + 1)
    with _reaching_cache():
        hint = cache.get(hint_key)
    if isinstance(hint, int) and hint > candidate:
        candidate = _next_open(plan, hint)
    for _ in range(_MAX_PROBES):
        if horizon is not None and candidate * plan.slot > horizon:
            return None
        ends = (candidate + 1) * plan.slot
        # The count must outlive the slot, however far ahead it is.
        ttl = math.ceil(ends - now) + _KEY_TTL_EXTRA
        with _reaching_cache():
            count = _take(plan, candidate, keys, ttl)
            if count >= plan.capacity:
                cache.set(hint_key, candidate + plan.period, timeout=ttl)
        if count <= plan.capacity:
            return Reservation(candidate * plan.slot, ends)
        candidate += plan.period
    raise RuntimeError("no free rate-limit slot found")  # pragma: no cover - bounded above


@contextlib.contextmanager
def _reaching_cache() -> Iterator[None]:
    """An error of the cache itself (Redis down, a timeout) raised as :class:`CacheUnavailable`:
    an outage the worker waits out and the API answers 503 for (:mod:`face_idcard.outages`),
    whatever the cache's client library."""
    try:
        yield
    except Exception as exc:
        raise CacheUnavailable(type(exc).__name__) from exc


def _next_open(plan: Schedule, index: int) -> int:
    return index + (-index % plan.period)


def _key(plan: Schedule, index: int | str, scope: str = "") -> str:
    # The plan is part of the key: a changed limit or margin starts counts of its own.
    return f"{KEY_PREFIX}{scope}:{plan.limit}:{plan.span:g}:{index}"


def _take(plan: Schedule, index: int, scope: str = "", ttl: int | None = None) -> int:
    cache = caches[str(face_idcard_settings.RATE_LIMIT_CACHE)]
    key = _key(plan, index, scope)
    ttl = ttl if ttl is not None else math.ceil(plan.slot) + _KEY_TTL_EXTRA
    # add() is a no-op when the key exists, so exactly one caller starts the count.
    cache.add(key, 0, timeout=ttl)
    try:
        return int(cache.incr(key))
    except ValueError:
        # Evicted between add() and incr(): start it again (or join whoever just did).
        if cache.add(key, 1, timeout=ttl):
            return 1
        return int(cache.incr(key))


def _defer(plan: Schedule, now: float, open_index: int, further: int) -> Permit:
    period_seconds = plan.slot * plan.period
    further = min(further, int(MAX_LOOKAHEAD_SECONDS // period_seconds))
    start = (open_index + further * plan.period) * plan.slot
    jitter = random.uniform(0, _JITTER * plan.slot)  # noqa: S311 - jitter, not security
    # A microsecond past the boundary, so that rounding cannot land the retry in the slot before.
    return Permit(False, max(0.0, start - now) + 1e-6 + jitter)
