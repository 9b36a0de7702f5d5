"""Human review, cancel, and reading the personal information (audited)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import _audit as audit
from .. import crypto, permissions
from ..conf import face_idcard_settings
from ..exceptions import IllegalTransition, PersonalInformationUnavailable, SelfReviewRefused
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..sensitive import forget_locals_on_error
from ..signals import attempt_finished, attempt_reviewed
from ..states import Decision, ReviewDecision, Status, transition
from ._common import load_selfie, send_after_commit
from ._freetext import refuse_personal_data_in_reason
from ._retention import erase_selfie_once_final

logger = logging.getLogger("face_idcard.services")


def review(
    attempt: VerificationAttempt, *, reviewer: Any, decision: str, reason: str
) -> VerificationAttempt:
    """A staff member confirms or overrides the decision of a completed attempt, once.

    ``reviewer`` needs the ``face_idcard.review`` permission (:class:`PermissionRequired`)
    and must not be the attempt's own user (:class:`SelfReviewRefused`).

    With ``REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER`` (the default), overturning a machine "no
    match" takes two people, neither of them the attempt's user: the first call records a
    pending review (an audit event, the attempt stays unreviewed: check
    ``attempt.reviewed_at``); a call by a different reviewer completes it.
    """
    try:
        verdict = ReviewDecision(str(decision))
    except ValueError:
        raise ValidationError(
            _("Choose match or no match."), code="review_decision_invalid"
        ) from None
    if not reason or not reason.strip():
        raise ValidationError(_("Give a reason for the review."), code="review_reason_required")
    if reviewer is None or not getattr(reviewer, "pk", None):
        raise ValidationError(_("A review needs a reviewer."), code="reviewer_required")
    permissions.require(reviewer, permissions.REVIEW)
    if attempt.user_id is not None and attempt.user_id == reviewer.pk:
        raise SelfReviewRefused()
    if attempt.status != Status.COMPLETED.value:
        raise IllegalTransition(attempt.status, "reviewed", detail="only completed attempts")
    reason = reason.strip()
    refuse_personal_data_in_reason(reason, attempt, actor=reviewer)  # the trail keeps it
    now = timezone.now()
    # A machine "review" has no verdict to confirm or overturn: the reviewer decides it.
    if attempt.decision == Decision.REVIEW.value:
        action = "decided"
    else:
        action = "confirmed" if verdict.value == attempt.decision else "overridden"
    with transaction.atomic():
        # Serialises reviews of one attempt (where the database locks rows).
        VerificationAttempt._base_manager.select_for_update().filter(pk=attempt.pk).first()
        first = pending_review(attempt)
        if _needs_second_reviewer(attempt, verdict) and first is None:
            _record_pending(attempt, reviewer, verdict, reason)
            return attempt
        if (
            first is not None
            and verdict.value == first.data.get("decision")
            and first.actor_id == reviewer.pk
        ):
            raise ValidationError(
                _("A second reviewer must be someone other than the first."),
                code="second_reviewer_required",
            )
        updated = VerificationAttempt._base_manager.filter(
            pk=attempt.pk, status=Status.COMPLETED.value, reviewed_at__isnull=True
        ).update(
            review_decision=verdict.value,
            reviewer=reviewer,
            review_reason=reason,
            reviewed_at=now,
        )
        if updated != 1:
            raise IllegalTransition(attempt.status, "reviewed", detail="already reviewed")
        attempt.review_decision = verdict.value
        attempt.reviewer = reviewer
        attempt.review_reason = reason
        attempt.reviewed_at = now
        extra: dict[str, Any] = {}
        if first is not None:
            extra = {
                "first_reviewer": first.actor_id,
                "first_decision": first.data.get("decision"),
            }
        audit.record(
            attempt,
            EventKind.REVIEWED,
            actor=reviewer,
            action=action,
            decision=verdict.value,
            machine_decision=attempt.decision,
            reason=reason,
            **extra,
        )
        send_after_commit(attempt_reviewed, attempt, reviewer=reviewer)
        erase_selfie_once_final(attempt)
    logger.info("attempt %s: review %s (%s)", attempt.pk, action, verdict.value)
    return attempt


def _needs_second_reviewer(attempt: VerificationAttempt, verdict: ReviewDecision) -> bool:
    return (
        bool(face_idcard_settings.REVIEW_OVERTURN_NEEDS_SECOND_REVIEWER)
        and attempt.decision == Decision.NO_MATCH.value
        and verdict == ReviewDecision.MATCH
    )


def pending_review(attempt: VerificationAttempt) -> AttemptEvent | None:
    """The first review awaiting a second reviewer, if any (none once the attempt is reviewed)."""
    if attempt.reviewed_at is not None:
        return None
    pending: AttemptEvent | None = (
        AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.REVIEW_PENDING.value)
        .order_by("-created_at", "-id")
        .first()
    )
    return pending


def _record_pending(
    attempt: VerificationAttempt, reviewer: Any, verdict: ReviewDecision, reason: str
) -> None:
    if (
        attempt.reviewed_at is not None
        or VerificationAttempt._base_manager.filter(
            pk=attempt.pk, reviewed_at__isnull=False
        ).exists()
    ):
        raise IllegalTransition(attempt.status, "reviewed", detail="already reviewed")
    audit.record(
        attempt,
        EventKind.REVIEW_PENDING,
        actor=reviewer,
        decision=verdict.value,
        machine_decision=attempt.decision,
        reason=reason,
    )
    logger.info("attempt %s: first review recorded, awaiting a second reviewer", attempt.pk)


def cancel(attempt: VerificationAttempt, *, actor: Any = None) -> VerificationAttempt:
    """Cancel a queued or waiting attempt. A call in flight cannot be canceled.

    ``actor``: ``None`` for the host's own code; the attempt's own user may cancel it; anyone
    else needs ``face_idcard.review``."""
    if actor is not None and not (
        attempt.user_id and attempt.user_id == getattr(actor, "pk", None)
    ):
        who = permissions.require(actor, permissions.REVIEW)
    else:
        who = {"by": "system"} if actor is None else {}
    now = timezone.now()
    with transaction.atomic():
        transition(
            attempt,
            Status.CANCELED,
            finished_at=now,
            next_attempt_at=None,
            lease_expires_at=None,
            claim_token=None,
        )
        audit.record(attempt, EventKind.CANCELED, actor=actor, **who)
        send_after_commit(attempt_finished, attempt)
    logger.info("attempt %s: canceled", attempt.pk)
    return attempt


def _require_named_pii_viewer(viewer: Any) -> None:
    if viewer is None or not getattr(viewer, "pk", None):
        raise ValidationError(
            _("Reading personal information needs a named viewer."), code="viewer_required"
        )
    permissions.require(viewer, permissions.VIEW_PII)


@forget_locals_on_error
def reveal_pii(attempt: VerificationAttempt, *, viewer: Any) -> tuple[str, str]:
    """The clear ID number and name, for a staff screen. Every call is in the audit trail,
    with who asked: a viewer (a saved user) with ``face_idcard.view_pii`` is required."""
    _require_named_pii_viewer(viewer)
    if not attempt.idcard_number_encrypted and not attempt.idcard_name_encrypted:
        raise PersonalInformationUnavailable("the personal information was erased")
    number = crypto.decrypt_text(
        attempt.idcard_number_encrypted, attempt_id=attempt.pk, field=crypto.NUMBER
    )
    name = crypto.decrypt_text(
        attempt.idcard_name_encrypted, attempt_id=attempt.pk, field=crypto.NAME
    )
    audit.record(attempt, EventKind.PII_VIEWED, actor=viewer)
    logger.info(
        "attempt %s: personal information viewed by user id %s",
        attempt.pk,
        getattr(viewer, "pk", None),
    )
    return number, name


#: The only types a selfie is served as (what submit stores); anything else is refused rather
#: than sent with a type a browser might render as a page.
SELFIE_CONTENT_TYPES = frozenset({"image/jpeg", "image/png"})


def _servable_selfie_type(attempt: VerificationAttempt) -> str:
    if not attempt.selfie_name:
        raise PersonalInformationUnavailable("there is no stored selfie")
    content_type = attempt.selfie_content_type or "image/jpeg"
    if content_type not in SELFIE_CONTENT_TYPES:
        raise PersonalInformationUnavailable("the selfie has an unexpected type")
    return content_type


def _read_selfie(attempt: VerificationAttempt) -> tuple[bytes, str]:
    content_type = _servable_selfie_type(attempt)
    try:
        data = load_selfie(attempt.selfie_name, attempt.selfie_storage, attempt.pk)
    except FileNotFoundError:
        raise PersonalInformationUnavailable("the selfie was erased") from None
    return data, content_type


def _record_selfie_view(attempt: VerificationAttempt, viewer: Any, purpose: str = "") -> None:
    extra = {"purpose": purpose} if purpose else {}
    audit.record(attempt, EventKind.PII_VIEWED, actor=viewer, what="selfie", **extra)
    logger.info("attempt %s: selfie viewed by user id %s", attempt.pk, viewer.pk)


def reveal_selfie(attempt: VerificationAttempt, *, viewer: Any) -> tuple[bytes, str]:
    """The decrypted selfie and its content type, for a staff screen; audited like
    :func:`reveal_pii` (``face_idcard.view_pii`` required)."""
    _require_named_pii_viewer(viewer)
    data, content_type = _read_selfie(attempt)
    _record_selfie_view(attempt, viewer)
    return data, content_type


def record_selfie_reveal(attempt: VerificationAttempt, *, viewer: Any, purpose: str = "") -> None:
    """Audit a staff view of the selfie that a link will serve afterwards (the admin's reveal:
    the audited POST issues the link, and loading the image behind it is not audited again,
    so a GET never writes the audit trail). ``face_idcard.view_pii`` required;
    :class:`PersonalInformationUnavailable` when there is no selfie to show. ``purpose`` (a
    code the viewer chose, never free text) is kept in the event."""
    _require_named_pii_viewer(viewer)
    _servable_selfie_type(attempt)
    _record_selfie_view(attempt, viewer, purpose)


def read_recorded_selfie(attempt: VerificationAttempt, *, viewer: Any) -> tuple[bytes, str]:
    """The selfie behind a link that :func:`record_selfie_reveal` issued, NOT audited: only
    for a caller that verified such a link (the permission is checked again, so a
    permission revoked meanwhile stops the image too)."""
    _require_named_pii_viewer(viewer)
    return _read_selfie(attempt)
