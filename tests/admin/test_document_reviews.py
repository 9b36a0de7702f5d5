"""The document reviews in the review console: the list and page show masks only; revealing
the number, name and both photos takes view_pii and a purpose, and is audited once (loading the
photos behind the links is not audited again, and the links are the viewer's alone); approving
and rejecting take the review permission, a reason without personal data, never one's own
review, and land in the staff trail; erasure and legal holds take redact; a withdrawal by staff
for a person (from one of their attempts) covers their document reviews too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.storage import storages
from django.test import Client
from django.utils import timezone

from face_idcard import services
from face_idcard.models import DocumentReview, StaffAuditEvent
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.admin_helpers import NAME, action, finished
from tests.support.admin_helpers import client_for as staff_client

pytestmark = pytest.mark.django_db

LIST = "/admin/face_idcard/documentreview/"
FRONT = imagefactory.jpeg(640, 400)
BACK = imagefactory.jpeg(600, 380)


def pending(username: str = "card-person", number: str = magic.MATCH) -> DocumentReview:
    user = get_user_model().objects.create(username=username)
    return services.submit_documents(
        idcard_number=number,
        idcard_name=NAME,
        front=FRONT,
        back=BACK,
        user=user,
        consent_at=timezone.now(),
    )


def page(review: DocumentReview) -> str:
    return f"{LIST}{review.pk}/change/"


def kinds(review: DocumentReview) -> list[str]:
    return [e.kind for e in StaffAuditEvent.objects.filter(document_review=review)]


def test_the_list_and_the_page_show_masks_only(face_settings: Any) -> None:
    review = pending()
    client, _ = staff_client("doc-viewer", "view_documentreview")
    listing = client.get(LIST)
    assert listing.status_code == 200
    assert review.idcard_number_masked in listing.content.decode()
    shown = client.get(page(review))
    text = shown.content.decode()
    assert shown.status_code == 200 and shown["Cache-Control"].startswith("no-store")
    assert magic.MATCH not in text and NAME not in text
    assert "Record the decision" not in text  # no review permission
    assert client.post(page(review), {"purpose": "review"}).status_code == 403
    assert client.post(page(review), {"decision": "approve", "reason": "ok"}).status_code == 403
    assert DocumentReview.objects.get(pk=review.pk).status == "pending"
    nobody, _ = staff_client("doc-nobody")
    assert nobody.get(page(review)).status_code == 403


def test_reveal_approve_and_the_trail(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    face_settings(SELFIE_RETENTION_DAYS=0)
    review = pending()
    client, staff = staff_client("doc-reviewer", "view_documentreview", "view_pii", "review")
    revealed = client.post(page(review), {"purpose": "review"})
    text = revealed.content.decode()
    assert revealed.status_code == 200
    assert magic.MATCH in text and NAME in text
    links = re.findall(r'src="(/admin/face_idcard/documentreview/photo/[^"]+)"', text)
    assert len(links) == 2
    photo = client.get(links[0])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert photo.content.startswith(b"\xff\xd8")
    assert photo["Cache-Control"].startswith("no-store")
    assert kinds(review) == ["documents_submitted", "documents_viewed"]  # the GET wrote nothing
    viewed = StaffAuditEvent.objects.get(document_review=review, kind="documents_viewed")
    assert viewed.actor == staff and viewed.data["purpose"] == "review"
    # Another user's session cannot use the link.
    other, _ = staff_client("doc-other", "view_documentreview", "view_pii")
    assert other.get(links[0]).status_code == 403
    assert Client().get(links[0]).status_code == 302  # to the login

    refused = client.post(page(review), {"decision": "approve", "reason": f"matches {magic.MATCH}"})
    assert refused.status_code == 400 and "must not contain" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(page(review), {"decision": "approve", "reason": "card genuine"})
    assert done.status_code == 302
    review.refresh_from_db()
    assert review.status == "approved" and review.reviewer == staff
    assert not review.has_documents  # gone with the decision (SELFIE_RETENTION_DAYS 0)
    assert kinds(review) == [
        "documents_submitted",
        "documents_viewed",
        "documents_decided",
        "documents_erased",
    ]
    decided = StaffAuditEvent.objects.get(document_review=review, kind="documents_decided")
    assert decided.actor == staff
    assert decided.data == {"decision": "approved", "reason": "card genuine"}
    assert client.get(links[0]).status_code == 404  # erased
    again = client.post(page(review), {"decision": "reject", "reason": "second thoughts"})
    assert again.status_code == 403  # no longer pending: the form is not offered


def test_reject_and_never_ones_own(face_settings: Any) -> None:
    review = pending("doc-self")
    own_user = review.user
    assert own_user is not None
    own_user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="face_idcard",
            codename__in=["view_documentreview", "review"],
        )
    )
    own_user.is_staff = True
    own_user.save()
    own = Client()
    own.force_login(get_user_model().objects.get(pk=own_user.pk))
    assert own.post(page(review), {"decision": "approve", "reason": "me"}).status_code == 403
    client, _ = staff_client("doc-rejecter", "view_documentreview", "review")
    answer = client.post(page(review), {"decision": "reject", "reason": "photo blurred"})
    assert answer.status_code == 302
    review.refresh_from_db()
    assert review.status == "rejected" and review.review_reason == "photo blurred"
    assert review.has_documents  # the suite keeps selfies (and documents) 7 days


def test_erase_and_legal_hold_take_redact(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    review = pending()
    reviewer, _ = staff_client("doc-decider", "view_documentreview", "review")
    reviewer.post(page(review), {"decision": "reject", "reason": "expired card"})
    assert reviewer.post(page(review), {"erase": "1"}).status_code == 403
    client, _ = staff_client("doc-eraser", "view_documentreview", "redact")
    client.post(page(review), {"hold": "on", "reason": "x" * 501})
    assert not DocumentReview.objects.get(pk=review.pk).legal_hold  # refused: too long
    client.post(page(review), {"hold": "on", "reason": "complaint 12"})
    review.refresh_from_db()
    assert review.legal_hold
    client.post(page(review), {"erase": "1"})
    review.refresh_from_db()
    assert review.has_documents  # held
    client.post(page(review), {"hold": "off"})
    names = [review.front_name, review.back_name]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(page(review), {"erase": "1"})
    review.refresh_from_db()
    assert not review.has_pii and review.redacted_at and review.idcard_hash == ""
    assert not any(storages["face_idcard"].exists(name) for name in names)


def test_a_staff_withdrawal_from_an_attempt_covers_the_persons_reviews(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    review = pending("doc-withdrawer", number=magic.MATCH)
    attempt = finished(magic.MATCH, user=get_user_model().objects.create(username="app-acct"))
    stranger = pending("doc-stranger", number=magic.NO_MATCH)
    client, _ = staff_client("doc-withdrawal-staff", "view_verificationattempt", "redact")
    with django_capture_on_commit_callbacks(execute=True):
        action(client, "withdraw_consent", attempt, confirm="yes")
    review.refresh_from_db()
    stranger.refresh_from_db()
    assert review.status == "withdrawn" and not review.has_pii
    assert stranger.has_documents and stranger.status == "pending"
