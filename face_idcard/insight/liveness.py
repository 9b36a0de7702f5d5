"""Liveness figures per alias for one window: how often a spoof is suspected, what the
pre-checks cost, and how many attempts the policy refused or sent to review.

Attempts are counted by their stored verdict (one grouped query over the window's attempts);
pre-check calls from their own audit events (``liveness_check``), never mixed with the
comparison's ``provider_call`` events, so each API's calls and bill are counted apart. A
pre-check whose answer was lost after the request went out (``answer_lost``: a read timeout,
a reset after sending), and a run lost with its worker while its pre-check was due (the
sweeper's ``possibly_billed`` event with ``precheck``), are counted as possibly billed, so the
pre-check's bill lies between its billable calls and those plus the possibly billed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..outcome import Liveness, Reason
from ..states import Decision, Status
from .windows import Scope

__all__ = ["LIVENESS_REASONS", "AliasLiveness", "compute"]

#: The reasons the liveness policy gives an attempt it refuses or sends to review.
LIVENESS_REASONS = (Reason.SPOOF_SUSPECTED.value, Reason.LIVENESS_UNVERIFIED.value)


@dataclass
class AliasLiveness:
    backend: str
    passed: int = 0
    spoof_suspected: int = 0
    unavailable: int = 0
    not_checked: int = 0
    #: Pre-check calls (their own API and bill), the billable ones, and those whose billing
    #: cannot be known (a timeout).
    precheck_calls: int = 0
    precheck_billable: int = 0
    precheck_billing_unknown: int = 0
    #: Pre-checks sent whose answer was lost: each may have been billed with no verdict.
    precheck_possibly_billed: int = 0
    #: Completed attempts decided no match, or sent to review, for liveness.
    refused_for_liveness: int = 0
    reviewed_for_liveness: int = 0

    @property
    def checked(self) -> int:
        """Attempts with a verdict from a check (passed or spoof suspected)."""
        return self.passed + self.spoof_suspected

    @property
    def spoof_rate(self) -> float | None:
        """Share of checked attempts whose photo was suspected a spoof (None: none checked)."""
        return self.spoof_suspected / self.checked if self.checked else None

    @property
    def spoof_rate_percent(self) -> float | None:
        rate = self.spoof_rate
        return None if rate is None else rate * 100


def compute(scope: Scope) -> list[AliasLiveness]:
    """The figures of each alias with attempts in ``scope`` that liveness touched (a checked
    verdict, a failed check or a pre-check call), by alias."""
    rows: dict[str, AliasLiveness] = {}

    def row(backend: str) -> AliasLiveness:
        return rows.setdefault(backend, AliasLiveness(backend))

    attempts = VerificationAttempt.objects.filter(scope.attempts())
    for verdicts in attempts.values("backend", "liveness").annotate(n=Count("*")).order_by():
        verdict = verdicts["liveness"]
        if verdict in (v.value for v in Liveness):
            current = row(verdicts["backend"])
            setattr(current, verdict, getattr(current, verdict) + verdicts["n"])
    decided = attempts.filter(status=Status.COMPLETED.value, reason__in=LIVENESS_REASONS)
    for decisions in decided.values("backend", "decision").annotate(n=Count("*")).order_by():
        if decisions["decision"] == Decision.NO_MATCH.value:
            row(decisions["backend"]).refused_for_liveness += decisions["n"]
        elif decisions["decision"] == Decision.REVIEW.value:
            row(decisions["backend"]).reviewed_for_liveness += decisions["n"]
    events = AttemptEvent.objects.filter(
        kind=EventKind.LIVENESS_CHECK.value,
        created_at__gte=scope.since,
        created_at__lt=scope.until,
    )
    if scope.backend:
        events = events.filter(attempt__backend=scope.backend)
    counted = events.values("attempt__backend").annotate(
        n=Count("*"),
        billed=Count("pk", filter=Q(data__billable=True)),
        free=Count("pk", filter=Q(data__billable=False)),
        lost=Count("pk", filter=Q(data__answer_lost=True)),
    )
    for calls in counted.order_by():
        current = row(calls["attempt__backend"])
        current.precheck_calls += calls["n"]
        current.precheck_billable += calls["billed"]
        current.precheck_billing_unknown += calls["n"] - calls["billed"] - calls["free"]
        current.precheck_possibly_billed += calls["lost"]
    # Runs lost with their worker while a pre-check was due: it may have been made and billed
    # (its event is written only with the run's next record, which never came).
    lost_runs = AttemptEvent.objects.filter(
        kind=EventKind.POSSIBLY_BILLED.value,
        created_at__gte=scope.since,
        created_at__lt=scope.until,
        data__precheck=True,
    )
    if scope.backend:
        lost_runs = lost_runs.filter(attempt__backend=scope.backend)
    for runs in lost_runs.values("attempt__backend").annotate(n=Count("*")).order_by():
        row(runs["attempt__backend"]).precheck_possibly_billed += runs["n"]
    touched = [
        figures
        for figures in rows.values()
        if figures.checked
        or figures.unavailable
        or figures.precheck_calls
        or figures.precheck_possibly_billed
    ]
    return sorted(touched, key=lambda figures: figures.backend)
