"""The lifecycle table and the conditional UPDATE behind every status change."""

from __future__ import annotations

import pytest
from django.utils import timezone

from face_idcard.models import VerificationAttempt
from face_idcard.states import (
    ALLOWED,
    TERMINAL,
    ConcurrentTransition,
    IllegalTransition,
    Status,
    can_transition,
    transition,
)


def make_attempt(status: str = Status.QUEUED) -> VerificationAttempt:
    return VerificationAttempt.objects.create(
        backend="simulator", consent_at=timezone.now(), status=status
    )


def test_terminal_states_have_no_exit() -> None:
    for status in TERMINAL:
        assert ALLOWED[status] == frozenset()
        for target in Status.values():
            assert not can_transition(status, target)


def test_table_covers_every_status() -> None:
    assert set(ALLOWED) == set(Status.values())


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.QUEUED, Status.COMPLETED),
        (Status.QUEUED, Status.FAILED),
        (Status.PROCESSING, Status.CANCELED),
        (Status.COMPLETED, Status.QUEUED),
        (Status.FAILED, Status.PROCESSING),
        (Status.CANCELED, Status.QUEUED),
        (Status.REJECTED, Status.COMPLETED),
    ],
)
@pytest.mark.django_db
def test_illegal_transitions_raise_and_write_nothing(current: str, target: str) -> None:
    attempt = make_attempt(current)
    with pytest.raises(IllegalTransition):
        transition(attempt, target)
    attempt.refresh_from_db()
    assert attempt.status == current


@pytest.mark.django_db
def test_legal_transition_writes_fields() -> None:
    attempt = make_attempt()
    now = timezone.now()
    transition(attempt, Status.PROCESSING, started_at=now)
    attempt.refresh_from_db()
    assert attempt.status == Status.PROCESSING
    assert attempt.started_at == now


@pytest.mark.django_db
def test_stale_instance_loses_the_race() -> None:
    attempt = make_attempt()
    other_copy = VerificationAttempt.objects.get(pk=attempt.pk)
    transition(attempt, Status.CANCELED)
    # The other copy still believes the attempt is queued; its UPDATE matches nothing.
    with pytest.raises(ConcurrentTransition):
        transition(other_copy, Status.PROCESSING)
    attempt.refresh_from_db()
    assert attempt.status == Status.CANCELED


@pytest.mark.django_db
def test_claim_token_must_match() -> None:
    import uuid

    token = uuid.uuid4()
    attempt = make_attempt(Status.PROCESSING)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(claim_token=token)
    with pytest.raises(ConcurrentTransition):
        transition(attempt, Status.COMPLETED, expected_claim_token=uuid.uuid4())
    transition(attempt, Status.COMPLETED, expected_claim_token=token)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED
