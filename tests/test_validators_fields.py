"""The other fields of a submission: free text and the consent time (issue 17), as tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import translation

from face_idcard.validators import validate_consent_time, validate_text_length

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", None),
        ("abcd", None),
        ("abcde", "text_length"),
        ("张三李四", None),
        (None, "text_type"),
        (12, "text_type"),
        (b"ab", "text_type"),
    ],
)
def test_text_length_table(value: object, code: str | None) -> None:
    if code is None:
        assert validate_text_length(value, field="Reference", max_length=4) == value
        return
    with pytest.raises(ValidationError) as info:
        validate_text_length(value, field="Reference", max_length=4)
    assert info.value.code == code
    with translation.override("en"):
        message = str(info.value.messages[0])
    expected = {
        "text_length": "Reference is too long: at most 4 characters.",
        "text_type": "Reference must be text.",
    }
    assert message == expected[code]


SKEW = timedelta(seconds=300)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (NOW, None),
        (NOW - timedelta(days=400), None),
        (NOW + SKEW, None),  # a client clock a little ahead is not refused
        (NOW + SKEW + timedelta(microseconds=1), "consent_future"),
        (NOW.replace(tzinfo=None), "consent_naive"),
        ("2026-03-01T12:00:00+00:00", "consent_type"),
        (None, "consent_type"),
        (NOW.date(), "consent_type"),
    ],
)
def test_consent_time_table(value: object, code: str | None) -> None:
    if code is None:
        assert validate_consent_time(value, now=NOW) == value
        return
    with pytest.raises(ValidationError) as info:
        validate_consent_time(value, now=NOW)
    assert info.value.code == code


@override_settings(FACE_IDCARD={"CONSENT_CLOCK_SKEW_SECONDS": 0})
def test_the_skew_comes_from_the_settings() -> None:
    assert validate_consent_time(NOW, now=NOW) == NOW
    with pytest.raises(ValidationError):
        validate_consent_time(NOW + timedelta(seconds=1), now=NOW)


def test_now_defaults_to_the_clock(time_machine: object) -> None:
    time_machine.move_to(NOW, tick=False)  # type: ignore[attr-defined]
    assert validate_consent_time(NOW + SKEW) == NOW + SKEW
    with pytest.raises(ValidationError):
        validate_consent_time(NOW + SKEW + timedelta(seconds=1))
