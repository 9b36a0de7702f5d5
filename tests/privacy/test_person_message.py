"""What a person is told follows the attempt's status, decision and review, never the
provider's reason alone (face_idcard._reasons.person_message, the API's ``message``).

The table covers every (status, decision, review, reason) combination the model's fields
allow, in English and Chinese; the API tests replay the two cases of the issue: a review-band
attempt whose reason reads "match" (FaceID) or "low similarity" (the legacy backend), before
and after a reviewer decides.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.utils import timezone, translation

from face_idcard import services
from face_idcard._reasons import MESSAGES, person_message
from face_idcard.models import VerificationAttempt
from face_idcard.outcome import Reason
from face_idcard.simulator import magic
from face_idcard.states import Decision, ReviewDecision, Status
from tests.support import imagefactory
from tests.support.api_helpers import BASE, NAME, client_for, plain_user
from tests.support.factories import submit_attempt
from tests.support.users import user_with

VERIFIED = "Your identity has been verified."
NOT_VERIFIED = "Your identity could not be verified."
IN_PROGRESS = "Your verification is in progress."
BUSY = "The service is busy. Your verification will continue shortly."
BEING_REVIEWED = "A member of staff is reviewing your verification. You do not need to do anything."
CANCELED = "The verification was canceled."
NO_MATCH = (
    "The photo does not look enough like the ID card photo. Try again with a clear, "
    "well-lit photo of your face."
)
NOT_COMPLETED = "The verification could not be completed. Please try again later."
#: "The reason's own text", for an attempt that ended without a comparison.
BY_REASON = "by reason"

#: (status, machine decision, review) -> what the person is told, whatever the reason.
TABLE: dict[tuple[str, str], str] = {
    (Status.QUEUED.value, ""): IN_PROGRESS,
    (Status.PROCESSING.value, ""): IN_PROGRESS,
    (Status.RETRY_WAIT.value, ""): BUSY,
    (Status.CANCELED.value, ""): CANCELED,
    (Status.REJECTED.value, ""): BY_REASON,
    (Status.FAILED.value, ""): BY_REASON,
}
COMPLETED: dict[str, str] = {
    Decision.MATCH.value: VERIFIED,
    Decision.REVIEW.value: BEING_REVIEWED,
    Decision.NO_MATCH.value: NO_MATCH,
    Decision.NONE.value: NOT_COMPLETED,
}
REVIEWED = {ReviewDecision.MATCH.value: VERIFIED, ReviewDecision.NO_MATCH.value: NOT_VERIFIED}
#: Reasons that an attempt ended without a comparison never shows: they would read as a
#: result ("verified", "the photo is not alike") or as a verification still going on.
MISLEADING_AFTER_THE_END = {"", Reason.MATCH.value, Reason.LOW_SIMILARITY.value, "rate_limited"}

REASONS = ["", *(reason.value for reason in Reason)]
COMBINATIONS = list(
    itertools.product(Status.values(), Decision.values(), ["", *ReviewDecision.values()], REASONS)
)


#: A retry_wait held off a provider that is down (the circuit breaker, issue 27).
WAITING_FOR_PROVIDER = (
    "The verification service is temporarily unavailable. Your verification will continue "
    "by itself when it is back; you do not need to do anything."
)


def expected(status: str, decision: str, review: str, reason: str) -> str:
    if review:
        return REVIEWED[review]
    if status == Status.RETRY_WAIT.value and reason == Reason.PROVIDER_UNAVAILABLE.value:
        return WAITING_FOR_PROVIDER
    if status == Status.COMPLETED.value:
        return COMPLETED[decision]
    told = TABLE[(status, "")]
    if told != BY_REASON:
        return told
    if reason in MISLEADING_AFTER_THE_END:
        return NOT_COMPLETED
    return str(MESSAGES[Reason(reason)])


def attempt(status: str, decision: str, review: str, reason: str) -> VerificationAttempt:
    return VerificationAttempt(
        status=status, decision=decision, review_decision=review, reason=reason
    )


def test_the_table_covers_every_status_and_decision() -> None:
    assert {status for status, _ in TABLE} | {Status.COMPLETED.value} == set(Status.values())
    assert set(COMPLETED) == set(Decision.values())
    assert set(REVIEWED) == set(ReviewDecision.values())
    assert len(COMBINATIONS) == 7 * 4 * 3 * (len(Reason) + 1)


@pytest.mark.parametrize(("status", "decision", "review"), sorted({c[:3] for c in COMBINATIONS}))
def test_every_combination_in_english(status: str, decision: str, review: str) -> None:
    with translation.override("en"):
        for reason in REASONS:
            told = person_message(attempt(status, decision, review, reason))
            assert told == expected(status, decision, review, reason), reason


@pytest.mark.parametrize(("status", "decision", "review"), sorted({c[:3] for c in COMBINATIONS}))
def test_every_combination_in_chinese(status: str, decision: str, review: str) -> None:
    for reason in REASONS:
        with translation.override("en"):
            english = person_message(attempt(status, decision, review, reason))
        with translation.override("zh-hans"):
            chinese = person_message(attempt(status, decision, review, reason))
            assert chinese == translation.gettext(english)
        assert chinese != english
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), chinese


def test_verified_only_when_the_final_decision_is_a_match() -> None:
    with translation.override("en"):
        for combination in COMBINATIONS:
            one = attempt(*combination)
            if person_message(one) == VERIFIED:
                assert one.final_decision == Decision.MATCH.value, combination
                assert one.review_decision or one.status == Status.COMPLETED.value, combination


# --- Through the API: the two cases ---------------------------------------------------


def _review_band(reason: str) -> VerificationAttempt:
    return submit_attempt(
        magic.MATCH,
        idcard_name=NAME,
        image=imagefactory.jpeg(),
        user=plain_user("message-owner"),
        enqueue=False,
        update={
            "status": Status.COMPLETED.value,
            "decision": Decision.REVIEW.value,
            "reason": reason,
            "similarity": 69.5,
            "threshold": 70.0,
            "finished_at": timezone.now(),
        },
    )


def _told(one: VerificationAttempt, language: str = "en") -> str:
    client = client_for(one.user)
    response = client.get(f"{BASE}{one.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return str(response.json()["message"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reason", "verdict", "after"),
    [
        ("match", "no_match", NOT_VERIFIED),  # FaceID: the band's reason reads "match"
        ("low_similarity", "match", VERIFIED),  # legacy: it reads "low similarity"
    ],
)
def test_the_api_message_follows_the_review(
    face_settings: Any, reason: str, verdict: str, after: str
) -> None:
    one = _review_band(reason)
    assert _told(one) == BEING_REVIEWED
    assert _told(one, "zh-hans") == "工作人员正在复核您的核验结果，您无需进行任何操作。"
    reviewer = user_with("message-reviewer", "review")
    services.review(one, reviewer=reviewer, decision=verdict, reason="checked the photo")
    assert _told(one) == after
