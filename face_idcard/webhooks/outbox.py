"""The outbox: a message and one delivery per endpoint that wants it, written in the
transaction of the change, then published to the workers once that transaction commits.

The changes are read from the audit trail, which every one of them writes in its own
transaction (:func:`record_events`, called as audit events are saved): one home for "what
happened", and no service has to remember the webhooks. A rollback takes the message with it;
a broker down at commit time leaves a pending delivery that ``deliver_due_webhooks`` sends.

The list of active endpoints is kept per process (:func:`active_endpoints`), so recording a
decision costs no read of it: this process's saves and deletes of an endpoint empty it at once
(signals), another process's are seen within ``ENDPOINTS_CACHE_SECONDS``. An endpoint is
deleted only once it has been disabled for longer than that (the admin enforces it): a
delivery written for a deleted endpoint would break the transaction of the change it reports.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
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


#: Seconds a process keeps its list of active endpoints: how long another process's new or
#: disabled endpoint may go unseen by this one's outbox.
ENDPOINTS_CACHE_SECONDS = 5.0


class _Endpoints:
    """This process's active endpoints per database alias, and when each list was read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lists: dict[str, tuple[float, list[WebhookEndpoint]]] = {}
        # Counts the changes: a list read before one is not kept after it.
        self.generation = 0
        # An endpoint was written in a transaction not yet ended: until it ends, a list read
        # in a transaction may hold what a rollback takes back, so none is kept.
        self.unsettled = False


_endpoints = _Endpoints()


def forget_endpoints() -> None:
    """Empty this process's list of active endpoints (read again on next use)."""
    with _endpoints.lock:
        _endpoints.lists.clear()
        _endpoints.unsettled = False
        _endpoints.generation += 1


def endpoint_changed(using: str) -> None:
    """An endpoint of ``using`` was saved or deleted in this process (the models' signals)."""
    forget_endpoints()
    if transaction.get_connection(using).in_atomic_block:
        with _endpoints.lock:
            _endpoints.unsettled = True
        transaction.on_commit(forget_endpoints, using=using)


def active_endpoints(alias: str) -> list[WebhookEndpoint]:
    """The active endpoints of database ``alias``, as read at most ``ENDPOINTS_CACHE_SECONDS``
    ago (or since this process last changed one)."""
    now = time.monotonic()
    in_transaction = transaction.get_connection(alias).in_atomic_block
    with _endpoints.lock:
        if _endpoints.unsettled and not in_transaction:
            # The transaction that changed an endpoint ended (a commit would have said so).
            _endpoints.lists.clear()
            _endpoints.unsettled = False
        keep = not _endpoints.unsettled
        generation = _endpoints.generation
        cached = _endpoints.lists.get(alias)
    if keep and cached is not None and now - cached[0] < ENDPOINTS_CACHE_SECONDS:
        return cached[1]
    endpoints = list(WebhookEndpoint.objects.using(alias).filter(active=True))
    with _endpoints.lock:
        if keep and generation == _endpoints.generation:
            _endpoints.lists[alias] = (now, endpoints)
    return endpoints


def deletable(endpoint: WebhookEndpoint) -> bool:
    """Whether ``endpoint`` may be deleted: disabled for longer than any process keeps it in
    its list of active endpoints (an endpoint disabled without a time, by the site's own
    code, counts as disabled long ago)."""
    if endpoint.active:
        return False
    since = endpoint.disabled_at
    return since is None or since <= timezone.now() - timedelta(seconds=ENDPOINTS_CACHE_SECONDS)


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def record_events(events: Iterable[AttemptEvent]) -> None:
    """Write the webhook messages of the audit ``events`` just saved (same transaction)."""
    wanted = [(event, EVENT_KINDS[event.kind]) for event in events if event.kind in EVENT_KINDS]
    if not wanted:
        return
    alias = router.db_for_write(WebhookMessage)
    endpoints = active_endpoints(alias)
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
