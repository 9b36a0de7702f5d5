"""``face_idcard.services._breaker``: the circuit breaker of each alias, shared by the workers
through the database (one row per alias, conditional UPDATEs), on a simulated clock.

The pipeline's use of it, against the simulator over real HTTP, is in test_provider_outage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from face_idcard.models import ProviderBreaker
from face_idcard.outcome import GENERIC, TRANSPORT_CONNECTION, TRANSPORT_TIMEOUT, ProviderOutcome
from face_idcard.providers.legacy import codes as legacy_codes
from face_idcard.services import _breaker as breaker
from tests.support.clocks import frozen_clock

pytestmark = pytest.mark.django_db(transaction=True)

ALIAS = "default"
EPOCH = datetime(2032, 3, 4, 5, 6, 7, tzinfo=dt_timezone.utc)
INTERVAL = 10
THRESHOLD = 3
THREADS = 8

DOWN = ProviderOutcome.from_code(GENERIC, TRANSPORT_CONNECTION)
TIMED_OUT = ProviderOutcome.from_code(GENERIC, TRANSPORT_TIMEOUT)


@pytest.fixture(autouse=True)
def _settings(face_settings: Callable[..., None]) -> Iterator[None]:
    face_settings(BREAKER_FAILURE_THRESHOLD=THRESHOLD, BREAKER_PROBE_INTERVAL_SECONDS=INTERVAL)
    breaker.forget()
    yield
    breaker.forget()


@pytest.fixture
def clock() -> Iterator[Any]:
    with frozen_clock(EPOCH) as traveller:
        yield traveller


def answered() -> ProviderOutcome:
    """An answer of the provider (a person's outcome): the provider is up."""
    return ProviderOutcome.from_code(legacy_codes.LEGACY_CODES, "0", similarity=90.0)


def fail(times: int, outcome: ProviderOutcome = DOWN) -> None:
    for _ in range(times):
        gate = breaker.admit(ALIAS, timezone.now())
        assert gate.allowed
        breaker.record(gate, outcome, timezone.now())


def row() -> ProviderBreaker:
    return ProviderBreaker.objects.get(alias=ALIAS)


def test_the_healthy_path_reads_nothing(django_assert_num_queries: Any, clock: Any) -> None:
    with django_assert_num_queries(0):
        gate = breaker.admit(ALIAS, timezone.now())
        breaker.record(gate, answered(), timezone.now())
    assert gate.allowed and gate.probe is None


def test_calls_in_a_row_finding_the_provider_down_open_it(clock: Any) -> None:
    fail(THRESHOLD - 1)
    assert row().open_until is None and row().failures == THRESHOLD - 1
    fail(1, TIMED_OUT)
    assert row().open_until == timezone.now() + timedelta(seconds=INTERVAL)
    held = breaker.admit(ALIAS, timezone.now())
    assert not held.allowed and held.wait_until == row().open_until


def test_an_answer_in_between_starts_the_count_again(clock: Any) -> None:
    fail(THRESHOLD - 1)
    gate = breaker.admit(ALIAS, timezone.now())
    assert gate.troubled  # this process saw failures: the answer resets the row
    breaker.record(gate, answered(), timezone.now())
    assert row().failures == 0
    fail(THRESHOLD - 1)
    assert row().open_until is None


def test_failures_further_apart_than_the_interval_are_not_in_a_row(clock: Any) -> None:
    for _ in range(THRESHOLD + 2):
        fail(1)
        clock.shift(INTERVAL + 1)
    assert row().open_until is None and row().failures == 1


def test_a_rate_limit_answer_is_not_the_provider_down(clock: Any) -> None:
    throttled = ProviderOutcome.from_code(legacy_codes.LEGACY_CODES, "15")
    assert throttled.error_class.value == "transient"
    fail(THRESHOLD + 2, throttled)
    assert not ProviderBreaker.objects.filter(alias=ALIAS, open_until__isnull=False).exists()


def test_one_probe_at_a_time_then_an_answer_closes_it(clock: Any) -> None:
    fail(THRESHOLD)
    clock.shift(INTERVAL)
    probe = breaker.admit(ALIAS, timezone.now())
    assert probe.allowed and probe.probe is not None
    other = breaker.admit(ALIAS, timezone.now())
    assert not other.allowed
    assert other.wait_until == timezone.now() + timedelta(seconds=INTERVAL)
    breaker.record(probe, answered(), timezone.now())
    closed = row()
    assert (closed.open_until, closed.failures, closed.probe_token) == (None, 0, None)
    assert breaker.admit(ALIAS, timezone.now()).allowed


def test_a_probe_that_finds_it_down_opens_it_for_another_interval(clock: Any) -> None:
    fail(THRESHOLD)
    clock.shift(INTERVAL)
    probe = breaker.admit(ALIAS, timezone.now())
    breaker.record(probe, DOWN, timezone.now())
    again = row()
    assert again.open_until == timezone.now() + timedelta(seconds=INTERVAL)
    assert again.probe_token is None
    assert not breaker.admit(ALIAS, timezone.now()).allowed


def test_a_probe_given_back_or_lost_lets_the_next_one_go(clock: Any, face_settings: Any) -> None:
    fail(THRESHOLD)
    clock.shift(INTERVAL)
    first = breaker.admit(ALIAS, timezone.now())
    breaker.release(first)  # deferred by the rate limit: it never called
    second = breaker.admit(ALIAS, timezone.now())
    assert second.probe not in (None, first.probe)
    # Its worker dies: once the claim lease is over, another worker may probe.
    clock.shift(120 + 1)
    third = breaker.admit(ALIAS, timezone.now())
    assert third.probe not in (None, second.probe)


def test_another_process_sees_it_open_after_one_call_of_its_own(clock: Any) -> None:
    fail(THRESHOLD)
    breaker.forget()  # a process that has not seen the outage calls once ...
    assert breaker.admit(ALIAS, timezone.now()).allowed
    fail(1)
    # ... and from then on waits like the others.
    assert not breaker.admit(ALIAS, timezone.now()).allowed


def test_a_closed_row_is_noticed_by_a_process_still_suspecting_it(clock: Any) -> None:
    fail(THRESHOLD)
    ProviderBreaker.objects.filter(alias=ALIAS).update(open_until=None, failures=0)
    gate = breaker.admit(ALIAS, timezone.now())
    assert gate.allowed and not gate.troubled


def test_of_many_workers_at_the_probe_time_exactly_one_probes(clock: Any) -> None:
    """Each thread has its own database connection; a barrier releases them together."""
    fail(THRESHOLD)
    clock.shift(INTERVAL)
    now = timezone.now()
    gates: list[breaker.Gate] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            gate = breaker.admit(ALIAS, now)
            with lock:
                gates.append(gate)
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
    assert errors == []
    assert len(gates) == THREADS
    probes = [gate for gate in gates if gate.probe is not None]
    assert len(probes) == 1
    assert [gate.allowed for gate in gates].count(True) == 1
    assert row().probe_token == probes[0].probe


def test_new_settings_drop_what_the_process_suspected(
    clock: Any, face_settings: Callable[..., None], django_assert_num_queries: Any
) -> None:
    fail(THRESHOLD)
    face_settings(BREAKER_FAILURE_THRESHOLD=THRESHOLD, READ_TIMEOUT_SECONDS=1.5)
    with django_assert_num_queries(0):
        assert breaker.admit(ALIAS, timezone.now()).allowed
