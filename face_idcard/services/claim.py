"""Claiming an attempt: the conditional UPDATE that lets exactly one worker call the provider.

``status IN (queued, retry_wait) AND (lease is null or expired) AND (not waiting for a later
retry)`` → ``processing`` with a fresh claim token and lease. Where the database can return
rows from an UPDATE (PostgreSQL, SQLite >= 3.35) the claim and the read of the row are one
statement: one round trip on the pipeline's hot path instead of two. Elsewhere the row is read
first and the same conditional UPDATE decides.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from django.db import connections, router
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from ..conf import face_idcard_settings
from ..models import VerificationAttempt
from ..states import CLAIMABLE, Status


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=float(face_idcard_settings.CLAIM_LEASE_SECONDS))


def claim(attempt_id: UUID, now: datetime) -> VerificationAttempt | None:
    """The attempt, now ``processing`` under a new claim token, or None if not claimable."""
    alias = router.db_for_write(VerificationAttempt)
    if supports_update_returning(alias):
        return _claim_returning(attempt_id, now, alias)
    try:
        attempt = VerificationAttempt.objects.using(alias).get(pk=attempt_id)
    except VerificationAttempt.DoesNotExist:
        return None
    return attempt if claim_loaded(attempt, now) else None


def supports_update_returning(alias: str) -> bool:
    """PostgreSQL, and SQLite from 3.35 (the same version that can return from INSERT)."""
    connection = connections[alias]
    return connection.vendor in ("postgresql", "sqlite") and bool(
        connection.features.can_return_columns_from_insert
    )


def claim_loaded(attempt: VerificationAttempt, now: datetime) -> bool:
    """Claim an attempt already read; on success the instance is updated in place."""
    if attempt.status not in CLAIMABLE:
        return False
    token = uuid4()
    until = lease_until(now)
    won = (
        VerificationAttempt._base_manager.filter(pk=attempt.pk, status=attempt.status)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Status.PROCESSING.value,
            claim_token=token,
            lease_expires_at=until,
            started_at=Coalesce(F("started_at"), now),
            provider_calls=F("provider_calls") + 1,
        )
    )
    if won != 1:
        return False
    attempt.status = Status.PROCESSING.value
    attempt.claim_token = token
    attempt.lease_expires_at = until
    attempt.started_at = attempt.started_at or now
    attempt.provider_calls += 1
    return True


def _claim_returning(attempt_id: UUID, now: datetime, alias: str) -> VerificationAttempt | None:
    connection = connections[alias]
    fields = {field.name: field for field in VerificationAttempt._meta.concrete_fields}

    def prep(name: str, value: object) -> object:
        return fields[name].get_db_prep_value(value, connection, prepared=False)

    queued, waiting = sorted(CLAIMABLE)
    params = [
        Status.PROCESSING.value,
        prep("claim_token", uuid4()),
        prep("lease_expires_at", lease_until(now)),
        prep("started_at", now),
        prep("id", attempt_id),
        queued,
        waiting,
        prep("lease_expires_at", now),
        prep("next_attempt_at", now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(connection.vendor, alias), params)
        row = cursor.fetchone()
    if row is None:
        return None
    return _instance(connection, alias, row)


#: Per connection: (field, converters) for every returned column, in order.
_plans: weakref.WeakKeyDictionary[Any, list[tuple[Any, list[Any]]]] = weakref.WeakKeyDictionary()


def _instance(connection: Any, alias: str, row: Sequence[Any]) -> VerificationAttempt:
    """The model instance for a returned row, with the converters Django's own queries apply
    (JSON, and on SQLite datetimes, UUIDs, decimals). What ``raw()`` would do, without working
    out the columns, the init order and the converters again for every row: on the pipeline's
    hot path that bookkeeping cost more CPU than the claim statement itself."""
    plan = _plans.get(connection)
    if plan is None:
        plan = []
        for field in VerificationAttempt._meta.concrete_fields:
            col = field.get_col(VerificationAttempt._meta.db_table)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            plan.append((col, converters))
        _plans[connection] = plan
    values = list(row)
    for index, (col, converters) in enumerate(plan):
        for converter in converters:
            values[index] = converter(values[index], col, connection)
    attempt: VerificationAttempt = VerificationAttempt.from_db(alias, _field_names(), values)
    return attempt


@functools.cache
def _field_names() -> tuple[str, ...]:
    """Every concrete field's attname, in the order the claim returns them."""
    return tuple(field.attname for field in VerificationAttempt._meta.concrete_fields)


@functools.cache
def _claim_sql(vendor: str, alias: str) -> str:
    """The claim statement for one database (built once)."""
    meta = VerificationAttempt._meta
    quote = connections[alias].ops.quote_name
    fields = {field.name: field for field in meta.concrete_fields}

    def column(name: str) -> str:
        return quote(str(fields[name].column))

    table = quote(meta.db_table)
    status, lease, next_at = column("status"), column("lease_expires_at"), column("next_attempt_at")
    started, calls, token, pk = (
        column("started_at"),
        column("provider_calls"),
        column("claim_token"),
        column("id"),
    )
    # Only quoted identifiers from the model's own metadata go into the text; every value is a
    # parameter.
    sql = " ".join(
        [
            "UPDATE", table,
            "SET", f"{status} = %s, {token} = %s, {lease} = %s,",
            f"{started} = COALESCE({started}, %s), {calls} = {calls} + 1",
            "WHERE", f"{pk} = %s AND {status} IN (%s, %s)",
            "AND", f"({lease} IS NULL OR {lease} < %s)",
            "AND", f"({next_at} IS NULL OR {next_at} <= %s)",
            "RETURNING", ", ".join(column(name) for name in fields),
        ]
    )  # fmt: skip
    return sql
