"""Liveness in the pipeline: the pre-check, and what the alias's policy makes of a verdict.

The one home of the policy (``LIVENESS``: ``off``, ``record``, ``require``; see
:mod:`face_idcard.backends.config`). A verdict comes either with the comparison (a backend
whose call checks liveness itself) or from a pre-check the backend offers, made before the
comparison under its own rate limit, recorded on the attempt with the run's next record (so a
retried comparison never pays for it twice) and audited as a ``liveness_check`` event with its
own billing.
Generic: nothing here names a provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _audit as audit
from ..backends import Backend, usable_backend
from ..exceptions import BackendUnavailable
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..outcome import NOT_CHECKED, Liveness, LivenessVerdict, ProviderOutcome, Reason
from ..states import Decision

__all__ = [
    "OFF",
    "RECORD",
    "REQUIRE",
    "Precheck",
    "apply_policy",
    "failure_decision",
    "fields_for",
    "precheck_was_due",
    "skips_comparison",
    "stored_verdict",
    "wants_precheck",
]

OFF, RECORD, REQUIRE = "off", "record", "require"


def policy(backend: Backend) -> str:
    return backend.config.liveness


def wants_precheck(attempt: VerificationAttempt, backend: Backend) -> bool:
    """Whether this run must make the pre-check first: the policy asks for liveness, the
    alias offers a pre-check, and the attempt has no verdict yet from an earlier run."""
    return (
        policy(backend) != OFF
        and type(backend).liveness_precheck(backend.config)
        and not attempt.liveness_source
    )


def precheck_was_due(attempt: VerificationAttempt) -> bool:
    """Whether a run of ``attempt`` would have made the pre-check first: for the sweeper, whose
    lost run may have made (and paid for) it. False when the alias cannot be built."""
    try:
        backend = usable_backend(attempt.backend)
    except BackendUnavailable:
        return False
    return wants_precheck(attempt, backend)


def fields_for(verdict: LivenessVerdict) -> dict[str, Any]:
    """The attempt's columns for ``verdict``."""
    return {
        "liveness": verdict.verdict.value,
        "liveness_source": verdict.source[:64],
        "liveness_risk_level": verdict.risk_level[:16],
        "liveness_attack_types": list(verdict.attack_types),
    }


def stored_verdict(attempt: VerificationAttempt) -> LivenessVerdict:
    """The verdict the attempt holds (NOT_CHECKED when none was recorded)."""
    if not attempt.liveness_source:
        return NOT_CHECKED
    return LivenessVerdict(
        Liveness(attempt.liveness),
        attempt.liveness_source,
        attempt.liveness_risk_level,
        tuple(attempt.liveness_attack_types or ()),
    )


@dataclass(frozen=True)
class Precheck:
    """A pre-check made in this run: its verdict, the attempt's columns for it and its audit
    event, written with whatever the run records next (one transaction, no extra write; a
    comparison retried later finds the verdict stored and is not checked twice)."""

    verdict: LivenessVerdict
    fields: dict[str, Any]
    event: AttemptEvent

    @classmethod
    def of(
        cls, attempt: VerificationAttempt, backend: Backend, outcome: ProviderOutcome
    ) -> Precheck:
        verdict = outcome.liveness or LivenessVerdict(Liveness.UNAVAILABLE)
        latency_ms = outcome.elapsed * 1000 if outcome.elapsed is not None else None
        event = audit.event(
            attempt,
            EventKind.LIVENESS_CHECK,
            source=verdict.source,
            verdict=verdict.verdict.value,
            risk_level=verdict.risk_level,
            attack_types=list(verdict.attack_types),
            code=outcome.code,
            error_class=outcome.error_class.value,
            latency_ms=round(latency_ms, 1) if latency_ms is not None else None,
            http_status=outcome.http_status,
            billable=outcome.billable,
            backend=backend.alias,
        )
        if outcome.answer_lost:
            # The provider may have done and billed the check: insight.liveness counts it as
            # possibly billed (a lost comparison has a possibly_billed event of its own).
            event.data["answer_lost"] = True
        return cls(verdict, fields_for(verdict), event)


def skips_comparison(backend: Backend, verdict: LivenessVerdict) -> bool:
    """Under ``require``, a pre-check the provider rates high risk spares the comparison
    (and its bill): its result could not make the attempt a match."""
    return policy(backend) == REQUIRE and verdict.high_risk


def failure_decision(backend: Backend, verdict: LivenessVerdict) -> tuple[Decision, Reason]:
    """What ``require`` makes of an attempt without a passing verdict."""
    decision = Decision.REVIEW if backend.config.liveness_failure == "review" else Decision.NO_MATCH
    reason = (
        Reason.SPOOF_SUSPECTED
        if verdict.verdict is Liveness.SPOOF_SUSPECTED
        else Reason.LIVENESS_UNVERIFIED
    )
    return decision, reason


def apply_policy(
    backend: Backend, verdict: LivenessVerdict, decision: Decision, reason: Reason
) -> tuple[Decision, Reason]:
    """The decision on a completed comparison once the policy has seen the verdict: only
    ``require`` changes it, and only an attempt that would otherwise match or go to review
    (a no-match stays one, for its own reason)."""
    if policy(backend) != REQUIRE or verdict.passed or decision is Decision.NO_MATCH:
        return decision, reason
    return failure_decision(backend, verdict)
