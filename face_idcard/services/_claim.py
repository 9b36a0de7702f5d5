"""Claiming an attempt: the conditional UPDATE that lets exactly one worker call the provider.

``status IN (queued, retry_wait) AND (lease is null or expired) AND (not waiting for a later
retry)`` → ``processing`` with a fresh claim token and lease. Of concurrent claims, exactly
one matches the row, on every database.

Where the database returns rows from an UPDATE (PostgreSQL; SQLite from 3.35, the version
Django's ``can_return_columns_from_insert`` names), the claim and the read of the claimed row
are one ``UPDATE … RETURNING`` statement through ``Manager.raw()``: the ORM's
``QuerySet.update`` cannot return rows, and reading the row back cost a second statement and
a third of the worker's CPU per attempt (bench/pipeline.py, profiled). Elsewhere (MySQL,
MariaDB) the ORM's ``QuerySet.update``, then a read of the row by its new claim token.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from django.db import connections, router
from django.db.models import F, Field, Q
from django.db.models.functions import Coalesce

from ..models import VerificationAttempt
from ..states import CLAIMABLE, Status
from ._leases import lease_until

__all__ = ["claim", "lease_until", "returns_rows_from_update"]


def returns_rows_from_update(alias: str) -> bool:
    """Whether the claim is one ``UPDATE … RETURNING`` on database ``alias``."""
    connection = connections[alias]
    return connection.vendor in ("postgresql", "sqlite") and bool(
        connection.features.can_return_columns_from_insert
    )


def claim(attempt_id: UUID, now: datetime) -> VerificationAttempt | None:
    """The attempt, now ``processing`` under a new claim token, or None if not claimable."""
    alias = router.db_for_write(VerificationAttempt)
    token = uuid4()
    if returns_rows_from_update(alias):
        return _claim_returning(alias, attempt_id, now, token)
    attempts = VerificationAttempt._base_manager.using(alias)
    won = (
        attempts.filter(pk=attempt_id, status__in=sorted(CLAIMABLE))
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Status.PROCESSING.value,
            claim_token=token,
            lease_expires_at=lease_until(now),
            started_at=Coalesce(F("started_at"), now),
            provider_calls=F("provider_calls") + 1,
        )
    )
    if won != 1:
        return None
    # Read back by the token: had another worker claimed the row again in between (possible
    # only once the lease ran out), the claim is lost rather than acted on twice.
    claimed: VerificationAttempt | None = attempts.filter(pk=attempt_id, claim_token=token).first()
    return claimed


def _field(name: str) -> Field[Any, Any]:
    found = VerificationAttempt._meta.get_field(name)
    assert isinstance(found, Field)
    return found


@functools.lru_cache(maxsize=8)
def _returning_sql(alias: str, vendor: str) -> str:
    """The claim's ``UPDATE … RETURNING`` text on database ``alias`` (of ``vendor``, so that
    a test that points the alias elsewhere gets its own): made once per process, not per
    attempt. Only quoted names from the model's metadata and placeholders go into it."""
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        return quote(str(_field(name).column))

    status, token_column, lease = (
        column("status"),
        column("claim_token"),
        column("lease_expires_at"),
    )
    started, calls, next_at = (
        column("started_at"),
        column("provider_calls"),
        column("next_attempt_at"),
    )
    return (
        f"UPDATE {quote(VerificationAttempt._meta.db_table)} SET {status} = %s, "  # noqa: S608
        f"{token_column} = %s, {lease} = %s, "
        f"{started} = COALESCE({started}, %s), {calls} = {calls} + 1 "
        f"WHERE {column('id')} = %s AND {status} IN (%s, %s) "
        f"AND ({lease} IS NULL OR {lease} < %s) "
        f"AND ({next_at} IS NULL OR {next_at} <= %s) "
        "RETURNING *"
    )


def _claim_returning(
    alias: str, attempt_id: UUID, now: datetime, token: UUID
) -> VerificationAttempt | None:
    """The same conditional UPDATE as the ORM path, returning the claimed row (raw SQL: the
    ORM cannot say ``RETURNING`` for an UPDATE). Every value is a parameter, prepared by its
    field."""
    connection = connections[alias]

    def value(name: str, raw: Any) -> Any:
        return _field(name).get_db_prep_value(raw, connection)

    queued, waiting = sorted(CLAIMABLE)
    params = [
        Status.PROCESSING.value,
        value("claim_token", token),
        value("lease_expires_at", lease_until(now)),
        value("started_at", now),
        value("id", attempt_id),
        queued,
        waiting,
        value("lease_expires_at", now),
        value("next_attempt_at", now),
    ]
    sql = _returning_sql(alias, connection.vendor)
    rows = list(VerificationAttempt._base_manager.using(alias).raw(sql, params))
    return rows[0] if rows else None
