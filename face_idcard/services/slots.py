"""A rate-limited attempt's reserved slot: reserved once, written on its row, published once.

Used at submit time (a burst of submits spreads itself over the coming slots instead of every
message arriving at once and being deferred) and by the pipeline when a run finds the quota
used up. A slot further ahead than ``MAX_BROKER_COUNTDOWN_SECONDS`` is *parked*: no message is
published, and the sweeper publishes one when the slot comes within the broker's reach.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from .. import ratelimit
from ..conf import face_idcard_settings


@dataclass(frozen=True)
class Slot:
    #: The attempt's fields that record the reservation (next_attempt_at, slot_ends_at, parked).
    fields: dict[str, Any]
    #: Seconds until the message should arrive; None when parked (no message now).
    countdown: float | None


def _aware(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=dt_timezone.utc)


def reserve(limit: int, alias: str) -> Slot:
    """Reserve the next free slot of ``alias``'s quota (``limit`` requests per second)."""
    reservation = ratelimit.reserve(limit=limit, scope=alias)
    assert reservation is not None  # a limit is given
    countdown = max(0.0, reservation.arrival() - time.time())
    parked = countdown > float(face_idcard_settings.MAX_BROKER_COUNTDOWN_SECONDS)
    fields = {
        "next_attempt_at": _aware(reservation.start),
        "slot_ends_at": _aware(reservation.end),
        "parked": parked,
    }
    return Slot(fields, None if parked else countdown)
