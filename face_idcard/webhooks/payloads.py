"""The thin payloads: ``{"type", "timestamp", "data"}``, where ``data`` holds the attempt's
id, external reference, states, neutral reason code, backend alias and times, which a
receiver completes through the API. Never an ID number, a name, a mask of them, an image or a
url; the similarity only with ``WEBHOOK_INCLUDE_SIMILARITY``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..conf import face_idcard_settings

if TYPE_CHECKING:
    from ..models import VerificationAttempt

#: Every key ``data`` may hold for an attempt's event (the documented schema).
ATTEMPT_FIELDS = (
    "id",
    "external_reference",
    "status",
    "decision",
    "machine_decision",
    "review_decision",
    "reason",
    "backend",
    "created_at",
    "finished_at",
    "reviewed_at",
    "redacted_at",
)


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def attempt_data(attempt: VerificationAttempt) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(attempt.pk),
        "external_reference": attempt.external_reference,
        "status": attempt.status,
        "decision": attempt.final_decision,
        "machine_decision": attempt.decision,
        "review_decision": attempt.review_decision,
        "reason": attempt.reason,
        "backend": attempt.backend,
        "created_at": _time(attempt.created_at),
        "finished_at": _time(attempt.finished_at),
        "reviewed_at": _time(attempt.reviewed_at),
        "redacted_at": _time(attempt.redacted_at),
    }
    if face_idcard_settings.WEBHOOK_INCLUDE_SIMILARITY:
        data["similarity"] = attempt.similarity
    return data


def body(event_type: str, timestamp: datetime, data: dict[str, Any]) -> str:
    """The exact text signed and sent (compact JSON, UTF-8)."""
    payload = {"type": event_type, "timestamp": _time(timestamp), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
