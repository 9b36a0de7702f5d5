"""A Celery app and worker for the pipeline tests, plus helpers shared by those tests.

The worker is real (``celery.contrib.testing.worker.start_worker``, solo pool in a thread of
this process), talking to the in-memory transport by default, or to Redis when
``FACE_IDCARD_TEST_BROKER`` is a redis URL. No ``task_always_eager`` anywhere.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from face_idcard.models import VerificationAttempt
from face_idcard.states import is_terminal

app = Celery("face_idcard_tests", set_as_current=True)
app.conf.update(
    broker_url=settings.TEST_BROKER,
    # A queue of our own: concurrent test runs may share the Redis database, and their workers
    # must not take our messages (or we theirs).
    task_default_queue=f"face_idcard_tests_{os.getpid()}",
    broker_connection_retry_on_startup=True,
    task_always_eager=False,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=4,
    # Redis: an unacknowledged message comes back after this long (a killed worker's message).
    # polling_interval: the in-memory transport polls its queue (1 s by default).
    broker_transport_options={"visibility_timeout": 30, "polling_interval": 0.02},
)
app.set_default()

# Register the tasks with this app.
import face_idcard.tasks  # noqa: E402, F401

#: Settings for fast pipeline tests: short backoff and timeouts, limits out of the way.
FAST: dict[str, Any] = {
    "RETRY_BACKOFF_BASE_SECONDS": 0.02,
    "RETRY_BACKOFF_MAX_SECONDS": 0.1,
    "RETRY_MAX_COUNT": 3,
    "CONNECT_TIMEOUT_SECONDS": 1.0,
    "READ_TIMEOUT_SECONDS": 2.0,
    "MAX_ATTEMPTS_PER_ID_PER_DAY": 1000,
    "MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY": 1000,
    "REVIEW_BAND": 2.0,
}


#: A queue no worker consumes (the session's worker takes only ``task_default_queue``): a test
#: that publishes there leaves nothing for the live worker to do while it counts statements
#: or events, or while its database is flushed after it (the flush's TRUNCATE and a worker's
#: transaction on the same tables deadlock).
PARKED_QUEUE = f"face_idcard_tests_parked_{os.getpid()}"


def purge_broker(queue: str | None = None) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        with contextlib.suppress(Exception):  # the queue may not exist yet
            channel.queue_purge(queue or app.conf.task_default_queue)


def queued_messages(queue: str) -> int:
    """How many messages wait in ``queue`` (0 for a queue not declared yet)."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except Exception:
            return 0


@contextlib.contextmanager
def running_worker() -> Iterator[Celery]:
    """A real worker (solo pool, in its own thread) until the block ends.

    Start it once per test session (conftest's ``celery_worker_thread``): two workers in one
    process share kombu's event loop, and the second one's timers (countdowns) never fire.
    """
    purge_broker()
    with start_worker(
        app,
        # The session's queue, named (a worker's -Q). Unnamed, Celery before 5.7 reads every
        # queue of app.amqp.queues when the worker's consumer starts (at first use, or again
        # after a lost connection), and this process adds to that dict each queue it first
        # publishes to: started after a test that parked its publishes (tests/api's create
        # queries run before the first pipeline test), the worker took PARKED_QUEUE's messages.
        queues=[app.conf.task_default_queue],
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        # DEBUG: every record the worker can emit exists, so the privacy test sees them all.
        loglevel="DEBUG",
        shutdown_timeout=10.0,
    ):
        yield app


def apply_face_settings(settings: Any, simulator: Any, **overrides: Any) -> None:
    """Point the pipeline at ``simulator`` with the FAST settings plus ``overrides``."""
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": {"BACKEND": "simulator", "ENDPOINT": simulator.base_url}},
        **FAST,
        **overrides,
    }


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def wait_terminal(attempt_id: Any, timeout: float = 15.0) -> VerificationAttempt:
    def done() -> bool:
        status = (
            VerificationAttempt.objects.filter(pk=attempt_id)
            .values_list("status", flat=True)
            .first()
        )
        return status is not None and is_terminal(status)

    wait_for(done, timeout)
    return VerificationAttempt.objects.get(pk=attempt_id)


def ledger_calls(sim: Any, attempt_id: Any, expect: int = 1) -> list[Any]:
    """The simulator's records of calls for one attempt (session_id = the attempt's UUID hex).

    The simulator writes its ledger just after it has answered, so wait (briefly) until at
    least ``expect`` records are there, then a little longer for any unexpected extra one.
    """
    hex_id = attempt_id.hex if hasattr(attempt_id, "hex") else str(attempt_id).replace("-", "")

    def calls() -> list[Any]:
        return [call for call in sim.ledger.calls() if call.session_id == hex_id]

    deadline = time.monotonic() + 3.0
    while len(calls()) < expect and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    return calls()
