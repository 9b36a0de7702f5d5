"""The statistics page's figures for one scope (a window, all backends or one).

Each panel is one grouped query over indexed columns, whatever the table size: outcomes by
status and decision, reasons, provider codes, provider calls (latency percentiles and billable
calls, from the audit trail's ``provider_call`` events) and the review backlog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Aggregate, Count, Exists, FloatField, Min, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.translation import get_language

from .. import reasons
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..states import Decision, Status
from .windows import Scope

logger = logging.getLogger("face_idcard.insight")

#: How many reasons and provider codes the page lists.
TOP = 10
#: Where the database has no percentile function (SQLite), the percentiles are taken over at
#: most this many of the window's latest provider calls (a bounded read, said on the page).
PERCENTILE_SAMPLE = 20_000

#: Attempts that finished (for the pass rate); canceled ones never ran.
FINISHED = (Status.COMPLETED.value, Status.REJECTED.value, Status.FAILED.value)


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass
class Latency:
    p50: float | None
    p95: float | None
    #: How many calls the percentiles rest on; ``sampled`` when it is the bounded fallback.
    calls: int
    sampled: bool = False


@dataclass
class CodeRow:
    backend: str
    code: str
    count: int
    meaning: str


@dataclass
class Statistics:
    scope: Scope
    by_status: dict[str, int] = field(default_factory=dict)
    #: Completed attempts by their final decision (the reviewer's where there is one).
    by_decision: dict[str, int] = field(default_factory=dict)
    total: int = 0
    finished: int = 0
    passed: int = 0
    reasons: list[tuple[str, str, int]] = field(default_factory=list)
    codes: list[CodeRow] = field(default_factory=list)
    provider_calls: int = 0
    billable_calls: int = 0
    latency: Latency = field(default_factory=lambda: Latency(None, None, 0))
    backlog: int = 0
    backlog_oldest: datetime | None = None

    @property
    def pass_rate(self) -> float | None:
        """Share of finished attempts whose final decision is a match (None: none finished)."""
        return self.passed / self.finished if self.finished else None

    @property
    def pass_rate_percent(self) -> float | None:
        rate = self.pass_rate
        return None if rate is None else rate * 100


def compute(scope: Scope) -> Statistics:
    stats = Statistics(scope=scope)
    attempts = VerificationAttempt.objects.filter(scope.attempts())
    _outcomes(stats, attempts)
    stats.reasons = [
        (row["reason"], reasons.label(row["reason"]), row["n"])
        for row in attempts.exclude(reason="")
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason")[:TOP]
    ]
    stats.codes = [
        CodeRow(
            row["backend"], row["error_code"], row["n"], meaning(row["backend"], row["error_code"])
        )
        for row in attempts.exclude(error_code="")
        .values("backend", "error_code")
        .annotate(n=Count("pk"))
        .order_by("-n", "backend", "error_code")[:TOP]
    ]
    _calls(stats, scope)
    stats.backlog, stats.backlog_oldest = backlog(scope.backend)
    return stats


def _outcomes(stats: Statistics, attempts: QuerySet[VerificationAttempt]) -> None:
    rows = (
        attempts.values("status", "decision", "review_decision").annotate(n=Count("pk")).order_by()
    )
    for row in rows:
        status, count = row["status"], row["n"]
        stats.total += count
        stats.by_status[status] = stats.by_status.get(status, 0) + count
        final = row["review_decision"] or row["decision"]
        if status == Status.COMPLETED.value:
            stats.by_decision[final] = stats.by_decision.get(final, 0) + count
        if status in FINISHED:
            stats.finished += count
            if status == Status.COMPLETED.value and final == Decision.MATCH.value:
                stats.passed += count


def provider_call_events(scope: Scope) -> QuerySet[AttemptEvent]:
    events: QuerySet[AttemptEvent] = AttemptEvent.objects.filter(
        kind=EventKind.PROVIDER_CALL.value,
        created_at__gte=scope.since,
        created_at__lt=scope.until,
    )
    if scope.backend:
        events = events.filter(attempt__backend=scope.backend)
    return events


def _latency_value() -> Cast:
    return Cast(KeyTextTransform("latency_ms", "data"), FloatField())


def _calls(stats: Statistics, scope: Scope) -> None:
    events = provider_call_events(scope)
    figures: dict[str, Any] = {
        "calls": Count("pk"),
        "billable": Count("pk", filter=Q(data__billable=True)),
        "measured": Count(_latency_value()),
    }
    in_database = connections[events.db].vendor == "postgresql"
    if in_database:
        figures["p50"] = PercentileCont(_latency_value(), 0.5)
        figures["p95"] = PercentileCont(_latency_value(), 0.95)
    result = events.aggregate(**figures)
    stats.provider_calls = result["calls"] or 0
    stats.billable_calls = result["billable"] or 0
    if in_database:
        stats.latency = Latency(result["p50"], result["p95"], result["measured"] or 0)
        return
    values = [
        value
        for value in events.annotate(latency=_latency_value())
        .order_by("-created_at")
        .values_list("latency", flat=True)[:PERCENTILE_SAMPLE]
        if value is not None
    ]
    stats.latency = Latency(
        percentile(values, 0.5),
        percentile(values, 0.95),
        len(values),
        sampled=stats.provider_calls > PERCENTILE_SAMPLE,
    )


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (what ``percentile_cont`` does)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def review_queue_condition() -> Q:
    """Attempts a reviewer should look at: the review band, the audit sample, and first
    reviews awaiting a second reviewer."""
    pending = Exists(
        AttemptEvent.objects.filter(attempt=OuterRef("pk"), kind=EventKind.REVIEW_PENDING.value)
    )
    return Q(status=Status.COMPLETED.value, reviewed_at__isnull=True) & (
        Q(decision=Decision.REVIEW.value) | Q(audit_sample=True) | Q(pending)
    )


def backlog(backend: str = "") -> tuple[int, datetime | None]:
    """How many attempts wait for review now, and since when the oldest has.

    Three disjoint counts, each driven by an index (the band by decision, the audit sample,
    the pending first reviews from their events), rather than one ``OR`` with a correlated
    ``EXISTS`` that reads every completed attempt; the total equals
    :func:`review_queue_condition`'s (a test compares them)."""
    waiting = VerificationAttempt.objects.filter(
        status=Status.COMPLETED.value, reviewed_at__isnull=True
    )
    if backend:
        waiting = waiting.filter(backend=backend)
    pending = AttemptEvent.objects.filter(kind=EventKind.REVIEW_PENDING.value).values("attempt_id")
    parts = (
        waiting.filter(decision=Decision.REVIEW.value),
        waiting.filter(audit_sample=True).exclude(decision=Decision.REVIEW.value),
        waiting.filter(pk__in=pending, audit_sample=False).exclude(decision=Decision.REVIEW.value),
    )
    total, oldest = 0, None
    for part in parts:
        result = part.order_by().aggregate(n=Count("pk"), oldest=Min("created_at"))
        total += result["n"] or 0
        if result["oldest"] is not None and (oldest is None or result["oldest"] < oldest):
            oldest = result["oldest"]
    return total, oldest


def meaning(alias: str, code: str) -> str:
    """What the backend's catalogue says ``code`` means, in the active language ("" when the
    alias is no longer configured)."""
    from ..backends import get_backend

    try:
        info = get_backend(alias).describe(code)
    except Exception:  # an alias removed from settings, or a broken entry: no meaning shown
        logger.debug("no catalogue for backend %s", alias)
        return ""
    return info.message(get_language())
