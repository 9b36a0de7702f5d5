"""A lone attempt under a rate limit is not made to wait (issue 30, item 3: in the demo a lone
attempt was seen waiting 8 to 15 s "queued", deferred again and again).

With the live worker, one attempt at a time under limits of 1, 5 and 20 calls per second is
decided within its first open slot: at most one reservation's wait (1.47 s at 1/s, where the
next open slot may be that far), never a chain of deferrals. This passes on the code as it is:
the demo's long waits were not reproduced with this worker (solo pool, Redis or memory
transport); see the issue's note.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from tests.support.celery_app import wait_terminal
from tests.support.factories import submit_attempt

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("limit", [1, 5, 20])
def test_a_lone_attempt_under_a_rate_limit_is_decided_promptly(
    face_settings: Any, celery_worker_thread: Any, simulator: Any, limit: int
) -> None:
    face_settings(RATE_LIMIT_PER_SECOND=limit)
    durations = []
    for _ in range(3):
        started = time.monotonic()
        attempt = submit_attempt(magic.MATCH)
        done = wait_terminal(attempt.pk, timeout=30)
        durations.append(time.monotonic() - started)
        assert (done.status, done.decision) == ("completed", "match")
    # The provider answers in milliseconds here: a lone attempt waits at most for its slot
    # (a fraction of a second at these limits), never several round trips through the broker.
    assert max(durations) < 2.5, durations
    assert VerificationAttempt.objects.count() == 3
    assert len(simulator.ledger.calls()) == 3
