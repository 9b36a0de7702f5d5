"""The document reviews (the non-face alternative) keep to the attempts' retention: the purge
takes the photos after SELFIE_RETENTION_DAYS and the number and name after PII_RETENTION_DAYS,
from the decision, never a pending review's nor a held one's; a withdrawal keeps what is under
legal hold (the person told a hold applies); a pending review is not redacted; key rotation
re-seals the photos and re-encrypts the number and name under the newest key, so the old key
can go; the system check warns when the site offers no way without the face."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.files.storage import storages
from django.test import override_settings
from django.utils import timezone

from face_idcard import services
from face_idcard.exceptions import IllegalTransition
from face_idcard.models import DocumentReview, StaffAuditEvent
from face_idcard.services import _documents
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.checks import check_ids
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

FRONT = imagefactory.jpeg(640, 400)
BACK = imagefactory.png(600, 380)


def pending(username: str) -> DocumentReview:
    return services.submit_documents(
        idcard_number=magic.MATCH,
        idcard_name="张三",
        front=FRONT,
        back=BACK,
        user=get_user_model().objects.create(username=username),
        consent_at=timezone.now(),
    )


def decided(username: str, days_ago: int) -> DocumentReview:
    review = pending(username)
    reviewer = user_with(f"{username}-reviewer", "review")
    services.decide_documents(review, reviewer=reviewer, decision="reject", reason="blurred")
    DocumentReview.objects.filter(pk=review.pk).update(
        decided_at=timezone.now() - timedelta(days=days_ago)
    )
    review.refresh_from_db()
    return review


def exists(name: str) -> bool:
    return bool(name) and storages["face_idcard"].exists(name)


def test_the_purge_follows_the_attempts_clocks(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    face_settings(SELFIE_RETENTION_DAYS=7, PII_RETENTION_DAYS=30)
    fresh = decided("fresh", 1)
    week_old = decided("week-old", 8)
    month_old = decided("month-old", 31)
    held = decided("held", 31)
    services.set_documents_legal_hold(held, hold=True, reason="court order")
    waiting = pending("waiting")
    DocumentReview.objects.filter(pk=waiting.pk).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    files = {r.pk: [r.front_name, r.back_name] for r in (fresh, week_old, month_old, held)}
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.purge()
    # The month-old one: number, name and photos in one step (the PII step comes first).
    assert counts["documents"] == 1 and counts["document_pii"] == 1
    for review in (fresh, week_old, month_old, held, waiting):
        review.refresh_from_db()
    assert fresh.has_documents and all(exists(name) for name in files[fresh.pk])
    assert not week_old.has_documents and week_old.idcard_number_encrypted
    assert not any(exists(name) for name in files[week_old.pk])
    assert not month_old.has_pii and month_old.idcard_number_masked == ""
    assert held.has_pii and all(exists(name) for name in files[held.pk])
    assert waiting.has_documents  # its reviewer has still to look at it
    erased = StaffAuditEvent.objects.filter(document_review=month_old, kind="documents_erased")
    assert sorted(event.data["what"] for event in erased) == ["pii"]  # both went in one step


def test_a_withdrawal_keeps_a_held_review_and_says_so(face_settings: Any) -> None:
    review = decided("held-person", 1)
    services.set_documents_legal_hold(review, hold=True)
    assert review.user is not None
    result = services.withdraw(user=review.user, actor=review.user)
    assert result.document_reviews == 1 and result.legal_hold and result.erased == 0
    assert any("legal hold" in line for line in result.statements())
    review.refresh_from_db()
    assert review.has_documents
    event = StaffAuditEvent.objects.filter(document_review=review).last()
    assert event is not None and event.data["kept"] == "legal_hold"


def test_a_pending_review_is_decided_before_it_is_redacted(face_settings: Any) -> None:
    review = pending("not-yet")
    with pytest.raises(IllegalTransition):
        services.redact_documents(review)
    assert DocumentReview.objects.get(pk=review.pk).has_documents


def test_rotation_lets_the_old_key_go(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    face = dict(django_settings.FACE_IDCARD)
    with override_settings(FACE_IDCARD={**face, "PII_ENCRYPTION_KEYS": [old_key]}):
        review = pending("rotated")
    before = [review.front_name, review.back_name]
    with override_settings(FACE_IDCARD={**face, "PII_ENCRYPTION_KEYS": [new_key, old_key]}):
        assert services.rotate_keys()["document_reviews"] == 1
    with override_settings(FACE_IDCARD={**face, "PII_ENCRYPTION_KEYS": [new_key]}):
        review.refresh_from_db()
        assert not any(exists(name) for name in before)
        viewer = user_with("rotation-viewer", "view_pii")
        number, name = services.reveal_documents(review, viewer=viewer)
        assert (number, name) == (magic.MATCH, "张三")
        front, _ = _documents.read_document(review, "front", viewer=viewer)
        back, _ = _documents.read_document(review, "back", viewer=viewer)
        assert front.startswith(b"\xff\xd8") and back.startswith(b"\x89PNG")


def test_the_sides_cannot_be_swapped(face_settings: Any) -> None:
    review = pending("swapped")
    DocumentReview.objects.filter(pk=review.pk).update(
        front_name=review.back_name, back_name=review.front_name
    )
    review.refresh_from_db()
    viewer = user_with("swap-viewer", "view_pii")
    with pytest.raises(Exception, match="cannot be decrypted"):
        _documents.read_document(review, "front", viewer=viewer)


@pytest.mark.parametrize(
    ("value", "fires"),
    [
        ([], {"face_idcard.W052"}),
        (["document_review"], set()),
        (["sms"], {"face_idcard.E052", "face_idcard.W052"}),
    ],
)
def test_the_system_check(value: list[str], fires: set[str]) -> None:
    found = check_ids(NON_FACE_ALTERNATIVES=value) & {"face_idcard.W052", "face_idcard.E052"}
    assert found == fires
