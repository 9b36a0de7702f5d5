"""What to tell a person about each neutral reason, in zh-hans and en.

The one place for user-facing outcome texts: the API, the admin, the demo and e-mails read
:func:`user_message`, never a provider's catalogue. The texts say what happened and what to do
next, and never whether an ID number exists in the registry beyond what the person typed.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .outcome import Reason

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
    """The text for a person, in the active language ("" when there is no reason yet)."""
    known = as_reason(reason)
    return "" if known is None else str(MESSAGES[known])


def label(reason: str | Reason | None) -> str:
    known = as_reason(reason)
    return "" if known is None else str(LABELS[known])
