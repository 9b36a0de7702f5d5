"""The API's representation of an attempt (``api.serializers.represent``, the fast path every
response takes) is exactly DRF's rendering of ``AttemptSerializer``'s declared fields: the
same keys in the same order, the same values and formats, for every kind of attempt and
whatever the date format and time zone. The declarations are the schema; this keeps the
two from drifting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone, translation
from rest_framework import serializers

from face_idcard.api.serializers import AttemptSerializer, represent
from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from face_idcard.states import Decision, ReviewDecision, Status
from tests.support import imagefactory
from tests.support.api_helpers import NAME, plain_user
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db


def drf_rendering(attempt: VerificationAttempt, show: bool) -> dict[str, Any]:
    """DRF's own ``Serializer.to_representation`` over the declared fields (the method that
    ``AttemptSerializer`` replaces with :func:`represent`)."""
    serializer = AttemptSerializer(attempt, context={"show_similarity": lambda: show})
    return dict(serializers.Serializer.to_representation(serializer, attempt))


def stored(**fields: Any) -> VerificationAttempt:
    return submit_attempt(
        magic.MATCH,
        idcard_name=NAME,
        image=imagefactory.jpeg(),
        user=plain_user("owner"),
        external_reference="order-9",
        update=fields,
    )


KINDS = {
    "queued": {},
    "queued, waiting its turn": {"next_attempt_at": timezone.now() + timedelta(hours=1)},
    "waiting to retry": {
        "status": Status.RETRY_WAIT.value,
        "next_attempt_at": timezone.now() + timedelta(hours=1),
    },
    "completed, pass": {
        "status": Status.COMPLETED.value,
        "decision": Decision.MATCH.value,
        "similarity": 87.25,
        "reason": "match",
        "finished_at": timezone.now() - timedelta(minutes=3),
    },
    "completed, reviewed": {
        "status": Status.COMPLETED.value,
        "decision": Decision.REVIEW.value,
        "review_decision": ReviewDecision.NO_MATCH.value,
        "similarity": 55.0,
        "reason": "low_similarity",
        "finished_at": timezone.now().replace(microsecond=0),
    },
    "failed, no score": {
        "status": Status.FAILED.value,
        "reason": "poor_quality",
        "finished_at": timezone.now(),
    },
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("show", [True, False])
@pytest.mark.parametrize(
    ("zone", "date_format"),
    [("Asia/Shanghai", None), ("UTC", None), ("Asia/Shanghai", "%Y-%m-%d %H:%M")],
)
def test_represent_is_drfs_rendering_of_the_declared_fields(
    face_settings: Any, kind: str, show: bool, zone: str, date_format: str | None
) -> None:
    attempt = stored(**KINDS[kind])
    framework = {"DATETIME_FORMAT": date_format} if date_format else {}
    with override_settings(TIME_ZONE=zone, REST_FRAMEWORK=framework), timezone.override(zone):
        for language in ("en", "zh-hans"):
            with translation.override(language):
                expected = drf_rendering(attempt, show)
                fast = represent(attempt, lambda: show)
                assert list(fast) == list(expected) == list(AttemptSerializer().fields)
                assert fast == expected
                assert AttemptSerializer(attempt, context={"show_similarity": show}).data == fast


def test_the_similarity_permission_is_asked_once_a_list_and_never_without_a_score(
    face_settings: Any,
) -> None:
    asked: list[int] = []

    def show() -> bool:
        asked.append(1)
        return True

    scored = [stored(**KINDS["completed, pass"]) for _ in range(3)]
    unscored = stored()
    assert represent(unscored, show)["similarity"] is None
    assert asked == []
    rows: Any = [*scored, unscored]
    data = AttemptSerializer(rows, many=True, context={"show_similarity": show}).data
    assert [row["similarity"] for row in data] == [87.25, 87.25, 87.25, None]
    assert asked == [1]


def test_waiting_until_is_shown_only_while_the_attempt_waits_for_the_provider(
    face_settings: Any,
) -> None:
    """The onboarding page tells the person that the provider is busy from this field."""
    later = timezone.now() + timedelta(seconds=30)
    waiting = represent(stored(next_attempt_at=later), lambda: False)
    assert waiting["waiting_until"] is not None
    assert abs(serializers.DateTimeField().to_internal_value(waiting["waiting_until"]) - later) < (
        timedelta(seconds=1)
    )
    due = stored(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert represent(due, lambda: False)["waiting_until"] is None
    decided = stored(**KINDS["completed, pass"], next_attempt_at=later)
    assert represent(decided, lambda: False)["waiting_until"] is None
