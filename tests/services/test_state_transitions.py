"""The lifecycle as a table of every (current, target) pair (issue 17).

The expected moves are written out here, from the lifecycle the README documents, rather than
derived from ``ALLOWED``: a test that loops over the implementation's own sets cannot notice a
member missing from them.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from face_idcard import _audit as audit
from face_idcard.exceptions import ConcurrentTransition, IllegalTransition
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.states import (
    CLAIMABLE,
    TERMINAL,
    Status,
    can_transition,
    check_transition,
    is_terminal,
    transition,
    transition_with_events,
)
from tests.support.factories import make_attempt

EXPECTED_MOVES: dict[str, set[str]] = {
    "queued": {"processing", "canceled"},
    "retry_wait": {"processing", "canceled"},
    # queued: the sweeper takes an attempt back after its claim lease expired.
    "processing": {"completed", "rejected", "failed", "retry_wait", "queued"},
    "completed": set(),
    "rejected": set(),
    "failed": set(),
    "canceled": set(),
}
EXPECTED_TERMINAL = {"completed", "rejected", "failed", "canceled"}
EXPECTED_CLAIMABLE = {"queued", "retry_wait"}
PAIRS = list(itertools.product(EXPECTED_MOVES, EXPECTED_MOVES))


def test_the_table_names_every_status() -> None:
    assert set(EXPECTED_MOVES) == set(Status.values())


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_every_pair_is_allowed_or_refused_as_the_lifecycle_says(current: str, target: str) -> None:
    allowed = target in EXPECTED_MOVES[current]
    assert can_transition(current, target) is allowed
    assert can_transition(Status(current), Status(target)) is allowed
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


@pytest.mark.parametrize("status", list(EXPECTED_MOVES))
def test_terminal_and_claimable_states(status: str) -> None:
    assert is_terminal(status) is (status in EXPECTED_TERMINAL)
    assert is_terminal(Status(status)) is (status in EXPECTED_TERMINAL)
    assert (status in TERMINAL) is (status in EXPECTED_TERMINAL)
    assert (status in CLAIMABLE) is (status in EXPECTED_CLAIMABLE)


def test_an_unknown_status_goes_nowhere() -> None:
    assert not can_transition("nonsense", "processing")
    assert not is_terminal("nonsense")


@pytest.mark.django_db
def test_transition_updates_the_instance_it_was_given() -> None:
    attempt = make_attempt(status="queued")
    transition(attempt, Status.PROCESSING, provider_calls=3, retry_count=2)
    # Not refreshed: the caller keeps using this instance.
    assert (attempt.status, attempt.provider_calls, attempt.retry_count) == ("processing", 3, 2)
    assert type(attempt.status) is str


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("current", "target"), [("processing", "canceled"), ("queued", "completed")]
)
def test_an_illegal_move_with_events_writes_nothing(current: str, target: str) -> None:
    attempt = make_attempt(status=current)
    events = [audit.event(attempt, EventKind.PROVIDER_CALL, code="0")]
    with pytest.raises(IllegalTransition):
        transition_with_events(attempt, target, events, provider_calls=9)
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert (stored.status, stored.provider_calls) == (current, 0)
    assert AttemptEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("count", [0, 1, 3])
def test_transition_with_any_number_of_events(count: int) -> None:
    attempt = make_attempt(status="processing")
    events = [audit.event(attempt, EventKind.PROVIDER_CALL, code=str(i)) for i in range(count)]
    transition_with_events(attempt, Status.COMPLETED, events, provider_calls=count + 1)
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert (stored.status, stored.provider_calls) == ("completed", count + 1)
    assert (attempt.status, attempt.provider_calls) == ("completed", count + 1)
    codes = list(
        AttemptEvent.objects.filter(attempt=attempt).order_by("id").values_list("data", flat=True)
    )
    assert codes == [{"code": str(i)} for i in range(count)]


@pytest.mark.django_db
def test_transition_with_events_and_an_expression_field() -> None:
    from django.db.models import F

    attempt = make_attempt(status="processing")
    events = [audit.event(attempt, EventKind.PROVIDER_CALL, code="0")]
    transition_with_events(attempt, Status.RETRY_WAIT, events, retry_count=F("retry_count") + 1)
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert (stored.status, stored.retry_count) == ("retry_wait", 1)
    assert AttemptEvent.objects.filter(attempt=attempt).count() == 1


@pytest.mark.django_db
def test_transition_with_events_loses_a_race_without_writing() -> None:
    attempt = make_attempt(status="processing")
    VerificationAttempt.objects.filter(pk=attempt.pk).update(status="queued")
    events = [audit.event(attempt, EventKind.PROVIDER_CALL, code="0")]
    with pytest.raises(ConcurrentTransition):
        transition_with_events(attempt, Status.COMPLETED, events)
    with pytest.raises(ConcurrentTransition):
        transition_with_events(attempt, Status.COMPLETED, events, expected_claim_token=uuid.uuid4())
    assert AttemptEvent.objects.count() == 0
    assert attempt.status == "processing"


@pytest.mark.django_db
def test_a_move_with_events_is_the_update_and_one_insert_at_most() -> None:
    """The pipeline's hot path: the conditional UPDATE and one INSERT of the events, in a
    transaction (its control statements aside)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    attempt = make_attempt(status="processing")
    events = [audit.event(attempt, EventKind.PROVIDER_CALL, code="0")]
    with CaptureQueriesContext(connection) as queries:
        transition_with_events(attempt, Status.COMPLETED, events, provider_calls=1)
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
    statements = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith(control)]
    assert len(statements) <= 2, statements
    assert statements[0].lstrip().upper().startswith("UPDATE")
    assert type(attempt.status) is str
    assert AttemptEvent.objects.filter(attempt=attempt).count() == 1
