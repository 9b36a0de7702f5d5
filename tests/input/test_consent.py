"""face_idcard._consent: the consent time of a submission (an aware time, not in the future
beyond the clock skew ``CONSENT_CLOCK_SKEW_SECONDS`` allows), as tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone as django_timezone

from face_idcard._consent import validate_consent_time

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


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


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-3600, True), (0, True), (30, True), (31, False)]
)
def test_consent_time_allows_the_clock_skew(offset: float, accepted: bool) -> None:
    now = django_timezone.now()
    value = now + timedelta(seconds=offset)
    with override_settings(FACE_IDCARD={"CONSENT_CLOCK_SKEW_SECONDS": 30}):
        if accepted:
            assert validate_consent_time(value, now=now) == value
        else:
            with pytest.raises(ValidationError) as caught:
                validate_consent_time(value, now=now)
            assert caught.value.code == "consent_future"
