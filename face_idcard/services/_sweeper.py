"""The sweeper: recovers attempts whose worker died (lease expired, :mod:`._leases`) or whose
message was lost.

Run it periodically (``face_idcard.tasks.sweep`` or ``manage.py face_idcard_sweep``). Every
change is conditional on what the sweeper saw, so two sweepers, or a sweeper and a worker, never
both act on one attempt; the claim in ``run`` makes a message sent twice harmless anyway.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import _audit as audit
from ..conf import face_idcard_settings
from ..models import EventKind, VerificationAttempt
from ..states import Status
from . import _leases as leases
from . import _slots as slots
from ._common import enqueue_on_commit

logger = logging.getLogger("face_idcard.sweeper")

BATCH = 1000


def _publish_parked(now: datetime) -> int:
    """Publish the parked attempts whose reserved slot has come within the broker's reach,
    each once, with the countdown to its slot (the reservation itself is kept)."""
    reach = now + timedelta(seconds=float(face_idcard_settings.BROKER_MAX_COUNTDOWN_SECONDS))
    manager = VerificationAttempt.objects
    due = manager.filter(status=Status.QUEUED.value, parked=True, next_attempt_at__lte=reach)
    published = 0
    rows = due.order_by("next_attempt_at").values_list("pk", "next_attempt_at", "slot_ends_at")
    for pk, at, ends in list(rows[:BATCH]):
        # next_attempt_at__lte above never matches a NULL: every row has its slot's start.
        assert at is not None
        with transaction.atomic():
            if manager.filter(pk=pk, parked=True, next_attempt_at=at).update(parked=False):
                enqueue_on_commit(pk, slots.countdown_to(at, ends, now))
                published += 1
    return published


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Requeue expired leases and resend lost messages. Returns counts."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=float(face_idcard_settings.QUEUED_STALE_SECONDS))
    counts = {"expired_leases": 0, "failed": 0, "lost_queued": 0, "lost_retries": 0}
    manager = VerificationAttempt.objects

    counts["expired_leases"], counts["failed"] = leases.recover_expired(now, BATCH)

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
                enqueue_on_commit(attempt.pk)
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
                enqueue_on_commit(attempt.pk)
                counts["lost_retries"] += 1

    if any(value for key, value in counts.items() if key != "parked_published"):
        logger.warning(
            "sweep: %(expired_leases)d expired leases requeued, %(failed)d failed, "
            "%(lost_queued)d queued and %(lost_retries)d waiting attempts resent",
            counts,
        )
    return counts
