"""The sweeper recovers attempts whose worker died or whose message never arrived."""

from __future__ import annotations

import functools
import io
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from face_idcard import services
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.celery_app import ledger_calls, wait_terminal
from tests.support.factories import submit_attempt

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_thread"),
]


# enqueue=False: as if the message was lost
submit = functools.partial(submit_attempt, idcard_name="王五", enqueue=False)


def as_if_a_worker_died_mid_call(attempt: VerificationAttempt, lease_left: float) -> None:
    """What a killed worker leaves behind: processing, a claim token, a lease."""
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        status=Status.PROCESSING.value,
        claim_token=uuid.uuid4(),
        started_at=timezone.now() - timedelta(seconds=130),
        lease_expires_at=timezone.now() + timedelta(seconds=lease_left),
        provider_calls=1,
    )


def test_expired_lease_is_requeued_and_completed(face_settings: Any, simulator: Any) -> None:
    attempt = submit()
    as_if_a_worker_died_mid_call(attempt, lease_left=-10)
    counts = services.sweep()
    assert counts["expired_leases"] == 1
    done = wait_terminal(attempt.pk)
    assert done.status == Status.COMPLETED
    assert done.provider_calls == 2  # the lost call and the new one
    assert done.retry_count == 1
    assert len(ledger_calls(simulator, attempt.pk)) == 1  # the "lost" call never happened here
    reasons = [
        e.data["reason"] for e in done.events.filter(kind=EventKind.REQUEUED_BY_SWEEPER.value)
    ]
    assert reasons == ["lease_expired"]


def test_live_lease_is_left_alone(face_settings: Any) -> None:
    attempt = submit()
    as_if_a_worker_died_mid_call(attempt, lease_left=60)
    assert services.sweep()["expired_leases"] == 0
    attempt.refresh_from_db()
    assert attempt.status == Status.PROCESSING


def test_lease_lost_too_often_fails(face_settings: Any) -> None:
    attempt = submit()
    as_if_a_worker_died_mid_call(attempt, lease_left=-10)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        retry_count=3
    )  # FAST: RETRY_MAX_COUNT=3
    assert services.sweep()["failed"] == 1
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert attempt.error_code == "internal.worker_lost"


def test_lost_queued_message_is_resent(face_settings: Any, simulator: Any) -> None:
    attempt = submit()
    # Not stale yet: nothing to do.
    assert services.sweep()["lost_queued"] == 0
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        queued_at=timezone.now() - timedelta(seconds=601)
    )
    out = io.StringIO()
    call_command("face_idcard_sweep", stdout=out)
    assert "lost_queued=1" in out.getvalue()
    done = wait_terminal(attempt.pk)
    assert done.status == Status.COMPLETED
    assert len(ledger_calls(simulator, attempt.pk)) == 1
    # Sweeping again finds nothing.
    assert services.sweep() == {
        "expired_leases": 0,
        "failed": 0,
        "lost_queued": 0,
        "lost_retries": 0,
        "parked_published": 0,
    }


def test_a_lost_message_is_resent_two_minutes_after_its_queueing_by_default(
    settings: Any,
) -> None:
    """A broker can lose what a worker killed hard had read and not yet recorded (kombu's
    Redis transport between its BRPOP and its bookkeeping of the unacknowledged message):
    the sweeper is the only way back, and ten minutes (the default before issue 27) left such
    an attempt stuck long after the rest of a backlog had drained. A message sent twice is
    harmless (the claim), so the default is short."""
    settings.FACE_IDCARD = {
        key: value for key, value in settings.FACE_IDCARD.items() if key != "QUEUED_STALE_SECONDS"
    }
    attempt = submit()
    for age, resent in ((119, 0), (121, 1)):
        VerificationAttempt.objects.filter(pk=attempt.pk).update(
            queued_at=timezone.now() - timedelta(seconds=age)
        )
        assert services.sweep()["lost_queued"] == resent


def test_lost_retry_message_is_resent(face_settings: Any, simulator: Any) -> None:
    attempt = submit(magic.flaky(1))
    outcome = pipeline.run(attempt.pk)  # 213: now waiting to retry, but nobody re-sends it
    assert outcome.action == "retry"
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=700)
    )
    assert services.sweep()["lost_retries"] == 1
    done = wait_terminal(attempt.pk)
    assert done.status == Status.COMPLETED
    assert len(ledger_calls(simulator, attempt.pk, expect=2)) == 2


def test_sweep_task_runs_on_the_worker(face_settings: Any) -> None:
    from face_idcard.tasks import sweep

    attempt = submit()
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        queued_at=timezone.now() - timedelta(seconds=601)
    )
    sweep.delay()
    assert wait_terminal(attempt.pk).status == Status.COMPLETED


def test_lost_call_policy_fail_never_calls_again(face_settings: Any, simulator: Any) -> None:
    face_settings(LOST_CALL_POLICY="fail")
    attempt = submit()
    as_if_a_worker_died_mid_call(attempt, lease_left=-10)
    assert services.sweep()["failed"] == 1
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert (attempt.error_code, attempt.error_class) == ("internal.worker_lost", "unknown")
    finished = attempt.events.get(kind=EventKind.FINISHED.value)
    assert finished.data["reason"] == "lost_call"
    # The message redelivered after the crash finds nothing to do.
    assert pipeline.run(attempt.pk).action == "done"
    time.sleep(0.05)
    assert simulator.ledger.total == 0
