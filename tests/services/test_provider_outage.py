"""A provider outage waits, it does not fail (issue 27, item 5): the simulator is stopped for
"60 s" of simulated time while attempts run, over real HTTP; the pipeline is driven by a small
scheduler that runs each attempt when its message would arrive (``RunOutcome.countdown``), on a
time-machine clock, so a minute passes without sleeping.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from uuid import UUID

import pytest
from django.core.cache import caches
from django.db import connections
from django.utils import timezone

from face_idcard import _reasons as reasons
from face_idcard.models import AttemptEvent, EventKind, ProviderBreaker, VerificationAttempt
from face_idcard.services import _breaker as breaker
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import SimulatorConfig, SimulatorServer
from face_idcard.states import Status
from tests.support.celery_app import apply_face_settings, wait_for, wait_terminal
from tests.support.clocks import frozen_clock
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db(transaction=True)

EPOCH = datetime(2033, 6, 7, 8, 9, 10, tzinfo=dt_timezone.utc)
OUTAGE = timedelta(seconds=60)
ATTEMPTS = 12
INTERVAL = 10
THRESHOLD = 5
#: The site's defaults but for the count: a minute of outage under them failed attempts.
SETTINGS = {
    "RETRY_MAX_COUNT": None,
    "RETRY_WINDOW_MINUTES": 15,
    "RETRY_BACKOFF_BASE_SECONDS": 2.0,
    "RETRY_BACKOFF_MAX_SECONDS": 300.0,
    "BREAKER_FAILURE_THRESHOLD": THRESHOLD,
    "BREAKER_PROBE_INTERVAL_SECONDS": INTERVAL,
}


class Provider:
    """The simulator on a port of its own, stopped and started again at will (a provider's
    outage: connections refused); its ledger is the revived server's."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server: SimulatorServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimulatorServer:
        self.server = SimulatorServer(SimulatorConfig(port=self.port)).start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None


@pytest.fixture
def provider() -> Iterator[Provider]:
    down = Provider()
    yield down
    down.stop()


@pytest.fixture
def clock() -> Iterator[Any]:
    breaker.forget()
    with frozen_clock(EPOCH) as traveller:
        yield traveller
    breaker.forget()


@pytest.fixture
def outage_settings(settings: Any, provider: Provider) -> Callable[..., None]:
    def apply(**more: Any) -> None:
        apply_face_settings(settings, provider, **{**SETTINGS, **more})

    apply()
    return apply


@dataclass
class Scheduler:
    """Runs each attempt when its message would arrive, in time order, moving the clock."""

    clock: Any
    due: dict[UUID, datetime] = field(default_factory=dict)
    #: (time, action): done once the clock reaches the time.
    at: list[tuple[datetime, Callable[[], None]]] = field(default_factory=list)

    def run(self, until: datetime) -> None:
        while self.due:
            pk, when = min(self.due.items(), key=lambda item: item[1])
            if when > until:
                return
            while self.at and self.at[0][0] <= when:
                moment, action = self.at.pop(0)
                self.clock.move_to(max(moment, timezone.now()))
                action()
            if when > timezone.now():
                self.clock.move_to(when)
            del self.due[pk]
            outcome = pipeline.run(pk)
            if outcome.again:
                self.due[pk] = timezone.now() + timedelta(seconds=outcome.countdown)


def submit_all(count: int) -> list[VerificationAttempt]:
    return [submit_attempt(enqueue=False) for _ in range(count)]


def failed_calls() -> list[dict[str, Any]]:
    return [
        event.data
        for event in AttemptEvent.objects.filter(kind=EventKind.PROVIDER_CALL.value)
        if event.data["reason"] == "provider_unavailable"
    ]


def test_a_minute_of_outage_waits_and_every_attempt_is_decided_after_it(
    provider: Provider, outage_settings: Any, clock: Any
) -> None:
    attempts = submit_all(ATTEMPTS)
    scheduler = Scheduler(clock, {attempt.pk: EPOCH for attempt in attempts})
    back = EPOCH + OUTAGE
    scheduler.at.append((back, provider.start))

    scheduler.run(until=EPOCH + OUTAGE / 2)
    # Half-way through: every attempt waits for the provider, and says so.
    waiting = list(VerificationAttempt.objects.all())
    assert {(row.status, row.reason) for row in waiting} == {
        (Status.RETRY_WAIT.value, "provider_unavailable")
    }
    assert {reasons.person_message(row) for row in waiting} == {str(reasons.WAITING_FOR_PROVIDER)}
    held = AttemptEvent.objects.filter(kind=EventKind.WAITING_FOR_PROVIDER.value)
    assert held.count() >= ATTEMPTS - THRESHOLD

    scheduler.run(until=back + timedelta(minutes=5))
    assert scheduler.due == {}
    done = list(VerificationAttempt.objects.all())
    assert {(row.status, row.decision) for row in done} == {(Status.COMPLETED.value, "match")}
    # The breaker's doing: the calls that found the provider down are the ones that opened
    # it and one probe per interval, not every attempt's retries.
    probes = OUTAGE.total_seconds() / INTERVAL + 1
    assert len(failed_calls()) <= THRESHOLD + probes
    assert sum(row.retry_count for row in done) <= THRESHOLD + probes
    # Back, the backlog drains at once: within two intervals of the provider's return.
    finished = [row.finished_at for row in done if row.finished_at is not None]
    assert max(finished) - back <= timedelta(seconds=2 * INTERVAL)
    assert provider.server is not None
    assert provider.server.ledger.billable == ATTEMPTS == provider.server.ledger.total


def test_an_outage_longer_than_the_retry_window_fails_the_attempts_at_its_end(
    provider: Provider, outage_settings: Any, clock: Any
) -> None:
    outage_settings(RETRY_WINDOW_MINUTES=1)
    attempts = submit_all(4)
    scheduler = Scheduler(clock, {attempt.pk: EPOCH for attempt in attempts})
    scheduler.run(until=EPOCH + timedelta(minutes=10))
    assert scheduler.due == {}
    done = list(VerificationAttempt.objects.all())
    assert {(row.status, row.reason, row.error_class) for row in done} == {
        (Status.FAILED.value, "provider_unavailable", "transient")
    }
    window = timedelta(minutes=1)
    for row in done:
        assert row.finished_at is not None and row.retry_until is not None
        assert row.retry_until <= EPOCH + window
        # Held until the window ended, not a moment longer than one wait.
        assert (
            row.retry_until <= row.finished_at <= row.retry_until + 2 * timedelta(seconds=INTERVAL)
        )
    assert len(failed_calls()) <= 4 + window.total_seconds() / INTERVAL + 1


def test_after_the_outage_the_backlog_drains_at_the_rate_limit(
    settings: Any, provider: Provider, outage_settings: Any, clock: Any
) -> None:
    limit = 4
    settings.CACHES = {
        **settings.CACHES,
        "outage_unit": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "outage_unit",
        },
    }
    caches["outage_unit"].clear()
    outage_settings(RATE_LIMIT_PER_SECOND=limit, RATE_LIMIT_CACHE="outage_unit")
    count = 20
    attempts = submit_all(count)
    scheduler = Scheduler(clock, {attempt.pk: EPOCH for attempt in attempts})
    back = EPOCH + OUTAGE
    scheduler.at.append((back, provider.start))
    scheduler.run(until=back + timedelta(minutes=5))
    assert {row.status for row in VerificationAttempt.objects.all()} == {Status.COMPLETED.value}
    answered = sorted(
        event.created_at
        for event in AttemptEvent.objects.filter(kind=EventKind.PROVIDER_CALL.value)
        if event.data["reason"] != "provider_unavailable"
    )
    assert len(answered) == count
    # Never more than the limit in any second.
    for first, later in zip(answered, answered[limit:], strict=False):
        assert later - first >= timedelta(seconds=1)
    assert answered[-1] - back <= timedelta(seconds=2 * INTERVAL + count / limit)


def test_while_it_is_open_one_worker_of_many_probes(
    provider: Provider, outage_settings: Any, clock: Any
) -> None:
    """Worker threads, each with its own database connection, run held-off attempts at the
    probe time at once: one calls the provider, the others wait without calling."""
    opening = submit_all(THRESHOLD)
    for attempt in opening:
        assert pipeline.run(attempt.pk).status == Status.RETRY_WAIT.value
    assert len(failed_calls()) == THRESHOLD
    clock.shift(INTERVAL)
    held = submit_all(8)
    barrier = threading.Barrier(len(held))
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(pk: UUID) -> None:
        try:
            barrier.wait(timeout=30)
            outcome = pipeline.run(pk)
            with lock:
                outcomes.append(outcome.status)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(attempt.pk,)) for attempt in held]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert outcomes == [Status.RETRY_WAIT.value] * len(held)
    assert len(failed_calls()) == THRESHOLD + 1  # the probe's
    rows = VerificationAttempt.objects.filter(pk__in=[attempt.pk for attempt in held])
    assert sorted(row.provider_calls for row in rows) == [0] * (len(held) - 1) + [1]


class WorkerStopped(BaseException):
    pass


def test_a_probe_whose_worker_stops_before_its_call_gives_the_probe_back(
    provider: Provider, outage_settings: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for attempt in submit_all(THRESHOLD):
        pipeline.run(attempt.pk)
    clock.shift(INTERVAL)
    (stopping, waiting) = submit_all(2)

    def stop(*args: Any, **kwargs: Any) -> Any:
        raise WorkerStopped

    monkeypatch.setattr(pipeline, "_call", stop)
    with pytest.raises(WorkerStopped):
        pipeline.run(stopping.pk)
    monkeypatch.undo()
    assert ProviderBreaker.objects.get().probe_token is None
    # The next worker probes at once, not after the dead one's lease.
    assert pipeline.run(waiting.pk).status == Status.RETRY_WAIT.value
    assert len(failed_calls()) == THRESHOLD + 1
    assert VerificationAttempt.objects.get(pk=waiting.pk).provider_calls == 1


@pytest.mark.usefixtures("celery_worker_thread")
def test_with_a_real_worker_an_outage_ends_with_every_attempt_decided(
    provider: Provider, outage_settings: Any
) -> None:
    """The Celery worker (re-publishing each wait with its countdown), real time: the
    simulator down for 3 s with a 1 s probe interval, then back."""
    breaker.forget()
    outage_settings(
        BREAKER_PROBE_INTERVAL_SECONDS=1,
        RETRY_BACKOFF_BASE_SECONDS=0.05,
        RETRY_BACKOFF_MAX_SECONDS=0.2,
    )
    attempts = [submit_attempt() for _ in range(6)]
    wait_for(lambda: len(failed_calls()) >= THRESHOLD)
    time.sleep(3)
    provider.start()
    done = [wait_terminal(attempt.pk, timeout=30) for attempt in attempts]
    assert {(row.status, row.decision) for row in done} == {(Status.COMPLETED.value, "match")}
    assert AttemptEvent.objects.filter(kind=EventKind.WAITING_FOR_PROVIDER.value).exists()
    # The ones that opened it, then about one probe a second (a call may be refused while
    # the server comes up).
    assert len(failed_calls()) <= THRESHOLD + 3 / 1 + 3
