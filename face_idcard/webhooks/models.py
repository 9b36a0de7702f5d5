"""The webhook tables: endpoints, the messages of the outbox and their deliveries.

Imported by :mod:`face_idcard.models` so that Django sees them as the app's models.
A message is written in the same transaction as the change it reports, with one delivery per
endpoint that wants it (the outbox): a rollback leaves neither, a crash after the commit
leaves deliveries that the periodic ``deliver_due_webhooks`` task picks up.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..states import StrChoice

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class EventType(StrChoice):
    DECIDED = "attempt.decided"
    REVIEWED = "attempt.reviewed"
    REDACTED = "attempt.redacted"
    WITHDRAWN = "attempt.withdrawn"
    PING = "ping"


EVENT_TYPE_CHOICES: list[tuple[str, StrOrPromise]] = [
    (EventType.DECIDED.value, _("Attempt decided")),
    (EventType.REVIEWED.value, _("Attempt reviewed")),
    (EventType.REDACTED.value, _("Attempt redacted")),
    (EventType.WITHDRAWN.value, _("Consent withdrawn")),
    (EventType.PING.value, _("Test ping")),
]


class DisabledReason(StrChoice):
    MANUAL = "manual"
    GONE = "gone"
    FAILURES = "failures"


DISABLED_REASON_CHOICES: list[tuple[str, StrOrPromise]] = [
    (DisabledReason.MANUAL.value, _("Disabled by staff")),
    (DisabledReason.GONE.value, _("The receiver answered 410 Gone")),
    (DisabledReason.FAILURES.value, _("Too many failed deliveries in a row")),
]


class DeliveryStatus(StrChoice):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


DELIVERY_STATUS_CHOICES: list[tuple[str, StrOrPromise]] = [
    (DeliveryStatus.PENDING.value, _("Pending")),
    (DeliveryStatus.DELIVERED.value, _("Delivered")),
    (DeliveryStatus.FAILED.value, _("Failed")),
]


class WebhookEndpoint(models.Model):
    """A receiver of signed events. Its secrets (``whsec_`` form, newest first, every one of
    them signs) are stored encrypted: :mod:`face_idcard.webhooks.secrets`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(_("url"), max_length=2048)
    description = models.CharField(_("description"), max_length=255, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Event type values (EventType); empty: every event type.
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    secrets_encrypted = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(
        _("disabled because"),
        max_length=16,
        choices=DISABLED_REASON_CHOICES,
        blank=True,
        editable=False,
    )
    # Failed delivery attempts since the last success (WEBHOOK_DISABLE_AFTER_FAILURES).
    failure_run = models.PositiveIntegerField(_("failures in a row"), default=0, editable=False)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ("created_at",)

    def __str__(self) -> str:
        return self.description or str(self.pk)

    def wants(self, event_type: str) -> bool:
        return (
            event_type == EventType.PING.value
            or not self.event_types
            or (event_type in self.event_types)
        )


def _endpoint_changed(using: str, **_kwargs: Any) -> None:
    # The outbox's list of active endpoints (connected here, at start-up: the outbox itself
    # is imported on first use, maybe inside the transaction of a change).
    from .outbox import endpoint_changed

    endpoint_changed(using)


post_save.connect(_endpoint_changed, sender=WebhookEndpoint, dispatch_uid="face_idcard_hook_saved")
post_delete.connect(
    _endpoint_changed, sender=WebhookEndpoint, dispatch_uid="face_idcard_hook_deleted"
)


class WebhookMessage(models.Model):
    """One event, signed and sent as is to every endpoint of its deliveries. ``id`` is the
    ``webhook-id`` receivers deduplicate on; ``body`` the exact bytes signed (never re-made).
    Never PII in the body (face_idcard.webhooks.payloads)."""

    id = models.CharField(primary_key=True, max_length=40, editable=False)
    event_type = models.CharField(_("event type"), max_length=40, choices=EVENT_TYPE_CHOICES)
    attempt_id = models.UUIDField(_("attempt"), null=True, blank=True, db_index=True)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.event_type} {self.pk}"


class WebhookDelivery(models.Model):
    """A message's delivery to one endpoint: pending until a 2xx (delivered) or until its
    retries run out or its endpoint is gone (failed)."""

    message = models.ForeignKey(
        WebhookMessage,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("message"),
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=DELIVERY_STATUS_CHOICES,
        default=DeliveryStatus.PENDING.value,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next try"), null=True, blank=True)
    # A worker's claim; an expired one (the worker died mid-delivery) is taken again.
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(_("last try"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True
    )
    # A short excerpt of the answer or the error class: never the whole response body.
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    last_latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ("-created_at", "-id")
        default_permissions = ("view", "change")
        constraints = [  # noqa: RUF012
            models.UniqueConstraint(fields=["message", "endpoint"], name="face_idcard_webhook_once")
        ]
        indexes = [  # noqa: RUF012
            # The periodic task: pending deliveries due, or whose worker's lease expired.
            models.Index(fields=["status", "next_attempt_at"], name="face_idcard_webhook_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="face_idcard_webhook_ep_idx"),
            models.Index(fields=["created_at"], name="face_idcard_webhook_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} -> {self.endpoint_id} ({self.status})"
