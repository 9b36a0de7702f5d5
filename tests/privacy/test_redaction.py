"""What a redaction erases beyond the ID number, name and selfie (the review's reason, the
provider's ids and raw answer, the external reference, the Idempotency-Key fingerprints),
what it keeps (the ID hash while the per-ID limit counts the attempt), and the free-text
reasons refused because the append-only audit trail would keep them after an erasure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from face_idcard import services
from face_idcard.exceptions import AttemptLimitExceeded
from face_idcard.models import (
    AttemptEvent,
    DocumentReview,
    EventKind,
    IdempotencyKey,
    VerificationAttempt,
)
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.api_helpers import client_for, create, plain_user
from tests.support.factories import finished_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

IMAGE = imagefactory.jpeg(320, 240)
NAME = "赵六"


def finished(number: str = magic.MATCH, **kwargs: Any) -> VerificationAttempt:
    return finished_attempt(number, idcard_name=NAME, image=IMAGE, **kwargs)


def reviewer(*extra: str) -> Any:
    return user_with("redaction-reviewer-" + "-".join(extra or ("plain",)), "review", *extra)


def test_redact_erases_review_reason_provider_ids_raw_answer_and_reference(
    face_settings: Any,
) -> None:
    attempt = finished(external_reference="crm-4711")
    services.review(attempt, reviewer=reviewer(), decision="match", reason="photo is clear")
    # FaceID answers a RequestId too (the legacy protocol only a session id).
    VerificationAttempt.objects.filter(pk=attempt.pk).update(provider_request_id="req-1")
    attempt.refresh_from_db()
    assert attempt.review_reason == "photo is clear"
    assert attempt.provider_session_id and attempt.provider_request_id
    assert attempt.raw_response is not None
    assert attempt.external_reference == "crm-4711"

    services.redact(attempt)
    attempt.refresh_from_db()
    assert attempt.review_reason == ""
    assert attempt.provider_session_id == ""
    assert attempt.provider_request_id == ""
    assert attempt.raw_response is None
    assert attempt.external_reference == ""
    # The record of what happened stays.
    assert (attempt.status, attempt.decision, attempt.review_decision) == (
        "completed",
        "match",
        "match",
    )


def test_redact_deletes_the_attempts_idempotency_keys_only(face_settings: Any) -> None:
    cache.clear()
    client = client_for(plain_user("idem-owner"))
    first = create(client, headers={"Idempotency-Key": "order-1"})
    other = create(client, headers={"Idempotency-Key": "order-2"})
    assert first.status_code == other.status_code == 202
    attempt = VerificationAttempt.objects.get(pk=first.json()["id"])
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert IdempotencyKey.objects.filter(attempt=attempt).count() == 1

    services.redact(attempt)
    assert IdempotencyKey.objects.filter(attempt=attempt).count() == 0
    assert IdempotencyKey.objects.filter(attempt_id=other.json()["id"]).count() == 1


def test_a_redaction_does_not_reset_the_per_id_limit(face_settings: Any) -> None:
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=2, MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=0)
    first = finished()
    finished()
    services.redact(first)
    first.refresh_from_db()
    assert first.idcard_hash  # kept while the limit counts the attempt
    assert not first.has_pii and first.idcard_number_masked == ""
    with pytest.raises(AttemptLimitExceeded):
        finished()


def test_purge_clears_the_kept_hash_once_the_window_has_passed(face_settings: Any) -> None:
    attempt = finished()
    services.redact(attempt)
    attempt.refresh_from_db()
    assert attempt.idcard_hash
    assert services.purge()["limit_hashes"] == 0  # still inside the window
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        created_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    assert services.purge()["limit_hashes"] == 1
    attempt.refresh_from_db()
    assert (attempt.idcard_hash, attempt.idcard_hash_key_id) == ("", "")


def test_redacting_an_attempt_older_than_the_window_erases_its_hash(face_settings: Any) -> None:
    attempt = finished()
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    attempt.refresh_from_db()
    services.redact(attempt)
    attempt.refresh_from_db()
    assert (attempt.idcard_hash, attempt.idcard_hash_key_id) == ("", "")


# --- Reasons that would carry personal data into the audit trail ---------------------------

ID_SHAPED = [
    f"caller gave {magic.MATCH}",
    f"number {magic.MATCH.lower()} checked",  # a lower-case check character
    "id 110105 19491231 002X on the phone",  # spaced
    "证件号１１０１０５１９４９１２３１００２Ｘ",  # full-width
    "another person's 44030119900101001x",  # not this attempt's number: still refused
]


def refused(call: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.code == "reason_contains_personal_data"
    assert magic.MATCH not in str(caught.value) and NAME not in str(caught.value)


@pytest.mark.parametrize("reason", ID_SHAPED)
def test_a_review_reason_with_an_id_number_is_refused(face_settings: Any, reason: str) -> None:
    attempt = finished()
    refused(lambda: services.review(attempt, reviewer=reviewer(), decision="match", reason=reason))
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None and attempt.review_reason == ""
    assert not AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.REVIEWED.value).exists()


@pytest.mark.parametrize("reason", ID_SHAPED)
def test_a_legal_hold_reason_with_an_id_number_is_refused(face_settings: Any, reason: str) -> None:
    attempt = finished()
    refused(lambda: services.set_legal_hold(attempt, hold=True, reason=reason))
    attempt.refresh_from_db()
    assert attempt.legal_hold is False
    assert not AttemptEvent.objects.filter(
        attempt=attempt, kind=EventKind.LEGAL_HOLD_SET.value
    ).exists()


@pytest.mark.parametrize("reason", [f"{NAME}本人来电", f"the holder {NAME[0]} {NAME[1]} asked"])
def test_a_reason_with_the_persons_name_is_refused(face_settings: Any, reason: str) -> None:
    attempt = finished()
    refused(
        lambda: services.review(
            attempt, reviewer=reviewer("view_pii"), decision="match", reason=reason
        )
    )
    refused(lambda: services.set_legal_hold(attempt, hold=True, reason=reason))  # host code


def test_the_name_is_not_compared_for_staff_who_see_only_its_mask(face_settings: Any) -> None:
    """A refusal would tell a reviewer without view_pii whether a guessed name is right."""
    attempt = finished()
    services.review(attempt, reviewer=reviewer(), decision="match", reason=f"{NAME}本人来电")
    attempt.refresh_from_db()
    assert attempt.reviewed_at is not None


def test_ordinary_reasons_pass_and_reach_the_trail(face_settings: Any) -> None:
    attempt = finished()
    reason = "court order 2026-17, case 123456"  # digits, but no ID-shaped token
    services.set_legal_hold(attempt, hold=True, reason=reason)
    event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.LEGAL_HOLD_SET.value)
    assert event.data["reason"] == reason
    services.review(
        attempt, reviewer=reviewer("view_pii"), decision="match", reason="the face matches"
    )
    attempt.refresh_from_db()
    assert attempt.review_reason == "the face matches"


def test_the_scheduled_purge_keeps_what_only_a_redaction_erases(face_settings: Any) -> None:
    """docs/privacy.rst's retention table: past PII_RETENTION_DAYS the purge erases the ID
    number, the name, their masks and the hash, and keeps the review's reason, the provider's
    ids and raw answer and the external reference (a redaction takes those, above); of a
    document review it keeps the hash, the reviewer's reason and the reference."""
    attempt = finished(external_reference="crm-4711")
    services.review(attempt, reviewer=reviewer(), decision="match", reason="photo is clear")
    VerificationAttempt.objects.filter(pk=attempt.pk).update(provider_request_id="req-1")
    person = plain_user("purged-card-holder")
    review = services.submit_documents(
        user=person,
        idcard_number=magic.MATCH,
        idcard_name=NAME,
        front=IMAGE,
        back=IMAGE,
        consent_at=timezone.now(),
        external_reference="crm-4712",
    )
    services.decide_documents(
        review, reviewer=reviewer(), decision="approve", reason="photos match the record"
    )
    long_ago = timezone.now() - timedelta(days=400)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(finished_at=long_ago)
    DocumentReview.objects.filter(pk=review.pk).update(decided_at=long_ago)

    counts = services.purge()
    assert (counts["pii"], counts["document_pii"]) == (1, 1)
    attempt.refresh_from_db()
    assert not attempt.has_pii and attempt.idcard_number_masked == attempt.idcard_hash == ""
    assert attempt.review_reason == "photo is clear"
    assert attempt.provider_session_id and attempt.provider_request_id == "req-1"
    assert attempt.raw_response is not None and attempt.external_reference == "crm-4711"
    review.refresh_from_db()
    assert review.idcard_number_encrypted == review.idcard_number_masked == ""
    # The keyed hash of the number goes too, as the attempt's does: a pseudonym of the person.
    assert (review.idcard_hash, review.idcard_hash_key_id) == ("", "")
    assert review.review_reason == "photos match the record"
    assert review.external_reference == "crm-4712"
