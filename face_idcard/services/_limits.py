"""The daily limits: at most ``MAX_ATTEMPTS_PER_ID_PER_DAY`` attempts per ID number and
``MAX_ATTEMPTS_PER_USER_PER_DAY`` per user in any rolling 24 hours (0: no limit).

Every attempt stored counts, whatever its outcome, except staff re-runs (``rerun_of`` set:
a staff decision, not the person trying again). The ID number counts under every live hash
key (``crypto.id_number_hashes``), so attempts hashed before a key rotation still count.

A limit is a count followed by an INSERT: two concurrent submits of one ID number (an
enumeration burst) would both count the same rows and both pass. :meth:`DailyLimits.enforced`
opens the transaction that stores the attempt and makes the count exact, per database:

PostgreSQL
    Transaction-level advisory locks (``pg_advisory_xact_lock``) on the ID hash and on the
    user, taken as the transaction's first statement, then the count. The locks are released
    at the commit (of the outermost transaction), after which the next holder's count sees the
    stored row: READ COMMITTED (Django's default) takes a new snapshot for each statement.
    Under REPEATABLE READ or SERIALIZABLE the snapshot would predate the lock: not supported.

MySQL / MariaDB
    Named locks (``GET_LOCK``/``RELEASE_LOCK``, session-level) on the ID hash and on the user.
    When :func:`submit` opens the transaction itself, the locks are taken before it starts and
    released after its commit or rollback, so the count (the transaction's first read, hence
    the moment InnoDB takes a REPEATABLE READ snapshot) sees every row the previous holder
    committed, at READ COMMITTED and at REPEATABLE READ alike.
    Inside a caller's transaction (the API's ``Idempotency-Key`` path) the locks are released
    when :func:`submit` returns, before the caller commits; the count is then a locking read
    (``SELECT … FOR UPDATE``), which reads the newest rows whatever the snapshot and waits for
    the previous holder's uncommitted INSERT to commit or roll back. Such reads lock the rows
    they count (through the ID's index, then the user's), and at REPEATABLE READ the gaps
    between them: two submits of different keys that share rows (one account, two numbers)
    can deadlock. The database rolls the victim's whole transaction back and the caller runs
    it again (the API does, through :func:`retry_deadlocks`).

SQLite
    One writer at a time: the INSERT is the transaction's first statement, so the write lock
    is taken (waiting out the busy ``timeout``) before anything is read, and the count that
    follows, including the new row, sees every committed attempt; over the limit, the raise
    rolls the INSERT back. (Inside a caller's transaction that has already read, SQLite
    answers "database is locked" to a second writer instead of waiting: an error, never an
    attempt over the limit.)

Other databases get the SQLite order (INSERT, then count), which is exact only where the
database serialises writers.

The locks are always taken in the same order (ID number, then user), so two submits cannot
wait for each other on them. A deadlock the database reports anyway (MySQL 1213, PostgreSQL
40P01: the locking reads above, or callers holding several submits in one transaction of
their own) never reaches a user where it can be helped: :func:`retry_deadlocks` runs the
victim's transaction again, a bounded number of times, where nothing else was committed
(:func:`submit` around its own transaction; the API around the one that also stores the
``Idempotency-Key``).

Where the count comes first under the locks (PostgreSQL, MySQL/MariaDB:
:meth:`DailyLimits.counts_before_storing`), :func:`submit` does its image work inside the
block, after that count: one count a submit, and an excess refused before the costly work.
On SQLite, whose count must follow the INSERT, :meth:`DailyLimits.precheck` refuses an
obvious excess without a lock before the image work; the count after the INSERT decides.
(Not inside a caller's transaction: a read there, before the write, would turn the wait for
the write lock into an immediate "database is locked".)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import OperationalError, connections, transaction
from django.db.models import BooleanField, F, Func, Value

from ..conf import face_idcard_settings
from ..exceptions import AttemptLimitExceeded
from ..models import VerificationAttempt

logger = logging.getLogger("face_idcard.services")

T = TypeVar("T")

#: Namespaces (first key of the two-key form of ``pg_advisory_xact_lock``) so that our locks
#: cannot collide with a host site's advisory locks, nor an ID hash with a user id.
_PG_NAMESPACE_ID = 0x46494431  # "FID1"
_PG_NAMESPACE_USER = 0x46495531  # "FIU1"

#: How long a MySQL submit waits for another submit of the same ID number or user.
MYSQL_LOCK_TIMEOUT_SECONDS = 30

#: How many times a deadlock victim's transaction is run in all.
DEADLOCK_TRIES = 5

_MYSQL_DEADLOCK = 1213  # ER_LOCK_DEADLOCK
_PG_RETRYABLE = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def limits_in_force(user: Any) -> tuple[int, int]:
    """``(per ID number, per user)`` that apply to a submission of ``user`` (0: no limit)."""
    per_id = int(face_idcard_settings.MAX_ATTEMPTS_PER_ID_PER_DAY or 0)
    per_user = int(face_idcard_settings.MAX_ATTEMPTS_PER_USER_PER_DAY or 0)
    return per_id, per_user if user is not None else 0


def _recent(using: str, key: str, value: Any, since: datetime) -> Any:
    """The attempts of one key value (``idcard_hash`` or ``user``) created since ``since``,
    re-runs left out.

    On PostgreSQL the window is the row comparison ``(key, created_at) >= (value, since)``:
    an index condition on the ``(key, created_at, …)`` index only. With statistics older
    than the newest rows (before autovacuum's next ANALYZE, on a busy day), a plain
    ``created_at >= since`` led the planner to scan every attempt of the day through the
    statistics index (``created_at`` first) and filter: work growing with the site's
    traffic, at every submit. Elsewhere the plain range, which MySQL and MariaDB (whose
    estimates come from the index itself) and SQLite answer from the same index, and
    whose optimizers do not all use a row comparison as a range."""
    attempts = VerificationAttempt._base_manager.using(using).filter(
        **{key: value}, rerun_of__isnull=True
    )
    if connections[using].vendor != "postgresql":
        return attempts.filter(created_at__gte=since)
    row = Func(
        Func(F(key), F("created_at"), function=""),
        Func(Value(value), Value(since), function=""),
        template="%(expressions)s",
        arg_joiner=" >= ",
        output_field=BooleanField(),
    )
    return attempts.filter(row)


def _capped(queryset: Any, order: Sequence[str], cap: int, *, locking: bool) -> int:
    """The rows of ``queryset``, counted up to ``cap``: one past a limit tells "over", and an
    account that submits all day is not read in full each time. The ORDER BY is the order of
    the ``(key, created_at, other key)`` index the filter's key and window are conditions on,
    which keeps the count on that index whatever the statistics say."""
    ordered = queryset.order_by(*order)
    if locking:
        ordered = ordered.select_for_update()
    # The keys of at most ``cap`` rows, counted here: the same index range as a capped
    # COUNT(*), without the subquery Django wraps a sliced count in (a third of the count's
    # CPU, most of it building the statement).
    return len(ordered.values_list("pk", flat=True)[:cap])


def count_recent(
    *,
    using: str,
    idcard_hashes: Sequence[str] | None,
    user: Any,
    since: datetime,
    caps: tuple[int, int],
    locking: bool = False,
) -> tuple[int, int]:
    """``(attempts with one of idcard_hashes, attempts of user)`` created since ``since``,
    re-runs left out, each counted up to its cap; 0 for a count not asked (None).
    ``locking``: a locking read (see the module's MySQL notes)."""
    per_id = 0
    if idcard_hashes is not None:
        # One capped count per live hash key, added up: one of them at the cap, or all
        # counted in full, their sum still tells "over".
        for value in idcard_hashes:
            per_id += _capped(
                _recent(using, "idcard_hash", value, since),
                ("idcard_hash", "created_at", "user"),
                caps[0],
                locking=locking,
            )
    per_user = 0
    if user is not None:
        per_user = _capped(
            _recent(using, "user", user.pk, since),
            ("user", "created_at", "idcard_hash"),
            caps[1],
            locking=locking,
        )
    return per_id, per_user


def check(
    *,
    using: str,
    idcard_hashes: Sequence[str],
    user: Any,
    now: datetime,
    per_id: int,
    per_user: int,
    stored: bool = True,
    locking: bool = False,
) -> None:
    """Raise :class:`AttemptLimitExceeded` when the ID number or the user is over the day.

    With ``stored=True`` the attempt being submitted is already among the rows (counted);
    with ``stored=False`` it is not yet (one fewer allowed).
    """
    if not per_id and not per_user:
        return
    allowed_per_id = per_id if stored else per_id - 1
    allowed_per_user = per_user if stored else per_user - 1
    counts = count_recent(
        using=using,
        idcard_hashes=idcard_hashes if per_id else None,
        user=user if per_user else None,
        since=now - timedelta(days=1),
        caps=(max(allowed_per_id, 0) + 1, max(allowed_per_user, 0) + 1),
        locking=locking,
    )
    if per_id and counts[0] > allowed_per_id:
        logger.warning("attempt refused: daily limit per ID number reached")
        raise AttemptLimitExceeded()
    if per_user and counts[1] > allowed_per_user:
        logger.warning("attempt refused: daily limit per user reached (user id %s)", user.pk)
        raise AttemptLimitExceeded()


@dataclass(frozen=True)
class DailyLimits:
    """The daily limits of one submission: ``idcard_hashes`` (the number's hash under every
    live key, the newest first) and ``user`` (None: anonymous) at ``now``."""

    using: str
    idcard_hashes: Sequence[str]
    user: Any
    now: datetime

    @property
    def limits(self) -> tuple[int, int]:
        return limits_in_force(self.user)

    def _check(self, *, stored: bool, locking: bool = False) -> None:
        per_id, per_user = self.limits
        check(
            using=self.using,
            idcard_hashes=self.idcard_hashes,
            user=self.user,
            now=self.now,
            per_id=per_id,
            per_user=per_user,
            stored=stored,
            locking=locking,
        )

    def counts_before_storing(self) -> bool:
        """Whether :meth:`enforced` counts first, under its locks, before the attempt is
        stored (PostgreSQL, MySQL/MariaDB, with a limit in force): then that count is the
        only one a submit needs, and work done inside the block after it is done only for
        a submission within the limits."""
        per_id, per_user = self.limits
        vendor = connections[self.using].vendor
        return bool(per_id or per_user) and vendor in ("postgresql", "mysql")

    def precheck(self) -> None:
        """The early refusal, without a lock (concurrent submits may all pass it). Skipped on
        SQLite inside a caller's transaction: a read there would turn the wait for the write
        lock into an immediate "database is locked"."""
        connection = connections[self.using]
        if connection.vendor == "sqlite" and connection.in_atomic_block:
            return
        self._check(stored=False)

    @contextlib.contextmanager
    def enforced(self) -> Iterator[None]:
        """The transaction (``transaction.atomic``) that stores the attempt, with the limits
        exact under concurrent submits (the module's docstring says how, per database).
        Store the attempt inside; over a limit, :class:`AttemptLimitExceeded` is raised and
        nothing is stored."""
        per_id, per_user = self.limits
        connection = connections[self.using]
        if not per_id and not per_user:
            with transaction.atomic(using=self.using):
                yield
            return
        if connection.vendor == "postgresql":
            with transaction.atomic(using=self.using):
                self._pg_lock(per_id, per_user)
                self._check(stored=False)
                yield
        elif connection.vendor == "mysql":
            nested = connection.in_atomic_block
            with self._mysql_locks(per_id, per_user), transaction.atomic(using=self.using):
                self._check(stored=False, locking=nested)
                yield
        else:
            with transaction.atomic(using=self.using):
                yield  # the INSERT: the first write takes SQLite's lock
                self._check(stored=True)

    def _keys(self, per_id: int, per_user: int) -> list[tuple[str, str]]:
        """``(kind, value)`` of each lock, in the one order every submit takes them."""
        keys = []
        if per_id:
            keys.append(("id", self.idcard_hashes[0]))
        if per_user:
            keys.append(("user", str(self.user.pk)))
        return keys

    def _pg_lock(self, per_id: int, per_user: int) -> None:
        namespaces = {"id": _PG_NAMESPACE_ID, "user": _PG_NAMESPACE_USER}
        calls: list[str] = []
        params: list[int] = []
        for kind, value in self._keys(per_id, per_user):
            digest = hashlib.sha256(value.encode()).digest()
            calls.append("pg_advisory_xact_lock(%s::integer, %s::integer)")
            params += [namespaces[kind], int.from_bytes(digest[:4], "big", signed=True)]
        with connections[self.using].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(calls), params)

    @contextlib.contextmanager
    def _mysql_locks(self, per_id: int, per_user: int) -> Iterator[None]:
        connection = connections[self.using]
        database = str(connection.settings_dict["NAME"])
        # Named locks are server-wide: the database's name keeps two sites (or two test
        # databases) on one server apart. At most 64 characters.
        names = [
            "face_idcard:"
            + hashlib.sha256(f"{database}\0{kind}\0{value}".encode()).hexdigest()[:40]
            for kind, value in self._keys(per_id, per_user)
        ]
        held: list[str] = []
        try:
            # One statement for both: each GET_LOCK waits in turn, in the listed order.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT " + ", ".join(["GET_LOCK(%s, %s)"] * len(names)),
                    [value for name in names for value in (name, MYSQL_LOCK_TIMEOUT_SECONDS)],
                )
                granted = cursor.fetchone()
            held = [name for name, answer in zip(names, granted, strict=True) if answer == 1]
            if len(held) != len(names):
                raise OperationalError("timed out waiting for a daily-limit lock")
            yield
        finally:
            if held:
                _release_mysql_locks(self.using, held[::-1])


def _release_mysql_locks(using: str, names: Sequence[str]) -> None:
    """``RELEASE_LOCK`` each of ``names``, also from a transaction the database has rolled
    back (a deadlock victim inside a caller's transaction): there Django refuses statements
    until the caller's atomic block ends, but a named lock outlives transactions, and one
    left held would stop every later submit of its key. The release reads and writes no
    data; the block's rollback flag is set again right after it (``set_rollback``)."""
    broken = connections[using].in_atomic_block and transaction.get_rollback(using=using)
    if broken:
        transaction.set_rollback(False, using=using)
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(["RELEASE_LOCK(%s)"] * len(names)), names)
    finally:
        if broken:
            transaction.set_rollback(True, using=using)


def is_deadlock(error: BaseException) -> bool:
    """The database chose this transaction as a deadlock victim (or, on PostgreSQL, failed
    it for serialisation): it was rolled back and may be run again."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if code in _PG_RETRYABLE:
        return True
    return bool(error.args) and error.args[0] == _MYSQL_DEADLOCK


def retry_deadlocks(run: Callable[[], T], *, using: str) -> T:
    """``run()`` (which opens and ends its own transaction), run again when the database
    made it a deadlock victim, up to :data:`DEADLOCK_TRIES` times in all. Inside a caller's
    transaction it runs once: the victim is that whole transaction, which only its owner
    can run again."""
    if connections[using].in_atomic_block:
        return run()
    for attempt in range(1, DEADLOCK_TRIES + 1):
        try:
            return run()
        except OperationalError as error:
            if attempt == DEADLOCK_TRIES or not is_deadlock(error):
                raise
            logger.info("deadlock victim, running the transaction again (try %d)", attempt + 1)
            # Apart again, at random: victims that start over in step meet again.
            time.sleep(random.uniform(0, 0.02 * attempt))  # noqa: S311 (not for secrets)
    raise AssertionError("unreachable")
