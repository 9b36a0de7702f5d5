"""The filing threshold's count (face_idcard._filing) against a direct count.

What it pins: the count read from the count rows equals both the register's rows and the
number of distinct people the test submitted, after submits, re-runs, redactions, purges,
withdrawals and hash-key rotation (one person under two key ids counts once), after submits
from threads at once, and a submit rolled back counts nothing. The warning levels are marked
once with the date the count reached them, the signal fires once per level, the deadline
counts working days, and the system checks W050/W051 and E050 say so. Run on SQLite, and on
PostgreSQL and MariaDB with ``FACE_IDCARD_TEST_DB=postgres`` / ``mysql`` (as ``.ci/run``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from face_idcard import _filing as filing
from face_idcard import crypto, services, tasks
from face_idcard.models import FilingCount, FilingMark, FilingPerson, VerificationAttempt
from face_idcard.signals import filing_level_reached
from face_idcard.states import Status
from tests.support import imagefactory
from tests.support.factories import submit_attempt
from tests.support.idfactory import make_id

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = imagefactory.jpeg(160, 120)
OLD_KEY = {"id": "old", "key": "face-idcard-filing-test-old-hash-key"}
NEW_KEY = {"id": "new", "key": "face-idcard-filing-test-new-hash-key"}
KEY = b"3D6h9bCh8Tj7hYxXcP1o7fIhGq6f1b8oVZ0iA2cT4xE="


def person(n: int) -> str:
    return make_id(sequence=f"{n:03d}")


@pytest.fixture(autouse=True)
def fresh(face_settings: Callable[..., None]) -> Iterator[Callable[..., None]]:
    face_settings(
        PII_HASH_KEYS=[OLD_KEY],
        # Many submits of one number and from one (anonymous) caller in a test.
        MAX_ATTEMPTS_PER_ID_PER_DAY=None,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=None,
        MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=None,
        MAX_ACCOUNTS_PER_ID_PER_DAY=None,
    )
    filing.forget_marks()
    yield face_settings
    filing.forget_marks()


def submit(n: int, **kw: Any) -> VerificationAttempt:
    return submit_attempt(person(n), image=IMAGE, enqueue=False, **kw)


def finish(attempt: VerificationAttempt, *, days_ago: float = 0) -> VerificationAttempt:
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        status=Status.COMPLETED.value,
        decision="match",
        finished_at=timezone.now() - timedelta(days=days_ago),
        created_at=timezone.now() - timedelta(days=days_ago),
    )
    attempt.refresh_from_db()
    return attempt


def assert_counted(people: set[int]) -> None:
    """The count, the register's rows and the people submitted agree."""
    assert filing.people_count() == FilingPerson.objects.count() == len(people)


def test_the_count_follows_submits_erasures_and_key_rotation(
    fresh: Callable[..., None],
) -> None:
    seen: set[int] = set()
    attempts = [submit(n) for n in (1, 2, 3, 5, 1, 2, 1)]
    seen |= {1, 2, 3, 5}
    assert_counted(seen)

    # Erasures do not take anyone off: their faces were sent.
    for attempt in attempts[:4]:
        finish(attempt, days_ago=400)
    services.redact(attempts[0])
    services.withdraw(attempt=attempts[1])
    services.purge()
    assert VerificationAttempt.objects.filter(pk=attempts[2].pk, idcard_hash="").exists()
    assert_counted(seen)
    # A person whose attempts were all purged comes back: found in the register, not twice.
    submit(3)
    assert_counted(seen)

    # A new hash key first: people seen again are re-keyed to it, each still once.
    fresh(PII_HASH_KEYS=[NEW_KEY, OLD_KEY])
    submit(2)
    submit(4)
    seen.add(4)
    assert_counted(seen)
    assert filing.people_by_key() == {"new": 2, "old": 3}
    # rotate_keys re-keys the people whose number it still reads (1's and 3's last attempts).
    services.rotate_keys()
    assert_counted(seen)
    assert filing.people_by_key() == {"new": 4, "old": 1}
    new_hash = crypto.id_number_hashes(person(1))[0]
    assert FilingPerson.objects.filter(idcard_hash=new_hash, hash_key_id="new").exists()

    # 5's row stays under the old key (nothing left to read their number from): retiring
    # the old key would count them again (W051 says so).
    assert filing.status().under_retired_keys == 0
    fresh(PII_HASH_KEYS=[NEW_KEY])
    assert filing.status().under_retired_keys == 1
    assert "face_idcard.W051" in {m.id for m in run_checks(databases=["default"])}


def test_one_person_under_two_key_ids_is_merged_when_seen_again(
    fresh: Callable[..., None],
) -> None:
    # Two processes with different newest keys during a roll-out: two rows of one person.
    submit(1)
    fresh(PII_HASH_KEYS=[NEW_KEY])
    submit(1)
    assert FilingPerson.objects.count() == filing.people_count() == 2
    first_seen = FilingPerson.objects.get(hash_key_id="old").first_seen_at
    fresh(PII_HASH_KEYS=[NEW_KEY, OLD_KEY])
    submit(1)
    assert_counted({1})
    row = FilingPerson.objects.get()
    assert (row.hash_key_id, row.first_seen_at) == ("new", first_seen)


def test_a_rerun_counts_no_one_new_and_rekeys(fresh: Callable[..., None]) -> None:
    attempt = finish(submit(1))
    fresh(PII_HASH_KEYS=[NEW_KEY, OLD_KEY])
    services.rerun(attempt, enqueue=False)
    assert_counted({1})
    assert filing.people_by_key() == {"new": 1}


def test_a_submit_rolled_back_counts_nothing() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(1)
        raise RuntimeError("the caller's transaction fails")
    assert_counted(set())


def at_once(numbers: list[int]) -> None:
    """Submit each number from a thread of its own, all released together."""
    barrier = threading.Barrier(len(numbers))
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            submit(n)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a submit never returned"
    assert not errors, errors


def test_submits_from_threads_at_once_count_each_person_once() -> None:
    numbers = [n % 7 for n in range(14)]  # 7 people, each twice, all at once
    at_once(numbers)
    assert VerificationAttempt.objects.count() == len(numbers)
    assert_counted(set(numbers))


def test_people_under_an_older_key_re_keyed_from_threads_at_once_count_once(
    fresh: Callable[..., None],
) -> None:
    for n in range(4):
        submit(n)
    fresh(PII_HASH_KEYS=[NEW_KEY, OLD_KEY])
    # Each old person three times and two new people twice, all at once.
    at_once([n % 4 for n in range(12)] + [4, 5, 4, 5])
    assert_counted(set(range(6)))
    assert filing.people_by_key() == {"new": 6}


def test_levels_are_marked_once_with_their_date_and_signalled(
    fresh: Callable[..., None],
) -> None:
    fresh(FILING_THRESHOLD=4, FILING_WARNING_FRACTIONS=[0.5, 1.0])
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    filing_level_reached.connect(receiver)
    try:
        submit(1)
        tasks.sweep()
        assert not received and filing.status().warning is None
        submit(2)
        # Noticed by the periodic sweep.
        assert tasks.sweep()["filing_levels_reached"] == 1
        assert [r["fraction"] for r in received] == [0.5]
        assert received[0]["deadline"] is None
        submit(2)
        submit(3)
        submit(4)
        submit(5)
        # ... or by any read of the status (the filing page, the check), once.
        assert filing.status().warning is not None
        assert tasks.sweep()["filing_levels_reached"] == 0
        assert [r["fraction"] for r in received] == [0.5, 1.0]
    finally:
        filing_level_reached.disconnect(receiver)
    fourth = FilingPerson.objects.order_by("first_seen_at", "pk")[3]
    mark = FilingMark.objects.get(level=1000)
    assert mark.reached_at == fourth.first_seen_at
    assert received[1]["deadline"] == filing.filing_deadline(mark.reached_at)
    state = filing.status()
    assert (state.people, state.reached_at, state.deadline) == (
        5,
        mark.reached_at,
        filing.filing_deadline(mark.reached_at),
    )
    assert FilingMark.objects.count() == 2
    warnings = [m for m in run_checks(databases=["default"]) if m.id == "face_idcard.W050"]
    assert len(warnings) == 1 and "due by" in warnings[0].msg
    # Without databases (plain ``check``) the register is not read.
    assert "face_idcard.W050" not in {m.id for m in run_checks()}


def cst(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00+08:00")


def test_the_deadline_counts_working_days_in_china_standard_time(
    fresh: Callable[..., None],
) -> None:
    # Reached on Friday 2027-01-01: 30 working days from Monday 4 January, six weeks.
    assert filing.filing_deadline(cst("2027-01-01")) == date(2027, 2, 12)
    # 23:30 UTC on Thursday is already Friday in Beijing.
    assert filing.filing_deadline(datetime.fromisoformat("2026-12-31T23:30:00+00:00")) == date(
        2027, 2, 12
    )
    # Two holidays off, one Saturday worked: a day later, the next Monday.
    fresh(FILING_HOLIDAYS=["2027-01-04", "2027-01-05"], FILING_MAKEUP_WORKDAYS=["2027-01-09"])
    assert filing.filing_deadline(cst("2027-01-01")) == date(2027, 2, 15)


@pytest.mark.parametrize(
    "overrides",
    [
        {"FILING_THRESHOLD": 0},
        {"FILING_WARNING_FRACTIONS": [0.8, "high"]},
        {"FILING_HOLIDAYS": ["2027-13-01"]},
        {"FILING_MAKEUP_WORKDAYS": "2027-01-09"},
    ],
)
def test_bad_filing_settings_are_refused_by_a_check(
    fresh: Callable[..., None], overrides: dict[str, Any]
) -> None:
    fresh(**overrides)
    assert "face_idcard.E050" in {m.id for m in run_checks()}


def test_people_stored_before_the_register_are_registered_once_by_the_command() -> None:
    for n in (1, 2, 1, 3):
        submit(n)
    # As before the upgrade: attempts, no register.
    FilingPerson.objects.all().delete()
    FilingCount.objects.all().delete()
    assert filing.people_count() == 0
    out = io.StringIO()
    call_command("face_idcard_filing", "--register-existing", stdout=out)
    assert "registered=3" in out.getvalue() and "people=3 threshold=100000" in out.getvalue()
    assert_counted({1, 2, 3})
    first = VerificationAttempt.objects.order_by("created_at").first()
    assert first is not None
    assert FilingPerson.objects.get(idcard_hash=first.idcard_hash).first_seen_at == first.created_at
    # Again: nobody twice.
    call_command("face_idcard_filing", "--register-existing", stdout=io.StringIO())
    assert_counted({1, 2, 3})
    # A count moved by hand is repaired from the rows.
    FilingCount.objects.update(people=0)
    call_command("face_idcard_filing", "--recount", stdout=io.StringIO())
    assert_counted({1, 2, 3})
