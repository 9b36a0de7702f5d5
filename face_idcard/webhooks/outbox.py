"""The outbox: a message and one delivery per endpoint that wants it, written in the
transaction of the change, then published to the workers once that transaction commits.

The changes are read from the audit trail, which every one of them writes in its own
transaction (:func:`record_events`, called as audit events are saved): one home for "what
happened", and no service has to remember the webhooks. A rollback takes the message with it;
a broker down at commit time leaves a pending delivery that ``deliver_due_webhooks`` sends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import router, transaction
from django.utils import timezone

from ..models import EventKind
from . import payloads
from .models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint, WebhookMessage

if TYPE_CHECKING:
    from ..models import AttemptEvent

logger = logging.getLogger("face_idcard.webhooks")

#: The audit events that are webhook events.
EVENT_KINDS: dict[str, str] = {
    EventKind.DECIDED.value: EventType.DECIDED.value,
    EventKind.REVIEWED.value: EventType.REVIEWED.value,
    EventKind.REDACTED.value: EventType.REDACTED.value,
    EventKind.WITHDRAWN.value: EventType.WITHDRAWN.value,
}


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def record_events(events: Iterable[AttemptEvent]) -> None:
    """Write the webhook messages of the audit ``events`` just saved (same transaction)."""
    wanted = [(event, EVENT_KINDS[event.kind]) for event in events if event.kind in EVENT_KINDS]
    if not wanted:
        return
    alias = router.db_for_write(WebhookMessage)
    endpoints = list(WebhookEndpoint.objects.using(alias).filter(active=True))
    for event, event_type in wanted:
        targets = [endpoint for endpoint in endpoints if endpoint.wants(event_type)]
        if targets:
            data = payloads.attempt_data(event.attempt)
            enqueue(
                event_type, data, targets, timestamp=event.created_at, attempt_id=event.attempt_id
            )


def enqueue(
    event_type: str,
    data: dict[str, Any],
    endpoints: Sequence[WebhookEndpoint],
    *,
    timestamp: datetime | None = None,
    attempt_id: Any = None,
) -> WebhookMessage:
    """Store one message for ``endpoints`` and publish its deliveries after the commit."""
    now = timezone.now()
    alias = router.db_for_write(WebhookMessage)
    message = WebhookMessage(
        id=new_message_id(),
        event_type=event_type,
        attempt_id=attempt_id,
        body=payloads.body(event_type, timestamp or now, data),
        created_at=now,
    )
    message.save(force_insert=True, using=alias)
    ids = []
    for endpoint in endpoints:
        delivery = WebhookDelivery(
            message=message, endpoint=endpoint, created_at=now, next_attempt_at=now
        )
        delivery.save(force_insert=True, using=alias)
        ids.append(delivery.pk)
    publish_on_commit(ids, using=alias)
    return message


def ping(endpoint: WebhookEndpoint) -> WebhookMessage:
    """A ``ping`` to ``endpoint`` alone (the admin's test)."""
    with transaction.atomic(using=router.db_for_write(WebhookMessage)):
        return enqueue(EventType.PING.value, {"endpoint": str(endpoint.pk)}, [endpoint])


def publish(delivery_id: int, countdown: float | None = None) -> bool:
    """Hand the delivery to a worker; False (logged) when that failed: the periodic task
    sends it later."""
    try:
        from ..tasks import deliver_webhook_later
    except ImportError:  # no Celery: deliver_due (the command or the host's scheduler) sends it
        return False
    try:
        deliver_webhook_later(delivery_id, countdown)
    except Exception as exc:
        logger.error("webhook delivery %s: could not publish (%s)", delivery_id, type(exc).__name__)
        return False
    return True


def publish_on_commit(ids: Sequence[int], *, using: str | None = None) -> None:
    def send() -> None:
        for delivery_id in ids:
            publish(delivery_id)

    transaction.on_commit(send, using=using)


def replay(deliveries: Iterable[WebhookDelivery]) -> int:
    """Deliver again, at once and with the same ``webhook-id``, whatever their status."""
    ids = [delivery.pk for delivery in deliveries]
    alias = router.db_for_write(WebhookDelivery)
    with transaction.atomic(using=alias):
        count = (
            WebhookDelivery.objects.using(alias)
            .filter(pk__in=ids)
            .update(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=timezone.now(),
                lease_expires_at=None,
                claim_token=None,
            )
        )
        publish_on_commit(ids, using=alias)
    return int(count)
