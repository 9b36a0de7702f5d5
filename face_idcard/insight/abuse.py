"""Abuse signals, from the keyed ID number hashes only (never a clear number or name).

* an ID number submitted by two or more accounts;
* an account that tried more than ``ABUSE_MAX_ID_NUMBERS_PER_ACCOUNT`` distinct ID numbers;
* a burst of name/number mismatches from one account (``ABUSE_MAX_MISMATCHES_PER_HOUR`` or more within
  one clock hour): someone guessing which name goes with a number.

The hours are UTC hours, truncated by the database without a time-zone conversion: MySQL and
MariaDB convert with ``CONVERT_TZ``, which answers NULL where the server has no time-zone
tables (most installs), and the page would fail. They are shown in the site's time zone, and
are the site's clock hours wherever its offset from UTC is whole hours (Asia/Shanghai is).

The lists cover the statistics page's window; the flags on an attempt's detail page look
``ABUSE_WINDOW_HOURS`` either side of it. Every query is grouped and bounded (``LIMIT`` rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import TruncHour
from django.utils.translation import gettext as _

from ..conf import face_idcard_settings
from ..models import VerificationAttempt
from ..outcome import Reason
from .windows import Scope

#: At most this many rows in each list.
LIMIT = 50
#: Up to this many shared ID numbers are passed to the exact count as a list.
SHARED_AS_LIST = 2000
#: How much of a keyed hash the page shows: enough to tell rows apart, useless to a guesser.
HASH_SHOWN = 12


@dataclass
class Signals:
    shared_numbers: list[dict[str, Any]]
    many_numbers: list[dict[str, Any]]
    mismatch_bursts: list[dict[str, Any]]
    max_numbers: int
    burst: int


def _limits() -> tuple[int, int]:
    return (
        int(face_idcard_settings.ABUSE_MAX_ID_NUMBERS_PER_ACCOUNT),
        int(face_idcard_settings.ABUSE_MAX_MISMATCHES_PER_HOUR),
    )


def compute(scope: Scope) -> Signals:
    max_numbers, burst = _limits()
    attempts = VerificationAttempt.objects.filter(scope.attempts())
    with_account = attempts.filter(user__isnull=False).exclude(idcard_hash="")
    # Two or more accounts is "lowest account differs from highest": one pass without the
    # per-number sort a COUNT(DISTINCT) needs; only the numbers found are counted exactly.
    shared_numbers = (
        with_account.values("idcard_hash")
        .annotate(lowest=Min("user"), highest=Max("user"))
        .exclude(lowest=F("highest"))
        .values_list("idcard_hash", flat=True)
    )
    # Read first (normally few rows): as a subquery the planner guesses it large and scans
    # the table. A flood of shared numbers stays a subquery (no endless parameter list).
    found: Any = list(shared_numbers[: SHARED_AS_LIST + 1])
    if len(found) > SHARED_AS_LIST:
        found = shared_numbers
    shared_query = (
        with_account.filter(idcard_hash__in=found)
        .values("idcard_hash")
        .annotate(
            accounts=Count("user", distinct=True), attempts=Count("*"), last=Max("created_at")
        )
        .filter(accounts__gte=2)
        .order_by("-accounts", "-attempts", "idcard_hash")[:LIMIT]
    )
    # The page's rows are plain dicts: they outgrow the query's rows (the hash shortened
    # under a key of its own, the accounts named).
    shared: list[dict[str, Any]] = [dict(number) for number in shared_query]
    for row in shared:
        row["hash"] = row.pop("idcard_hash")[:HASH_SHOWN]
    many_query = (
        with_account.values("user")
        .annotate(
            numbers=Count("idcard_hash", distinct=True),
            # count(*): the id is in no index these signals read.
            attempts=Count("*"),
            last=Max("created_at"),
        )
        .filter(numbers__gt=max_numbers)
        .order_by("-numbers", "user")[:LIMIT]
    )
    many: list[dict[str, Any]] = [dict(account) for account in many_query]
    bursts_query = (
        attempts.filter(user__isnull=False, reason=Reason.NAME_MISMATCH.value)
        .annotate(hour=TruncHour("created_at", tzinfo=dt_timezone.utc))
        .values("user", "hour")
        .annotate(mismatches=Count("*"))
        .filter(mismatches__gte=burst)
        .order_by("-mismatches", "-hour")[:LIMIT]
    )
    bursts: list[dict[str, Any]] = [dict(burst_row) for burst_row in bursts_query]
    _name_accounts(many + bursts)
    return Signals(shared, many, bursts, max_numbers, burst)


def _name_accounts(rows: list[dict[str, Any]]) -> None:
    users = get_user_model()._default_manager.in_bulk({row["user"] for row in rows})
    for row in rows:
        row["account"] = str(users.get(row["user"], row["user"]))


def flags(attempt: VerificationAttempt) -> list[str]:
    """The signals that concern ``attempt`` (texts in the active language; [] for none)."""
    max_numbers, burst = _limits()
    span = timedelta(hours=int(face_idcard_settings.ABUSE_WINDOW_HOURS))
    around = Q(created_at__gte=attempt.created_at - span, created_at__lte=attempt.created_at + span)
    found: list[str] = []
    if attempt.idcard_hash:
        accounts = (
            VerificationAttempt.objects.filter(
                around, idcard_hash=attempt.idcard_hash, user__isnull=False
            )
            .order_by()
            .values("user")
            .distinct()[:LIMIT]
            .count()
        )
        if accounts >= 2:
            found.append(
                _("This ID number was submitted by %(count)d accounts.") % {"count": accounts}
            )
    if attempt.user_id is None:
        return found
    numbers = (
        VerificationAttempt.objects.filter(around, user_id=attempt.user_id)
        .exclude(idcard_hash="")
        .order_by()
        .values("idcard_hash")
        .distinct()[: max_numbers + LIMIT]
        .count()
    )
    if numbers > max_numbers:
        found.append(
            _("This account tried %(count)d different ID numbers (more than %(limit)d).")
            % {"count": numbers, "limit": max_numbers}
        )
    # The same UTC hour as the list's (see the module's docstring).
    hour = attempt.created_at.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)
    mismatches = VerificationAttempt.objects.filter(
        user_id=attempt.user_id,
        reason=Reason.NAME_MISMATCH.value,
        created_at__gte=hour,
        created_at__lt=hour + timedelta(hours=1),
    ).count()
    if mismatches >= burst:
        found.append(
            _("This account had %(count)d name and ID number mismatches within one hour.")
            % {"count": mismatches}
        )
    return found
