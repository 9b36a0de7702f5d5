"""Reading a ``ValidationError`` in the input tests: the error a call raises, and its
messages as the person would read them (in the active language, or in English)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation


def error_of(call: Callable[[], object]) -> ValidationError:
    """The ValidationError ``call`` raises (the test fails if it raises none)."""
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value


def messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


def error_in_english(call: Callable[[], object]) -> ValidationError:
    """:func:`error_of`, the call made in English."""
    with pytest.raises(ValidationError) as info, translation.override("en"):
        call()
    return info.value


def message_in_english(error: ValidationError) -> str:
    """The first message of ``error``, in English."""
    with translation.override("en"):
        return str(error.messages[0])
