"""Leases: how long a claim lasts, what happens when it runs out, and what becomes of a result
that arrives after it ran out.

A worker's claim (:mod:`._claim`) holds the attempt for ``CLAIM_LEASE_SECONDS``. A worker that
stops answering for longer (killed, stuck) loses it: the sweeper requeues the attempt or ends it
(``LOST_CALL_POLICY``), leaving the claim token on the row. A worker that was only slow and
answers after that is the *late result*: kept if nobody claimed the attempt since, audited only
if the attempt ended, discarded (and said so on its provider-call event) if another worker
claimed it. The sweeper and the pipeline both go through this module.

Every charge is accounted for: the provider may have answered, and billed, the call of a
worker that lost its lease, so the sweeper records a ``possibly_billed`` event for it; if that
worker's answer comes after all, a ``late_answer`` event says whether its result was kept.
The statistics count the lost calls never answered, and the answers not kept, as "possibly
billed, no result" (:mod:`face_idcard.insight.stats`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from .. import _audit as audit
from ..conf import face_idcard_settings
from ..exceptions import ConcurrentTransition
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..outcome import GENERIC, INTERNAL_WORKER_LOST, ErrorClass, ProviderOutcome
from ..signals import attempt_finished
from ..states import (
    TERMINAL,
    Status,
    transition,
    transition_with_events,
)
from . import _liveness as liveness
from . import _retries as retries
from ._common import enqueue_on_commit, send_after_commit

logger = logging.getLogger("face_idcard.leases")

__all__ = ["give_back", "lease_until", "record_late", "recover_expired"]


def lease_until(now: datetime) -> datetime:
    """When a claim taken at ``now`` expires."""
    return now + timedelta(seconds=float(face_idcard_settings.CLAIM_LEASE_SECONDS))


# --- Expired leases (the sweeper) ------------------------------------------------------------


def recover_expired(now: datetime, batch: int) -> tuple[int, int]:
    """Take back up to ``batch`` attempts whose lease expired before ``now``, oldest first:
    requeued or failed by ``LOST_CALL_POLICY``. Returns (requeued, failed)."""
    requeued = failed = 0
    expired = VerificationAttempt.objects.filter(
        status=Status.PROCESSING.value, lease_expires_at__lt=now
    )
    for attempt in list(expired.order_by("lease_expires_at")[:batch]):
        try:
            result = _recover(attempt, now)
        except ConcurrentTransition:
            continue  # the worker finished after all, or another sweeper got there first
        if result == "failed":
            failed += 1
        else:
            requeued += 1
    return requeued, failed


def _lost_call_policy() -> str:
    policy = str(face_idcard_settings.LOST_CALL_POLICY)
    if policy not in ("requeue", "fail"):
        raise ImproperlyConfigured(
            f"FACE_IDCARD['LOST_CALL_POLICY'] is {policy!r}; use 'requeue' or 'fail'."
        )
    return policy


def _recover(attempt: VerificationAttempt, now: datetime, reason: str = "lease_expired") -> str:
    """Take an attempt back from a worker that stopped answering: requeue or give up."""
    token = attempt.claim_token
    policy = _lost_call_policy()
    # The lost call (the claim counted it) may have reached the provider and been billed.
    lost = audit.event(
        attempt,
        EventKind.POSSIBLY_BILLED,
        call=attempt.provider_calls,
        reason=reason,
        policy=policy,
    )
    if liveness.precheck_was_due(attempt):
        # The run's liveness pre-check came first, and its event is written only with the
        # run's next record: it may have been made (and billed) too (insight.liveness).
        lost.data["precheck"] = True
    if policy == "fail":
        # The provider may have answered (and charged) the lost call: never call it again.
        return _fail(attempt, token, now, ErrorClass.UNKNOWN, lost, reason="lost_call")
    if not retries.may_retry(attempt, ErrorClass.TRANSIENT, now):
        return _fail(attempt, token, now, ErrorClass.TRANSIENT, lost, reason="retries_exhausted")
    with transaction.atomic():
        # A lost lease counts as a transient failure: a message that kills its worker every
        # time must not loop forever.
        transition(
            attempt,
            Status.QUEUED,
            expected_claim_token=token,
            queued_at=now,
            lease_expires_at=None,
            # The token stays until the next claim: the late worker, if it answers before
            # anyone claims the attempt again, may still record its (paid-for) result.
            next_attempt_at=None,
            slot_ends_at=None,
            parked=False,
            **retries.next_counters(attempt, ErrorClass.TRANSIENT, now),
        )
        audit.record_many(
            [lost, audit.event(attempt, EventKind.REQUEUED_BY_SWEEPER, reason=reason)]
        )
        enqueue_on_commit(attempt.pk)
    return "requeued"


def _fail(
    attempt: VerificationAttempt,
    token: object,
    now: datetime,
    error_class: ErrorClass,
    lost: AttemptEvent,
    *,
    reason: str,
) -> str:
    with transaction.atomic():
        transition(
            attempt,
            Status.FAILED,
            expected_claim_token=token,
            error_code=INTERNAL_WORKER_LOST,
            error_class=error_class.value,
            error_message=GENERIC.lookup(INTERNAL_WORKER_LOST).en,
            reason=GENERIC.lookup(INTERNAL_WORKER_LOST).reason.value,
            finished_at=now,
            lease_expires_at=None,
            # The token stays: a late answer from that worker is audited, never recorded.
        )
        audit.record_many(
            [
                lost,
                audit.event(
                    attempt,
                    EventKind.FINISHED,
                    status=attempt.status,
                    code=INTERNAL_WORKER_LOST,
                    reason=reason,
                ),
            ]
        )
        send_after_commit(attempt_finished, attempt)
    return "failed"


# --- Claims given back (a worker that met an outage) -----------------------------------------


def give_back(attempt_id: UUID, token: UUID, *, called: bool, now: datetime | None = None) -> str:
    """Give back the claim ``token`` that a run held when the database, the cache or the queue
    failed under it (:func:`face_idcard.services.dispatch.run`), without waiting for its lease
    to run out and the sweeper to come by.

    With no provider call made (``called`` False), the attempt is queued again as if never
    claimed, and the claim's call taken off its count. With a call made whose result was not
    stored, the provider may have answered and charged: the attempt goes where the sweeper
    sends an expired lease (``LOST_CALL_POLICY``). Returns "released", "requeued", "failed",
    or "" when the claim is no longer held (the sweeper or another worker moved on).
    """
    now = now or timezone.now()
    attempt = VerificationAttempt._base_manager.filter(
        pk=attempt_id, status=Status.PROCESSING.value, claim_token=token
    ).first()
    if attempt is None:
        return ""
    try:
        if called:
            return _recover(attempt, now, reason="worker_outage")
        transition(
            attempt,
            Status.QUEUED,
            expected_claim_token=token,
            provider_calls=max(0, attempt.provider_calls - 1),
            lease_expires_at=None,
            claim_token=None,
            next_attempt_at=None,
            slot_ends_at=None,
            parked=False,
        )
    except ConcurrentTransition:
        return ""
    return "released"


# --- Late results (the pipeline) -------------------------------------------------------------

#: The events of a run's provider calls: kept on the audit trail even when their result is not.
_CALL_KINDS = frozenset(
    {
        EventKind.LIVENESS_CHECK.value,
        EventKind.PROVIDER_CALL.value,
        EventKind.POSSIBLY_BILLED.value,
    }
)


def record_late(
    attempt: VerificationAttempt,
    token: UUID,
    target: Status,
    outcome: ProviderOutcome,
    events: list[AttemptEvent],
    fields: dict[str, Any],
) -> bool:
    """A result whose claim was taken back during the call (``target``, ``fields`` and
    ``events`` what it would have recorded in time: among them its provider-call event, after
    the run's pre-check event if it made one).

    Recorded if nobody claimed the attempt since (the claim token, which the sweeper leaves on
    the row, is still ours): True. Otherwise False, with the calls audited (the pre-check's
    too: each may have been billed): as a late result when the attempt ended from our claim,
    else as a stale claim."""
    call_event = next(e for e in events if e.kind == EventKind.PROVIDER_CALL.value)
    call_event.data["late"] = True
    # What this run's calls cost, whatever becomes of their result.
    calls = [e for e in events if e.kind in _CALL_KINDS]

    def answered(kept: bool) -> AttemptEvent:
        # Settles the sweeper's possibly_billed event of this call (insight.stats).
        return audit.event(
            attempt,
            EventKind.LATE_ANSWER,
            call=call_event.data.get("call"),
            kept=kept,
            billable=outcome.billable,
        )

    row = (
        VerificationAttempt._base_manager.filter(pk=attempt.pk)
        .values_list("status", "claim_token")
        .first()
    )
    own = row is not None and row[1] == token
    if own and row is not None and row[0] == Status.QUEUED.value:
        # Re-queued by the sweeper, not claimed since: the answer we have stands. Claimed
        # back with our own token, then recorded as usual, in one transaction.
        attempt.status = Status.QUEUED.value
        try:
            with transaction.atomic():
                transition(
                    attempt,
                    Status.PROCESSING,
                    expected_claim_token=token,
                    lease_expires_at=lease_until(timezone.now()),
                )
                transition_with_events(
                    attempt, target, [*events, answered(True)], expected_claim_token=token, **fields
                )
        except ConcurrentTransition:
            pass  # another worker claimed it meanwhile: its call decides
        else:
            logger.info("attempt %s: lease expired during the call; late result kept", attempt.pk)
            return True
    elif own and row is not None and row[0] in TERMINAL:
        # Ended from our claim (LOST_CALL_POLICY "fail"): the attempt stays as it ended; the
        # answer, and what it cost, go on the audit trail only.
        attempt.status = row[0]
        late = audit.event(
            attempt,
            EventKind.LATE_RESULT,
            status=row[0],
            code=outcome.code,
            error_class=outcome.error_class.value,
            reason=outcome.reason.value,
            similarity=outcome.similarity,
            billable=outcome.billable,
        )
        audit.record_many([*calls, late, answered(False)])
        logger.warning("attempt %s: answer after the attempt ended; audited only", attempt.pk)
        return False
    call_event.data["stale_claim"] = True
    audit.record_many([*calls, answered(False)])
    logger.warning("attempt %s: lease lost during the call; result discarded", attempt.pk)
    return False
