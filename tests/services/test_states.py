"""The lifecycle table and the conditional UPDATE behind every status change."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from face_idcard.exceptions import ConcurrentTransition, IllegalTransition
from face_idcard.models import VerificationAttempt
from face_idcard.states import ALLOWED, TERMINAL, Status, can_transition, transition
from tests.support.factories import make_attempt


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
    attempt = make_attempt(status=current)
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
    attempt = make_attempt(status=Status.PROCESSING)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(claim_token=token)
    with pytest.raises(ConcurrentTransition):
        transition(attempt, Status.COMPLETED, expected_claim_token=uuid.uuid4())
    transition(attempt, Status.COMPLETED, expected_claim_token=token)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED


@pytest.mark.django_db
def test_transition_with_events_writes_both_or_neither() -> None:
    from django.contrib.auth import get_user_model

    from face_idcard import _audit as audit
    from face_idcard.models import AttemptEvent, EventKind
    from face_idcard.states import transition_with_events

    staff = get_user_model().objects.create_user("events")
    token = uuid.uuid4()
    attempt = make_attempt(status=Status.PROCESSING)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(claim_token=token)
    events = [
        audit.event(attempt, EventKind.PROVIDER_CALL, code="0", latency_ms=1.5, billable=None),
        audit.event(attempt, EventKind.DECIDED, actor=staff, decision="match", nested={"a": [1]}),
    ]
    # Wrong token: nothing is written.
    with pytest.raises(ConcurrentTransition):
        transition_with_events(
            attempt, Status.COMPLETED, events, expected_claim_token=uuid.uuid4(), similarity=1.0
        )
    assert AttemptEvent.objects.count() == 0
    assert VerificationAttempt.objects.get(pk=attempt.pk).status == Status.PROCESSING
    # Illegal: refused before the database.
    with pytest.raises(IllegalTransition):
        transition_with_events(attempt, Status.CANCELED, events, expected_claim_token=token)

    transition_with_events(
        attempt,
        Status.COMPLETED,
        events,
        expected_claim_token=token,
        similarity=88.5,
        raw_response={"code": 0, "data": {"similarity": 88.5}},
        claim_token=None,
    )
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert (stored.status, stored.similarity, stored.claim_token) == (Status.COMPLETED, 88.5, None)
    assert stored.raw_response == {"code": 0, "data": {"similarity": 88.5}}
    assert attempt.status == Status.COMPLETED
    rows = list(AttemptEvent.objects.filter(attempt=attempt).order_by("id"))
    assert [(r.kind, r.actor_id, r.data) for r in rows] == [
        ("provider_call", None, {"code": "0", "latency_ms": 1.5, "billable": None}),
        ("decided", staff.pk, {"decision": "match", "nested": {"a": [1]}}),
    ]
    assert rows[0].created_at == events[0].created_at


def test_the_lifecycle_exceptions_are_imported_from_their_one_home() -> None:
    """``states`` raises them but does not re-export them: code, tests and benchmarks import
    them from ``face_idcard.exceptions`` (mypy's strict mode checks the package; this checks
    the rest)."""
    import ast

    from tests.support.paths import REPO_ROOT

    found = []
    for folder in ("face_idcard", "tests", "bench", "example_project"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.ImportFrom)
                    and (node.module or "").split(".")[-1] == "states"
                    and {alias.name for alias in node.names}
                    & {"ConcurrentTransition", "IllegalTransition"}
                ):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert found == []
