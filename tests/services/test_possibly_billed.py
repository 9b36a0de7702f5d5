"""Every charge accounted for (issue 27, item 6): a call whose worker lost its lease (killed
mid-call, or only slow) may have been billed without its result being stored. The sweeper
audits it as possibly billed, a late answer says whether its result was kept, and the
statistics' figures reconcile with the simulator's ledger (its bill), over real HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard import _audit as audit
from face_idcard import services
from face_idcard.backends import Backend, VerificationRequest
from face_idcard.insight import stats
from face_idcard.insight.windows import Scope
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.outcome import ProviderOutcome
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import SimulatorServer
from face_idcard.states import Status
from tests.support.admin_helpers import client_for
from tests.support.celery_app import ledger_calls
from tests.support.factories import submit_attempt
from tests.support.insight_helpers import STATISTICS

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 120


class WorkerKilled(BaseException):
    """The worker dies between the provider's answer and storing it."""


def after_the_lease() -> Any:
    return timezone.now() + timedelta(seconds=LEASE + 1)


def figures() -> stats.Statistics:
    return stats.compute(Scope.last(timedelta(days=1)))


def billable(simulator: SimulatorServer) -> int:
    return int(simulator.ledger.billable)


def killed_mid_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def die(*args: Any, **kwargs: Any) -> Any:
        raise WorkerKilled

    monkeypatch.setattr(pipeline, "_record", die)


def answer_late(monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[Any], None]) -> None:
    """The first call's answer arrives after ``meanwhile(attempt_id)`` (the sweeper taking the
    lease back, another worker...) has happened."""
    real = pipeline._call
    state = {"first": True}

    def slow(backend: Backend, request: VerificationRequest) -> ProviderOutcome:
        outcome = real(backend, request)
        if state["first"]:
            state["first"] = False
            meanwhile(request.correlation_id)
        return outcome

    monkeypatch.setattr(pipeline, "_call", slow)


@pytest.mark.parametrize(
    ("policy", "status", "second_call"), [("requeue", "completed", 1), ("fail", "failed", 0)]
)
def test_a_worker_killed_mid_call_leaves_a_possibly_billed_call(
    face_settings: Callable[..., None],
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    dispatched: Any,
    policy: str,
    status: str,
    second_call: int,
) -> None:
    face_settings(LOST_CALL_POLICY=policy, CLAIM_LEASE_SECONDS=LEASE)
    attempt = submit_attempt(enqueue=False)
    killed_mid_call(monkeypatch)
    with pytest.raises(WorkerKilled):
        pipeline.run(attempt.pk)
    monkeypatch.undo()
    assert len(ledger_calls(simulator, attempt.pk)) == 1  # the provider answered, and billed

    services.sweep(after_the_lease())
    lost = AttemptEvent.objects.get(attempt=attempt.pk, kind=EventKind.POSSIBLY_BILLED.value)
    assert lost.data == {"call": 1, "reason": "lease_expired", "policy": policy}
    seen = figures()
    assert (seen.billable_calls, seen.lost_calls_unanswered) == (0, 1)
    assert seen.possibly_billed_no_result == 1
    assert billable(simulator) == seen.billable_calls + seen.lost_calls_unanswered

    if policy == "requeue":
        pipeline.run(attempt.pk)
    row = VerificationAttempt.objects.get(pk=attempt.pk)
    assert row.status == status
    ledger_calls(simulator, attempt.pk, expect=1 + second_call)
    seen = figures()
    assert seen.billable_calls == second_call
    assert seen.lost_calls_unanswered == seen.possibly_billed_no_result == 1
    # The bill: every billed call is a billable call or a lost one.
    assert (
        billable(simulator) == seen.billable_calls + seen.lost_calls_unanswered == 1 + second_call
    )


def test_a_late_answer_discarded_is_possibly_billed_with_no_result(
    face_settings: Callable[..., None],
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    dispatched: Any,
) -> None:
    face_settings(CLAIM_LEASE_SECONDS=LEASE)
    attempt = submit_attempt(enqueue=False)

    def taken_over(_correlation: Any) -> None:
        services.sweep(after_the_lease())  # the lease is over: requeued
        assert pipeline.run(attempt.pk).status == Status.COMPLETED.value  # another worker

    answer_late(monkeypatch, taken_over)
    pipeline.run(attempt.pk)
    ledger_calls(simulator, attempt.pk, expect=2)
    late = AttemptEvent.objects.get(attempt=attempt.pk, kind=EventKind.LATE_ANSWER.value)
    assert late.data == {"call": 1, "kept": False, "billable": True}
    seen = figures()
    assert (seen.billable_calls, seen.lost_calls_unanswered, seen.possibly_billed_no_result) == (
        2,
        0,
        1,
    )
    assert billable(simulator) == seen.billable_calls == 2


def test_a_late_answer_kept_settles_its_lost_call(
    face_settings: Callable[..., None],
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    dispatched: Any,
) -> None:
    face_settings(CLAIM_LEASE_SECONDS=LEASE)
    attempt = submit_attempt(enqueue=False)
    answer_late(monkeypatch, lambda _correlation: services.sweep(after_the_lease()))
    assert pipeline.run(attempt.pk).status == Status.COMPLETED.value
    ledger_calls(simulator, attempt.pk)
    late = AttemptEvent.objects.get(attempt=attempt.pk, kind=EventKind.LATE_ANSWER.value)
    assert late.data["kept"] is True
    seen = figures()
    assert (seen.billable_calls, seen.lost_calls_unanswered, seen.possibly_billed_no_result) == (
        1,
        0,
        0,
    )
    assert billable(simulator) == 1


def test_the_statistics_page_shows_possibly_billed_apart(
    face_settings: Callable[..., None],
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    dispatched: Any,
) -> None:
    face_settings(CLAIM_LEASE_SECONDS=LEASE)
    attempt = submit_attempt(enqueue=False)
    killed_mid_call(monkeypatch)
    with pytest.raises(WorkerKilled):
        pipeline.run(attempt.pk)
    monkeypatch.undo()
    services.sweep(after_the_lease())
    pipeline.run(attempt.pk)
    client, _ = client_for("bill-viewer", "view_verificationattempt")
    html = client.get(STATISTICS).content.decode()
    assert 'data-figure="billable_calls">1<' in html
    assert 'data-figure="possibly_billed_no_result">1<' in html
    assert "Possibly billed, no result" in html


@pytest.mark.parametrize(("billable", "counted"), [(True, 1), (None, 1), (False, 0)])
def test_an_answer_not_kept_counts_unless_it_was_free(
    face_settings: Callable[..., None], billable: bool | None, counted: int
) -> None:
    attempt = submit_attempt(enqueue=False)
    audit.record(attempt, EventKind.POSSIBLY_BILLED, call=1, reason="lease_expired")
    audit.record(attempt, EventKind.LATE_ANSWER, call=1, kept=False, billable=billable)
    audit.record(attempt, EventKind.POSSIBLY_BILLED, call=2, reason="lease_expired")
    audit.record(attempt, EventKind.LATE_ANSWER, call=2, kept=True, billable=True)
    seen = figures()
    assert seen.lost_calls_unanswered == 0
    assert seen.possibly_billed_no_result == counted


def test_a_comparison_whose_answer_was_lost_is_possibly_billed(
    settings: Any, simulator_factory: Callable[..., SimulatorServer], dispatched: Any
) -> None:
    """The provider answers (and bills) after the client's read timeout: the call is audited
    as possibly billed (reason answer_lost) and the bill stays within the figures."""
    from tests.support.celery_app import apply_face_settings

    slow = simulator_factory(latency=1500)
    apply_face_settings(settings, slow, READ_TIMEOUT_SECONDS=0.5)
    attempt = submit_attempt(enqueue=False)
    assert pipeline.run(attempt.pk).status == Status.RETRY_WAIT.value
    lost = AttemptEvent.objects.get(attempt=attempt.pk, kind=EventKind.POSSIBLY_BILLED.value)
    assert lost.data == {"call": 1, "reason": "answer_lost"}
    (call,) = ledger_calls(slow, attempt.pk)  # recorded once the late answer is written
    assert call.billable
    seen = figures()
    assert (seen.billable_calls, seen.lost_calls_unanswered, seen.possibly_billed_no_result) == (
        0,
        1,
        1,
    )
    assert billable(slow) == seen.billable_calls + seen.lost_calls_unanswered


@pytest.mark.parametrize("backend", ["simulator", "faceid"])
def test_a_call_that_never_left_is_not_possibly_billed(
    face_settings: Callable[..., None], dispatched: Any, backend: str
) -> None:
    """A refused connection: nothing reached the provider, nothing is possibly billed (the
    FaceID SDK reports a refusal as a connect timeout, whose billing alone is unknown)."""
    import socket

    from tests.support.faceid import faceid_alias

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    endpoint = f"http://127.0.0.1:{port}"
    alias = (
        faceid_alias(endpoint)
        if backend == "faceid"
        else {"BACKEND": "simulator", "ENDPOINT": endpoint}
    )
    face_settings(BACKENDS={"default": alias})
    attempt = submit_attempt(enqueue=False)
    pipeline.run(attempt.pk)
    (call,) = AttemptEvent.objects.filter(attempt=attempt.pk, kind=EventKind.PROVIDER_CALL.value)
    assert call.data["billable"] is False
    assert not AttemptEvent.objects.filter(kind=EventKind.POSSIBLY_BILLED.value).exists()
    assert figures().possibly_billed_no_result == 0


def test_a_stale_claim_keeps_its_precheck_and_its_call_on_the_trail(
    settings: Any, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, dispatched: Any
) -> None:
    """A run that made the liveness pre-check and the comparison, then lost its lease to a
    worker that finished the attempt: both of its (billed) calls stay on the audit trail, and
    its late answer names its comparison, not its pre-check."""
    from tests.support.celery_app import FAST
    from tests.support.faceid import PHOTO, faceid_alias

    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        "CLAIM_LEASE_SECONDS": LEASE,
        "LIVENESS": "record",
        "BACKENDS": {"default": faceid_alias(simulator, PRECHECK_RATE_LIMIT_PER_SECOND=1000)},
    }
    attempt = submit_attempt(enqueue=False, image=PHOTO)

    def taken_over(_correlation: Any) -> None:
        services.sweep(after_the_lease())
        assert pipeline.run(attempt.pk).status == Status.COMPLETED.value  # another worker

    answer_late(monkeypatch, taken_over)
    pipeline.run(attempt.pk)
    events = AttemptEvent.objects.filter(attempt=attempt.pk)
    checks = events.filter(kind=EventKind.LIVENESS_CHECK.value)
    calls = events.filter(kind=EventKind.PROVIDER_CALL.value)
    # Two runs, each with its pre-check and its comparison, all billed by the provider.
    assert (checks.count(), calls.count()) == (2, 2)
    assert sum(1 for call in simulator.ledger.calls() if call.billable) == 4
    (stale,) = [call for call in calls if call.data.get("late")]
    assert stale.data["stale_claim"] is True
    assert not any(check.data.get("late") for check in checks)
    late = events.get(kind=EventKind.LATE_ANSWER.value)
    assert late.data == {"call": stale.data["call"], "kept": False, "billable": True}
