"""The webhook settings' system checks: numbers where numbers belong (E007, E010)."""

from __future__ import annotations

import pytest

from tests.support.checks import check_ids


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"WEBHOOK_TIMEOUT_SECONDS": 0}, "face_idcard.E007"),
        ({"WEBHOOK_LEASE_SECONDS": "60"}, "face_idcard.E007"),
        ({"WEBHOOK_RETRY_SCHEDULE_SECONDS": [5, 0]}, "face_idcard.E007"),
        ({"WEBHOOK_RETRY_SCHEDULE_SECONDS": "5,300"}, "face_idcard.E007"),
        ({"WEBHOOK_RESPONSE_MAX_BYTES": 0}, "face_idcard.E010"),
        ({"WEBHOOK_RETENTION_DAYS": -1}, "face_idcard.E010"),
        ({"WEBHOOK_DISABLE_AFTER_FAILURES": 0}, "face_idcard.E010"),
    ],
)
def test_bad_webhook_settings_are_errors(overrides: dict[str, object], check_id: str) -> None:
    assert check_id in check_ids(**overrides)


def test_the_defaults_pass() -> None:
    ids = check_ids(WEBHOOK_DISABLE_AFTER_FAILURES=None)
    assert not {"face_idcard.E007", "face_idcard.E010"} & ids
