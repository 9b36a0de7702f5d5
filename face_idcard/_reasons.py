"""What to tell a person about their verification, in zh-hans and en.

The one place for user-facing outcome texts. :func:`person_message` is THE rule for what a
person is told about an attempt: it follows the attempt's status, decision and review (a
reviewer's decision wins over the machine's, a close call waiting for a reviewer says so),
and uses the reason's text (:func:`user_message`) only where the reason is what the person
needs to hear (a rejected input, a failure). The API's ``message`` (and so the onboarding
page) reads it, never a provider's catalogue. The texts say what happened and what to do next,
and never whether an ID number exists in the registry beyond what the person typed.

A user who is not staff is told what was decided, no more: whether a name and a number belong
together (:data:`IDENTITY_REASONS`) is collapsed into one outcome, "identity not confirmed"
(:func:`public_reason`, ``person_message(detailed=False)``); staff, and every user where the
site sets ``SHOW_IDENTITY_REASONS_TO_USERS``, see the detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .outcome import Reason
from .states import Decision, ReviewDecision, Status

if TYPE_CHECKING:
    from .models import VerificationAttempt

MESSAGES: Mapping[Reason, Promise] = {
    Reason.MATCH: _("Your identity has been verified."),
    Reason.LOW_SIMILARITY: _(
        "The photo does not look enough like the ID card photo. Try again with a clear, "
        "well-lit photo of your face."
    ),
    Reason.NAME_MISMATCH: _("The name does not match the ID number. Check both and try again."),
    Reason.ID_NOT_FOUND: _("The ID number could not be verified. Check it and try again."),
    Reason.NO_REGISTRY_PHOTO: _(
        "Your ID card photo is not available for comparison. Please use another way to verify."
    ),
    Reason.NO_FACE: _("No face was found in the photo. Take a photo of your face and try again."),
    Reason.MULTIPLE_FACES: _(
        "More than one face is in the photo. Make sure only you are in it and try again."
    ),
    Reason.POOR_QUALITY: _(
        "The photo is not clear enough. Take a sharper, well-lit photo and try again."
    ),
    Reason.SPOOF_SUSPECTED: _(
        "The photo could not be accepted. Take a new photo of yourself, not of a screen or "
        "a printed picture."
    ),
    Reason.LIVENESS_UNVERIFIED: _(
        "The photo could not be checked for a live person. Take a new photo of yourself and "
        "try again."
    ),
    Reason.IMAGE_UNREADABLE: _("The photo could not be read. Try again with a JPEG or PNG photo."),
    Reason.IMAGE_FETCH_FAILED: _("The photo could not be downloaded. Try again or upload it."),
    Reason.INVALID_INPUT: _("Some of the information is not valid. Check it and try again."),
    Reason.RATE_LIMITED: _("The service is busy. Your verification will continue shortly."),
    Reason.PROVIDER_UNAVAILABLE: _(
        "The verification service is temporarily unavailable. Please try again later."
    ),
    Reason.SIGNATURE_REJECTED: _(
        "The verification service is temporarily unavailable. Please try again later."
    ),
    Reason.ACCOUNT_PROBLEM: _(
        "Verification is not available at the moment. Please try again later."
    ),
    Reason.CONFIGURATION: _("Verification is not available at the moment. Please try again later."),
    Reason.INTERNAL: _("Something went wrong on our side. Please try again later."),
    Reason.UNKNOWN: _("The verification could not be completed. Please try again later."),
}

LABELS: Mapping[Reason, Promise] = {
    Reason.MATCH: _("Match"),
    Reason.LOW_SIMILARITY: _("Low similarity"),
    Reason.NAME_MISMATCH: _("Name and ID number do not match"),
    Reason.ID_NOT_FOUND: _("ID number not found"),
    Reason.NO_REGISTRY_PHOTO: _("No registry photo"),
    Reason.NO_FACE: _("No face"),
    Reason.MULTIPLE_FACES: _("Several faces"),
    Reason.POOR_QUALITY: _("Poor photo quality"),
    Reason.SPOOF_SUSPECTED: _("Spoof suspected"),
    Reason.LIVENESS_UNVERIFIED: _("Liveness not verified"),
    Reason.IMAGE_UNREADABLE: _("Photo unreadable"),
    Reason.IMAGE_FETCH_FAILED: _("Photo download failed"),
    Reason.INVALID_INPUT: _("Invalid input"),
    Reason.RATE_LIMITED: _("Rate limited"),
    Reason.PROVIDER_UNAVAILABLE: _("Provider unavailable"),
    Reason.SIGNATURE_REJECTED: _("Signature rejected"),
    Reason.ACCOUNT_PROBLEM: _("Account problem"),
    Reason.CONFIGURATION: _("Configuration problem"),
    Reason.INTERNAL: _("Internal error"),
    Reason.UNKNOWN: _("Unknown"),
}

#: For the model field's choices and admin filters.
REASON_CHOICES = [(reason.value, LABELS[reason]) for reason in Reason]


def as_reason(value: str | Reason | None) -> Reason | None:
    if value is None or value == "":
        return None
    try:
        return Reason(value)
    except ValueError:
        return Reason.UNKNOWN


def user_message(reason: str | Reason | None) -> str:
    """The text of one reason, in the active language ("" when there is no reason yet). What
    a person is told about an attempt is :func:`person_message`, which uses it."""
    known = as_reason(reason)
    return "" if known is None else str(MESSAGES[known])


def label(reason: str | Reason | None) -> str:
    known = as_reason(reason)
    return "" if known is None else str(LABELS[known])


#: What a person is told about an attempt, apart from the reasons' own texts.
IN_PROGRESS = _("Your verification is in progress.")
VERIFIED = MESSAGES[Reason.MATCH]
NOT_VERIFIED = _("Your identity could not be verified.")
BEING_REVIEWED = _(
    "A member of staff is reviewing your verification. You do not need to do anything."
)
CANCELED = _("The verification was canceled.")
#: An attempt the circuit breaker holds off a provider that is down (retry_wait, reason
#: provider_unavailable): it continues by itself when the provider is back.
WAITING_FOR_PROVIDER = _(
    "The verification service is temporarily unavailable. Your verification will continue "
    "by itself when it is back; you do not need to do anything."
)
#: A comparison that ended below the threshold: the photo is what to change.
NO_MATCH = MESSAGES[Reason.LOW_SIMILARITY]
#: A failure whose reason says nothing useful (or nothing at all).
NOT_COMPLETED = MESSAGES[Reason.UNKNOWN]


#: Reasons that tell whether a name and an ID number belong together, or whether the number
#: exists: whoever tries pairs learns from them, at the site's expense, who is who.
IDENTITY_REASONS = frozenset({Reason.LOW_SIMILARITY, Reason.NAME_MISMATCH, Reason.ID_NOT_FOUND})
#: The one reason a user without the detail is shown for all of them, and its message: what
#: was decided (the identity is not confirmed), not which part did not match.
NOT_CONFIRMED_REASON = "identity_not_confirmed"
NOT_CONFIRMED = _(
    "Your identity could not be confirmed. Check your name and ID number and try again."
)


def is_not_confirmed(attempt: VerificationAttempt) -> bool:
    """Whether the attempt ended (without a review) in an outcome whose detail would tell
    whether its name and ID number belong together: a comparison below the threshold, or a
    refusal for one of :data:`IDENTITY_REASONS`."""
    if attempt.review_decision:
        return False
    status = str(attempt.status)
    if status == Status.COMPLETED.value:
        return str(attempt.decision) == Decision.NO_MATCH.value
    if status in (Status.REJECTED.value, Status.FAILED.value):
        return as_reason(attempt.reason) in IDENTITY_REASONS
    return False


def not_confirmed_filter() -> Q:
    """:func:`is_not_confirmed` as a filter of attempts (the API's list filters)."""
    return Q(review_decision="") & (
        Q(status=Status.COMPLETED.value, decision=Decision.NO_MATCH.value)
        | Q(
            status__in=[Status.REJECTED.value, Status.FAILED.value],
            reason__in=sorted(reason.value for reason in IDENTITY_REASONS),
        )
    )


def public_status(attempt: VerificationAttempt, *, detailed: bool) -> tuple[str, str]:
    """The status and the final decision a user is shown. Without ``detailed``, every
    outcome of :func:`is_not_confirmed` reads as one, a comparison that did not confirm the
    identity (``completed``, ``no_match``): a refusal of the pair by the provider
    (``rejected``) and a comparison that ran (``completed``) would otherwise still tell a
    pair that does not belong together from one that does."""
    if not detailed and is_not_confirmed(attempt):
        return Status.COMPLETED.value, Decision.NO_MATCH.value
    return str(attempt.status), attempt.final_decision


def public_filter(*, status: str | None, decision: str | None, detailed: bool) -> Q:
    """The attempts a user's filters on the shown ``status`` and ``decision`` select (None:
    that filter not given), as :func:`public_status` shows them."""
    selected = Q()
    collapsed = None if detailed else not_confirmed_filter()
    if status is not None:
        by_status = Q(status=status)
        if collapsed is not None:
            if status == Status.COMPLETED.value:
                by_status |= collapsed
            else:
                by_status &= ~collapsed
        selected &= by_status
    if decision is not None:
        by_decision = Q(review_decision=decision) | Q(review_decision="", decision=decision)
        if collapsed is not None:
            if decision == Decision.NO_MATCH.value:
                by_decision |= collapsed
            else:
                by_decision &= ~collapsed
        selected &= by_decision
    return selected


def has_identity_detail(attempt: VerificationAttempt) -> bool:
    """Whether the attempt's reason or message differ between a user who may see the detail
    and one who may not (:func:`public_reason`, :func:`person_message`)."""
    return is_not_confirmed(attempt) or as_reason(attempt.reason) in IDENTITY_REASONS


def public_reason(attempt: VerificationAttempt, *, detailed: bool) -> str | None:
    """The reason a user is shown: the attempt's own with ``detailed``; else
    :data:`NOT_CONFIRMED_REASON` in place of an outcome of :func:`is_not_confirmed`, and no
    reason where one of :data:`IDENTITY_REASONS` stands beside a decision that says it all
    (a close call being reviewed, a reviewed attempt)."""
    if detailed or not has_identity_detail(attempt):
        return attempt.reason or None
    return NOT_CONFIRMED_REASON if is_not_confirmed(attempt) else None


#: Reasons whose text would mislead about an attempt that ended without a comparison.
_NOT_FOR_AN_ENDED_ATTEMPT = frozenset({Reason.MATCH, Reason.LOW_SIMILARITY, Reason.RATE_LIMITED})


def person_message(attempt: VerificationAttempt, *, detailed: bool = True) -> str:
    """What the attempt's person is told, in the active language. Never empty.

    In order: a reviewer's decision (verified or not); a status still in the pipeline (in
    progress, or busy and retrying); a completed comparison by its decision (verified, being
    reviewed, photo not alike); a rejected input or a failure by its reason, never a reason
    that would read as a success. Without ``detailed`` (what an end user is told unless the
    site sets ``SHOW_IDENTITY_REASONS_TO_USERS``), an outcome of :func:`is_not_confirmed` is
    :data:`NOT_CONFIRMED`, whichever part did not match.
    """
    if not detailed and is_not_confirmed(attempt):
        return str(NOT_CONFIRMED)
    status = str(attempt.status)
    if attempt.review_decision:
        return str(
            VERIFIED if attempt.review_decision == ReviewDecision.MATCH.value else NOT_VERIFIED
        )
    if status in (Status.QUEUED.value, Status.PROCESSING.value):
        return str(IN_PROGRESS)
    if status == Status.RETRY_WAIT.value:
        if attempt.reason == Reason.PROVIDER_UNAVAILABLE.value:
            return str(WAITING_FOR_PROVIDER)
        return str(MESSAGES[Reason.RATE_LIMITED])
    if status == Status.CANCELED.value:
        return str(CANCELED)
    if status == Status.COMPLETED.value:
        decision = str(attempt.decision)
        if decision == Decision.MATCH.value:
            return str(VERIFIED)
        if decision == Decision.REVIEW.value:
            return str(BEING_REVIEWED)
        if decision == Decision.NO_MATCH.value:
            return str(NO_MATCH)
        return str(NOT_COMPLETED)
    # Rejected (the input) or failed: the reason says what to do, unless it reads as a
    # comparison's result or as a verification still going on.
    reason = as_reason(attempt.reason)
    if reason is None or reason in _NOT_FOR_AN_ENDED_ATTEMPT:
        return str(NOT_COMPLETED)
    return str(MESSAGES[reason])
