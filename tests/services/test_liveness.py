"""Liveness through the whole pipeline: a real Celery worker, the simulator over real HTTP.

Alibaba Cloud's ContrastFaceVerify checks liveness in the comparison call itself (faceAttack,
SubCode 205); Tencent's FaceID asks DetectAIFakeFaces first (the pre-check), under its own
quota and bill. Each verdict, under each policy (off, record, require with review or refuse).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.simulator import SimulatorServer, magic
from face_idcard.simulator.portraits import portrait_jpeg
from face_idcard.simulator.protocols.faceid_precheck import (
    ATTACK_HEIGHT,
    ATTACK_TYPES,
    FAILING_WIDTH,
    HIGH_RISK_WIDTH,
    MID_RISK_WIDTH,
)
from tests.providers.aliyun.helpers import PHOTO, aliyun_alias
from tests.support.celery_app import FAST, wait_terminal
from tests.support.faceid import faceid_alias
from tests.support.factories import submit_attempt

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_thread"),
]

#: The policies under test: (LIVENESS, LIVENESS_FAILURE).
OFF = ("off", "review")
RECORD = ("record", "review")
REQUIRE_REVIEW = ("require", "review")
REQUIRE_REFUSE = ("require", "refuse")

#: Magic photos for the pre-check (see the simulator's faceid_precheck module).
LOW_RISK = portrait_jpeg(3)
MID_RISK = portrait_jpeg(3, size=(MID_RISK_WIDTH, ATTACK_HEIGHT + 1))
HIGH_RISK = portrait_jpeg(3, size=(HIGH_RISK_WIDTH, ATTACK_HEIGHT))
CHECK_FAILS = portrait_jpeg(3, size=(FAILING_WIDTH, 400))


def _use(settings: Any, alias: dict[str, Any], policy: tuple[str, str]) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        "LIVENESS": policy[0],
        "LIVENESS_FAILURE": policy[1],
        "BACKENDS": {"default": alias},
    }


def _run(number: str, image: bytes) -> VerificationAttempt:
    return wait_terminal(submit_attempt(number, image=image).pk)


def _seen(attempt: VerificationAttempt) -> tuple[Any, ...]:
    return (attempt.status, attempt.decision, attempt.reason, attempt.liveness)


def _calls(simulator: SimulatorServer, protocol: str) -> list[Any]:
    return [call for call in simulator.ledger.calls() if call.protocol == protocol]


# --- Alibaba Cloud: the verdict comes with the comparison ------------------------------------


ALIYUN_CASES = [
    # policy, number, model, (status, decision, reason, liveness)
    (OFF, magic.MATCH, "", ("completed", "match", "match", "passed")),
    (RECORD, magic.MATCH, "", ("completed", "match", "match", "passed")),
    (REQUIRE_REVIEW, magic.MATCH, "", ("completed", "match", "match", "passed")),
    (REQUIRE_REFUSE, magic.MATCH, "", ("completed", "match", "match", "passed")),
    # SubCode 205: Alibaba Cloud advises a review whatever the policy; require refuses it.
    (OFF, magic.SPOOFED, "", ("completed", "review", "spoof_suspected", "spoof_suspected")),
    (RECORD, magic.SPOOFED, "", ("completed", "review", "spoof_suspected", "spoof_suspected")),
    (
        REQUIRE_REVIEW,
        magic.SPOOFED,
        "",
        ("completed", "review", "spoof_suspected", "spoof_suspected"),
    ),
    (
        REQUIRE_REFUSE,
        magic.SPOOFED,
        "",
        ("completed", "no_match", "spoof_suspected", "spoof_suspected"),
    ),
    # The alias turned the check off: nothing checked; require cannot pass it.
    (OFF, magic.MATCH, "NO_LIVENESS", ("completed", "match", "match", "not_checked")),
    (RECORD, magic.MATCH, "NO_LIVENESS", ("completed", "match", "match", "not_checked")),
    (
        REQUIRE_REVIEW,
        magic.MATCH,
        "NO_LIVENESS",
        ("completed", "review", "liveness_unverified", "not_checked"),
    ),
    (
        REQUIRE_REFUSE,
        magic.MATCH,
        "NO_LIVENESS",
        ("completed", "no_match", "liveness_unverified", "not_checked"),
    ),
    # The call failed: so did its check.
    (RECORD, magic.NOT_ACTIVATED, "", ("failed", "none", "configuration", "unavailable")),
    (REQUIRE_REVIEW, magic.NOT_ACTIVATED, "", ("failed", "none", "configuration", "unavailable")),
]


@pytest.mark.parametrize(("policy", "number", "model", "expected"), ALIYUN_CASES)
def test_aliyun_verdicts_under_each_policy(
    settings: Any,
    simulator: SimulatorServer,
    policy: tuple[str, str],
    number: str,
    model: str,
    expected: tuple[str, ...],
) -> None:
    _use(settings, aliyun_alias(simulator, MODEL=model), policy)
    attempt = _run(number, PHOTO)
    assert _seen(attempt) == expected
    if attempt.liveness != "not_checked":
        assert attempt.liveness_source == "aliyun.ContrastFaceVerify"
    # One call: the verdict needs no other.
    assert len(simulator.ledger.calls()) == 1
    assert not attempt.events.filter(kind=EventKind.LIVENESS_CHECK).exists()


# --- Tencent FaceID: DetectAIFakeFaces before ImageRecognitionV2 --------------------------------


FACEID_CASES = [
    # policy, photo, (status, decision, reason, liveness), pre-checks, comparisons
    (OFF, HIGH_RISK, ("completed", "match", "match", "not_checked"), 0, 1),
    (RECORD, LOW_RISK, ("completed", "match", "match", "passed"), 1, 1),
    (RECORD, MID_RISK, ("completed", "match", "match", "spoof_suspected"), 1, 1),
    # record never decides on it, and so never spares the comparison.
    (RECORD, HIGH_RISK, ("completed", "match", "match", "spoof_suspected"), 1, 1),
    (RECORD, CHECK_FAILS, ("completed", "match", "match", "unavailable"), 1, 1),
    (REQUIRE_REVIEW, LOW_RISK, ("completed", "match", "match", "passed"), 1, 1),
    (
        REQUIRE_REVIEW,
        MID_RISK,
        ("completed", "review", "spoof_suspected", "spoof_suspected"),
        1,
        1,
    ),
    (
        REQUIRE_REFUSE,
        MID_RISK,
        ("completed", "no_match", "spoof_suspected", "spoof_suspected"),
        1,
        1,
    ),
    # High risk under require: no comparison at all (nor its bill).
    (
        REQUIRE_REVIEW,
        HIGH_RISK,
        ("completed", "review", "spoof_suspected", "spoof_suspected"),
        1,
        0,
    ),
    (
        REQUIRE_REFUSE,
        HIGH_RISK,
        ("completed", "no_match", "spoof_suspected", "spoof_suspected"),
        1,
        0,
    ),
    (
        REQUIRE_REVIEW,
        CHECK_FAILS,
        ("completed", "review", "liveness_unverified", "unavailable"),
        1,
        1,
    ),
    (
        REQUIRE_REFUSE,
        CHECK_FAILS,
        ("completed", "no_match", "liveness_unverified", "unavailable"),
        1,
        1,
    ),
]


@pytest.mark.parametrize(("policy", "photo", "expected", "prechecks", "comparisons"), FACEID_CASES)
def test_faceid_precheck_verdicts_under_each_policy(
    settings: Any,
    simulator: SimulatorServer,
    policy: tuple[str, str],
    photo: bytes,
    expected: tuple[str, ...],
    prechecks: int,
    comparisons: int,
) -> None:
    _use(settings, faceid_alias(simulator), policy)
    attempt = _run(magic.MATCH, photo)
    assert _seen(attempt) == expected
    assert len(_calls(simulator, "faceid.precheck")) == prechecks
    compared = _calls(simulator, "faceid")
    assert len(compared) == comparisons
    checks = [e.data for e in attempt.events.filter(kind=EventKind.LIVENESS_CHECK)]
    calls = [e.data for e in attempt.events.filter(kind=EventKind.PROVIDER_CALL)]
    assert len(checks) == prechecks and len(calls) == comparisons
    assert attempt.provider_calls == comparisons
    if prechecks:
        (check,) = checks
        assert check["source"] == attempt.liveness_source == "faceid.DetectAIFakeFaces"
        assert check["verdict"] == attempt.liveness
        # Billed when it answered a risk level, as the simulator's ledger counts it.
        assert check["billable"] is _calls(simulator, "faceid.precheck")[0].billable
    if attempt.liveness == "spoof_suspected":
        assert attempt.liveness_risk_level in ("Mid", "High")
        expected_type = ATTACK_TYPES[1] if photo is MID_RISK else ATTACK_TYPES[0]
        assert attempt.liveness_attack_types == [expected_type]
    if comparisons == 0:
        # Nothing billed for a comparison that never happened.
        assert not any(call.billable for call in compared)
        assert attempt.similarity is None


def test_a_retried_comparison_does_not_check_twice(
    settings: Any, simulator: SimulatorServer
) -> None:
    """The pre-check's verdict is stored before the comparison: a comparison retried after a
    transient failure is not preceded by a second (billed) pre-check."""
    _use(settings, faceid_alias(simulator), RECORD)
    attempt = _run(magic.flaky(2, variant=32), LOW_RISK)
    assert (attempt.status, attempt.liveness) == ("completed", "passed")
    assert len(_calls(simulator, "faceid.precheck")) == 1
    assert len(_calls(simulator, "faceid")) == 3


def test_the_precheck_quota_holds_under_a_burst(settings: Any, simulator: SimulatorServer) -> None:
    """Twelve attempts at once: DetectAIFakeFaces is paced at its own 5 calls/s (the
    simulator refuses a sixth in any second), while the comparison's quota is far higher."""
    _use(settings, faceid_alias(simulator, RATE_LIMIT_PER_SECOND=1000), RECORD)
    submit = functools.partial(submit_attempt, magic.MATCH, image=LOW_RISK)
    attempts = [submit() for _ in range(12)]
    done = [wait_terminal(attempt.pk, timeout=30) for attempt in attempts]
    assert {_seen(a) for a in done} == {("completed", "match", "match", "passed")}
    prechecks = _calls(simulator, "faceid.precheck")
    assert len(prechecks) == 12
    assert all(call.code != "RequestLimitExceeded" for call in prechecks)
    times = sorted(call.time for call in prechecks)
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[5:], strict=False))


def test_statistics_count_spoofs_prechecks_and_liveness_decisions(
    settings: Any, simulator: SimulatorServer
) -> None:
    """Per alias: the spoof-suspected rate, the pre-check calls and their bill apart from the
    comparison's calls, and the attempts refused or sent to review for liveness."""
    from datetime import timedelta

    from face_idcard.insight import liveness as figures
    from face_idcard.insight import stats
    from face_idcard.insight.windows import Scope

    _use(settings, faceid_alias(simulator), REQUIRE_REFUSE)
    for photo in (LOW_RISK, LOW_RISK, MID_RISK, HIGH_RISK, CHECK_FAILS):
        _run(magic.MATCH, photo)
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "LIVENESS_FAILURE": "review"}
    _run(magic.MATCH, HIGH_RISK)

    scope = Scope.last(timedelta(hours=1))
    (row,) = figures.compute(scope)
    assert (row.backend, row.passed, row.spoof_suspected, row.unavailable) == ("default", 2, 3, 1)
    assert row.spoof_rate == pytest.approx(3 / 5)
    assert (row.precheck_calls, row.precheck_billable, row.precheck_billing_unknown) == (6, 5, 0)
    # Mid, High and the failed check refused; the second High sent to review.
    assert (row.refused_for_liveness, row.reviewed_for_liveness) == (3, 1)
    whole = stats.compute(scope)
    # The comparisons alone: none after the two high-risk pre-checks.
    assert whole.provider_calls == 4 == len(_calls(simulator, "faceid"))
    assert whole.liveness == [row]


def test_a_comparison_deferred_after_its_precheck_keeps_the_verdict(
    settings: Any, simulator: SimulatorServer
) -> None:
    """The comparison's own quota (1/s here) defers attempts whose pre-check was just made:
    the deferral stores the verdict and its event, so no attempt is checked (and billed)
    twice."""
    _use(settings, faceid_alias(simulator, RATE_LIMIT_PER_SECOND=1), RECORD)
    attempts = [submit_attempt(magic.MATCH, image=MID_RISK) for _ in range(3)]
    done = [wait_terminal(attempt.pk, timeout=30) for attempt in attempts]
    assert {_seen(a) for a in done} == {("completed", "match", "match", "spoof_suspected")}
    assert len(_calls(simulator, "faceid.precheck")) == 3
    assert len(_calls(simulator, "faceid")) == 3
    for attempt in done:
        assert attempt.events.filter(kind=EventKind.LIVENESS_CHECK).count() == 1
        assert attempt.liveness_risk_level == "Mid"
