"""The provider's request-per-second quota, shared by every worker through Django's cache.

A fixed one-second window: each call does an atomic ``add`` (create the window's counter)
then ``incr``. With Redis (``django.core.cache.backends.redis`` or django-redis) both are
single atomic commands, so any number of worker processes on any number of hosts stay under
the quota; with LocMemCache the limit is per process (fine for tests and one-process sites).

A denied caller is told how long to wait (until the next window, plus a little jitter so the
deferred tasks do not all arrive at the same instant); the pipeline defers, never fails.
Windows are aligned to whole seconds of wall time; a burst may straddle two windows, so the
instantaneous rate over an unaligned second can reach twice the limit: set the limit with that
margin below the account's quota.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from django.core.cache import caches

from .conf import face_idcard_settings

KEY_PREFIX = "face_idcard:rate:"
# Spread deferred tasks over this fraction of the next window.
_JITTER = 0.25


@dataclass(frozen=True)
class Permit:
    allowed: bool
    #: Seconds to wait before trying again (0 when allowed).
    retry_after: float


ALLOWED = Permit(True, 0.0)


def limit_per_second() -> int | None:
    value = face_idcard_settings.RATE_LIMIT_PER_SECOND
    if value is None:
        return None
    return max(1, int(value))


def acquire(now: float | None = None) -> Permit:
    """Take one request from the current one-second window, or say how long to wait."""
    limit = limit_per_second()
    if limit is None:
        return ALLOWED
    cache = caches[str(face_idcard_settings.RATE_LIMIT_CACHE)]
    now = time.time() if now is None else now
    window = math.floor(now)
    key = f"{KEY_PREFIX}{window}"
    # add() is a no-op when the key exists; the key outlives its window briefly, then expires.
    cache.add(key, 0, timeout=5)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add() and incr(): start the window again.
        cache.add(key, 1, timeout=5)
        count = 1
    if count <= limit:
        return ALLOWED
    wait = (window + 1 - now) + random.uniform(0, _JITTER)  # noqa: S311 - jitter, not security
    return Permit(False, wait)
