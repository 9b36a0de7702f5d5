"""``submit``: validate, store encrypted, refuse over the daily limits, enqueue on commit."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import IO, Any
from uuid import uuid4

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connections, models, router, transaction
from django.db.models import NOT_PROVIDED, CharField, Field
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import audit, crypto
from ..backends import default_alias, usable_backend
from ..conf import face_idcard_settings
from ..consent import validate_consent_time
from ..identity import check_minimum_age, validate_id_number, validate_name
from ..images import check_upload_type, limits_for, read_upload, validate_image
from ..masking import mask_id_number, mask_name
from ..models import EventKind, VerificationAttempt
from ..netpolicy import validate_url
from ..sensitive import Sensitive, forget_locals_on_error
from ..states import Decision, Status
from ..textfields import validate_text_length
from . import slots
from .common import (
    AttemptLimitExceeded,
    ConsentRequired,
    current_selfie_storage_alias,
    delete_selfie,
    enqueue_on_commit,
    save_selfie,
)

logger = logging.getLogger("face_idcard.services")


def _user_or_none(user: Any) -> Any:
    """The user the attempt belongs to, or None for AnonymousUser and None.

    Anything else is a programming error that must not pass silently: a user name or id in
    place of the user would drop the per-user daily limit without a word.
    """
    if user is None or isinstance(user, AnonymousUser):
        return None
    if not isinstance(user, get_user_model()):
        raise TypeError(
            f"user must be a {get_user_model().__name__} instance, AnonymousUser or None, "
            f"not {type(user).__name__}"
        )
    if user.pk is None:
        raise TypeError("user must be a saved user (it has no primary key yet)")
    return user


def _field_limit(name: str) -> int:
    """The column's max_length: the one place each length rule lives."""
    field = VerificationAttempt._meta.get_field(name)
    assert isinstance(field, CharField) and field.max_length is not None
    return field.max_length


#: Namespaces (first key of the two-key form of ``pg_advisory_xact_lock``) so that our locks
#: cannot collide with a host site's advisory locks, nor an ID hash with a user id.
_PG_LOCK_NAMESPACE_ID = 0x46494431  # "FID1"
_PG_LOCK_NAMESPACE_USER = 0x46495531  # "FIU1"


def _limits_in_force(user: Any) -> tuple[int, int]:
    """The daily limits that apply to this submission (0: no limit)."""
    per_id = int(face_idcard_settings.MAX_ATTEMPTS_PER_ID_PER_DAY or 0)
    per_user = int(face_idcard_settings.MAX_ATTEMPTS_PER_USER_PER_DAY or 0)
    return per_id, per_user if user is not None else 0


def lock_limit_keys(*, using: str, idcard_hash: str, user: Any, per_id: int, per_user: int) -> None:
    """Serialise, until the current transaction ends, the submissions that share a limit key.

    Must be called inside the transaction that stores the attempt, before the count that
    decides. Without it two concurrent submits count the same rows and both pass the limit
    (the count-then-insert race), which is exactly what an enumeration burst does.
    :func:`submit` on a pipelined PostgreSQL connection locks and counts first, then does
    the image work and the INSERTs in the same transaction (same-key submits wait for each
    other, not anyone else); elsewhere it locks, INSERTs, then counts including its row.

    PostgreSQL: transaction-level advisory locks on the ID hash and on the user, one
    statement. Each lock is released at commit, after which the next holder's count (a new
    READ COMMITTED snapshot per statement) sees the stored row. The locks are always taken in
    the same order (ID, then user), so two submits cannot deadlock each other. This relies
    on READ COMMITTED, Django's default: under REPEATABLE READ the snapshot would be taken
    before the lock is granted. A caller that submits several attempts in one transaction
    of its own holds every lock until it commits; should that deadlock with another such
    caller, PostgreSQL aborts one of them: an error, never an attempt over the limit.

    SQLite serialises writers: :func:`submit` makes the INSERT the first statement of its
    transaction, so the write lock is taken (waiting out the busy timeout) before anything is
    read, and the count that follows sees every committed attempt. Nothing to do here.
    (Inside a caller's transaction that has already read, SQLite answers "database is
    locked" to the second writer instead of waiting: an error, never an attempt over the
    limit.)

    Other databases get no lock: there the limit holds for sequential submits only.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    calls: list[str] = []
    params: list[object] = []
    if per_id:
        calls.append("pg_advisory_xact_lock(%s::integer, hashtext(%s))")
        params += [_PG_LOCK_NAMESPACE_ID, idcard_hash]
    if per_user:
        calls.append("pg_advisory_xact_lock(%s::integer, hashtext(%s))")
        params += [_PG_LOCK_NAMESPACE_USER, str(user.pk)]
    if calls:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(calls), params)


def _pipeline_connection(using: str) -> Any:
    """The psycopg 3 connection behind ``using`` when :func:`store_transaction` may pipeline
    on it, else None: PostgreSQL through psycopg 3 with pipeline support, in autocommit (no
    atomic block, no transaction the caller manages) and with the server's default
    transaction characteristics (a plain ``BEGIN`` is what psycopg itself would send)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    connection.ensure_connection()
    if not connection.get_autocommit():
        return None
    raw = connection.connection
    if getattr(raw, "pipeline", None) is None:  # psycopg 2
        return None
    from psycopg import Pipeline

    if not Pipeline.is_supported():
        return None
    if any(getattr(raw, name, None) is not None for name in _TRANSACTION_CHARACTERISTICS):
        return None
    return raw


_TRANSACTION_CHARACTERISTICS = ("isolation_level", "read_only", "deferrable")


@contextlib.contextmanager
def store_transaction(using: str) -> Iterator[None]:
    """One transaction around :func:`submit`'s writes: ``transaction.atomic``, or, where
    :func:`_pipeline_connection` allows, the same transaction with its statements pipelined.

    psycopg 3's pipeline mode sends statements without waiting for their answers until one is
    fetched. In :func:`submit`, ``BEGIN``, the advisory lock and the count go out together
    and come back at the count's fetch (one round trip, instead of one for each and another
    for the ``BEGIN`` psycopg sends on its own); the INSERTs and the ``COMMIT`` go with the
    block's final sync (the second). The server runs the statements in order exactly as if
    sent one by one, each READ COMMITTED statement with its own snapshot, so the count still
    sees every row committed before the lock was granted: the limits hold as in ``atomic``.
    A raise inside (over a limit, a refused image) or a failed statement (the ones after it
    are skipped) rolls back.
    Inside: statements only, no ``transaction.atomic`` (it cannot start in a transaction
    Django does not know of) and no ``transaction.on_commit`` (it would run at once): the
    caller publishes after the block.
    """
    raw = _pipeline_connection(using)
    if raw is None:
        with transaction.atomic(using=using):
            yield
        return
    connection = connections[using]
    try:
        with connection.wrap_database_errors, raw.pipeline():
            with connection.cursor() as cursor:
                cursor.execute("BEGIN")
            yield
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")
    except BaseException:
        from psycopg.pq import TransactionStatus

        # Still in the transaction (a raise inside, a failed statement): roll it back. Not
        # after a failed COMMIT (already over) nor on a lost connection (UNKNOWN: Django
        # closes it at the end of the request).
        if raw.pgconn.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with connection.wrap_database_errors:
                raw.rollback()
        raise


def _insertable_fields(model: type[models.Model]) -> list[tuple[Any, bool]]:
    """The fields an INSERT of ``model`` sets (cached), each with whether it may be left out:
    a column the database fills with NULL when the INSERT leaves it out (nullable, with no
    database default: the app's migrations set none; ``db_default`` is Django 5's)."""
    fields = _INSERTABLE.get(model)
    if fields is None:
        meta = model._meta
        fields = _INSERTABLE[model] = [
            (field, bool(field.null) and getattr(field, "db_default", NOT_PROVIDED) is NOT_PROVIDED)
            for field in meta.concrete_fields
            if field is not meta.auto_field and not getattr(field, "generated", False)
        ]
        if any(hasattr(field, "get_placeholder") for field, _ in fields):
            raise NotImplementedError("a field with its own placeholder")  # not in this app
    return fields


_INSERTABLE: dict[type[models.Model], list[tuple[Any, bool]]] = {}


def _insert_sql(
    model: type[models.Model], fields: Sequence[Any], rows: int, connection: Any
) -> str:
    """The INSERT of ``rows`` rows of ``fields`` (cached per model, columns and row count)."""
    key = (model, tuple(field.attname for field in fields), rows, connection.vendor)
    sql = _INSERT_SQL.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
        # Only quoted names from the model and placeholders: every value is a parameter.
        sql = _INSERT_SQL[key] = (
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608
            f"VALUES {', '.join([marks] * rows)}"
        )
    return sql


_INSERT_SQL: dict[tuple[Any, ...], str] = {}


def insert_rows(rows: Sequence[models.Model], *, using: str) -> None:
    """INSERT ``rows`` (new, unsaved instances of one model) in one statement that returns
    nothing, and mark them saved.

    Their new automatic ids are not asked for: that lets the statement ride a pipeline
    (:func:`store_transaction`) without waiting for its answer. Written out rather than
    through ``Model.save`` or ``QuerySet._insert``: their compiler cost about 1 ms of CPU a
    statement (measured with a statement for each model a submit writes; bench/api.py), the
    values' preparation here (``pre_save``, then ``get_db_prep_save``, as the compiler does)
    a tenth of that. The
    nullable columns that are NULL in every row are left out (the database stores NULL):
    a new attempt sets about half of its 51 columns, and psycopg caches the conversion of a
    statement of at most 50 parameters only. No ``pre_save``/``post_save`` signals are sent
    (none is connected to these models; the app's own signals say what happened to an
    attempt).
    """
    insert_groups([rows], using=using)


def insert_groups(groups: Sequence[Sequence[models.Model]], *, using: str) -> None:
    """:func:`insert_rows` for each group (instances of one model a group), in one statement
    on PostgreSQL: each group but the last in a data-modifying ``WITH`` (one statement less
    to send, convert and run a submit: the attempt and its events). The foreign keys between
    them hold: Django's are checked at the commit (``DEFERRABLE INITIALLY DEFERRED``).
    Elsewhere (SQLite has no INSERT in ``WITH``) one statement a group, in order."""
    groups = [rows for rows in groups if rows]
    if not groups:
        return
    connection = connections[using]
    statements = [_insert_statement(rows, connection) for rows in groups]
    if connection.vendor == "postgresql" and len(statements) > 1:
        *first, (last_sql, _) = statements
        with_clause = ", ".join(f"w{index} AS ({sql})" for index, (sql, _) in enumerate(first))
        statements = [
            (f"WITH {with_clause} {last_sql}", [p for _, params in statements for p in params])
        ]
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
    for rows in groups:
        for row in rows:
            row._state.adding = False
            row._state.db = using


def _insert_statement(rows: Sequence[models.Model], connection: Any) -> tuple[str, list[Any]]:
    """The INSERT of ``rows`` (one model's) and its parameters, for :func:`insert_groups`."""
    model = type(rows[0])
    if any(type(row) is not model for row in rows):
        raise TypeError("insert_rows takes instances of one model")
    fields = _insertable_fields(model)
    values = [
        [field.get_db_prep_save(field.pre_save(row, True), connection) for field, _ in fields]
        for row in rows
    ]
    kept = [
        index
        for index, (_, optional) in enumerate(fields)
        if not optional or any(row[index] is not None for row in values)
    ]
    sql = _insert_sql(model, [fields[index][0] for index in kept], len(rows), connection)
    return sql, [row[index] for row in values for index in kept]


def _count_recent(
    *,
    using: str,
    hashes: list[str] | None,
    user: Any,
    since: datetime,
    caps: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """``(attempts with one of hashes, attempts of user)`` created since ``since``, re-runs
    left out, each counted up to its cap (``caps``; 0: no cap); 0 for a count not asked
    (None). One statement, a subquery for each count.

    Each subquery reads its own index, whatever the statistics say: the key (the ID hash, the
    user) and the window are both its index conditions, on ``(idcard_hash, created_at)`` and
    ``(user, created_at)``, and its ORDER BY is that index's order. Without it (one WHERE
    with an OR of the keys), PostgreSQL chose from statistics older than the newest rows to
    scan every attempt of the last day through the statistics index (``created_at``
    first) and filter: work growing with the site's traffic, at every submit.
    The cap is the limit plus one: enough to tell "over", and an account that submits all
    day is not read in full each time. Re-runs (``services.rerun``) are staff decisions, not
    the person trying again: left out in the WHERE (the cap counts the person's own); the
    ORDER BY also keeps PostgreSQL from ANDing in the ``rerun_of`` index on a table without
    statistics (its IS NULL entries are the whole table).

    Written out rather than through the ORM: the queryset and its compilation cost about
    2.5 ms of CPU each time, the statement itself a tenth of that.
    """
    connection = connections[using]
    meta = VerificationAttempt._meta
    quote = connection.ops.quote_name

    def field(name: str) -> Field[Any, Any]:
        found = meta.get_field(name)
        assert isinstance(found, Field)
        return found

    def column(name: str) -> str:
        return quote(str(field(name).column))

    def prepared(name: str, value: Any) -> Any:
        return field(name).get_db_prep_value(value, connection)

    created = prepared("created_at", since)
    table, when, rerun = quote(meta.db_table), column("created_at"), column("rerun_of")

    def count(key: str, value: Any, cap: int) -> tuple[str, list[Any]]:
        """The attempts of one key value in the window, up to ``cap`` (a subquery), and its
        parameters. Two things keep it on the ``(key, created_at, other key)`` index, whatever
        the statistics estimate: the window is a row comparison, ``(key, created_at) >=
        (value, since)``, an index condition on that index only (no plan reads the window
        of every key through the statistics index); and the ORDER BY is that index's order
        and no other's (no plan reads another index in ``created_at`` order until the LIMIT).
        Only quoted names from the model and placeholders are put together here; every value
        is a parameter."""
        name, other = column(key), column("user" if key == "idcard_hash" else "idcard_hash")
        limit = " LIMIT %s" if cap else ""
        sql = (
            f"(SELECT COUNT(*) FROM (SELECT 1 AS one FROM {table} "  # noqa: S608
            f"WHERE {name} = %s AND ({name}, {when}) >= (%s, %s) AND {rerun} IS NULL "
            f"ORDER BY {name}, {when}, {other}{limit}) AS counted)"
        )
        return sql, [value, value, created, *([cap] if cap else [])]

    subqueries: list[str] = []
    params: list[Any] = []
    if hashes is not None:
        # A count for each live hash key, added up: each capped at cap, their sum still
        # tells "over" (one of them at the cap, or all counted in full).
        parts = [count("idcard_hash", prepared("idcard_hash", value), caps[0]) for value in hashes]
        subqueries.append("(" + " + ".join(sql for sql, _ in parts) + ")")
        params += [value for _, values in parts for value in values]
    if user is not None:
        sql, values = count("user", prepared("user", user.pk), caps[1])
        subqueries.append(sql)
        params += values
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(subqueries), params)
        row = cursor.fetchone()
    found = iter(row)
    return (
        next(found) if hashes is not None else 0,
        next(found) if user is not None else 0,
    )


def check_limits(
    *,
    using: str,
    idcard_hash: str | list[str],
    user: Any,
    now: datetime,
    per_id: int,
    per_user: int,
    stored: bool = True,
) -> None:
    """Raise :class:`AttemptLimitExceeded` when the ID number or the user is over the day.

    A rolling 24 hours, counted over every attempt stored, whatever its outcome, with
    ``stored=True`` INCLUDING the one being submitted (:func:`submit` calls it so after its
    INSERT, in the same transaction and under :func:`lock_limit_keys`; the raise rolls the
    INSERT back). With ``stored=False`` the submitted attempt is not counted yet: the check
    before anything costly (image work, encryption), which holds under concurrency where it
    runs under the lock (pipelined PostgreSQL), and elsewhere is the early, lock-free check
    (concurrent submits may both pass it; the later check decides).
    ``idcard_hash`` is the number's hash under every live key (``crypto.id_number_hashes``),
    so attempts hashed before a key rotation still count.
    """
    hashes = [idcard_hash] if isinstance(idcard_hash, str) else list(idcard_hash)
    # Before the INSERT (the cheap early refusal), the new attempt is not among the rows yet.
    allowed_per_id = per_id if stored else per_id - 1
    allowed_per_user = per_user if stored else per_user - 1
    since = now - timedelta(days=1)
    if not per_id and not per_user:
        return
    counts = _count_recent(
        using=using,
        hashes=hashes if per_id else None,
        user=user if per_user else None,
        since=since,
        # One over what is allowed tells "over": no need to count further.
        caps=(max(allowed_per_id, 0) + 1, max(allowed_per_user, 0) + 1),
    )
    if per_id and counts[0] > allowed_per_id:
        logger.warning("attempt refused: daily limit per ID number reached")
        raise AttemptLimitExceeded()
    if per_user and counts[1] > allowed_per_user:
        logger.warning("attempt refused: daily limit per user reached (user id %s)", user.pk)
        raise AttemptLimitExceeded()


@forget_locals_on_error
def submit(
    *,
    idcard_number: str,
    idcard_name: str,
    image: bytes | IO[bytes] | UploadedFile[Any] | None = None,
    url: str | None = None,
    user: Any = None,
    consent_at: datetime | None,
    notice_version: str | None = None,
    external_reference: str = "",
    backend: str | None = None,
    enqueue: bool = True,
    guardian_consent: bool = False,
    on_store: Callable[[VerificationAttempt], None] | None = None,
) -> VerificationAttempt:
    """Store a new attempt and (on commit) queue it for the pipeline.

    Validates everything first, cheapest checks first (types, lengths, consent, the ID number
    and name, the daily limits), the image last: bad input is refused with a
    ``ValidationError`` before anything is stored, sent or paid for. Raises
    :class:`ConsentRequired` without ``consent_at``, :class:`AttemptLimitExceeded` over the
    daily limits, :class:`BackendUnavailable` when the backend cannot be built, ``TypeError``
    for a ``user`` or ``image`` of the wrong type.
    ``guardian_consent``: the caller states that a parent or guardian consented, which a
    person under ``MINIMUM_AGE`` needs. ``on_store(attempt)`` is called inside the
    transaction that stores the attempt, right after its INSERT (and its events'), for a row
    of the caller's that must exist exactly when the attempt does (the API's
    ``Idempotency-Key``); its raise rolls the attempt back. (Its statements join the
    pipeline: no waiting for answers.)
    """
    user = _user_or_none(user)
    if image is not None:
        check_upload_type(image)
    if consent_at is None:
        raise ConsentRequired()
    consent_at = validate_consent_time(consent_at)
    if (image is None) == (url is None):
        raise ValidationError(
            _("Send either a photo or the address of a photo."), code="image_or_url"
        )
    if notice_version is None:
        notice_version = str(face_idcard_settings.NOTICE_VERSION)
    notice_version = validate_text_length(
        notice_version,
        field=_("The privacy notice version"),
        max_length=_field_limit("notice_version"),
    )
    external_reference = validate_text_length(
        external_reference,
        field=_("The external reference"),
        max_length=_field_limit("external_reference"),
    )
    # From here on the values are Sensitive (masked in every repr); the clear arguments are
    # dropped so that no frame of ours holds them (see face_idcard.sensitive).
    number = Sensitive.id_number(validate_id_number(idcard_number))
    name = Sensitive.name(validate_name(idcard_name))
    del idcard_number, idcard_name
    check_minimum_age(number.reveal(), guardian_consent=guardian_consent)
    backend_name = backend or default_alias()
    service = usable_backend(backend_name)  # BackendUnavailable: nothing stored, sent
    if url is not None and not service.accepts_url:
        raise ValidationError(
            _("This verification service does not take a photo address. Upload the photo."),
            code="url_not_accepted",
        )

    now = timezone.now()
    hash_key_id, idcard_hash = crypto.id_number_hash_with_key(number.reveal())
    every_hash = crypto.id_number_hashes(number.reveal())
    per_id, per_user = _limits_in_force(user)
    using = router.db_for_write(VerificationAttempt)
    check = functools.partial(
        check_limits,
        using=using,
        idcard_hash=every_hash,
        user=user,
        now=now,
        per_id=per_id,
        per_user=per_user,
    )
    # PostgreSQL with a pipeline: the transaction opens here, and its first statements
    # lock the limit keys and count (one round trip): over the limit, refused before the
    # costly work below, by the count that holds under concurrency (nobody else of these
    # keys can store an attempt until this transaction ends). The image work then runs
    # inside it, and the INSERTs and the COMMIT go out together (a second round trip).
    # Elsewhere: an early lock-free count now, and the transaction only around the INSERTs,
    # where the count that holds is made again (see lock_limit_keys).
    locked_first = _pipeline_connection(using) is not None
    lock = functools.partial(
        lock_limit_keys,
        using=using,
        idcard_hash=idcard_hash,
        user=user,
        per_id=per_id,
        per_user=per_user,
    )
    selfie: tuple[str, str] | None = None
    try:
        with contextlib.ExitStack() as stack:
            if locked_first:
                stack.enter_context(store_transaction(using))
                lock()
            check(stored=False)
            attempt, events, countdown = _prepare(
                service=service,
                image=image,
                url=url,
                user=user,
                backend_name=backend_name,
                number=number,
                name=name,
                idcard_hash=idcard_hash,
                hash_key_id=hash_key_id,
                consent_at=consent_at,
                notice_version=notice_version,
                external_reference=external_reference,
                now=now,
                enqueue=enqueue,
                guardian_consent=guardian_consent,
            )
            del image, url
            if attempt.selfie_name:
                selfie = (attempt.selfie_name, attempt.selfie_storage)
            if not locked_first:
                stack.enter_context(store_transaction(using))
                # The order matters for the limits to hold under concurrent submits: lock
                # (where the database has advisory locks), INSERT as the first write, then
                # count including this row; over the limit, the raise rolls it back.
                lock()
            insert_groups([[attempt], events], using=using)
            if on_store is not None:
                on_store(attempt)
            if not locked_first:
                check()
    except BaseException:
        # The row was not stored (refused over a limit, or failed, the COMMIT included): do
        # not leave an orphaned encrypted selfie behind.
        if selfie is not None:
            delete_selfie(*selfie)
        raise
    # Stored: committed, or (inside a caller's transaction) released into it, where the hook
    # waits for the caller's commit, and is dropped if the caller rolls back.
    if enqueue and countdown is not None:
        enqueue_on_commit(
            attempt.pk,
            backend_name,
            countdown or None,
            on_failure=_record_failed_publish(attempt),
        )
    logger.info("attempt %s: created (backend %s)", attempt.pk, backend_name)
    return attempt


def _prepare(
    *,
    service: Any,
    image: bytes | IO[bytes] | UploadedFile[Any] | None,
    url: str | None,
    user: Any,
    backend_name: str,
    number: Sensitive[str],
    name: Sensitive[str],
    idcard_hash: str,
    hash_key_id: str,
    consent_at: datetime,
    notice_version: str,
    external_reference: str,
    now: datetime,
    enqueue: bool,
    guardian_consent: bool,
) -> tuple[VerificationAttempt, list[Any], float | None]:
    """The costly part of :func:`submit`, after the limits: the image (prepared, sealed and
    stored) or the url, the attempt (not saved), its events and its publish countdown (None:
    parked)."""
    prepared = None
    if image is not None:
        # The backend's limits narrowed by the site's, upload cap included.
        limits = limits_for(service.image_limits)
        prepared = validate_image(read_upload(image, limits.max_input_bytes), limits)
    clean_url = Sensitive(validate_url(url) if url is not None else "")
    del image, url

    attempt = VerificationAttempt(
        id=uuid4(),
        user=user,
        backend=backend_name,
        idcard_number_encrypted=crypto.encrypt_text(number.reveal()),
        idcard_name_encrypted=crypto.encrypt_text(name.reveal()),
        idcard_hash=idcard_hash,
        idcard_hash_key_id=hash_key_id,
        idcard_number_masked=mask_id_number(number.reveal()),
        idcard_name_masked=mask_name(name.reveal()),
        url_encrypted=crypto.encrypt_text(clean_url.reveal()),
        consent_at=consent_at,
        notice_version=notice_version,
        external_reference=external_reference,
        status=Status.QUEUED.value,
        decision=Decision.NONE.value,
        created_at=now,
        queued_at=now,
    )
    countdown: float | None = 0.0
    if enqueue:
        # A rate-limited backend: the attempt's slot now, so that its message comes once, when
        # the slot opens (or, far ahead, the sweeper publishes it).
        limit = service.rate_limit_per_second
        if limit is not None:
            slot = slots.reserve(limit, backend_name)
            countdown = slot.countdown
            for field, value in slot.fields.items():
                setattr(attempt, field, value)
    if prepared is not None:
        attempt.selfie_storage = current_selfie_storage_alias()
        attempt.selfie_name = save_selfie(prepared.data)
        attempt.selfie_content_type = prepared.content_type
    events = [
        audit.event(
            attempt,
            EventKind.CREATED,
            actor=user,
            backend=backend_name,
            mode="url" if clean_url.reveal() else "image",
            notice_version=attempt.notice_version,
            guardian_consent=guardian_consent,
        ),
        # What is known now: the message is published after the commit (or by the caller);
        # a publish that fails records its own event then.
        audit.event(
            attempt,
            EventKind.QUEUED,
            publish=(
                ("after_commit" if countdown is not None else "parked") if enqueue else "caller"
            ),
        ),
    ]
    return attempt, events, countdown


def _record_failed_publish(attempt: VerificationAttempt) -> Callable[[str], None]:
    def record(error_class: str) -> None:
        # The attempt stays queued; the sweeper publishes it after QUEUED_STALE_SECONDS.
        audit.record(
            attempt, EventKind.QUEUED, published=False, error=error_class, recovery="sweeper"
        )

    return record
