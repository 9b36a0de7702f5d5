"""Bulk admin actions that call the provider or decide for a person (re-run, approve, reject)
take at most one page of attempts, chosen on the page: a larger selection, or "select all"
across the list, is refused with a message before the confirmation page, nothing done."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from face_idcard.admin.actions import BULK_CAP
from face_idcard.models import AttemptEvent, VerificationAttempt
from face_idcard.states import Decision, Status
from tests.support.admin_helpers import ALL, CHANGELIST, client_for

pytestmark = pytest.mark.django_db

CAPPED = ["approve", "reject", "rerun"]


def review_band(count: int) -> list[VerificationAttempt]:
    """Completed review-band rows without personal information (no provider call needed:
    the refusal comes before any service is asked)."""
    now = timezone.now()
    created: list[VerificationAttempt] = VerificationAttempt.objects.bulk_create(
        VerificationAttempt(
            backend="simulator",
            consent_at=now,
            status=Status.COMPLETED.value,
            decision=Decision.REVIEW.value,
            finished_at=now,
        )
        for _ in range(count)
    )
    return created


def post_action(client: Any, name: str, attempts: list[VerificationAttempt], **extra: str) -> Any:
    data: dict[str, Any] = {
        "action": name,
        "_selected_action": [str(a.pk) for a in attempts],
        "reason": "checked",
        **extra,
    }
    return client.post(CHANGELIST, data, follow=True)


def test_the_cap_is_one_page_of_the_list() -> None:
    from face_idcard.admin.attempts import VerificationAttemptAdmin

    assert BULK_CAP == VerificationAttemptAdmin.list_per_page == 100


@pytest.mark.parametrize("name", CAPPED)
@pytest.mark.parametrize("confirm", ["", "yes"])
def test_more_than_the_cap_is_refused(face_settings: Any, name: str, confirm: str) -> None:
    attempts = review_band(BULK_CAP + 1)
    client, _ = client_for(f"bulk-{name}", *ALL)
    response = post_action(client, name, attempts, **({"confirm": confirm} if confirm else {}))
    html = response.content.decode()
    assert f"Select at most {BULK_CAP} attempts" in html
    assert "Attempts concerned" not in html  # no confirmation page
    assert not VerificationAttempt.objects.filter(reviewed_at__isnull=False).exists()
    assert not VerificationAttempt.objects.filter(rerun_of__isnull=False).exists()
    assert not AttemptEvent.objects.exists()


@pytest.mark.parametrize("name", CAPPED)
def test_select_all_across_the_list_is_refused(face_settings: Any, name: str) -> None:
    attempts = review_band(2)
    client, _ = client_for(f"across-{name}", *ALL)
    response = post_action(client, name, attempts, select_across="1")
    assert f"Select at most {BULK_CAP} attempts" in response.content.decode()
    assert not AttemptEvent.objects.exists()


@pytest.mark.parametrize("name", CAPPED)
def test_a_full_page_reaches_the_confirmation(face_settings: Any, name: str) -> None:
    attempts = review_band(BULK_CAP)
    client, _ = client_for(f"page-{name}", *ALL)
    response = client.post(
        CHANGELIST, {"action": name, "_selected_action": [str(a.pk) for a in attempts]}
    )
    assert response.status_code == 200
    assert f"Attempts concerned: {BULK_CAP}" in response.content.decode()


def test_the_refusal_is_translated(face_settings: Any) -> None:
    attempts = review_band(BULK_CAP + 1)
    client, _ = client_for("bulk-chinese", *ALL)
    data = {"action": "approve", "_selected_action": [str(a.pk) for a in attempts]}
    html = client.post(CHANGELIST, data, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans").content
    assert f"最多选择 {BULK_CAP} 条".encode() in html
