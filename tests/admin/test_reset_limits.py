"""The admin's "reset the daily limits for this person" (issue 28, item 7): support staff
with ``face_idcard.reset_limits`` restart the limits of a locked-out person's ID number
from an attempt of it, after a confirmation page; every reset is audited (who, when, on
which attempt); without the permission the action is neither offered nor performed."""

from __future__ import annotations

from typing import Any

import pytest

from face_idcard.exceptions import AttemptLimitExceeded
from face_idcard.models import AttemptEvent, EventKind, LimitEvent, LimitEventKind
from tests.support.admin_helpers import action, change_url, client_for
from tests.support.api_helpers import plain_user
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db


def locked_out(face_settings: Any) -> tuple[Any, Any]:
    """A throwaway account used the number's only account slot; the person is refused."""
    face_settings(MAX_ACCOUNTS_PER_ID_PER_DAY=1)
    throwaway = submit_attempt(user=plain_user("throwaway"), enqueue=False)
    victim = plain_user("victim")
    with pytest.raises(AttemptLimitExceeded):
        submit_attempt(user=victim, enqueue=False)
    return victim, throwaway


def test_support_staff_reset_a_persons_limits(face_settings: Any) -> None:
    victim, attempt = locked_out(face_settings)
    client, support = client_for("support", "view_verificationattempt", "reset_limits")
    page = action(client, "reset_limits", attempt)
    assert page.status_code == 200
    assert "Attempts concerned: 1" in page.content.decode()
    assert not LimitEvent.objects.filter(kind=LimitEventKind.LIMITS_RESET.value).exists()

    done = action(client, "reset_limits", attempt, confirm="yes")
    assert done.status_code == 302
    reset = LimitEvent.objects.get(kind=LimitEventKind.LIMITS_RESET.value)
    assert reset.actor_id == support.pk and reset.idcard_hash == attempt.idcard_hash
    audited = AttemptEvent.objects.get(kind=EventKind.LIMITS_RESET)
    assert audited.attempt_id == attempt.pk and audited.actor_id == support.pk
    # The person verifies now.
    submit_attempt(user=victim, enqueue=False)


def test_the_reset_is_offered_on_the_attempts_page_to_holders_only(face_settings: Any) -> None:
    _victim, attempt = locked_out(face_settings)
    holder, _ = client_for("support", "view_verificationattempt", "reset_limits")
    assert 'data-action="reset_limits"' in holder.get(change_url(attempt)).content.decode()
    viewer, _ = client_for("viewer", "view_verificationattempt", "view_pii", "review")
    assert 'data-action="reset_limits"' not in viewer.get(change_url(attempt)).content.decode()


def test_without_the_permission_nothing_is_reset(face_settings: Any) -> None:
    victim, attempt = locked_out(face_settings)
    client, _ = client_for("viewer", "view_verificationattempt", "view_pii", "review", "redact")
    response = action(client, "reset_limits", attempt, confirm="yes")
    assert response.status_code in (200, 302)
    assert not LimitEvent.objects.filter(kind=LimitEventKind.LIMITS_RESET.value).exists()
    assert not AttemptEvent.objects.filter(kind=EventKind.LIMITS_RESET).exists()
    with pytest.raises(AttemptLimitExceeded):
        submit_attempt(user=victim, enqueue=False)
