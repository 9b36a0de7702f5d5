"""Evidence for the threshold: what reviewers concluded, by similarity.

The ground truth is the reviewers' final decision. Two populations of reviews exist: the
review band (only scores near the threshold, so it says little about scores far from it) and
the audit sample (``audit_sample``: drawn at random among decided attempts of every score).
The calibration uses the audit sample when it has reviews, else the band, and says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, IntegerField, Q
from django.db.models.functions import Cast, Floor, Least
from django.utils.translation import gettext_lazy as _

from ..models import VerificationAttempt
from ..states import ReviewDecision
from .windows import Scope

#: Width of a histogram bin, in similarity points (scores run 0..100).
BIN = 5
BINS = 100 // BIN

AUDIT = "audit"
BAND = "band"
ALL = "all"
POPULATIONS = {
    AUDIT: _("audit sample (random, every score)"),
    BAND: _("review band (scores near the threshold only)"),
    ALL: _("every review (audit sample and review band)"),
}


@dataclass
class ThresholdRow:
    threshold: int
    #: Reviewed "no match" at or above the threshold: accepted wrongly.
    wrongly_accepted: int
    #: Of how many "no match" reviews.
    negatives: int
    #: Reviewed "match" below the threshold: refused wrongly.
    wrongly_refused: int
    positives: int

    @property
    def accepted_share(self) -> float | None:
        return self.wrongly_accepted / self.negatives if self.negatives else None

    @property
    def refused_share(self) -> float | None:
        return self.wrongly_refused / self.positives if self.positives else None


@dataclass
class Calibration:
    population: str
    #: Reviews per bin: ``histogram[i] = (match, no_match)`` for scores in [i*BIN, (i+1)*BIN).
    histogram: list[tuple[int, int]] = field(default_factory=list)
    thresholds: list[ThresholdRow] = field(default_factory=list)
    #: Reviews in each population (to tell the operator what else is there).
    available: dict[str, int] = field(default_factory=dict)

    @property
    def reviews(self) -> int:
        return sum(match + no_match for match, no_match in self.histogram)

    @property
    def population_label(self) -> str:
        return str(POPULATIONS[self.population])


def _reviewed(scope: Scope) -> Q:
    return (
        scope.attempts()
        & Q(reviewed_at__isnull=False, similarity__isnull=False)
        & Q(review_decision__in=[ReviewDecision.MATCH.value, ReviewDecision.NO_MATCH.value])
    )


def compute(scope: Scope, population: str | None = None) -> Calibration:
    reviewed = VerificationAttempt.objects.filter(_reviewed(scope))
    available = {
        key: value or 0
        for key, value in reviewed.aggregate(
            audit=Count("pk", filter=Q(audit_sample=True)),
            band=Count("pk", filter=Q(audit_sample=False)),
        ).items()
    }
    available[ALL] = available[AUDIT] + available[BAND]
    if population not in POPULATIONS:
        population = AUDIT if available[AUDIT] else BAND
    if population == AUDIT:
        reviewed = reviewed.filter(audit_sample=True)
    elif population == BAND:
        reviewed = reviewed.filter(audit_sample=False)
    histogram = [[0, 0] for _ in range(BINS)]
    rows = (
        reviewed.annotate(
            bin=Least(Cast(Floor(F("similarity") / float(BIN)), IntegerField()), BINS - 1)
        )
        .values("bin", "review_decision")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        index = min(max(int(row["bin"]), 0), BINS - 1)
        column = 0 if row["review_decision"] == ReviewDecision.MATCH.value else 1
        histogram[index][column] += row["n"]
    return Calibration(
        population=population,
        histogram=[(match, no_match) for match, no_match in histogram],
        thresholds=thresholds(histogram),
        available=available,
    )


def thresholds(histogram: list[list[int]]) -> list[ThresholdRow]:
    """For every bin edge as a candidate threshold, the errors the reviews show."""
    positives = sum(match for match, _ in histogram)
    negatives = sum(no_match for _, no_match in histogram)
    result = []
    for edge in range(1, BINS):
        below = histogram[:edge]
        above = histogram[edge:]
        result.append(
            ThresholdRow(
                threshold=edge * BIN,
                wrongly_accepted=sum(no_match for _, no_match in above),
                negatives=negatives,
                wrongly_refused=sum(match for match, _ in below),
                positives=positives,
            )
        )
    return result
