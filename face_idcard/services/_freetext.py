"""Free-text reasons (of a review, of a legal hold) that go into the append-only audit trail.

The trail is never updated or deleted, so a reason naming the person would outlive the
erasure of their personal information (PIPL's right to deletion could not be honoured).
Such texts are refused rather than kept off the trail: the reason is what an auditor reads
(why a reviewer overturned the machine, why a record was held), and keeping it beside the
events would need a second, erasable home for every kind of reason.

Refused: an ID-shaped token (17 digits and a digit or X, once spaces, dashes and full-width
forms are folded), whoever writes it; and the attempt's own name, compared only for an actor
who may read it (``view_pii``, or the host's own code): for staff who see only the mask, a
refusal would tell them whether a guessed name is the person's.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .. import crypto, permissions
from ..exceptions import PermissionRequired
from ..models import VerificationAttempt

__all__ = ["refuse_personal_data_in_reason"]

#: The shape of a resident ID number (the check character read case-insensitively).
_ID_SHAPED = re.compile(r"[0-9]{17}[0-9X]")
#: What may stand between the characters of a number or a name typed in a reason.
_SEPARATORS = re.compile(r"[\s\-_.·・/\\,，、]+")


def _folded(text: str) -> str:
    """Full-width forms to ASCII, separators out, case folded (X and x alike)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def _name_of(attempt: VerificationAttempt) -> str:
    try:
        return crypto.decrypt_text(
            attempt.idcard_name_encrypted, attempt_id=attempt.pk, field=crypto.NAME
        )
    except crypto.InvalidToken:
        return ""  # unreadable: nothing to compare (the ID check still applies)


def _may_read_pii(actor: Any) -> bool:
    try:
        permissions.require(actor, permissions.VIEW_PII)
    except PermissionRequired:
        return False
    return True


def refuse_personal_data_in_reason(
    reason: str, attempt: VerificationAttempt, *, actor: Any
) -> None:
    """Raise ``ValidationError`` (code ``reason_contains_personal_data``) when ``reason``
    holds an ID-shaped token or, for an actor allowed to read it, the attempt's name. The
    message never repeats the text."""
    folded = _folded(reason)
    found = bool(_ID_SHAPED.search(folded))
    if not found and _may_read_pii(actor):
        name = _folded(_name_of(attempt))
        found = bool(name) and name in folded
    if found:
        raise ValidationError(
            _(
                "A reason must not contain an ID number or the person's name: the audit "
                "trail keeps reasons after the personal information is erased."
            ),
            code="reason_contains_personal_data",
        )
