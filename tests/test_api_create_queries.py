"""What one ``POST attempts/`` costs the database: the statements, and on PostgreSQL the
round trips (bench/api.py: each one waits for a scheduler slice on a loaded machine).

Pinned exactly, so that a statement added to the hot path (or the pipelined transaction of
``services.submission.store_transaction`` falling back to one round trip a statement)
fails here instead of only showing as a slower benchmark.
"""

from __future__ import annotations

import itertools
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from face_idcard import services
from face_idcard.models import AttemptEvent, VerificationAttempt
from face_idcard.services import submission
from face_idcard.simulator import magic
from tests.api_helpers import client_for, create, plain_user
from tests.celery_app import PARKED_QUEUE, queued_messages

pytestmark = [
    pytest.mark.django_db(transaction=True),  # as in production: no atomic around
    # Published, but to a queue no worker takes: a live session worker (the Redis
    # configuration, once an earlier test started it) would add its own statements and
    # events, and deadlock with the flush after the test.
    pytest.mark.usefixtures("parked_publishes"),
]

POSTGRES = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> None:
    cache.clear()


def shape(sql: str) -> str:
    """``INSERT face_idcard_attemptevent``, ``SELECT COUNT``, ``BEGIN``...: the statement's
    kind and table, none of its values."""
    words = sql.split()
    verb = words[0].upper()
    if verb == "SELECT" and "pg_advisory_xact_lock" in sql:
        return "SELECT pg_advisory_xact_lock"
    if re.match(r"SELECT\s+(\(+SELECT\s+)?COUNT\(", sql):
        return "SELECT COUNT"
    if verb == "WITH":  # INSERTs in one statement: each table, in order
        return "INSERT " + " + ".join(re.findall(r"INSERT\s+INTO\s+[\"`]?(\w+)", sql))
    table = re.search(r"(?:FROM|INTO|UPDATE)\s+[\"`]?(\w+)", sql)  # "name" or `name`
    return f"{verb} {table.group(1)}" if table else verb


@contextmanager
def round_trips() -> Iterator[list[int]]:
    """On PostgreSQL, the round trips made inside (libpq's protocol trace: each turn from
    messages sent to messages received is one wait for the server)."""
    counted: list[int] = []
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    from psycopg import pq

    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield counted
        finally:
            pgconn.untrace()
        trace.seek(0)
        directions = [line[:1] for line in trace.read().decode(errors="replace").splitlines()]
    counted.append(sum(1 for pair in itertools.pairwise(directions) if pair == ("F", "B")))


def post_once(client: Any, number: str, headers: dict[str, str] | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = create(client, headers=headers, idcard_number=number)
    assert response.status_code == 202, response.content
    return [shape(query["sql"]) for query in queries.captured_queries]


EXPECTED = (
    [
        "SELECT authtoken_token",  # the token (the baseline of bench/api.py pays it too)
        "BEGIN",  # the pipelined transaction opens before the image work
        "SELECT pg_advisory_xact_lock",
        "SELECT COUNT",  # under the lock, before the image work: the check that holds
        # The attempt and both events, one statement (a WITH), nothing returned.
        "INSERT face_idcard_verificationattempt + face_idcard_attemptevent",
        "COMMIT",
    ]
    if POSTGRES
    else [
        "SELECT authtoken_token",
        "SELECT COUNT",  # the early, lock-free limit check, before the image work
        "BEGIN",
        "INSERT face_idcard_verificationattempt",  # the first write takes SQLite's lock
        "INSERT face_idcard_attemptevent",
        "SELECT COUNT",  # the limit check that holds under concurrency
        "COMMIT",
    ]
)


def test_one_create_makes_these_statements_and_no_more(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    assert create(client).status_code == 202  # warm: content types, permissions, caches
    assert post_once(client, magic.flaky(0, variant=1)) == EXPECTED
    assert VerificationAttempt.objects.count() == 2
    assert AttemptEvent.objects.count() == 4
    assert queued_messages(PARKED_QUEUE) == 2  # both published after their commits


def test_the_insert_stays_within_what_psycopg_caches(face_settings: Any) -> None:
    """psycopg caches the conversion of a statement of at most 50 parameters and 4096
    characters: the attempt's INSERT (on PostgreSQL with its events) stays within both."""
    client = client_for(plain_user("owner"))
    assert create(client).status_code == 202
    inserts: list[tuple[str, int]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "INSERT INTO" in sql and "face_idcard_verificationattempt" in sql:
            inserts.append((sql, len(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        assert create(client, idcard_number=magic.flaky(0, variant=7)).status_code == 202
    ((sql, parameters),) = inserts
    assert parameters <= 50 and len(sql) <= 4096, (parameters, len(sql))


@pytest.mark.skipif(not POSTGRES, reason="round trips are counted on PostgreSQL's protocol")
def test_one_create_is_three_round_trips_on_postgresql(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    assert create(client).status_code == 202
    with round_trips() as counted:
        post_once(client, magic.flaky(0, variant=2))
    # The token; BEGIN + lock + count together; the INSERTs and the COMMIT together.
    assert counted == [3]


WITH_KEY = (
    [
        "SELECT authtoken_token",
        "SELECT face_idcard_idempotencykey",  # a live key: the first attempt, replayed
        "BEGIN",
        "SELECT pg_advisory_xact_lock",
        "SELECT COUNT",
        "INSERT face_idcard_verificationattempt + face_idcard_attemptevent",
        "INSERT face_idcard_idempotencykey",  # in the attempt's transaction, pointing at it
        "COMMIT",
    ]
    if POSTGRES
    else [
        "SELECT authtoken_token",
        "SELECT face_idcard_idempotencykey",
        "SELECT COUNT",
        "BEGIN",
        "INSERT face_idcard_verificationattempt",
        "INSERT face_idcard_attemptevent",
        "INSERT face_idcard_idempotencykey",
        "SELECT COUNT",
        "COMMIT",
    ]
)


def test_one_create_with_an_idempotency_key(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    assert create(client).status_code == 202
    assert post_once(client, magic.flaky(0, variant=5), {"Idempotency-Key": "a"}) == WITH_KEY
    if POSTGRES:
        with round_trips() as counted:
            post_once(client, magic.flaky(0, variant=6), {"Idempotency-Key": "b"})
        assert counted == [4]  # the key's SELECT, then as without a key
    # A replay: the key's SELECT and nothing else.
    replay = post_once(client, magic.flaky(0, variant=5), {"Idempotency-Key": "a"})
    assert replay == ["SELECT authtoken_token", "SELECT face_idcard_idempotencykey"]
    assert VerificationAttempt.objects.count() == (3 if POSTGRES else 2)


def test_a_failing_statement_in_the_transaction_stores_nothing(
    face_settings: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    """The INSERT fails (a duplicate primary key): an IntegrityError (Django's, also from
    the pipeline), nothing of the second submit stored, its selfie removed, the connection
    usable and back in autocommit."""
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
    """Django's view (autocommit, no atomic block) and, on PostgreSQL, the server's and
    psycopg's: no transaction left open or aborted, no pipeline left active."""
    assert connection.get_autocommit() and not connection.in_atomic_block
    if POSTGRES:
        from psycopg.pq import TransactionStatus

        raw = connection.connection
        assert raw.pgconn.transaction_status == TransactionStatus.IDLE
        assert raw._pipeline is None


def test_a_refusal_over_the_limit_leaves_the_connection_clean(
    face_settings: Any, monkeypatch: Any
) -> None:
    """Over the daily limit, refused by the count under the lock: on PostgreSQL inside the
    pipelined transaction, before the image work (after the count's answer was fetched);
    elsewhere by the count after the INSERT (the early check let it through, as when a
    concurrent submit's row landed in between). Nothing stored, no selfie left, and the
    connection out of its transaction, so that the next statement (here a count; in the
    suite, the flush) runs in autocommit."""
    face_settings(MAX_ATTEMPTS_PER_USER_PER_DAY=1, CELERY_QUEUE=PARKED_QUEUE)
    real_check = submission.check_limits
    locked_checks: list[bool] = []

    def locked_only(**kwargs: Any) -> None:
        # PostgreSQL: the one check, under the lock; elsewhere the one after the INSERT.
        if POSTGRES or kwargs.get("stored", True):
            locked_checks.append(True)
            real_check(**kwargs)

    monkeypatch.setattr(submission, "check_limits", locked_only)
    saved: list[str] = []
    real_save = submission.save_selfie

    def recorded_save(data: bytes) -> str:
        saved.append(real_save(data))
        return saved[-1]

    monkeypatch.setattr(submission, "save_selfie", recorded_save)
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
        except services.AttemptLimitExceeded:
            break
    else:
        raise AssertionError("the second submit was not refused")
    assert len(locked_checks) == 2
    assert_clean_connection()
    assert VerificationAttempt.objects.count() == 1
    assert AttemptEvent.objects.count() == 2
    # On PostgreSQL the refused submit did no image work; elsewhere its selfie was removed.
    assert len(saved) == (1 if POSTGRES else 2)
    from face_idcard.services.common import selfie_storage

    assert [selfie_storage().exists(name) for name in saved] == [True] + [False] * (len(saved) - 1)


def photo() -> bytes:
    from tests import imagefactory

    return imagefactory.jpeg(320, 240)


def now() -> Any:
    from django.utils import timezone

    return timezone.now()


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
        submission.check_limits(
            using="default", idcard_hash=["0" * 64], user=user, now=now(), per_id=10, per_user=10
        )
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + query["sql"])
        plan = [row[0] for row in cursor.fetchall()]
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
    submission.check_limits(
        using="default", idcard_hash=hashes, user=user, now=now(), per_id=1, per_user=1
    )
    VerificationAttempt.objects.filter(pk=again.pk).update(rerun_of=None)
    with pytest.raises(services.AttemptLimitExceeded):
        submission.check_limits(
            using="default", idcard_hash=hashes, user=user, now=now(), per_id=1, per_user=0
        )
    with pytest.raises(services.AttemptLimitExceeded):
        submission.check_limits(
            using="default", idcard_hash=hashes, user=user, now=now(), per_id=0, per_user=1
        )


def _history(user: Any) -> list[str]:
    """One attempt of ``user``'s and 20,000 copies of it two days old; the columns copied."""
    services.submit(
        idcard_number=magic.MATCH,
        idcard_name="张三",
        image=photo(),
        user=user,
        consent_at=now(),
        enqueue=False,
    )
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
    refused = pytest.raises(services.AttemptLimitExceeded)
    with CaptureQueriesContext(connection) as queries, refused:
        submission.check_limits(
            using="default",
            idcard_hash=["0" * 64],
            user=user,
            now=now(),
            per_id=5,
            per_user=per_user,
        )
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + query["sql"])
        return [row[0] for row in cursor.fetchall()]


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
