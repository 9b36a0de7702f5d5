"""Outages heal by themselves: a run that meets the database, the cache or the queue down is
delivered again with backoff (never acked away), gives back the claim it held at once, and
the attempt ends within seconds of the outage's end, without the sweeper (whose lease and
staleness are set to an hour here, and which no test runs).

In this process (``dispatch.run`` called directly): the database failing after the provider
call (Django's ``connection.execute_wrapper``), the rate limiter's cache down before it, the
queue refusing a retry's hand-over. With the session's real worker: the rate limiter's cache
down under it, and, on PostgreSQL and MariaDB, its database connections killed mid-run
(``pg_terminate_backend``, ``KILL``), the worker never restarted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery.canvas import Signature
from celery.exceptions import Reject
from celery.signals import task_retry
from django.db import InterfaceError, OperationalError, connection
from kombu.exceptions import OperationalError as KombuOperationalError

from face_idcard.exceptions import InfrastructureUnavailable
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import dispatch
from face_idcard.simulator import magic
from face_idcard.states import Status, is_terminal
from face_idcard.tasks import CeleryDispatcher, outage_backoff
from tests.support.celery_app import ledger_calls, wait_for, wait_terminal
from tests.support.dispatchers import BrokenDispatcher, RecordingDispatcher
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db(transaction=True)

#: Long enough that nothing here can be the lease's or the sweeper's doing.
NO_SWEEPER = {"CLAIM_LEASE_SECONDS": 3600, "QUEUED_STALE_SECONDS": 3600}
FAST_OUTAGE = {"OUTAGE_RETRY_BACKOFF_BASE_SECONDS": 0.1, "OUTAGE_RETRY_BACKOFF_MAX_SECONDS": 0.4}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REDIS_DOWN = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
}
LOCAL = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "heal"}


@pytest.fixture
def heal_settings(face_settings: Callable[..., None]) -> Callable[..., None]:
    face_settings(**NO_SWEEPER, **FAST_OUTAGE)
    return face_settings


def reload(attempt: VerificationAttempt) -> VerificationAttempt:
    return VerificationAttempt.objects.get(pk=attempt.pk)


@contextlib.contextmanager
def writes_refused_after_the_claim() -> Iterator[None]:
    """The database fails every UPDATE after the first (the claim): the result of the call
    cannot be stored (Django's documented execute_wrapper, this thread's connection)."""
    updates = 0

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal updates
        if sql.lstrip().upper().startswith("UPDATE"):
            updates += 1
            if updates > 1:
                raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


# --- In this process ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "status", "calls"),
    [("requeue", Status.COMPLETED, 2), ("fail", Status.FAILED, 1)],
)
def test_database_lost_after_the_call_the_claim_goes_back_at_once(
    heal_settings: Callable[..., None],
    simulator: Any,
    dispatched: RecordingDispatcher,
    policy: str,
    status: Status,
    calls: int,
) -> None:
    heal_settings(LOST_CALL_POLICY=policy)
    attempt = submit_attempt(enqueue=False)
    with writes_refused_after_the_claim(), pytest.raises(InfrastructureUnavailable) as raised:
        dispatch.run(attempt.pk)
    held = raised.value.held_claim
    assert held is not None and held.called  # the provider answered; nothing was stored
    left = reload(attempt)
    assert (left.status, left.claim_token) == (Status.PROCESSING, held.token)

    # The next delivery gives the claim back as the sweeper would an expired lease
    # (LOST_CALL_POLICY), now rather than after CLAIM_LEASE_SECONDS.
    dispatch.run(attempt.pk, held_claim=held)
    done = reload(attempt)
    assert done.status == status
    assert len(ledger_calls(simulator, attempt.pk, expect=calls)) == calls
    if policy == "requeue":
        reasons = [e.data["reason"] for e in done.events.filter(kind=EventKind.REQUEUED_BY_SWEEPER)]
        assert reasons == ["worker_outage"]
    else:
        assert done.error_code == "internal.worker_lost"


def test_cache_down_before_the_call_releases_the_claim_uncounted(
    settings: Any,
    heal_settings: Callable[..., None],
    simulator: Any,
    dispatched: RecordingDispatcher,
) -> None:
    attempt = submit_attempt(enqueue=False)
    settings.CACHES = {**settings.CACHES, "ratelimit": REDIS_DOWN}
    heal_settings(RATE_LIMIT_PER_SECOND=20, RATE_LIMIT_CACHE="ratelimit")
    with pytest.raises(InfrastructureUnavailable) as raised:
        dispatch.run(attempt.pk)
    held = raised.value.held_claim
    assert held is not None and not held.called
    assert reload(attempt).status == Status.PROCESSING

    settings.CACHES = {**settings.CACHES, "ratelimit": LOCAL}  # the cache is back
    assert dispatch.run(attempt.pk, held_claim=held) == "done"
    done = reload(attempt)
    assert done.status == Status.COMPLETED
    # No call was made under the claim given back: not counted, not a retry.
    assert (done.provider_calls, done.retry_count) == (1, 0)
    assert len(ledger_calls(simulator, attempt.pk)) == 1


def test_a_claim_taken_since_is_not_given_back(
    heal_settings: Callable[..., None], simulator: Any, dispatched: RecordingDispatcher
) -> None:
    attempt = submit_attempt(enqueue=False)
    with writes_refused_after_the_claim(), pytest.raises(InfrastructureUnavailable) as raised:
        dispatch.run(attempt.pk)
    held = raised.value.held_claim
    assert held is not None
    # Someone else moved on (here: the sweeper's recovery, by hand).
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        status=Status.FAILED.value, lease_expires_at=None
    )
    assert dispatch.run(attempt.pk, held_claim=held) == "done"
    assert reload(attempt).status == Status.FAILED


def test_queue_down_when_handing_a_retry_over_is_an_outage(
    heal_settings: Callable[..., None], simulator: Any
) -> None:
    attempt = submit_attempt(magic.SERVICE_UNAVAILABLE, enqueue=False)
    dispatch.set_dispatcher(BrokenDispatcher())
    try:
        with pytest.raises(InfrastructureUnavailable) as raised:
            dispatch.run(attempt.pk)
    finally:
        dispatch.set_dispatcher(None)
    # The retry is stored, no claim is held: the next delivery hands it over again.
    assert raised.value.held_claim is None
    assert reload(attempt).status == Status.RETRY_WAIT
    recorder = RecordingDispatcher()
    dispatch.set_dispatcher(recorder)
    try:
        # Early, it is deferred to its time; on time (a short backoff), run again: handed
        # over either way.
        assert dispatch.run(attempt.pk) in ("defer", "retry")
    finally:
        dispatch.set_dispatcher(None)
    assert recorder.ids == [attempt.pk]


def test_a_retry_the_broker_refuses_rejects_the_message_back_to_the_queue(
    settings: Any,
    heal_settings: Callable[..., None],
    simulator: Any,
    dispatched: RecordingDispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from face_idcard.tasks import verify_attempt

    attempt = submit_attempt(enqueue=False)
    settings.CACHES = {**settings.CACHES, "ratelimit": REDIS_DOWN}
    heal_settings(RATE_LIMIT_PER_SECOND=20, RATE_LIMIT_CACHE="ratelimit")

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise KombuOperationalError("broker unreachable")

    # Task.retry() publishes its new message through Signature.apply_async.
    monkeypatch.setattr(Signature, "apply_async", broker_down)
    # The task's body as the worker runs it (a delivered message, not a direct call).
    verify_attempt.push_request(id="delivered", retries=0, called_directly=False)
    try:
        with pytest.raises(Reject) as rejected:
            verify_attempt.run(str(attempt.pk))
    finally:
        verify_attempt.pop_request()
    # Celery's own answer would drop the message (requeue=False): it goes back instead.
    assert rejected.value.requeue is True


def test_outage_backoff_grows_to_its_cap_and_is_never_zero(
    heal_settings: Callable[..., None],
) -> None:
    heal_settings(OUTAGE_RETRY_BACKOFF_BASE_SECONDS=1.0, OUTAGE_RETRY_BACKOFF_MAX_SECONDS=10.0)
    assert all(0.5 <= outage_backoff(0) <= 1.0 for _ in range(50))
    assert all(2.0 <= outage_backoff(2) <= 4.0 for _ in range(50))
    assert all(5.0 <= outage_backoff(40) <= 10.0 for _ in range(50))


# --- With the real worker ----------------------------------------------------------------------


@pytest.fixture
def retries() -> Iterator[list[str]]:
    """The worker's Task.retry() calls (their task ids), in the worker's thread."""
    seen: list[str] = []

    def count(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
        seen.append(str(getattr(request, "id", "")))

    task_retry.connect(count, weak=False)
    yield seen
    task_retry.disconnect(count)


@pytest.mark.pipeline
@pytest.mark.usefixtures("celery_worker_thread")
def test_worker_waits_out_a_cache_outage(
    settings: Any, heal_settings: Callable[..., None], simulator: Any, retries: list[str]
) -> None:
    attempts = [submit_attempt(enqueue=False) for _ in range(3)]
    settings.CACHES = {**settings.CACHES, "ratelimit": REDIS_DOWN}
    heal_settings(RATE_LIMIT_PER_SECOND=20, RATE_LIMIT_CACHE="ratelimit")
    for attempt in attempts:
        CeleryDispatcher().dispatch(attempt.pk, None)
    wait_for(lambda: len(retries) >= 2 * len(attempts), timeout=20)
    # Every message is still there (retried, not acked away), no attempt ended.
    assert not any(is_terminal(reload(attempt).status) for attempt in attempts)

    settings.CACHES = {**settings.CACHES, "ratelimit": LOCAL}  # the cache is back
    back = time.monotonic()
    for attempt in attempts:
        done = wait_terminal(attempt.pk, timeout=10)
        assert done.status == Status.COMPLETED
        assert (done.provider_calls, done.retry_count) == (1, 0)
        assert len(ledger_calls(simulator, attempt.pk)) == 1
    # Within a backoff of the cache's return (OUTAGE_RETRY_BACKOFF_MAX_SECONDS 0.4 s here).
    assert time.monotonic() - back < 5


def kill_other_sessions() -> int:
    """End every other session on this test database (the worker's), as an administrator
    or a failover would; returns how many."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return len(cursor.fetchall())
        cursor.execute(
            "SELECT id FROM information_schema.processlist "
            "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        )
        ids = [row[0] for row in cursor.fetchall()]
        for session in ids:
            with contextlib.suppress(Exception):  # ended meanwhile
                cursor.execute(f"KILL {int(session)}")
        return len(ids)


@pytest.mark.pipeline
@pytest.mark.usefixtures("celery_worker_thread")
def test_worker_heals_when_its_database_connections_are_killed(
    heal_settings: Callable[..., None],
    simulator_factory: Callable[..., Any],
    retries: list[str],
) -> None:
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("needs a database server (FACE_IDCARD_TEST_DB=postgres or mysql)")
    slow = simulator_factory(latency=300.0)
    heal_settings(BACKENDS={"default": {"BACKEND": "simulator", "ENDPOINT": slow.base_url}})
    attempts = [submit_attempt() for _ in range(6)]

    kills = 0
    deadline = time.monotonic() + 60

    def pending() -> list[str]:
        ids = [attempt.pk for attempt in attempts]
        rows = VerificationAttempt.objects.filter(pk__in=ids).values_list("status", flat=True)
        return [status for status in rows if not is_terminal(status)]

    # Kill the worker's sessions while it is mid-run (claimed, calling), three times.
    while kills < 3 and time.monotonic() < deadline:
        statuses = pending()
        if not statuses:
            break
        if Status.PROCESSING.value in statuses and kill_other_sessions():
            kills += 1
            time.sleep(0.5)
        time.sleep(0.02)
    assert kills >= 1

    wait_for(lambda: not pending(), timeout=30)
    for attempt in attempts:
        done = reload(attempt)
        assert done.status == Status.COMPLETED, (done.status, done.error_code)
    # The worker met its dead connection and retried (the lease is an hour, and no sweeper
    # runs: nothing waited for one).
    assert retries


# --- Every task starts with a usable connection ------------------------------------------------


def kill_from_another_thread(session: int) -> None:
    """End ``session`` from another connection (a thread has its own)."""
    from django.db import connections

    def kill() -> None:
        try:
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SELECT pg_terminate_backend(%s)", [session])
                else:
                    cursor.execute(f"KILL {int(session)}")
        finally:
            connections.close_all()

    worker = threading.Thread(target=kill)
    worker.start()
    worker.join()


def this_session() -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_backend_pid()")
        else:
            cursor.execute("SELECT CONNECTION_ID()")
        return int(cursor.fetchone()[0])


@pytest.fixture
def persistent_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    """This thread's connection kept across tasks (CONN_MAX_AGE None), as a site sets it."""
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("needs a database server (FACE_IDCARD_TEST_DB=postgres or mysql)")

    def keep(health_checks: bool) -> None:
        connection.close()
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)
        monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", health_checks)

    yield keep
    connection.close()  # reopened with the restored settings


def test_with_health_checks_a_task_starts_on_a_live_connection(
    persistent_connections: Callable[[bool], None], heal_settings: Callable[..., None]
) -> None:
    from face_idcard.tasks import verify_attempt

    persistent_connections(True)
    session = this_session()
    kill_from_another_thread(session)  # a database restart, between two tasks
    verify_attempt.before_start("task-id", (), {})
    assert this_session() != session  # reconnected before the task's first query


def test_without_health_checks_a_dead_connection_is_dropped_when_the_task_ends(
    persistent_connections: Callable[[bool], None], heal_settings: Callable[..., None]
) -> None:
    from face_idcard.tasks import verify_attempt

    persistent_connections(False)
    session = this_session()
    kill_from_another_thread(session)
    verify_attempt.before_start("task-id", (), {})
    # The first query of the task meets the dead session (the task is retried, above) ...
    with pytest.raises((OperationalError, InterfaceError)):
        this_session()
    verify_attempt.after_return("RETRY", None, "task-id", (), {}, None)
    # ... and the next task starts on a new one.
    verify_attempt.before_start("task-id", (), {})
    assert this_session() != session
