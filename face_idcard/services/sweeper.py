"""The sweeper: recovers attempts whose worker died (lease expired) or whose message was lost.

Run it periodically (``face_idcard.tasks.sweep`` or ``manage.py face_idcard_sweep``). Every
change is conditional on what the sweeper saw, so two sweepers, or a sweeper and a worker, never
both act on one attempt; the claim in ``run`` makes a message sent twice harmless anyway.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import audit
from ..conf import face_idcard_settings
from ..models import EventKind, VerificationAttempt
from ..outcome import GENERIC, INTERNAL_WORKER_LOST, ErrorClass
from ..signals import attempt_finished
from ..states import ConcurrentTransition, Status, transition
from . import retries, slots
from .common import enqueue_on_commit, send_after_commit

logger = logging.getLogger("face_idcard.sweeper")

BATCH = 1000


def _recover_expired_lease(attempt: VerificationAttempt, now: datetime) -> str:
    """Take an attempt back from a worker that stopped answering: requeue or give up."""
    token = attempt.claim_token
    policy = str(face_idcard_settings.LOST_CALL_POLICY)
    if policy not in ("requeue", "fail"):
        raise ImproperlyConfigured(
            f"FACE_IDCARD['LOST_CALL_POLICY'] is {policy!r}; use 'requeue' or 'fail'."
        )
    if policy == "fail":
        # The provider may have answered (and charged) the lost call: never call it again.
        return _fail(attempt, token, now, ErrorClass.UNKNOWN, reason="lost_call")
    if not retries.may_retry(attempt, ErrorClass.TRANSIENT):
        return _fail(attempt, token, now, ErrorClass.TRANSIENT, reason="retries_exhausted")
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
            **retries.next_counters(attempt, ErrorClass.TRANSIENT),
        )
        audit.record(attempt, EventKind.REQUEUED_BY_SWEEPER, reason="lease_expired")
        enqueue_on_commit(attempt.pk, attempt.backend)
    return "requeued"


def _fail(
    attempt: VerificationAttempt,
    token: object,
    now: datetime,
    error_class: ErrorClass,
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
        audit.record(
            attempt,
            EventKind.FINISHED,
            status=attempt.status,
            code=INTERNAL_WORKER_LOST,
            reason=reason,
        )
        send_after_commit(attempt_finished, attempt)
    return "failed"


def _publish_parked(now: datetime) -> int:
    """Publish the parked attempts whose reserved slot has come within the broker's reach,
    each once, with the countdown to its slot (the reservation itself is kept)."""
    reach = now + timedelta(seconds=float(face_idcard_settings.MAX_BROKER_COUNTDOWN_SECONDS))
    manager = VerificationAttempt.objects
    due = manager.filter(status=Status.QUEUED.value, parked=True, next_attempt_at__lte=reach)
    published = 0
    rows = due.order_by("next_attempt_at").values_list(
        "pk", "backend", "next_attempt_at", "slot_ends_at"
    )
    for pk, backend, at, ends in list(rows[:BATCH]):
        with transaction.atomic():
            if manager.filter(pk=pk, parked=True, next_attempt_at=at).update(parked=False):
                enqueue_on_commit(pk, backend, slots.countdown_to(at, ends, now))
                published += 1
    return published


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Requeue expired leases and resend lost messages. Returns counts."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=float(face_idcard_settings.QUEUED_STALE_SECONDS))
    counts = {"expired_leases": 0, "failed": 0, "lost_queued": 0, "lost_retries": 0}
    manager = VerificationAttempt.objects

    expired = manager.filter(status=Status.PROCESSING.value, lease_expires_at__lt=now)
    for attempt in list(expired.order_by("lease_expires_at")[:BATCH]):
        try:
            result = _recover_expired_lease(attempt, now)
        except ConcurrentTransition:
            continue  # the worker finished after all, or another sweeper got there first
        counts["failed" if result == "failed" else "expired_leases"] += 1

    counts["parked_published"] = _publish_parked(now)

    # A deferred attempt (next_attempt_at: its reserved slot) is lost only once its message
    # should long have arrived; one never deferred, once its queueing is old.
    lost = manager.filter(status=Status.QUEUED.value, parked=False).filter(
        Q(next_attempt_at__isnull=True, queued_at__lt=stale) | Q(next_attempt_at__lt=stale)
    )
    for attempt in list(lost.order_by("queued_at")[:BATCH]):
        with transaction.atomic():
            resent = manager.filter(
                pk=attempt.pk,
                status=Status.QUEUED.value,
                parked=False,
                queued_at=attempt.queued_at,
                next_attempt_at=attempt.next_attempt_at,
            ).update(queued_at=now, next_attempt_at=None, slot_ends_at=None)
            if resent:
                audit.record(attempt, EventKind.REQUEUED_BY_SWEEPER, reason="lost_message")
                enqueue_on_commit(attempt.pk, attempt.backend)
                counts["lost_queued"] += 1

    waiting = manager.filter(status=Status.RETRY_WAIT.value, next_attempt_at__lt=stale)
    for attempt in list(waiting.order_by("next_attempt_at")[:BATCH]):
        with transaction.atomic():
            resent = manager.filter(
                pk=attempt.pk,
                status=Status.RETRY_WAIT.value,
                next_attempt_at=attempt.next_attempt_at,
            ).update(next_attempt_at=now)
            if resent:
                audit.record(attempt, EventKind.REQUEUED_BY_SWEEPER, reason="lost_retry")
                enqueue_on_commit(attempt.pk, attempt.backend)
                counts["lost_retries"] += 1

    if any(value for key, value in counts.items() if key != "parked_published"):
        logger.warning(
            "sweep: %(expired_leases)d expired leases requeued, %(failed)d failed, "
            "%(lost_queued)d queued and %(lost_retries)d waiting attempts resent",
            counts,
        )
    return counts
