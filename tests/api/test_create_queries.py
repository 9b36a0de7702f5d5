"""What one ``POST attempts/`` costs the database, as upper bounds (bench/api.py measures
the throughput): a statement added to the hot path fails here instead of only showing as a
slower benchmark. Never the exact statements: which ones Django sends is Django's business.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from face_idcard import services
from face_idcard.exceptions import AttemptLimitExceeded
from face_idcard.models import AttemptEvent, VerificationAttempt
from face_idcard.services import _limits as limits
from face_idcard.services import _submission as submission
from face_idcard.simulator import magic
from tests.support.api_helpers import client_for, create, plain_user
from tests.support.celery_app import PARKED_QUEUE, queued_messages
from tests.support.factories import submit_attempt

pytestmark = [
    pytest.mark.django_db(transaction=True),  # as in production: no atomic around
    # Published, but to a queue no worker takes: a live session worker (the Redis
    # configuration, once an earlier test started it) would add its own statements and
    # events, and deadlock with the flush after the test.
    pytest.mark.usefixtures("parked_publishes"),
]

POSTGRES = connection.vendor == "postgresql"

#: Transaction control, which Django logs beside the statements.
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT|SET)\b", re.I)

#: The statements of one creation without a key: the token; the early limit counts (per ID
#: number, per user); the locks (PostgreSQL, MySQL: one statement), the counts again under them,
#: the attempt, its events, the release of the locks (MySQL); the filing register's look-up of
#: the person and, for a new person, their row and the count's UPDATE (face_idcard._filing).
#: Each database sends a subset.
CREATE_BOUND = 12


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> None:
    cache.clear()


def post_once(client: Any, number: str, headers: dict[str, str] | None = None) -> list[str]:
    """The statements one creation sends (transaction control left out)."""
    with CaptureQueriesContext(connection) as queries:
        response = create(client, headers=headers, idcard_number=number)
    assert response.status_code == 202, response.content
    return [q["sql"] for q in queries.captured_queries if not CONTROL.match(q["sql"])]


def inserts_into(statements: list[str], model: Any) -> int:
    table = model._meta.db_table
    return sum(
        1 for sql in statements if sql.lstrip().upper().startswith("INSERT") and table in sql
    )


def test_one_create_stays_within_its_statements(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    assert create(client).status_code == 202  # warm: content types, permissions, caches
    statements = post_once(client, magic.flaky(0, variant=1))
    assert len(statements) <= CREATE_BOUND, statements
    # One INSERT for the attempt, one for both of its events.
    assert inserts_into(statements, VerificationAttempt) == 1
    assert inserts_into(statements, AttemptEvent) == 1
    assert VerificationAttempt.objects.count() == 2
    assert AttemptEvent.objects.count() == 4
    assert queued_messages(PARKED_QUEUE) == 2  # both published after their commits


def test_one_create_with_an_idempotency_key(face_settings: Any) -> None:
    from face_idcard.models import IdempotencyKey

    client = client_for(plain_user("owner"))
    assert create(client).status_code == 202
    statements = post_once(client, magic.flaky(0, variant=5), {"Idempotency-Key": "a"})
    # As without a key, plus the key's look-up and its INSERT.
    assert len(statements) <= CREATE_BOUND + 2, statements
    assert inserts_into(statements, IdempotencyKey) == 1
    # A replay: the token and the key's look-up, nothing written.
    replay = post_once(client, magic.flaky(0, variant=5), {"Idempotency-Key": "a"})
    assert len(replay) <= 2, replay
    assert not [sql for sql in replay if not sql.lstrip().upper().startswith("SELECT")]
    assert VerificationAttempt.objects.count() == 2


def test_a_failing_statement_in_the_transaction_stores_nothing(
    face_settings: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    """The INSERT fails (a duplicate primary key): Django's IntegrityError, nothing of the
    second submit stored, its selfie removed, the connection usable and back in
    autocommit."""
    user = plain_user("owner")
    first = services.submit(
        idcard_number=magic.MATCH,
        idcard_name="张三",
        image=photo(),
        user=user,
        consent_at=now(),
        enqueue=False,
    )
    monkeypatch.setattr(submission, "uuid4", lambda: uuid.UUID(str(first.pk)))
    deleted: list[str] = []
    real_delete = submission.delete_selfie
    monkeypatch.setattr(
        submission,
        "delete_selfie",
        lambda name, alias="": (deleted.append(name), real_delete(name, alias))[-1],
    )
    with pytest.raises(IntegrityError):
        services.submit(
            idcard_number=magic.flaky(0, variant=3),
            idcard_name="张三",
            image=photo(),
            user=user,
            consent_at=now(),
            enqueue=False,
        )
    assert_clean_connection()
    assert list(VerificationAttempt.objects.values_list("pk", flat=True)) == [first.pk]
    assert AttemptEvent.objects.count() == 2
    assert len(deleted) == 1 and deleted[0] != first.selfie_name
    # And the next submit goes through on the same connection.
    monkeypatch.setattr(submission, "uuid4", uuid.uuid4)
    services.submit(
        idcard_number=magic.flaky(0, variant=4),
        idcard_name="张三",
        image=photo(),
        user=user,
        consent_at=now(),
        enqueue=False,
    )
    assert VerificationAttempt.objects.count() == 2


def assert_clean_connection() -> None:
    """Django's view (autocommit, no atomic block) and, on PostgreSQL, the driver's: no
    transaction left open or aborted (``info.transaction_status``, psycopg 2 and 3 alike)."""
    assert connection.get_autocommit() and not connection.in_atomic_block
    if POSTGRES:
        assert connection.connection.info.transaction_status == 0  # IDLE


def test_a_refusal_over_the_limit_leaves_the_connection_clean(
    face_settings: Any, monkeypatch: Any
) -> None:
    """Over the daily limit, refused by the count in the storing transaction (on SQLite the
    early check let it through, as when a concurrent submit's row landed in between). Nothing
    stored, no selfie left, and the connection out of its transaction, so that the next
    statement (here a count; in the suite, the flush) runs in autocommit."""
    face_settings(MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1, CELERY_QUEUE=PARKED_QUEUE)
    monkeypatch.setattr(limits.DailyLimits, "precheck", lambda self: None)
    saved = record_saved_selfies(monkeypatch)
    user = plain_user("owner")
    for number in (magic.MATCH, magic.flaky(0, variant=7)):
        try:
            services.submit(
                idcard_number=number,
                idcard_name="张三",
                image=photo(),
                user=user,
                consent_at=now(),
                enqueue=False,
            )
        except AttemptLimitExceeded:
            break
    else:
        raise AssertionError("the second submit was not refused")
    assert_clean_connection()
    assert VerificationAttempt.objects.count() == 1
    assert AttemptEvent.objects.count() == 2
    from face_idcard.services._common import selfie_storage

    if connection.vendor in ("postgresql", "mysql"):
        # Counted first, under the locks: the refused submit did no image work at all.
        assert len(saved) == 1
        assert selfie_storage().exists(saved[0])
    else:
        # Counted after the INSERT: the refused submit's selfie was removed.
        assert len(saved) == 2
        assert [selfie_storage().exists(name) for name in saved] == [True, False]


def test_an_obvious_excess_is_refused_before_the_image_work(
    face_settings: Any, monkeypatch: Any
) -> None:
    """The early count refuses a submit already over the limit before its photo is
    prepared, encrypted and stored (the cheap refusal of a burst)."""
    face_settings(MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=1, CELERY_QUEUE=PARKED_QUEUE)
    saved = record_saved_selfies(monkeypatch)
    user = plain_user("owner")
    services.submit(
        idcard_number=magic.MATCH,
        idcard_name="张三",
        image=photo(),
        user=user,
        consent_at=now(),
        enqueue=False,
    )
    with pytest.raises(AttemptLimitExceeded):
        services.submit(
            idcard_number=magic.flaky(0, variant=7),
            idcard_name="张三",
            image=photo(),
            user=user,
            consent_at=now(),
            enqueue=False,
        )
    assert len(saved) == 1
    assert_clean_connection()
    assert VerificationAttempt.objects.count() == 1


def record_saved_selfies(monkeypatch: Any) -> list[str]:
    saved: list[str] = []
    real_save = submission.save_selfie

    def recorded_save(data: bytes, attempt_id: object) -> str:
        saved.append(real_save(data, attempt_id))
        return saved[-1]

    monkeypatch.setattr(submission, "save_selfie", recorded_save)
    return saved


def photo() -> bytes:
    from tests.support import imagefactory

    return imagefactory.jpeg(320, 240)


def now() -> Any:
    from django.utils import timezone

    return timezone.now()


@pytest.mark.postgresql
@pytest.mark.skipif(not POSTGRES, reason="a PostgreSQL query plan")
def test_the_limit_count_does_not_read_the_rerun_of_index(face_settings: Any) -> None:
    """A table without statistics (a new site before autovacuum's first ANALYZE): the count
    must not AND in the ``rerun_of`` index, whose IS NULL entries are every row of the table
    (read in full by every submit)."""
    user = plain_user("owner")
    _history(user)
    with connection.cursor() as cursor:
        # No statistics, as on a new table.
        table = VerificationAttempt._meta.db_table
        cursor.execute(f"DELETE FROM pg_statistic WHERE starelid = '{table}'::regclass")
    with CaptureQueriesContext(connection) as queries:
        limits.check(
            using="default", idcard_hashes=["0" * 64], user=user, now=now(), per_id=10, per_user=10
        )
    plan = explained(queries, "EXPLAIN ")
    assert plan
    assert not [line for line in plan if "Index" in line and "rerun_of" in line], plan


def test_reruns_are_not_counted_by_the_limits(face_settings: Any) -> None:
    """Staff re-runs (``rerun_of`` set) do not count against the person's daily limits; the
    counts leave them out in their FILTER (see the plan test above)."""
    user = plain_user("owner")
    first = services.submit(
        idcard_number=magic.MATCH,
        idcard_name="张三",
        image=photo(),
        user=user,
        consent_at=now(),
        enqueue=False,
    )
    VerificationAttempt.objects.filter(pk=first.pk).update(status="failed")
    first.refresh_from_db()
    again = services.rerun(first, enqueue=False)
    assert again.rerun_of_id == first.pk and again.user_id == user.pk
    hashes = [first.idcard_hash]
    # One attempt of the person's own so far: within limits of one (a counted re-run would
    # make it two, over both limits).
    limits.check(using="default", idcard_hashes=hashes, user=user, now=now(), per_id=1, per_user=1)
    VerificationAttempt.objects.filter(pk=again.pk).update(rerun_of=None)
    with pytest.raises(AttemptLimitExceeded):
        limits.check(
            using="default", idcard_hashes=hashes, user=user, now=now(), per_id=1, per_user=0
        )
    with pytest.raises(AttemptLimitExceeded):
        limits.check(
            using="default", idcard_hashes=hashes, user=user, now=now(), per_id=0, per_user=1
        )


def _history(user: Any) -> list[str]:
    """One attempt of ``user``'s and 20,000 copies of it two days old; the columns copied."""
    submit_attempt(magic.MATCH, idcard_name="张三", image=photo(), user=user, enqueue=False)
    table = VerificationAttempt._meta.db_table
    copied = [
        field.column
        for field in VerificationAttempt._meta.concrete_fields
        if field.column not in ("id", "idcard_hash", "created_at", "user_id")
    ]
    columns = ", ".join(copied)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, idcard_hash, created_at, user_id, {columns}) "
            f"SELECT gen_random_uuid(), md5(random()::text), created_at - interval '2 days', "
            f"user_id, {columns} FROM {table}, generate_series(1, 20000)"
        )
    return copied


def _history_and_a_busy_day(user: Any, others: int) -> None:
    """The history of :func:`_history` and statistics of it; then ``others`` attempts of
    today by another account and 30 of ``user``'s own, which the statistics do not know of
    yet (autovacuum has not analyzed since)."""
    from django.contrib.auth import get_user_model

    columns = ", ".join(_history(user))
    table = VerificationAttempt._meta.db_table
    other = get_user_model().objects.create(username="someone-else")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
        for count, owner in ((others, other.pk), (30, user.pk)):
            cursor.execute(
                f"INSERT INTO {table} (id, idcard_hash, created_at, user_id, {columns}) "
                f"SELECT gen_random_uuid(), md5(random()::text), "
                f"now() - random() * interval '1 hour', %s, {columns} "
                f"FROM (SELECT * FROM {table} LIMIT 1) AS one, generate_series(1, %s)",
                [owner, count],
            )


def _plan_of_check(user: Any, per_user: int) -> list[str]:
    refused = pytest.raises(AttemptLimitExceeded)
    with CaptureQueriesContext(connection) as queries, refused:
        limits.check(
            using="default",
            idcard_hashes=["0" * 64],
            user=user,
            now=now(),
            per_id=5,
            per_user=per_user,
        )
    return explained(queries, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ")


def explained(queries: CaptureQueriesContext, explain: str) -> list[str]:
    """The plans of every capped count captured (one a key: per ID hash, per user), in
    order."""
    plan: list[str] = []
    for query in queries.captured_queries:
        # Each count reads the keys of at most limit + 1 rows of its window.
        assert query["sql"].lstrip().upper().startswith("SELECT"), query["sql"]
        assert " LIMIT " in query["sql"].upper(), query["sql"]
        with connection.cursor() as cursor:
            cursor.execute(explain + query["sql"])
            plan += [row[0] for row in cursor.fetchall()]
    return plan


@pytest.mark.postgresql
@pytest.mark.skipif(not POSTGRES, reason="a PostgreSQL query plan")
def test_the_limit_counts_read_their_own_index_whatever_the_statistics_say(
    face_settings: Any,
) -> None:
    """With statistics older than today's attempts, one WHERE with an OR of both keys was
    answered by a scan of every attempt of the day through the statistics index, filtered:
    work that grows with the site's traffic, twice a submit. Each count reads its own index
    (the key and the window as index conditions), and an account's count stops one past its
    limit."""
    user = plain_user("owner")
    _history_and_a_busy_day(user, others=3000)
    plan = _plan_of_check(user, per_user=10)
    text = "\n".join(plan)
    assert "face_idcard_stats_idx" not in text and "face_idcard_created_idx" not in text, text
    assert "face_idcard_hash_user_idx" in text and "face_idcard_user_hash_idx" in text, text
    removed = [int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", text)]
    assert sum(removed) < 100, text  # not the 3,000 attempts of the other account
    # The user's 31 attempts of the day: the count stops at 11 (the limit of 10, plus one).
    assert re.search(r"Limit \(actual rows=11 loops=1\)", text), text
