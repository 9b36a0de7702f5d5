"""Hand-made attempts and events for the statistics tests (bulk-created, no provider call)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.states import Decision, Status

STATISTICS = "/admin/face_idcard/verificationstatistics/"
CALIBRATION = STATISTICS + "calibration/"
ABUSE = STATISTICS + "abuse/"
EXPORT = STATISTICS + "export/"


def attempt(age: timedelta = timedelta(hours=1), **fields: Any) -> VerificationAttempt:
    created = fields.pop("created_at", None) or timezone.now() - age
    defaults: dict[str, Any] = {
        "backend": "default",
        "consent_at": created,
        "created_at": created,
        "status": Status.COMPLETED.value,
        "decision": Decision.MATCH.value,
        "idcard_number_masked": "1101**********0014",
        "idcard_name_masked": "张*",
    }
    defaults.update(fields)
    return VerificationAttempt.objects.create(**defaults)


def call(
    item: VerificationAttempt,
    latency_ms: float | None,
    billable: bool | None,
    at: datetime | None = None,
) -> None:
    AttemptEvent.objects.bulk_create(
        [
            AttemptEvent(
                attempt=item,
                kind=EventKind.PROVIDER_CALL.value,
                created_at=at or item.created_at,
                data={"latency_ms": latency_ms, "billable": billable, "code": item.error_code},
            )
        ]
    )
