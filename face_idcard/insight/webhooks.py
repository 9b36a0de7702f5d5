"""Webhook deliveries of one window, per endpoint: delivered, failed, pending, and the retries
they took (a delivery's ``attempts`` above one). One grouped query over the deliveries created
in the window (the ``created_at`` index); the backend filter does not apply: a delivery
belongs to an endpoint, not to a backend."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from ..webhooks.models import DeliveryStatus, WebhookDelivery
from .windows import Scope

__all__ = ["EndpointDeliveries", "compute"]


@dataclass
class EndpointDeliveries:
    #: The endpoint as the admin names it (its description, else its id): never its url, whose
    #: query string may hold a receiver's token.
    endpoint: str
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    #: Requests made beyond the first of each delivery (retries).
    retries: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.failed + self.pending


def compute(scope: Scope) -> list[EndpointDeliveries]:
    rows = (
        WebhookDelivery.objects.filter(created_at__gte=scope.since, created_at__lt=scope.until)
        .values("endpoint_id", "endpoint__description")
        .annotate(
            delivered=Count("pk", filter=Q(status=DeliveryStatus.DELIVERED.value)),
            failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED.value)),
            pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING.value)),
            tries=Sum("attempts"),
            n=Count("pk"),
        )
        .order_by("endpoint__description", "endpoint_id")
    )
    result = []
    for row in rows:
        tries = int(row["tries"] or 0)
        made = row["n"] - row["pending"]  # a pending delivery may not have been tried yet
        result.append(
            EndpointDeliveries(
                endpoint=row["endpoint__description"] or str(row["endpoint_id"]),
                delivered=row["delivered"],
                failed=row["failed"],
                pending=row["pending"],
                retries=max(0, tries - made),
            )
        )
    return result
