"""The statistics page's figures for one scope (a window, all backends or one).

Attempts are counted directly, in one grouped query (status, decision, review decision,
reason, backend, provider code) that an index-only scan of ``face_idcard_stats_idx`` answers:
reviews, re-runs, the sweeper and redaction change attempts long after their day, and a
direct count is always right. Provider calls (latency percentiles, billable calls) come from
the audit trail's ``provider_call`` events through the daily summaries of :mod:`.rollup`,
checked against the trail on every view. The review backlog is "now", whatever the window.

Calls that may have cost money without their result being stored are counted apart (:func:`_lost_calls`):
the calls of workers that lost their lease (``possibly_billed`` events, written by the
sweeper), less those whose answer came after all (``late_answer`` events), and the calls whose
answer was lost after they left (a read timeout, a reset while waiting: ``possibly_billed``
events with the reason ``answer_lost``, written by the pipeline), plus the answers that came
but were not kept. So the provider's bill lies between the billable calls and the
billable calls plus the lost calls never answered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils.translation import get_language

from .. import _reasons as reasons
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..states import Decision, Status
from . import liveness as liveness_figures
from . import rollup
from . import webhooks as webhook_figures
from .windows import Scope

logger = logging.getLogger("face_idcard.insight")

#: How many reasons and provider codes the page lists.
TOP = 10

#: Attempts that finished (for the pass rate); canceled ones never ran.
FINISHED = (Status.COMPLETED.value, Status.REJECTED.value, Status.FAILED.value)


@dataclass
class Latency:
    p50: float | None
    p95: float | None
    #: How many calls the percentiles rest on (calls with a measured latency).
    calls: int


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
    #: Calls whose answer never came (their worker lost its lease, or the answer was lost
    #: after the request left): each may have been billed (the provider's bill is at most
    #: billable_calls plus these).
    lost_calls_unanswered: int = 0
    #: Calls that may have been billed with no result stored: the unanswered lost calls and
    #: the late answers not kept (billable or of unknown billing).
    possibly_billed_no_result: int = 0
    latency: Latency = field(default_factory=lambda: Latency(None, None, 0))
    backlog: int = 0
    backlog_oldest: datetime | None = None
    #: Whole days of provider calls taken from the daily summaries, and when the oldest of
    #: those summaries was rebuilt (None: every call was read directly).
    days_summarised: int = 0
    summarised_at: datetime | None = None
    #: Per alias: verdicts, the spoof-suspected rate, pre-check calls and their bill, and the
    #: attempts refused or sent to review for liveness (:mod:`.liveness`).
    liveness: list[liveness_figures.AliasLiveness] = field(default_factory=list)
    #: Per webhook endpoint: deliveries delivered, failed and pending, and their retries.
    webhooks: list[webhook_figures.EndpointDeliveries] = field(default_factory=list)

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
    reason_counts: dict[str, int] = {}
    code_counts: dict[tuple[str, str], int] = {}
    rows = (
        attempts.values("status", "decision", "review_decision", "reason", "backend", "error_code")
        # count(*), not count(id): the id is not in the index, and would cost a table scan.
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in rows:
        count = row["n"]
        _outcome(stats, row["status"], row["review_decision"] or row["decision"], count)
        if row["reason"]:
            reason_counts[row["reason"]] = reason_counts.get(row["reason"], 0) + count
        if row["error_code"]:
            key = (row["backend"], row["error_code"])
            code_counts[key] = code_counts.get(key, 0) + count
    stats.reasons = [
        (code, reasons.label(code), count)
        for code, count in sorted(reason_counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    ]
    stats.codes = [
        CodeRow(backend, code, count, meaning(backend, code))
        for (backend, code), count in sorted(
            code_counts.items(), key=lambda item: (-item[1], item[0])
        )[:TOP]
    ]
    _calls(stats, scope)
    _lost_calls(stats, scope)
    stats.backlog, stats.backlog_oldest = backlog(scope.backend)
    stats.liveness = liveness_figures.compute(scope)
    stats.webhooks = webhook_figures.compute(scope)
    return stats


def _outcome(stats: Statistics, status: str, final: str, count: int) -> None:
    stats.total += count
    stats.by_status[status] = stats.by_status.get(status, 0) + count
    if status == Status.COMPLETED.value:
        stats.by_decision[final] = stats.by_decision.get(final, 0) + count
    if status in FINISHED:
        stats.finished += count
        if status == Status.COMPLETED.value and final == Decision.MATCH.value:
            stats.passed += count


def _calls(stats: Statistics, scope: Scope) -> None:
    found = rollup.provider_calls(scope.since, scope.until, scope.backend)
    histogram = found.histogram
    stats.provider_calls = histogram.calls
    stats.billable_calls = histogram.billable
    stats.latency = Latency(
        histogram.percentile(0.5), histogram.percentile(0.95), histogram.measured
    )
    stats.days_summarised = found.days_summarised
    stats.summarised_at = found.summarised_at


def _lost_calls(stats: Statistics, scope: Scope) -> None:
    """The calls lost with their worker (two counts over the ``(kind, created_at)`` index; the
    events are rare). A lost call and its late answer fall in different windows at the edge."""
    events = AttemptEvent.objects.filter(created_at__gte=scope.since, created_at__lt=scope.until)
    if scope.backend:
        events = events.filter(attempt__backend=scope.backend)
    lost = events.filter(kind=EventKind.POSSIBLY_BILLED.value).count()
    answers = events.filter(kind=EventKind.LATE_ANSWER.value)
    answered = answers.count()
    not_kept = (
        answers.filter(data__kept=False).exclude(data__billable=False).count() if answered else 0
    )
    stats.lost_calls_unanswered = max(0, lost - answered)
    stats.possibly_billed_no_result = stats.lost_calls_unanswered + not_kept


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


#: The review band's and the audit sample's attempts waiting for review, as two disjoint
#: ranges of ``face_idcard_awaiting_idx`` (status, reviewed_at, audit_sample, decision, ...):
#: the band outside the sample, then the whole sample.
BACKLOG_RANGES = (
    Q(
        status=Status.COMPLETED.value,
        reviewed_at__isnull=True,
        audit_sample=False,
        decision=Decision.REVIEW.value,
    ),
    Q(status=Status.COMPLETED.value, reviewed_at__isnull=True, audit_sample=True),
)


def backlog(backend: str = "") -> tuple[int, datetime | None]:
    """How many attempts wait for review now, and since when the oldest has.

    Three disjoint counts, each driven by an index: the review band and the audit sample from
    the ranges of :data:`BACKLOG_RANGES`, and the pending first reviews (of neither) from
    their events, rather than one ``OR`` with a correlated ``EXISTS`` that reads every
    completed attempt; the total equals :func:`review_queue_condition`'s (a test compares
    them)."""
    waiting = VerificationAttempt.objects.filter(
        status=Status.COMPLETED.value, reviewed_at__isnull=True
    )
    pending = AttemptEvent.objects.filter(kind=EventKind.REVIEW_PENDING.value).values("attempt_id")
    parts = [VerificationAttempt.objects.filter(condition) for condition in BACKLOG_RANGES]
    parts.append(
        waiting.filter(pk__in=pending, audit_sample=False).exclude(decision=Decision.REVIEW.value)
    )
    if backend:
        parts = [part.filter(backend=backend) for part in parts]
    total, oldest = 0, None
    for part in parts:
        result = part.order_by().aggregate(n=Count("*"), oldest=Min("created_at"))
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
