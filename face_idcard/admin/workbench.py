"""The review workbench: one screen per queued attempt with what a reviewer needs to decide.

The selfie is shown only after an audited POST that names a purpose from :data:`PURPOSES`
(the same short-lived link as the reveal page, :mod:`.selfie_links`); the decision goes
through :func:`face_idcard.services.review` (the four-eyes rule included), and the reviewer
then lands on the next attempt of the queue, oldest first. Everything the page shows is
masked, and every time is in the current time zone, named on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..backends.config import resolve
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..outcome import Reason
from ..states import Decision, ReviewDecision, Status
from . import display

#: Why a reviewer opens the selfie (kept in the audit event as the code).
PURPOSES = (
    ("review", _("Deciding this review")),
    ("second_review", _("Second review (four eyes)")),
    ("fraud", _("Investigating suspected fraud")),
    ("complaint", _("Answering the person's complaint")),
)

#: How many of the same person's (or account's) other attempts are listed.
RELATED_LIMIT = 10

#: The attempt's reasons that say something about the image itself.
QUALITY_REASONS = frozenset(
    {
        Reason.NO_FACE.value,
        Reason.MULTIPLE_FACES.value,
        Reason.POOR_QUALITY.value,
        Reason.SPOOF_SUSPECTED.value,
        Reason.IMAGE_UNREADABLE.value,
    }
)


class RevealForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=PURPOSES)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(ReviewDecision.MATCH.value, ""), (ReviewDecision.NO_MATCH.value, "")]
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
        help_text=_("Recorded in the audit trail with your name. No ID number or name here."),
        error_messages={"required": _("Give a reason for the review.")},
    )

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason for the review."))
        return reason


def queue_for(user: Any) -> QuerySet[VerificationAttempt]:
    """The attempts ``user`` may decide next, oldest first: the queue's, less the user's own
    and those where the user gave the first of two reviews."""
    pending = AttemptEvent.objects.filter(
        attempt=OuterRef("pk"), kind=EventKind.REVIEW_PENDING.value
    )
    queue: QuerySet[VerificationAttempt] = (
        VerificationAttempt.objects.filter(status=Status.COMPLETED.value, reviewed_at__isnull=True)
        .annotate(awaiting_second=Exists(pending), mine_first=Exists(pending.filter(actor=user)))
        .filter(Q(decision=Decision.REVIEW.value) | Q(audit_sample=True) | Q(awaiting_second=True))
        .filter(mine_first=False)
        .exclude(user=user)
        .order_by("created_at", "pk")
    )
    return queue


def next_in_queue(user: Any, after: VerificationAttempt | None) -> VerificationAttempt | None:
    """The attempt after ``after`` in the queue (wrapping to the oldest), never ``after``."""
    queue = queue_for(user)
    if after is None:
        first: VerificationAttempt | None = queue.first()
        return first
    later: VerificationAttempt | None = queue.filter(
        Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, pk__gt=after.pk)
    ).first()
    if later is not None:
        return later
    oldest: VerificationAttempt | None = queue.exclude(pk=after.pk).first()
    return oldest


@dataclass(frozen=True)
class Gauge:
    """The similarity against the alias's threshold and review band, on a 0-100 scale."""

    similarity: float | None
    threshold: float | None
    band: float | None

    @property
    def known(self) -> bool:
        return self.similarity is not None and self.threshold is not None

    def _clip(self, value: float) -> float:
        return round(min(100.0, max(0.0, value)), 2)

    @property
    def marker(self) -> float:
        return self._clip(self.similarity or 0.0)

    @property
    def threshold_at(self) -> float:
        return self._clip(self.threshold or 0.0)

    @property
    def band_from(self) -> float:
        return self._clip((self.threshold or 0.0) - (self.band or 0.0))

    @property
    def band_width(self) -> float:
        return round(self._clip((self.threshold or 0.0) + (self.band or 0.0)) - self.band_from, 2)

    @property
    def band_to(self) -> float:
        return self._clip((self.threshold or 0.0) + (self.band or 0.0))

    @property
    def text(self) -> str:
        if not self.known:
            return str(_("The provider returned no similarity."))
        assert self.similarity is not None and self.threshold is not None
        values = {
            "similarity": display.percent_score(self.similarity),
            "threshold": display.percent_score(self.threshold),
        }
        if self.band:
            values.update(
                low=display.percent_score(self.band_from),
                high=display.percent_score(self.band_to),
            )
            return str(
                _(
                    "Similarity %(similarity)s; threshold %(threshold)s; "
                    "review band %(low)s to %(high)s."
                )
                % values
            )
        return str(
            _("Similarity %(similarity)s; threshold %(threshold)s; no review band.") % values
        )


def review_band(alias: str) -> float | None:
    """The alias's review band as configured now (``None``: the alias is gone)."""
    try:
        return resolve(alias).review_band
    except ImproperlyConfigured:
        return None


def liveness(attempt: VerificationAttempt) -> SafeString:
    """The liveness verdict beside the similarity: the word, who gave it and, for a suspected
    spoof, the provider's risk level and attack types (display.liveness_summary)."""
    return display.liveness_summary(attempt)


def quality_notes(attempt: VerificationAttempt) -> list[str]:
    notes: list[str] = []
    if attempt.reason in QUALITY_REASONS:
        notes.append(display.reason_text(attempt))
    if attempt.selfie_content_type:
        notes.append(
            str(
                _("Stored as %(type)s.")
                % {"type": attempt.selfie_content_type.split("/")[-1].upper()}
            )
        )
    if attempt.reason not in QUALITY_REASONS:
        notes.append(str(_("The provider flagged no image quality problem.")))
    return notes


def related(
    attempt: VerificationAttempt,
) -> tuple[list[VerificationAttempt], list[VerificationAttempt]]:
    """The same person's other attempts (same ID number hash) and the same account's."""
    others = (
        VerificationAttempt.objects.exclude(pk=attempt.pk)
        .select_related("user")
        .order_by("-created_at")
    )
    person: list[VerificationAttempt] = (
        list(others.filter(idcard_hash=attempt.idcard_hash)[:RELATED_LIMIT])
        if attempt.idcard_hash
        else []
    )
    account: list[VerificationAttempt] = (
        list(others.filter(user_id=attempt.user_id)[:RELATED_LIMIT]) if attempt.user_id else []
    )
    return person, account
