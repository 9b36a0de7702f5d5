"""The free-text fields of a submission (the privacy notice version, the caller's external
reference): text, and no longer than the column that stores them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

__all__ = ["TEXT_MESSAGES", "validate_text_length"]

TEXT_MESSAGES: dict[str, Any] = {
    "text_type": _("%(field)s must be text."),
    "text_length": _("%(field)s is too long: at most %(max)d characters."),
}


def validate_text_length(value: object, *, field: Any, max_length: int) -> str:
    """``value`` if it is a ``str`` of at most ``max_length`` characters.

    Codes: ``text_type``, ``text_length``; ``field`` (a translatable label) names the field.
    """
    if not isinstance(value, str):
        raise ValidationError(TEXT_MESSAGES["text_type"], code="text_type", params={"field": field})
    if len(value) > max_length:
        raise ValidationError(
            TEXT_MESSAGES["text_length"],
            code="text_length",
            params={"field": field, "max": max_length},
        )
    return value
