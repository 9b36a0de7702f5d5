"""The statistics page counts each endpoint's deliveries of the window: delivered, failed,
pending and their retries; an endpoint is named by its description (never its url, whose query
string may hold the receiver's token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard.insight import webhooks as figures
from face_idcard.insight.windows import Scope
from face_idcard.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookMessage
from tests.support.admin_helpers import client_for
from tests.support.insight_helpers import STATISTICS

pytestmark = pytest.mark.django_db


def _deliveries(endpoint: Any, *rows: tuple[str, int], created: Any = None) -> None:
    for status, tries in rows:
        message = WebhookMessage.objects.create(
            id=f"msg_{WebhookMessage.objects.count()}", event_type="ping", body="{}"
        )
        WebhookDelivery.objects.create(
            message=message,
            endpoint=endpoint,
            status=status,
            attempts=tries,
            created_at=created or timezone.now(),
        )


def test_each_endpoints_deliveries_in_the_window(make_endpoint: Any) -> None:
    crm, _ = make_endpoint("https://crm.example.com/hook?token=s3cr3t", description="CRM")
    risk, _ = make_endpoint("https://risk.example.com/hook")
    _deliveries(
        crm,
        (DeliveryStatus.DELIVERED.value, 1),
        (DeliveryStatus.DELIVERED.value, 3),  # two retries
        (DeliveryStatus.FAILED.value, 9),  # eight retries
        (DeliveryStatus.PENDING.value, 0),
    )
    _deliveries(risk, (DeliveryStatus.DELIVERED.value, 1))
    _deliveries(risk, (DeliveryStatus.FAILED.value, 2), created=timezone.now() - timedelta(days=3))

    rows = {row.endpoint: row for row in figures.compute(Scope.last(timedelta(days=1)))}
    assert set(rows) == {"CRM", str(risk.pk)}
    assert (rows["CRM"].delivered, rows["CRM"].failed, rows["CRM"].pending) == (2, 1, 1)
    assert rows["CRM"].retries == 10
    assert (rows[str(risk.pk)].delivered, rows[str(risk.pk)].failed) == (1, 0)  # 3 days ago: out


def test_the_statistics_page_shows_them_without_the_url(make_endpoint: Any) -> None:
    crm, _ = make_endpoint("https://crm.example.com/hook?token=s3cr3t", description="CRM")
    _deliveries(crm, (DeliveryStatus.FAILED.value, 4))
    client, _ = client_for("stats-viewer", "view_verificationattempt")
    html = client.get(STATISTICS).content.decode()
    assert 'id="face-idcard-webhooks"' in html
    assert "CRM" in html and "s3cr3t" not in html and "crm.example.com" not in html
