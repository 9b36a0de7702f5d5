"""The daily limits hold under a concurrent burst of submits (the count-then-insert race).

An enumeration attack is a burst: many submits for one ID number (or from one account) at
the same moment. Each thread here has its own database connection, and a barrier releases
them together. On PostgreSQL (``FACE_IDCARD_TEST_DB=postgres``) and MySQL/MariaDB
(``FACE_IDCARD_TEST_DB=mysql``, at READ COMMITTED and with ``FACE_IDCARD_MYSQL_ISOLATION=
"repeatable read"``) this is the real race, the submits' transactions running at once.
SQLite has one writer at a time: the threads still run at once, and the test checks that
their writes queue up (the INSERT first, then the count) rather than slip past the count.

Each burst runs twice: ``submit`` opening its own transaction, and ``submit`` inside a
transaction of the caller's (as the API's ``Idempotency-Key`` path calls it), where the
locks and the count work differently (see ``face_idcard.services._limits``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections, transaction

from face_idcard import _consent as consent
from face_idcard import crypto
from face_idcard.exceptions import AttemptLimitExceeded
from face_idcard.models import AttemptEvent, LimitEvent, LimitEventKind, VerificationAttempt
from face_idcard.services import _limits as limits
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12
LIMIT = 5
IMAGE = imagefactory.jpeg(160, 120)
SELFIE_ALIAS = "face_idcard_limits_test"


@dataclass
class BurstResult:
    stored: list[VerificationAttempt] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def burst(calls: list[Callable[[], VerificationAttempt]]) -> BurstResult:
    """Run every call in its own thread, all released at once; collect what each one got."""
    result = BurstResult()
    barrier = threading.Barrier(len(calls))
    lock = threading.Lock()

    def worker(index: int, call: Callable[[], VerificationAttempt]) -> None:
        try:
            barrier.wait(timeout=30)
            attempt = call()
            with lock:
                result.stored.append(attempt)
        except AttemptLimitExceeded:
            with lock:
                result.refused.append(index)
        except BaseException as exc:
            with lock:
                result.errors.append(exc)
        finally:
            # Each thread opened its own connection; leave none behind for the flush.
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(index, call), name=f"submit-{index}")
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a submit never returned"
    return result


Submitter = Callable[..., Callable[[], VerificationAttempt]]


@pytest.fixture(params=["own transaction", "caller's transaction"])
def submitter(request: pytest.FixtureRequest) -> Submitter:
    """``submitter(number, user=None)``: a call that submits, in a transaction of its own or
    inside one of the caller's (one run of each test with each)."""
    nested = request.param == "caller's transaction"

    def make(number: str, user: Any = None) -> Callable[[], VerificationAttempt]:
        if nested:
            # The notice the site shows is stored (and remembered) before the burst, as on a
            # site that showed it before: its first store, inside each of a burst of SQLite
            # transactions, would make the others fail with "database is locked".
            consent.current_notice()

        def submit() -> VerificationAttempt:
            return submit_attempt(number, image=IMAGE, user=user, enqueue=False)

        def in_a_transaction() -> VerificationAttempt:
            # As the API does: the caller's transaction is the one a deadlock victim's
            # owner runs again (``limits.retry_deadlocks``).
            def run() -> VerificationAttempt:
                with transaction.atomic():
                    attempt = submit()
                    # The caller's own work after submit, before its commit (the API stores
                    # the key's row): the window in which a lock released at submit's return
                    # would let the next submit count without this attempt.
                    time.sleep(0.05)
                    return attempt

            return limits.retry_deadlocks(run, using="default")

        return in_a_transaction if nested else submit

    return make


@pytest.fixture
def selfie_dir(settings: Any, tmp_path: Path, face_settings: Callable[..., None]) -> Iterator[Path]:
    """Selfies in a directory of this test's own, so leftovers can be counted."""
    settings.STORAGES = {
        **settings.STORAGES,
        SELFIE_ALIAS: {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    face_settings(SELFIE_STORAGE=SELFIE_ALIAS)
    yield tmp_path


def stored_selfies(directory: Path) -> set[str]:
    return {path.relative_to(directory).as_posix() for path in directory.rglob("*.bin")}


def test_limit_per_id_number_holds_under_a_concurrent_burst(
    face_settings: Callable[..., None], selfie_dir: Path, submitter: Submitter
) -> None:
    face_settings(
        SELFIE_STORAGE=SELFIE_ALIAS,
        MAX_ATTEMPTS_PER_ID_PER_DAY=LIMIT,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1000,
    )
    result = burst([submitter(magic.MATCH) for _ in range(THREADS)])

    assert result.errors == []
    assert len(result.stored) == LIMIT
    assert len(result.refused) == THREADS - LIMIT
    assert VerificationAttempt.objects.count() == LIMIT
    assert set(VerificationAttempt.objects.values_list("pk", flat=True)) == {
        attempt.pk for attempt in result.stored
    }
    # A refused submit leaves nothing behind: no events, no encrypted selfie.
    assert AttemptEvent.objects.count() == 2 * LIMIT
    assert stored_selfies(selfie_dir) == {attempt.selfie_name for attempt in result.stored}


def test_limit_per_user_holds_under_a_concurrent_burst(
    face_settings: Callable[..., None], selfie_dir: Path, submitter: Submitter
) -> None:
    face_settings(
        SELFIE_STORAGE=SELFIE_ALIAS,
        MAX_ATTEMPTS_PER_ID_PER_DAY=1000,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=LIMIT,
        MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=0,
    )
    user = get_user_model().objects.create_user("mallory")
    other = get_user_model().objects.create_user("trent")
    submitter(magic.MATCH, other)()  # someone else's attempt does not count against mallory
    # A different ID number for each thread: only the per-user limit can stop them.
    numbers = [magic.flaky(0, variant=index) for index in range(THREADS)]
    assert len(set(numbers)) == THREADS

    result = burst([submitter(number, user) for number in numbers])

    assert result.errors == []
    assert len(result.stored) == LIMIT
    assert len(result.refused) == THREADS - LIMIT
    assert VerificationAttempt.objects.filter(user=user).count() == LIMIT
    assert VerificationAttempt.objects.filter(user=other).count() == 1
    assert stored_selfies(selfie_dir) == set(
        VerificationAttempt.objects.values_list("selfie_name", flat=True)
    )


def test_both_limits_under_a_crossed_burst_without_deadlock(
    face_settings: Callable[..., None], selfie_dir: Path, submitter: Submitter
) -> None:
    """Two numbers x two users, four threads each: the two locks of one submit are taken
    while other submits hold one of them; nothing deadlocks and neither limit is exceeded."""
    # Both bind: 4 submits per (number, account) against 3, and 8 per account against 4.
    per_id, per_user = 3, 4
    face_settings(
        SELFIE_STORAGE=SELFIE_ALIAS,
        MAX_ATTEMPTS_PER_ID_PER_DAY=per_id,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=per_user,
    )
    users = [get_user_model().objects.create_user(name) for name in ("peggy", "victor")]
    numbers = [magic.NO_MATCH, magic.REVIEW]
    combos = [(number, user) for number in numbers for user in users for _ in range(4)]

    result = burst([submitter(number, user) for number, user in combos])

    assert result.errors == []
    assert len(result.stored) + len(result.refused) == len(combos)
    rows = list(VerificationAttempt.objects.values_list("idcard_hash", "user_id"))
    # The per-ID limit counts each account apart (issue 28, item 7): per (number, account).
    per_pair = Counter(rows)
    per_user_id = Counter(user_id for _, user_id in rows)
    assert max(per_pair.values()) <= per_id
    assert max(per_user_id.values()) <= per_user
    # Every refusal was deserved: its number for that account, or its user, had used up the day.
    for index in result.refused:
        number, user = combos[index]
        pair = (crypto.id_number_hash(number), user.pk)
        assert per_pair[pair] == per_id or per_user_id[user.pk] == per_user
    # A user is short of its limit only if it used up both numbers (2 x 3 = 6 > 4): so both
    # users end exactly at their limit.
    assert len(rows) == 2 * per_user


# --- The limits of issue 28: per (number, account), accounts per number, numbers per account --


def test_limit_per_id_number_counts_each_account_apart_under_a_burst(
    face_settings: Callable[..., None], selfie_dir: Path, submitter: Submitter
) -> None:
    """Two accounts at one number, six submits each at once: each account gets exactly its
    own limit, whatever the other did."""
    per_id = 3
    face_settings(
        SELFIE_STORAGE=SELFIE_ALIAS,
        MAX_ATTEMPTS_PER_ID_PER_DAY=per_id,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1000,
        MAX_ACCOUNTS_PER_ID_PER_DAY=0,
    )
    users = [get_user_model().objects.create_user(name) for name in ("alice", "bob")]
    combos = [user for user in users for _ in range(THREADS // 2)]

    result = burst([submitter(magic.MATCH, user) for user in combos])

    assert result.errors == []
    per_user_id = Counter(VerificationAttempt.objects.values_list("user_id", flat=True))
    assert per_user_id == {user.pk: per_id for user in users}
    assert len(result.refused) == THREADS - 2 * per_id
    assert stored_selfies(selfie_dir) == {attempt.selfie_name for attempt in result.stored}


def test_accounts_per_id_number_hold_under_a_burst(
    face_settings: Callable[..., None],
    selfie_dir: Path,
    submitter: Submitter,
    request: pytest.FixtureRequest,
) -> None:
    """Twelve accounts at one number at once: exactly the ceiling's worth get in; each of the
    others is refused and (where ``submit`` owns its transaction) recorded, once."""
    ceiling = 3
    face_settings(
        SELFIE_STORAGE=SELFIE_ALIAS,
        MAX_ATTEMPTS_PER_ID_PER_DAY=1000,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1000,
        MAX_ACCOUNTS_PER_ID_PER_DAY=ceiling,
    )
    users = [get_user_model().objects.create_user(f"prober-{index}") for index in range(THREADS)]

    result = burst([submitter(magic.MATCH, user) for user in users])

    assert result.errors == []
    assert len(result.stored) == ceiling
    assert len(result.refused) == THREADS - ceiling
    assert VerificationAttempt.objects.values("user").distinct().count() == ceiling
    assert AttemptEvent.objects.count() == 2 * ceiling
    assert stored_selfies(selfie_dir) == {attempt.selfie_name for attempt in result.stored}
    events = LimitEvent.objects.filter(kind=LimitEventKind.ACCOUNTS_PER_ID_REACHED.value)
    refused_users = {users[index].pk for index in result.refused}
    if request.node.callspec.params["submitter"] == "caller's transaction":
        # The event goes with the caller's rollback (the log line stays).
        assert not events.exists()
    else:
        assert sorted(events.values_list("user_id", flat=True)) == sorted(refused_users)


def test_id_numbers_per_account_hold_under_a_burst(
    face_settings: Callable[..., None], selfie_dir: Path, submitter: Submitter
) -> None:
    """One account, twelve different numbers at once: exactly the cap's worth get in."""
    cap = 3
    face_settings(
        SELFIE_STORAGE=SELFIE_ALIAS,
        MAX_ATTEMPTS_PER_ID_PER_DAY=1000,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1000,
        MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=cap,
    )
    user = get_user_model().objects.create_user("guesser")
    numbers = [magic.flaky(0, variant=index) for index in range(THREADS)]

    result = burst([submitter(number, user) for number in numbers])

    assert result.errors == []
    assert len(result.stored) == cap
    assert len(result.refused) == THREADS - cap
    assert VerificationAttempt.objects.values("idcard_hash").distinct().count() == cap
    assert stored_selfies(selfie_dir) == {attempt.selfie_name for attempt in result.stored}


def test_all_four_limits_under_a_crossed_burst_without_deadlock(
    face_settings: Callable[..., None], selfie_dir: Path, submitter: Submitter
) -> None:
    """Three numbers x four accounts, every pair at once: the two locks of each submit are
    taken while others hold one of them; nothing deadlocks and no limit is exceeded."""
    per_id, per_user, numbers_per_user, accounts_per_id = 2, 4, 2, 3
    face_settings(
        SELFIE_STORAGE=SELFIE_ALIAS,
        MAX_ATTEMPTS_PER_ID_PER_DAY=per_id,
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=per_user,
        MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=numbers_per_user,
        MAX_ACCOUNTS_PER_ID_PER_DAY=accounts_per_id,
    )
    users = [get_user_model().objects.create_user(f"crossed-{index}") for index in range(4)]
    numbers = [magic.NO_MATCH, magic.REVIEW, magic.MATCH]
    combos = [(number, user) for number in numbers for user in users]

    result = burst([submitter(number, user) for number, user in combos])

    assert result.errors == []
    assert len(result.stored) + len(result.refused) == len(combos)
    rows = list(VerificationAttempt.objects.values_list("idcard_hash", "user_id"))
    assert max(Counter(rows).values()) <= per_id
    assert max(Counter(user_id for _, user_id in rows).values()) <= per_user
    for user in users:
        assert len({h for h, user_id in rows if user_id == user.pk}) <= numbers_per_user
    for number in numbers:
        hashed = crypto.id_number_hash(number)
        assert len({user_id for h, user_id in rows if h == hashed}) <= accounts_per_id
