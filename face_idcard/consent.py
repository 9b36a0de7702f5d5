"""When the person consented: the consent time every submission carries.

PIPL asks for consent before a face is compared; ``submit`` refuses a submission without a
consent time, and :func:`validate_consent_time` refuses one that cannot be the moment consent
was given (a naive time, or one in the future beyond the clock skew a client may have). The
consent a minor needs from a guardian is decided with the birth date, in
:func:`face_idcard.identity.check_minimum_age`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import face_idcard_settings

__all__ = ["CONSENT_MESSAGES", "validate_consent_time"]

CONSENT_MESSAGES: dict[str, Any] = {
    "consent_type": _("The consent time must be a date and time."),
    "consent_naive": _("The consent time must include its time zone."),
    "consent_future": _("The consent time is in the future."),
}


def validate_consent_time(value: object, *, now: datetime | None = None) -> datetime:
    """An aware ``datetime`` not later than now plus ``CONSENT_CLOCK_SKEW_SECONDS``.

    Codes: ``consent_type``, ``consent_naive``, ``consent_future``. A naive time is refused
    rather than guessed: in which zone it was meant is exactly what is unknown.
    """
    if not isinstance(value, datetime):
        raise ValidationError(CONSENT_MESSAGES["consent_type"], code="consent_type")
    if timezone.is_naive(value):
        raise ValidationError(CONSENT_MESSAGES["consent_naive"], code="consent_naive")
    skew = timedelta(seconds=float(face_idcard_settings.CONSENT_CLOCK_SKEW_SECONDS))
    if value > (now or timezone.now()) + skew:
        raise ValidationError(CONSENT_MESSAGES["consent_future"], code="consent_future")
    return value
