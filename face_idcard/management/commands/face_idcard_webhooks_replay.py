"""``manage.py face_idcard_webhooks_replay --since ... [--until ...]``: deliver again the
webhook messages created in a time range (each with its own ``webhook-id``, which receivers
deduplicate on), for example after a receiver's outage or data loss."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ...webhooks import outbox
from ...webhooks.models import DELIVERY_STATUS_CHOICES, WebhookDelivery


def _moment(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"not an ISO 8601 date and time: {value!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


class Command(BaseCommand):
    help = "Deliver again the webhook messages created in a time range (same webhook-id)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--since", required=True, help="ISO 8601 start (inclusive).")
        parser.add_argument("--until", help="ISO 8601 end (exclusive); default: now.")
        parser.add_argument("--endpoint", help="Only this endpoint's deliveries (its id).")
        parser.add_argument(
            "--status",
            choices=[value for value, _ in DELIVERY_STATUS_CHOICES],
            help="Only deliveries in this status (default: every status).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the deliveries, send nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = _moment(options["since"])
        until = _moment(options["until"]) if options["until"] else timezone.now()
        deliveries = WebhookDelivery.objects.filter(
            message__created_at__gte=since, message__created_at__lt=until, endpoint__active=True
        )
        if options["endpoint"]:
            deliveries = deliveries.filter(endpoint_id=options["endpoint"])
        if options["status"]:
            deliveries = deliveries.filter(status=options["status"])
        if options["dry_run"]:
            self.stdout.write(f"deliveries={deliveries.count()}")
            return
        replayed = 0
        batch: list[WebhookDelivery] = []
        for delivery in deliveries.only("pk").iterator(chunk_size=500):
            batch.append(delivery)
            if len(batch) == 500:
                replayed += outbox.replay(batch)
                batch = []
        replayed += outbox.replay(batch)
        self.stdout.write(f"deliveries={replayed}")
