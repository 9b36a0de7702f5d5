"""A deadlock victim never reaches a user: ``limits.retry_deadlocks`` runs its transaction
again (MySQL/MariaDB 1213, PostgreSQL 40P01 and 40001), a bounded number of times, and only
where nothing else was committed (not inside a caller's transaction).

The real deadlock needs two concurrent writers: PostgreSQL and MySQL/MariaDB. SQLite has one
writer at a time and reports "database is locked" instead, never a deadlock: there the test
of a real deadlock does not apply (the classification and the bounds are tested everywhere).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.utils import timezone

from face_idcard.models import VerificationAttempt
from face_idcard.services import _limits as limits


class DriverError(Exception):
    """A driver's error as psycopg 3 (``sqlstate``) or psycopg 2 (``pgcode``) raises it."""

    def __init__(self, **codes: str) -> None:
        super().__init__("driver error")
        for name, value in codes.items():
            setattr(self, name, value)


def postgres_error(sqlstate: str, attribute: str = "sqlstate") -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = DriverError(**{attribute: sqlstate})
    return error


@pytest.mark.parametrize(
    ("error", "victim"),
    [
        (OperationalError(1213, "Deadlock found when trying to get lock"), True),
        (postgres_error("40P01"), True),
        (postgres_error("40001"), True),  # serialization_failure
        (OperationalError(1205, "Lock wait timeout exceeded"), False),  # the statement only
        (postgres_error("57014"), False),  # query_canceled
        (OperationalError("database is locked"), False),
        (IntegrityError(1062, "Duplicate entry"), False),
    ],
)
def test_which_errors_are_deadlock_victims(error: BaseException, victim: bool) -> None:
    assert limits.is_deadlock(error) is victim


def test_a_psycopg2_deadlock_is_recognised_by_its_pgcode() -> None:
    assert limits.is_deadlock(postgres_error("40P01", attribute="pgcode"))


def flaky(failures: int, error: BaseException) -> tuple[list[int], Any]:
    calls: list[int] = []

    def run() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "stored"

    return calls, run


@pytest.mark.django_db(transaction=True)
def test_a_victim_is_run_again_until_it_passes() -> None:
    calls, run = flaky(2, OperationalError(1213, "Deadlock found"))
    assert limits.retry_deadlocks(run, using="default") == "stored"
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_the_tries_are_bounded() -> None:
    calls, run = flaky(100, OperationalError(1213, "Deadlock found"))
    with pytest.raises(OperationalError):
        limits.retry_deadlocks(run, using="default")
    assert len(calls) == limits.DEADLOCK_TRIES


@pytest.mark.django_db(transaction=True)
def test_other_errors_are_not_run_again() -> None:
    calls, run = flaky(1, OperationalError(1205, "Lock wait timeout exceeded"))
    with pytest.raises(OperationalError):
        limits.retry_deadlocks(run, using="default")
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_it_runs_once() -> None:
    """The victim there is the caller's whole transaction: only the caller can run it again."""
    calls, run = flaky(1, OperationalError(1213, "Deadlock found"))
    with pytest.raises(OperationalError), transaction.atomic():
        limits.retry_deadlocks(run, using="default")
    assert len(calls) == 1


@pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite has one writer: it never reports a deadlock"
)
@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_is_retried_and_both_transactions_are_stored() -> None:
    """Two transactions update two rows in opposite orders, in step (a barrier between their
    first and second UPDATE): the database makes one of them its victim, which runs again."""
    rows = [
        VerificationAttempt.objects.create(backend="simulator", consent_at=timezone.now())
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    runs: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(name: str, order: list[Any]) -> None:
        first_run = [True]

        def run() -> None:
            with lock:
                runs.append(name)
            with transaction.atomic():
                for index, row in enumerate(order):
                    VerificationAttempt.objects.filter(pk=row.pk).update(external_reference=name)
                    if index == 0 and first_run[0]:
                        first_run[0] = False
                        barrier.wait(timeout=30)

        try:
            limits.retry_deadlocks(run, using="default")
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=writer, args=("a", rows)),
        threading.Thread(target=writer, args=("b", rows[::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(runs) in (["a", "a", "b"], ["a", "b", "b"])  # one victim, run again
    # Both transactions stored in full: the victim's second run came last, on both rows.
    references = set(VerificationAttempt.objects.values_list("external_reference", flat=True))
    assert len(references) == 1 and references <= {"a", "b"}
