"""The whole pipeline through a real Celery worker and the simulator over real HTTP."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery.signals import before_task_publish

from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.signals import attempt_decided, attempt_finished
from face_idcard.simulator import magic
from face_idcard.states import Decision, Status
from face_idcard.tasks import verify_attempt
from tests.support.celery_app import ledger_calls, wait_for, wait_terminal
from tests.support.factories import submit_attempt

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_thread"),
]

NAME = "李四"


submit = functools.partial(submit_attempt, idcard_name=NAME)
CELERY_IDS_AND_TIMES = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2})?"
)


def kinds(attempt: VerificationAttempt) -> list[str]:
    return list(attempt.events.order_by("created_at", "id").values_list("kind", flat=True))


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    messages: list[dict[str, Any]] = []

    def capture(sender: Any = None, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        messages.append({"task": sender, "body": body, "headers": headers})

    before_task_publish.connect(capture, weak=False)
    yield messages
    before_task_publish.disconnect(capture)


@pytest.mark.parametrize(
    ("number", "decision", "similarity"),
    [
        (magic.MATCH, Decision.MATCH, magic.MATCH_SIMILARITY),
        (magic.NO_MATCH, Decision.NO_MATCH, magic.NO_MATCH_SIMILARITY),
        (magic.REVIEW, Decision.REVIEW, magic.REVIEW_SIMILARITY),
    ],
)
def test_full_run(
    face_settings: Any, simulator: Any, number: str, decision: Decision, similarity: float
) -> None:
    finished: list[Any] = []
    decided: list[Any] = []

    def on_finished(sender: Any, attempt: Any, **kwargs: Any) -> None:
        finished.append(attempt.pk)

    def on_decided(sender: Any, attempt: Any, **kwargs: Any) -> None:
        decided.append((attempt.pk, attempt.decision))

    attempt_finished.connect(on_finished, weak=False)
    attempt_decided.connect(on_decided, weak=False)
    try:
        attempt = submit(number)
        done = wait_terminal(attempt.pk)
        # The signals are sent after the worker's commit, so a poll can see the finished row a
        # moment before they arrive: wait for them before disconnecting the receivers.
        wait_for(lambda: bool(finished and decided), 5.0)
    finally:
        attempt_finished.disconnect(on_finished)
        attempt_decided.disconnect(on_decided)
    assert done.status == Status.COMPLETED
    assert (done.decision, done.similarity, done.threshold) == (decision, similarity, 75.0)
    assert done.provider_calls == 1
    assert done.queued_at and done.started_at and done.finished_at
    assert done.queued_at <= done.started_at <= done.finished_at
    calls = ledger_calls(simulator, attempt.pk)
    assert len(calls) == 1
    assert kinds(done) == ["created", "queued", "provider_call", "decided"]
    assert finished == [attempt.pk]
    assert decided == [(attempt.pk, decision.value)]


def test_name_mismatch_rejected_without_retry(face_settings: Any, simulator: Any) -> None:
    done = wait_terminal(submit(magic.NAME_MISMATCH).pk)
    assert done.status == Status.REJECTED
    assert (done.error_code, done.error_class, done.decision) == ("-5803", "input", "none")
    assert len(ledger_calls(simulator, done.pk)) == 1
    assert EventKind.RETRY_SCHEDULED.value not in kinds(done)


def test_flaky_retried_then_success(face_settings: Any, simulator: Any) -> None:
    number = magic.flaky(2)
    done = wait_terminal(submit(number).pk)
    assert done.status == Status.COMPLETED
    assert done.decision == Decision.MATCH
    assert (done.retry_count, done.provider_calls) == (2, 3)
    calls = ledger_calls(simulator, done.pk, expect=3)
    assert [str(call.code) for call in calls] == ["213", "213", "0"]
    assert kinds(done).count("retry_scheduled") == 2
    assert kinds(done).count("provider_call") == 3


def test_retries_exhausted_then_failed(face_settings: Callable[..., None], simulator: Any) -> None:
    face_settings(RETRY_MAX_COUNT=2)
    done = wait_terminal(submit(magic.INTERNAL_ERROR).pk)
    assert done.status == Status.FAILED
    assert (done.error_code, done.error_class, done.retry_count) == ("213", "transient", 2)
    assert len(ledger_calls(simulator, done.pk, expect=3)) == 3
    assert done.decision == Decision.NONE


def test_arrears_failed_without_retry(face_settings: Any, simulator: Any) -> None:
    done = wait_terminal(submit(magic.ARREARS).pk)
    assert done.status == Status.FAILED
    assert (done.error_code, done.error_class, done.retry_count) == ("3", "configuration", 0)
    assert len(ledger_calls(simulator, done.pk)) == 1


def test_hang_times_out_and_is_retried(face_settings: Callable[..., None], simulator: Any) -> None:
    face_settings(READ_TIMEOUT_SECONDS=0.3, RETRY_MAX_COUNT=1)
    done = wait_terminal(submit(magic.HANG).pk)
    assert done.status == Status.FAILED
    assert (done.error_code, done.retry_count) == ("transport.timeout", 1)
    assert len(ledger_calls(simulator, done.pk, expect=2)) == 2
    call_events = done.events.filter(kind=EventKind.PROVIDER_CALL.value)
    assert [e.data["code"] for e in call_events] == ["transport.timeout"] * 2
    assert all(e.data["billable"] is None for e in call_events)
    assert kinds(done).count("retry_scheduled") == 1


def test_duplicate_delivery_calls_once(face_settings: Any, simulator: Any) -> None:
    attempt = submit(magic.slow(200), enqueue=False)
    for _ in range(3):
        verify_attempt.delay(str(attempt.pk))
    done = wait_terminal(attempt.pk)
    assert done.status == Status.COMPLETED
    assert len(ledger_calls(simulator, attempt.pk)) == 1
    assert done.provider_calls == 1


def test_two_concurrent_runs_call_once(face_settings: Any, simulator: Any) -> None:
    attempt = submit(magic.slow(300), enqueue=False)
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        from django.db import connection

        try:
            barrier.wait()
            outcomes.append(pipeline.run(attempt.pk))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    # Both return "done"; only the winner of the claim saw the attempt through.
    assert [outcome.action for outcome in outcomes] == ["done", "done"]
    assert [outcome.status for outcome in outcomes].count(Status.COMPLETED.value) == 1
    assert len(ledger_calls(simulator, attempt.pk)) == 1
    attempt.refresh_from_db()
    assert attempt.provider_calls == 1


@pytest.mark.parametrize("number", [magic.MATCH, magic.flaky(1)])
def test_message_carries_only_the_attempt_id(
    face_settings: Any, published: list[dict[str, Any]], number: str
) -> None:
    attempt = submit(number)
    done = wait_terminal(attempt.pk)
    assert done.status == Status.COMPLETED
    ours = [m for m in published if m["task"] == "face_idcard.tasks.verify_attempt"]
    # The submit's message, and for the flaky number the worker's retry: one publisher.
    assert len(ours) == 1 + done.retry_count
    for message in ours:
        args, kwargs, _embed = message["body"]
        # The id: nothing about the person, not even the backend (read from the row).
        assert list(args) == [str(attempt.pk)]
        assert kwargs == {}
        # What monitoring shows of it (given, not Celery's saferepr): the same value.
        assert message["headers"]["argsrepr"] == repr((str(attempt.pk),))
        assert message["headers"]["kwargsrepr"] == "{}"
        # Celery's own ids (random hex) and times may hold any four digits: only what is left
        # of the message after them must not hold the number's last four.
        text = CELERY_IDS_AND_TIMES.sub("", repr(message))
        masks = (done.idcard_number_masked, done.idcard_name_masked)
        for secret in (NAME, number, number[-4:], *masks):
            assert secret not in text


def test_the_worker_reads_the_session_queue_only_even_after_a_publish_elsewhere(
    parked_publishes: str,
) -> None:
    """Celery creates a queue at the first publish to it (the parked queue here), in the same
    ``app.amqp.queues`` the session worker reads; the consumer the worker builds when it starts
    (first used after such a publish, or again after a lost connection) must still read the
    session's queue only. Celery before 5.7 builds it from every queue of that dict (on 5.5.0
    the worker took the webhook tests' parked deliveries): it is started with its queue named."""
    from tests.support.celery_app import app, queued_messages

    submit(magic.MATCH)
    assert queued_messages(parked_publishes) == 1
    assert parked_publishes in app.amqp.queues
    with app.connection_for_read() as connection:
        # What the worker's Tasks bootstep builds when its consumer starts.
        consumer = app.amqp.TaskConsumer(connection, auto_declare=False)
        assert [queue.name for queue in consumer.queues] == [app.conf.task_default_queue]
