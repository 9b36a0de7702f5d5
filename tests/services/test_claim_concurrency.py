"""Claims under concurrency: of many workers claiming one attempt at the same moment (a
message delivered several times, the sweeper's republish), exactly one wins.

Each thread has its own database connection and a barrier releases them together: on
PostgreSQL and MySQL/MariaDB their conditional UPDATEs race for the row. SQLite has one
writer at a time, so there the threads' UPDATEs queue up; each later one must still find
the row claimed.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from face_idcard.models import VerificationAttempt
from face_idcard.services import _claim as claim

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def claim_at_once(attempt_id: Any) -> tuple[list[VerificationAttempt], list[BaseException]]:
    won: list[VerificationAttempt] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            result = claim.claim(attempt_id, timezone.now())
            if result is not None:
                with lock:
                    won.append(result)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a claim never returned"
    return won, errors


@pytest.mark.parametrize("status", ["queued", "retry_wait"])
def test_exactly_one_of_many_concurrent_claims_wins(status: str) -> None:
    attempt = VerificationAttempt.objects.create(
        backend="simulator", consent_at=timezone.now(), status=status, provider_calls=1
    )
    won, errors = claim_at_once(attempt.pk)
    assert errors == []
    assert len(won) == 1
    (winner,) = won
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert stored.status == "processing" == winner.status
    assert stored.claim_token == winner.claim_token is not None
    assert stored.provider_calls == 2 == winner.provider_calls  # one claim counted, not eight


def test_no_concurrent_claim_wins_a_finished_attempt() -> None:
    attempt = VerificationAttempt.objects.create(
        backend="simulator", consent_at=timezone.now(), status="completed"
    )
    won, errors = claim_at_once(attempt.pk)
    assert (won, errors) == ([], [])
    assert VerificationAttempt.objects.get(pk=attempt.pk).status == "completed"
