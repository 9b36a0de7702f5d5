"""The app's permissions: defined on the model, checked by every service that needs one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from face_idcard import permissions, services
from face_idcard.exceptions import LegalHoldActive, PermissionRequired
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support import imagefactory
from tests.support.factories import finished_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

IMAGE = imagefactory.jpeg(320, 240)


def completed(**kwargs: Any) -> VerificationAttempt:
    attempt = finished_attempt(magic.MATCH, image=IMAGE, **kwargs)
    assert attempt.status == Status.COMPLETED
    return attempt


def test_the_permissions_are_defined_on_the_model() -> None:
    codenames = set(
        Permission.objects.filter(content_type__app_label="face_idcard").values_list(
            "codename", flat=True
        )
    )
    assert {"view_pii", "review", "rerun", "redact", "export_audit"} <= codenames
    assert permissions.full_name(permissions.VIEW_PII) == "face_idcard.view_pii"


def test_reveal_pii_needs_view_pii_and_records_every_view(face_settings: Any) -> None:
    attempt = completed()
    staff = user_with("staff-no-perms")  # is_staff alone is not enough
    with pytest.raises(PermissionRequired) as raised:
        services.reveal_pii(attempt, viewer=staff)
    assert raised.value.permission == "face_idcard.view_pii"
    assert magic.MATCH not in str(raised.value)
    assert not attempt.events.filter(kind=EventKind.PII_VIEWED.value).exists()

    viewer = user_with("dpo-viewer", "view_pii")
    for _ in range(2):
        assert services.reveal_pii(attempt, viewer=viewer) == (magic.MATCH, "张三")
    views = attempt.events.filter(kind=EventKind.PII_VIEWED.value)
    assert [event.actor for event in views] == [viewer, viewer]


def test_an_inactive_user_or_a_superuser(face_settings: Any) -> None:
    attempt = completed()
    inactive = user_with("gone", "view_pii")
    inactive.is_active = False
    with pytest.raises(PermissionRequired):
        services.reveal_pii(attempt, viewer=inactive)
    root = get_user_model().objects.create_superuser("root", password="x")
    assert services.reveal_pii(attempt, viewer=root)[0] == magic.MATCH


def test_review_needs_the_review_permission(face_settings: Any) -> None:
    attempt = completed()
    with pytest.raises(PermissionRequired):
        services.review(
            attempt, reviewer=user_with("viewer-only", "view_pii"), decision="match", reason="ok"
        )
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None
    reviewer = user_with("reviewer-ok", "review")
    services.review(attempt, reviewer=reviewer, decision="match", reason="ok")
    assert attempt.reviewer == reviewer


def test_redact_and_legal_hold_need_redact(face_settings: Any) -> None:
    attempt = completed()
    with pytest.raises(PermissionRequired):
        services.redact(attempt, actor=user_with("reviewer-r", "review"))
    with pytest.raises(PermissionRequired):
        services.set_legal_hold(attempt, hold=True, actor=user_with("reviewer-r", "review"))
    attempt.refresh_from_db()
    assert attempt.has_pii and not attempt.legal_hold

    officer = user_with("officer", "redact")
    services.set_legal_hold(attempt, hold=True, actor=officer, reason="court order 12")
    attempt.refresh_from_db()
    assert attempt.legal_hold
    with pytest.raises(LegalHoldActive):
        services.redact(attempt, actor=officer)
    services.set_legal_hold(attempt, hold=False, actor=officer)
    services.redact(attempt, actor=officer)
    attempt.refresh_from_db()
    assert not attempt.has_pii
    kinds = list(attempt.events.values_list("kind", "actor"))
    assert (EventKind.LEGAL_HOLD_SET.value, officer.pk) in kinds
    assert (EventKind.LEGAL_HOLD_RELEASED.value, officer.pk) in kinds
    assert (EventKind.REDACTED.value, officer.pk) in kinds


def test_the_host_sites_own_code_acts_as_system(face_settings: Any) -> None:
    """``actor=None``: allowed (a task, a command, a view that checked), audited as system."""
    attempt = completed()
    services.redact(attempt)
    event = attempt.events.get(kind=EventKind.REDACTED.value)
    assert event.actor is None and event.data["by"] == "system"


def test_cancel_by_the_owner_or_a_reviewer_only(face_settings: Any) -> None:
    owner = user_with("owner", is_staff=False)
    queued = services.submit(
        idcard_number=magic.MATCH,
        idcard_name="张三",
        image=IMAGE,
        consent_at=timezone.now(),
        enqueue=False,
        user=owner,
    )
    with pytest.raises(PermissionRequired):
        services.cancel(queued, actor=user_with("someone-else", is_staff=False))
    services.cancel(queued, actor=owner)
    queued.refresh_from_db()
    assert queued.status == Status.CANCELED
    other = services.submit(
        idcard_number=magic.NO_MATCH,
        idcard_name="张三",
        image=IMAGE,
        consent_at=timezone.now() - timedelta(minutes=1),
        enqueue=False,
    )
    services.cancel(other, actor=user_with("desk", "review"))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_api_refuses_a_review_of_ones_own_attempt(face_settings: Any, language: str) -> None:
    from tests.support.api_helpers import BASE, client_for

    reviewer = user_with("api-self-reviewer", permissions.REVIEW)
    attempt = completed(user=reviewer)
    response = client_for(reviewer).post(
        f"{BASE}{attempt.pk}/review/",
        {"decision": "match", "reason": "it is me"},
        format="json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "self_review"
    assert (
        error["message"]
        == {
            "en": "You cannot review your own verification.",
            "zh-hans": "您不能复核自己的核验。",
        }[language]
    )
    attempt.refresh_from_db()
    assert attempt.reviewed_at is None
