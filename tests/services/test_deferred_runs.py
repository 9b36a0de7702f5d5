"""The pipeline at scale (issue 10): places in line under the rate limit instead of polling
(issue 27: a late holder loses nothing and wastes no slot), parking far turns in the database, the sweeper telling a deferred attempt from a lost one, and late results.

``pipeline.run`` is called directly on a simulated clock (time-machine), against the simulator
over real HTTP; no sleeps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.core.cache import caches
from django.utils import timezone

from face_idcard import _ratelimit as ratelimit
from face_idcard import services
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.services._claim import claim
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support import imagefactory
from tests.support.celery_app import ledger_calls
from tests.support.clocks import frozen_clock
from tests.support.dispatchers import RecordingDispatcher
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = imagefactory.jpeg(320, 240)
LIMIT = 20
# An instant of its own, so the slot counts of other tests never meet these.
EPOCH = datetime(2031, 5, 4, 3, 2, 1, tzinfo=dt_timezone.utc)


@pytest.fixture
def limited(settings: Any, face_settings: Callable[..., None]) -> Callable[..., None]:
    settings.CACHES = {
        **settings.CACHES,
        "scale_unit": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "scale_unit",
        },
    }

    def apply(**more: Any) -> None:
        face_settings(RATE_LIMIT_PER_SECOND=LIMIT, RATE_LIMIT_CACHE="scale_unit", **more)

    apply()
    caches["scale_unit"].clear()  # every test starts with no slot taken at EPOCH
    return apply


@pytest.fixture
def clock() -> Iterator[Any]:
    with frozen_clock(EPOCH) as traveller:
        yield traveller


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    messages: list[dict[str, Any]] = []

    def capture(sender: Any = None, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        messages.append({"args": body[0] if body else (), "eta": (headers or {}).get("eta")})

    before_task_publish.connect(capture, weak=False)
    yield messages
    before_task_publish.disconnect(capture)


submit = functools.partial(submit_attempt, idcard_name="赵六", enqueue=False)


def fill_current_slot(alias: str) -> None:
    while ratelimit.acquire(limit=LIMIT, scope=alias).allowed:
        pass


def test_a_limited_attempt_takes_a_place_in_line_and_is_admitted_when_it_comes(
    limited: Any, clock: Any, simulator: Any
) -> None:
    attempt = submit()
    fill_current_slot(attempt.backend)
    outcome = pipeline.run(attempt.pk)
    assert outcome.action == "defer"
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    # The claim was given back, its turn is on the row, the countdown lands on it.
    assert row.status == Status.QUEUED
    assert row.claim_token is None
    assert row.provider_calls == 0
    assert row.next_attempt_at is not None
    # A place in line, not a slot of the quota: it admits nothing by itself.
    assert row.slot_ends_at is None
    arrival = timezone.now() + timedelta(seconds=outcome.countdown)
    assert row.next_attempt_at <= arrival
    clock.move_to(arrival)
    assert pipeline.run(attempt.pk).status == Status.COMPLETED.value
    assert len(ledger_calls(simulator, attempt.pk)) == 1


def test_a_place_in_line_counts_nothing_against_the_quota(limited: Any, clock: Any) -> None:
    """Only a call (or a slot reserved within the in-process wait) counts: a line of a
    hundred leaves every coming slot to whoever arrives first."""
    attempts = [submit() for _ in range(3)]
    fill_current_slot(attempts[0].backend)
    for attempt in attempts:
        assert pipeline.run(attempt.pk).action == "defer"
    plan = ratelimit.schedule(LIMIT, ratelimit.span_seconds())
    now = timezone.now().timestamp()
    for _ in range(100):
        ratelimit.ticket(now, limit=LIMIT, scope=attempts[0].backend)
    rows = VerificationAttempt.objects.filter(pk__in=[a.pk for a in attempts])
    last_turn = max(row.next_attempt_at for row in rows)
    clock.move_to(last_turn)
    assert ratelimit.available(limit=LIMIT, scope=attempts[0].backend)
    # The next open slot admits its full capacity to newcomers: nothing was counted in it.
    index = ratelimit._next_open(plan, int(timezone.now().timestamp() // plan.slot) + 1)
    clock.move_to(datetime.fromtimestamp(index * plan.slot + 1e-4, tz=dt_timezone.utc))
    admitted = [ratelimit.acquire(limit=LIMIT, scope=attempts[0].backend).allowed for _ in range(9)]
    assert admitted.count(True) == plan.capacity


def test_a_holder_arriving_late_takes_the_current_slot_if_it_has_room(
    limited: Any, clock: Any, simulator: Any
) -> None:
    """A run that comes after its turn (a busy worker pool, a broker timer a second late)
    loses nothing: it calls in whichever slot is current, rather than going to the back of
    the line (under a backlog of 700 that was 70 s, and the missed slot went unused)."""
    attempt = submit()
    fill_current_slot(attempt.backend)
    pipeline.run(attempt.pk)
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.next_attempt_at is not None
    # Others took places in line behind it: a long backlog.
    for _ in range(700):
        ratelimit.ticket(limit=LIMIT, scope=attempt.backend)
    plan = ratelimit.schedule(LIMIT, ratelimit.span_seconds())
    # Late by half a second, into an open slot nobody has used.
    late = row.next_attempt_at.timestamp() + 0.5
    index = ratelimit._next_open(plan, int(late // plan.slot))
    clock.move_to(datetime.fromtimestamp(index * plan.slot + 1e-4, tz=dt_timezone.utc))
    assert pipeline.run(attempt.pk).status == Status.COMPLETED.value
    assert len(ledger_calls(simulator, attempt.pk)) == 1


def test_a_holder_arriving_late_into_a_full_slot_takes_a_new_turn(limited: Any, clock: Any) -> None:
    attempt = submit()
    fill_current_slot(attempt.backend)
    first = pipeline.run(attempt.pk)
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.next_attempt_at is not None
    # Late (a busy worker): past its turn, into a slot someone else has filled.
    clock.move_to(row.next_attempt_at + timedelta(milliseconds=200))
    fill_current_slot(attempt.backend)
    again = pipeline.run(attempt.pk)
    assert first.action == again.action == "defer"
    later = VerificationAttempt.objects.get(pk=attempt.pk)
    assert later.next_attempt_at is not None
    assert later.next_attempt_at > timezone.now()
    assert later.provider_calls == 0


def test_a_far_slot_is_parked_and_published_once_by_the_sweeper(
    limited: Any, clock: Any, simulator: Any, dispatched: RecordingDispatcher
) -> None:
    limited(BROKER_MAX_COUNTDOWN_SECONDS=0)
    # Recorded, not sent: a Celery worker left running by another module must not race us.
    sent = dispatched.sent
    attempt = submit()
    fill_current_slot(attempt.backend)
    outcome = pipeline.run(attempt.pk)
    assert not outcome.again  # no message: parked
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.parked and row.next_attempt_at is not None
    assert services.sweep()["parked_published"] == 0  # not yet within reach
    assert services.sweep(row.next_attempt_at)["parked_published"] == 1
    assert services.sweep(row.next_attempt_at)["parked_published"] == 0  # once
    assert [args[0] for args in sent] == [attempt.pk]
    assert sent[0][1] is not None and sent[0][1] >= 0  # with the countdown to its slot
    clock.move_to(row.next_attempt_at + timedelta(microseconds=10))
    assert pipeline.run(attempt.pk).status == Status.COMPLETED.value


def test_the_sweeper_tells_a_deferred_attempt_from_a_lost_one(limited: Any, clock: Any) -> None:
    limited(BROKER_MAX_COUNTDOWN_SECONDS=3600)
    attempt = submit()
    # A backlog: this attempt's turn is twenty minutes ahead.
    ahead = timezone.now() + timedelta(minutes=20)
    ratelimit.ticket(ahead.timestamp(), limit=LIMIT, scope=attempt.backend)
    fill_current_slot(attempt.backend)
    assert pipeline.run(attempt.pk).action == "defer"
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.next_attempt_at is not None and row.next_attempt_at > ahead
    # Queued long ago, but waiting for its slot: not lost.
    clock.move_to(timezone.now() + timedelta(seconds=900))
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        queued_at=timezone.now() - timedelta(hours=1)
    )
    assert services.sweep()["lost_queued"] == 0
    # Its slot long past and still queued: its message is lost.
    clock.move_to(row.next_attempt_at + timedelta(seconds=601))
    assert services.sweep()["lost_queued"] == 1


def test_the_selfie_is_loaded_before_the_permit_is_taken(
    limited: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    load, acquire = pipeline.load_selfie, ratelimit.acquire
    monkeypatch.setattr(pipeline, "load_selfie", lambda *args: order.append("load") or load(*args))
    monkeypatch.setattr(
        ratelimit, "acquire", lambda *a, **k: order.append("permit") or acquire(*a, **k)
    )
    attempt = submit()
    assert pipeline.run(attempt.pk).status == Status.COMPLETED.value
    assert order == ["load", "permit"]


def _sweep_during_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker stalls in the provider call until its lease expires and the sweeper runs.

    The tests using it take the ``dispatched`` fixture: the sweeper's message stays unsent,
    else a Celery worker left running by another test module would claim the attempt first
    (the case of the next test but one)."""
    call = pipeline._call

    def slow(*args: Any, **kwargs: Any) -> Any:
        outcome = call(*args, **kwargs)
        services.sweep(timezone.now() + timedelta(seconds=3600))
        return outcome

    monkeypatch.setattr(pipeline, "_call", slow)


def test_a_late_result_is_kept_when_nobody_claimed_since(
    face_settings: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    dispatched: RecordingDispatcher,
    simulator: Any,
) -> None:
    face_settings(LOST_CALL_POLICY="requeue")
    _sweep_during_the_call(monkeypatch)
    attempt = submit()
    outcome = pipeline.run(attempt.pk)
    assert outcome.status == Status.COMPLETED.value
    done = VerificationAttempt.objects.get(pk=attempt.pk)
    assert done.status == Status.COMPLETED and done.similarity is not None
    kinds = list(done.events.values_list("kind", flat=True))
    assert EventKind.REQUEUED_BY_SWEEPER.value in kinds
    call = done.events.get(kind=EventKind.PROVIDER_CALL.value)
    assert call.data["late"] is True and "stale_claim" not in call.data
    # The sweeper's message finds it done: no second call.
    assert pipeline.run(attempt.pk).action == "done"
    assert len(ledger_calls(simulator, attempt.pk)) == 1


def test_a_late_result_is_discarded_once_another_worker_claimed(
    face_settings: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    dispatched: RecordingDispatcher,
) -> None:
    face_settings(LOST_CALL_POLICY="requeue")
    call = pipeline._call

    def slow(*args: Any, **kwargs: Any) -> Any:
        outcome = call(*args, **kwargs)
        later = timezone.now() + timedelta(seconds=3600)
        services.sweep(later)
        assert claim(attempt.pk, later) is not None
        return outcome

    monkeypatch.setattr(pipeline, "_call", slow)
    attempt = submit()
    pipeline.run(attempt.pk)
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.status == Status.PROCESSING  # the other worker's claim stands
    call_event = row.events.get(kind=EventKind.PROVIDER_CALL.value)
    assert call_event.data["stale_claim"] is True


def test_a_late_billed_answer_under_fail_is_audited_only(
    face_settings: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    dispatched: RecordingDispatcher,
) -> None:
    face_settings(LOST_CALL_POLICY="fail")
    _sweep_during_the_call(monkeypatch)
    attempt = submit()
    pipeline.run(attempt.pk)
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    # The attempt stays as the sweeper ended it.
    assert row.status == Status.FAILED
    assert row.error_code == "internal.worker_lost"
    assert row.similarity is None and row.decision == "none"
    late = row.events.get(kind=EventKind.LATE_RESULT.value)
    assert late.data["billable"] is True
    assert late.data["similarity"] is not None
    assert late.data["status"] == Status.FAILED.value
    call_event = row.events.get(kind=EventKind.PROVIDER_CALL.value)
    assert call_event.data["billable"] is True and call_event.data["late"] is True


def test_a_burst_of_submits_reserves_one_slot_each_and_publishes_once(
    limited: Any, clock: Any, published: list[dict[str, Any]]
) -> None:
    attempts = [
        services.submit(
            idcard_number=magic.MATCH, idcard_name="赵六", image=IMAGE, consent_at=timezone.now()
        )
        for _ in range(5)
    ]
    rows = VerificationAttempt.objects.filter(pk__in=[a.pk for a in attempts])
    starts = sorted(row.next_attempt_at for row in rows if row.next_attempt_at)
    assert len(set(starts)) == 5  # one slot each (capacity 1 at 20 req/s)
    first = {}
    for message in published:
        first.setdefault(message["args"][0], message)
    assert set(first) == {str(a.pk) for a in attempts}
    assert all(message["eta"] for message in first.values())  # each with its countdown
