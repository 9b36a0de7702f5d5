"""The daily limits, each over any rolling 24 hours (0: no limit):

* ``MAX_ATTEMPTS_PER_ID_PER_DAY`` attempts at one ID number from one account (a submission
  without a user, the host's own code, counts with the other such): one account's attempts
  never use up another's, so a throwaway account cannot lock a person out;
* ``MAX_ACCOUNTS_PER_ID_PER_DAY`` distinct accounts at one ID number: the next account is
  refused, and the refusal recorded as an abuse event (:class:`~face_idcard.models.LimitEvent`);
* ``MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY`` attempts of one account;
* ``MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY`` distinct ID numbers of one account: an account trying
  whose number goes with which name is stopped, not only flagged.

Every attempt stored counts, whatever its outcome, except staff re-runs (``rerun_of`` set:
a staff decision, not the person trying again). The ID number counts under every live hash
key (``crypto.id_number_hashes``), so attempts hashed before a key rotation still count (and
until ``rotate_keys`` rehashes them, another number of the account's under an old key may
count twice toward its distinct numbers: a refusal too early, never too late). Staff with
``face_idcard.reset_limits`` restart an ID number's two counts (:func:`reset_limits`): they
then start at the reset, read in the same statement as the count.

A limit is a count followed by an INSERT: two concurrent submits of one ID number (an
enumeration burst) would both count the same rows and both pass. :meth:`DailyLimits.enforced`
opens the transaction that stores the attempt and makes the counts exact (those of the ID
number under a lock on its hash, those of the account under a lock on the user), per
database:

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

from django.db import DatabaseError, OperationalError, connections, router, transaction
from django.db.models import BooleanField, DateTimeField, F, Func, Subquery, Value
from django.db.models.functions import Coalesce

from .. import _audit as audit
from .. import permissions
from ..conf import face_idcard_settings
from ..exceptions import AttemptLimitExceeded, PersonalInformationUnavailable
from ..models import EventKind, LimitEvent, LimitEventKind, VerificationAttempt

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


@dataclass(frozen=True)
class Caps:
    """The limits of one submission (0: no limit): ``per_id`` attempts at the ID number from
    this account (or, for a submission without a user, from all such), ``per_user`` attempts
    of the account, ``numbers_per_user`` distinct ID numbers of the account,
    ``accounts_per_id`` distinct accounts at the ID number."""

    per_id: int
    per_user: int = 0
    numbers_per_user: int = 0
    accounts_per_id: int = 0

    @property
    def by_id(self) -> bool:
        """Whether a limit counts the ID number's attempts (the ID lock)."""
        return bool(self.per_id or self.accounts_per_id)

    @property
    def by_user(self) -> bool:
        """Whether a limit counts the account's attempts (the user lock)."""
        return bool(self.per_user or self.numbers_per_user)


def limits_in_force(user: Any) -> Caps:
    """The limits that apply to a submission of ``user``; an anonymous submission (the host's
    own code) has the per-ID limit only."""
    per_id = int(face_idcard_settings.MAX_ATTEMPTS_PER_ID_PER_DAY or 0)
    if user is None:
        return Caps(per_id)
    return Caps(
        per_id,
        int(face_idcard_settings.MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY or 0),
        int(face_idcard_settings.MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY or 0),
        int(face_idcard_settings.MAX_ACCOUNTS_PER_ID_PER_DAY or 0),
    )


def window_of_id(using: str, idcard_hashes: Sequence[str], since: datetime) -> Any:
    """Where the ID number's counts start: ``since``, or the number's newest reset by staff
    after it (:func:`reset_limits`). An expression, read in the count's own statement."""
    newest_reset = (
        LimitEvent.objects.using(using)
        .filter(
            idcard_hash__in=list(idcard_hashes),
            kind=LimitEventKind.LIMITS_RESET.value,
            created_at__gt=since,
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return Coalesce(Subquery(newest_reset), Value(since), output_field=DateTimeField())


def _recent(using: str, key: str, value: Any, since: Any) -> Any:
    """The attempts of one key value (``idcard_hash`` or ``user``) created since ``since``
    (a time or an expression), re-runs left out.

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
    bound = since if hasattr(since, "resolve_expression") else Value(since)
    row = Func(
        Func(F(key), F("created_at"), function=""),
        Func(Value(value), bound, function=""),
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


def _distinct(queryset: Any, field: str, cap: int, *, locking: bool) -> set[Any]:
    """The distinct values of ``field`` in ``queryset``, at least ``cap`` of them when there
    are that many. A locking read takes the rows themselves (a locking read of a DISTINCT is
    not allowed everywhere) and the distinct values are picked here."""
    if locking:
        rows = queryset.order_by(field).select_for_update().values_list(field, flat=True)
        return set(rows)
    return set(queryset.order_by(field).values_list(field, flat=True).distinct()[:cap])


@dataclass(frozen=True)
class Counts:
    """What :func:`count_recent` found; each count exact up to the cap it was asked for."""

    per_id: int = 0
    per_user: int = 0
    other_numbers: int = 0
    other_accounts: int = 0


def count_recent(
    *,
    using: str,
    idcard_hashes: Sequence[str],
    user: Any,
    since: datetime,
    caps: Caps,
    locking: bool = False,
) -> Counts:
    """The attempts created since ``since`` (re-runs left out) that ``caps`` limit, each
    counted up to its cap (0: not counted): ``per_id``, the attempts at one of
    ``idcard_hashes`` from ``user``; ``per_user``, the attempts of ``user``;
    ``other_numbers``, the distinct ID numbers of ``user`` other than this one;
    ``other_accounts``, the distinct accounts other than ``user`` at this ID number. The ID
    number's counts start at its newest reset when that is later (:func:`window_of_id`).
    ``locking``: a locking read (see the module's MySQL notes)."""
    id_since = window_of_id(using, idcard_hashes, since) if caps.by_id else since
    owner = {"user": user.pk} if user is not None else {"user__isnull": True}
    per_id = 0
    accounts: set[Any] = set()
    for value in idcard_hashes if caps.by_id else ():
        # One capped count per live hash key, added up: one of them at the cap, or all
        # counted in full, their sum still tells "over".
        of_number = _recent(using, "idcard_hash", value, id_since)
        both = caps.per_id and caps.accounts_per_id and user is not None
        if both:
            # Both counts from one read of the number's rows: within the limits there are
            # at most ``per_id`` a group (each account, and the anonymous one) for at most
            # ``accounts_per_id`` + 1 groups, so a read cut short at this cap is a number
            # the limits never let get there (a limit lowered since): counted apart then.
            cap = (caps.accounts_per_id + 2) * caps.per_id
            ordered = of_number.order_by("idcard_hash", "created_at", "user")
            if locking:
                ordered = ordered.select_for_update()
            users = list(ordered.values_list("user", flat=True)[:cap])
            if len(users) < cap:
                per_id += min(users.count(user.pk), caps.per_id)
                accounts |= {other for other in users if other not in (None, user.pk)}
                continue
        if caps.per_id:
            per_id += _capped(
                of_number.filter(**owner),
                ("idcard_hash", "created_at", "user"),
                caps.per_id,
                locking=locking,
            )
        if caps.accounts_per_id and user is not None:
            others = of_number.filter(user__isnull=False).exclude(user=user.pk)
            accounts |= _distinct(others, "user", caps.accounts_per_id, locking=locking)
    per_user = 0
    numbers: set[str] = set()
    if user is not None and caps.by_user:
        of_user = _recent(using, "user", user.pk, since)
        if caps.per_user:
            # One read for both: the numbers of at most ``per_user`` rows are all of them
            # when the account is within its limit, and it is refused anyway when not.
            ordered = of_user.order_by("user", "created_at", "idcard_hash")
            if locking:
                ordered = ordered.select_for_update()
            rows = list(ordered.values_list("idcard_hash", flat=True)[: caps.per_user])
            per_user, numbers = len(rows), set(rows)
        elif caps.numbers_per_user:
            # Room for this number's own hashes and an erased one among the values.
            cap = caps.numbers_per_user + len(idcard_hashes) + 1
            numbers = _distinct(of_user, "idcard_hash", cap, locking=locking)
        # The same number under another live hash key is not another number.
        numbers -= {*idcard_hashes, ""}
    return Counts(per_id, per_user, len(numbers), len(accounts))


class AccountsPerIdReached(AttemptLimitExceeded):
    """The ID number was tried by ``MAX_ACCOUNTS_PER_ID_PER_DAY`` other accounts: refused
    like any limit (the same message), and recorded as an abuse event by :func:`submit`.
    A caller whose own transaction rolled the event back with the refusal records it again
    once that transaction is over (:meth:`record`; the API's ``Idempotency-Key`` path)."""

    refused: DailyLimits | None = None

    def record(self) -> None:
        """The abuse event (:meth:`DailyLimits.record_accounts_reached`), written now."""
        if self.refused is not None:
            self.refused.record_accounts_reached()


def check(
    *,
    using: str,
    idcard_hashes: Sequence[str],
    user: Any,
    now: datetime,
    per_id: int,
    per_user: int,
    numbers_per_user: int = 0,
    accounts_per_id: int = 0,
    stored: bool = True,
    locking: bool = False,
) -> None:
    """Raise :class:`AttemptLimitExceeded` when the submission is over a limit of the day
    (:class:`Caps`; 0: no limit; ``accounts_per_id``: :class:`AccountsPerIdReached`).

    With ``stored=True`` the attempt being submitted is already among the rows (counted);
    with ``stored=False`` it is not yet (one fewer allowed). The distinct counts leave this
    submission's number and account out, so they read the same either way.
    """
    if user is None:
        per_user = numbers_per_user = accounts_per_id = 0
    if not (per_id or per_user or numbers_per_user or accounts_per_id):
        return
    allowed_per_id = per_id if stored else per_id - 1
    allowed_per_user = per_user if stored else per_user - 1
    counts = count_recent(
        using=using,
        idcard_hashes=idcard_hashes,
        user=user,
        since=now - timedelta(days=1),
        caps=Caps(
            max(allowed_per_id, 0) + 1 if per_id else 0,
            max(allowed_per_user, 0) + 1 if per_user else 0,
            numbers_per_user,
            accounts_per_id,
        ),
        locking=locking,
    )
    if per_id and counts.per_id > allowed_per_id:
        logger.warning("attempt refused: daily limit per ID number and account reached")
        raise AttemptLimitExceeded()
    if per_user and counts.per_user > allowed_per_user:
        logger.warning("attempt refused: daily limit per user reached (user id %s)", user.pk)
        raise AttemptLimitExceeded()
    if numbers_per_user and counts.other_numbers >= numbers_per_user:
        logger.warning(
            "attempt refused: distinct ID numbers per user reached (user id %s)", user.pk
        )
        raise AttemptLimitExceeded()
    if accounts_per_id and counts.other_accounts >= accounts_per_id:
        logger.warning(
            "attempt refused: distinct accounts per ID number reached (user id %s)", user.pk
        )
        raise AccountsPerIdReached()


@dataclass(frozen=True)
class DailyLimits:
    """The daily limits of one submission: ``idcard_hashes`` (the number's hash under every
    live key, the newest first) and ``user`` (None: anonymous) at ``now``."""

    using: str
    idcard_hashes: Sequence[str]
    user: Any
    now: datetime

    @property
    def limits(self) -> Caps:
        return limits_in_force(self.user)

    def _check(self, *, stored: bool, locking: bool = False) -> None:
        caps = self.limits
        try:
            check(
                using=self.using,
                idcard_hashes=self.idcard_hashes,
                user=self.user,
                now=self.now,
                per_id=caps.per_id,
                per_user=caps.per_user,
                numbers_per_user=caps.numbers_per_user,
                accounts_per_id=caps.accounts_per_id,
                stored=stored,
                locking=locking,
            )
        except AccountsPerIdReached as refusal:
            refusal.refused = self
            raise

    def counts_before_storing(self) -> bool:
        """Whether :meth:`enforced` counts first, under its locks, before the attempt is
        stored (PostgreSQL, MySQL/MariaDB, with a limit in force): then that count is the
        only one a submit needs, and work done inside the block after it is done only for
        a submission within the limits."""
        caps = self.limits
        vendor = connections[self.using].vendor
        return (caps.by_id or caps.by_user) and vendor in ("postgresql", "mysql")

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
        caps = self.limits
        connection = connections[self.using]
        if not caps.by_id and not caps.by_user:
            with transaction.atomic(using=self.using):
                yield
            return
        if connection.vendor == "postgresql":
            with transaction.atomic(using=self.using):
                self._pg_lock(caps)
                self._check(stored=False)
                yield
        elif connection.vendor == "mysql":
            nested = connection.in_atomic_block
            with self._mysql_locks(caps), transaction.atomic(using=self.using):
                self._check(stored=False, locking=nested)
                yield
        else:
            with transaction.atomic(using=self.using):
                yield  # the INSERT: the first write takes SQLite's lock
                self._check(stored=True)

    def record_accounts_reached(self) -> None:
        """The abuse event of a submission refused by :class:`AccountsPerIdReached`: one
        :class:`LimitEvent` per number and account a day (a refused account trying again
        adds nothing). Written where the refusal left the transaction: on its own, or in the
        caller's, which keeps it only if it commits (the log line is written either way).
        A failure to write it never hides the refusal."""
        events = LimitEvent.objects.using(self.using)
        kind = LimitEventKind.ACCOUNTS_PER_ID_REACHED.value
        recorded = events.filter(
            idcard_hash__in=list(self.idcard_hashes),
            kind=kind,
            user=self.user,
            created_at__gt=self.now - timedelta(days=1),
        )
        try:
            # The read apart from the write: on SQLite a transaction that reads before it
            # writes is refused the write lock at once under contention (two refusals of one
            # account at the same moment may then both be recorded: harmless). The write in
            # a savepoint of its own, so that a failure leaves a caller's transaction usable.
            if not recorded.exists():
                with transaction.atomic(using=self.using):
                    events.create(
                        kind=kind,
                        idcard_hash=self.idcard_hashes[0],
                        user=self.user,
                        created_at=self.now,
                        data={"accounts": self.limits.accounts_per_id},
                    )
        except DatabaseError as error:
            logger.error("abuse event not recorded (%s)", type(error).__name__)

    def _keys(self, caps: Caps) -> list[tuple[str, str]]:
        """``(kind, value)`` of each lock, in the one order every submit takes them. The ID
        lock serialises the counts of the number (per account, distinct accounts), the user
        lock those of the account (its attempts, its distinct numbers)."""
        keys = []
        if caps.by_id:
            keys.append(("id", self.idcard_hashes[0]))
        if caps.by_user:
            keys.append(("user", str(self.user.pk)))
        return keys

    def _pg_lock(self, caps: Caps) -> None:
        namespaces = {"id": _PG_NAMESPACE_ID, "user": _PG_NAMESPACE_USER}
        calls: list[str] = []
        params: list[int] = []
        for kind, value in self._keys(caps):
            digest = hashlib.sha256(value.encode()).digest()
            calls.append("pg_advisory_xact_lock(%s::integer, %s::integer)")
            params += [namespaces[kind], int.from_bytes(digest[:4], "big", signed=True)]
        with connections[self.using].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(calls), params)

    @contextlib.contextmanager
    def _mysql_locks(self, caps: Caps) -> Iterator[None]:
        connection = connections[self.using]
        database = str(connection.settings_dict["NAME"])
        # Named locks are server-wide: the database's name keeps two sites (or two test
        # databases) on one server apart. At most 64 characters.
        names = [
            "face_idcard:"
            + hashlib.sha256(f"{database}\0{kind}\0{value}".encode()).hexdigest()[:40]
            for kind, value in self._keys(caps)
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


def reset_limits(attempt: VerificationAttempt, *, actor: Any) -> LimitEvent:
    """Restart the daily limits of ``attempt``'s ID number now: its attempts from every
    account, and its distinct accounts, count from here (the accounts' own limits stay).
    For support staff helping a person whom other accounts locked out
    (``face_idcard.reset_limits``); audited on the attempt (``limits_reset``, the actor) and
    kept as a :class:`LimitEvent`, which the counts read. Raises
    :class:`PersonalInformationUnavailable` when the attempt no longer has its number's hash
    (purged: its attempts no longer count anyway)."""
    by = permissions.require(actor, permissions.RESET_LIMITS)
    if not attempt.idcard_hash:
        raise PersonalInformationUnavailable()
    using = router.db_for_write(LimitEvent)
    with transaction.atomic(using=using):
        event: LimitEvent = LimitEvent.objects.using(using).create(
            kind=LimitEventKind.LIMITS_RESET.value,
            idcard_hash=attempt.idcard_hash,
            actor=actor if getattr(actor, "pk", None) else None,
            data={"attempt": str(attempt.pk), **by},
        )
        audit.record(attempt, EventKind.LIMITS_RESET, actor=actor, **by)
    logger.info("attempt %s: daily limits of its ID number reset", attempt.pk)
    return event


def forget_past_limit_events(now: datetime) -> int:
    """Clear the ID hash of every :class:`LimitEvent` older than the limits' window (the
    purge): the limits no longer read it, and a hash kept for nothing links a person's
    attempts. The event itself (kind, account, actor, time) stays."""
    return int(
        LimitEvent.objects.filter(created_at__lte=now - timedelta(days=1))
        .exclude(idcard_hash="")
        .update(idcard_hash="")
    )
