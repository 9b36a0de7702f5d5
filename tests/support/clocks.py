"""A simulated clock for the pipeline's tests: wall time stands still until a test moves it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from unittest import mock

import time_machine

from face_idcard.services import _slots as slots


@contextlib.contextmanager
def frozen_clock(epoch: datetime) -> Iterator[Any]:
    """Travel to ``epoch`` with the clock stopped. A real sleep does not move a stopped clock,
    so the pipeline's in-process wait for a near rate-limit slot is off: a limited run takes
    the broker's path (a deferral with a countdown), which the test then follows by moving
    the clock."""
    with (
        mock.patch.object(slots, "WAIT_IN_PROCESS_SECONDS", 0.0),
        time_machine.travel(epoch, tick=False) as traveller,
    ):
        yield traveller
