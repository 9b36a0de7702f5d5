"""The ways a person who refuses face verification can verify instead (the 2025
face-recognition measures: the face must not be the only way where another one serves).

A site lists them in ``NON_FACE_ALTERNATIVES``; the onboarding page and the API offer each
beside the face path, and system check ``face_idcard.W052`` warns when none is listed. The one
built in is :data:`DOCUMENT_REVIEW`: photos of the ID card's two sides, decided by staff
(:func:`face_idcard.services.submit_documents`).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .conf import face_idcard_settings

#: The face path itself (recorded beside the alternatives: which path a person took).
FACE = "face"
#: Photos of both sides of the ID card, decided by a staff member.
DOCUMENT_REVIEW = "document_review"

#: Every alternative the app can offer, with what the person is shown.
KNOWN = {DOCUMENT_REVIEW: _("Without your face: a staff member checks photos of your ID card")}


def configured() -> list[str]:
    """``NON_FACE_ALTERNATIVES`` as a list of strings (an unknown word is system check E052)."""
    value = face_idcard_settings.NON_FACE_ALTERNATIVES or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []  # not a list: its own check (E052) says so
    return [str(item) for item in value]


def offered() -> list[str]:
    """The alternatives the site offers, known ones only, in the settings' order."""
    return [name for name in configured() if name in KNOWN]


def offers(name: str) -> bool:
    return name in offered()
