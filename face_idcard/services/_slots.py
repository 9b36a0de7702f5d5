"""A rate-limited attempt's turn: a reserved slot within a second, or a place in line.

Used at submit time (a burst of submits spreads itself over the coming slots instead of every
message arriving at once and being deferred) and by the pipeline when a run finds the quota
used up. A slot that opens within :data:`WAIT_IN_PROCESS_SECONDS` is reserved (counted against
the quota) and waited for in the worker. Further ahead the attempt takes a place in line
(:func:`face_idcard._ratelimit.ticket`): its message comes back at the quota's pace and then
takes a permit like any run, so a run that comes late, behind a busy pool or a broker's
timer, wastes no slot and loses no place it held. A turn further ahead than
``BROKER_MAX_COUNTDOWN_SECONDS`` is *parked*: no message is published, and the sweeper
publishes one when the turn comes within the broker's reach.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from .. import _ratelimit as ratelimit
from ..conf import face_idcard_settings

#: A slot that opens within this many seconds is waited for in the worker, not through the
#: broker: its message goes out at once (``Slot.countdown`` is 0) and the run sleeps until the
#: slot opens. A broker's countdown is kept by the worker's timer, whose wake-ups were seen to
#: come up to a second late: a message for a slot shorter than that could arrive after its
#: slot had closed, be deferred again, and miss the next slot too, round after round (a lone
#: attempt was seen to wait 8 to 15 s). The wait holds one worker process (or thread) for at
#: most this long per run; a slot further ahead goes through the broker.
WAIT_IN_PROCESS_SECONDS = 1.0


@dataclass(frozen=True)
class Slot:
    #: The attempt's fields that record the turn (next_attempt_at, slot_ends_at, parked);
    #: slot_ends_at is None for a place in line (it admits nothing).
    fields: dict[str, Any]
    #: Seconds until the message should arrive: 0 for a reserved slot (within
    #: :data:`WAIT_IN_PROCESS_SECONDS`: the worker waits), None when parked (no message now).
    countdown: float | None
    #: Seconds from now until the turn comes (inside the slot, spread).
    wait: float
    #: Whether a slot of the quota is counted for this attempt (a permit when it opens), not
    #: only a place in line.
    reserved: bool = True

    def is_open(self) -> bool:
        """Whether a reserved slot may be used now (never true for a place in line)."""
        start, end = self.fields["next_attempt_at"], self.fields["slot_ends_at"]
        if end is None:  # a place in line records no end
            return False
        return ratelimit.holds(start.timestamp(), end.timestamp())


def _aware(timestamp: float, *, up: bool) -> datetime:
    """The instant as the database keeps it (whole microseconds), rounded into the slot: a
    start rounded up, an end down, so the stored slot never reaches outside the reserved one."""
    micros = timestamp * 1_000_000
    whole = math.ceil(micros) if up else math.floor(micros)
    return datetime.fromtimestamp(whole // 1_000_000, tz=dt_timezone.utc) + timedelta(
        microseconds=whole % 1_000_000
    )


def countdown_to(start: datetime, end: datetime | None, now: datetime) -> float:
    """Seconds from ``now`` until a message should arrive in the stored slot ``[start, end)``
    (spread over its first part, never before ``start``)."""
    arrival = ratelimit.Reservation(start.timestamp(), (end or start).timestamp()).arrival()
    # Two microseconds on top: the clock a worker reads is truncated to whole microseconds.
    return max(0.0, arrival + 2e-6 - now.timestamp())


def reserve(limit: int, alias: str) -> Slot:
    """The attempt's turn under ``alias``'s quota (``limit`` requests per second): a slot of
    the quota within :data:`WAIT_IN_PROCESS_SECONDS`, else a place in line."""
    now = time.time()
    near = ratelimit.reserve(now, limit=limit, scope=alias, within=WAIT_IN_PROCESS_SECONDS)
    if near is not None:
        fields = {
            "next_attempt_at": _aware(near.start, up=True),
            "slot_ends_at": _aware(near.end, up=False),
            "parked": False,
        }
        return Slot(fields, 0.0, max(0.0, near.arrival() + 2e-6 - now))
    turn = ratelimit.ticket(now, limit=limit, scope=alias)
    assert turn is not None  # a limit is given
    countdown = max(0.0, turn.arrival() + 2e-6 - now)
    parked = countdown > float(face_idcard_settings.BROKER_MAX_COUNTDOWN_SECONDS)
    fields = {
        "next_attempt_at": _aware(turn.start, up=True),
        "slot_ends_at": None,
        "parked": parked,
    }
    return Slot(fields, None if parked else countdown, countdown, reserved=False)
