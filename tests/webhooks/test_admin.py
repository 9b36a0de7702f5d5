"""The admin: endpoints with a secret shown once and stored encrypted, urls and secrets
validated, the test ping, rotation, deliveries listed and replayed; the replay command;
old deliveries purged."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from face_idcard import services
from face_idcard.webhooks import delivery, outbox, secrets
from face_idcard.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage
from tests.support.users import user_with
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = "/admin/face_idcard/webhookendpoint/"
DELIVERIES = "/admin/face_idcard/webhookdelivery/"
MANAGER = ("add_webhookendpoint", "change_webhookendpoint", "view_webhookendpoint")


def _client(*codenames: str) -> Client:
    client = Client()
    client.force_login(user_with("hooks", *codenames))
    return client


def _add(client: Client, url: str, **fields: Any) -> Any:
    data = {"url": url, "description": "crm", "active": "on", **fields}
    return client.post(ENDPOINTS + "add/", data, follow=True)


def test_an_added_endpoint_shows_its_secret_once_and_stores_it_encrypted(
    hook_settings: Any, receiver: Receiver
) -> None:
    client = _client(*MANAGER)
    response = _add(client, receiver.url, event_types=["attempt.decided"])
    assert response.status_code == 200
    shown = re.findall(r"whsec_[A-Za-z0-9+/=]+", response.content.decode())
    assert len(shown) == 1
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["attempt.decided"]
    assert secrets.load(endpoint) == shown
    assert shown[0] not in endpoint.secrets_encrypted
    page = (
        client.get(ENDPOINTS).content.decode()
        + client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    )
    assert shown[0] not in page


def test_a_pasted_secret_is_validated(hook_settings: Any, receiver: Receiver) -> None:
    client = _client(*MANAGER)
    response = _add(client, receiver.url, signing_secret="whsec_QUJD")
    assert "whsec_ followed by the Base64" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    good = secrets.generate_secret()
    _add(client, receiver.url, signing_secret=good)
    assert secrets.load(WebhookEndpoint.objects.get()) == [good]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://10.0.0.1/hook", "http://localhost/x"]
)
def test_private_endpoint_urls_are_refused_by_default(face_settings: Any, url: str) -> None:
    client = _client(*MANAGER)
    response = _add(client, url)
    assert "public internet server" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_credentials_in_the_url_are_refused(hook_settings: Any) -> None:
    response = _add(_client(*MANAGER), "http://user:pw@127.0.0.1/hook")
    assert "Enter a valid endpoint address" in response.content.decode()


def test_endpoints_need_their_own_permission(hook_settings: Any) -> None:
    assert _client("view_verificationattempt", "review").get(ENDPOINTS).status_code == 403
    assert _client("view_webhookendpoint").get(ENDPOINTS + "add/").status_code == 403


def test_ping_rotation_and_disabling_from_the_admin(
    hook_settings: Any, make_endpoint: Any, receiver: Receiver
) -> None:
    endpoint, first = make_endpoint(receiver.url)
    client = _client(*MANAGER)
    client.post(ENDPOINTS, {"action": "send_test_ping", "_selected_action": [str(endpoint.pk)]})
    item = WebhookDelivery.objects.get()
    assert item.message.event_type == "ping"
    assert delivery.deliver(item.pk) == "delivered"

    response = client.post(
        ENDPOINTS, {"action": "rotate_secret", "_selected_action": [str(endpoint.pk)]}, follow=True
    )
    (new,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", response.content.decode())
    endpoint.refresh_from_db()
    assert secrets.load(endpoint) == [new, first]

    client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/",
        {"url": receiver.url, "description": "crm", "event_types": []},
    )
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_reason == "manual"


def test_a_disabled_endpoint_is_announced_on_the_list(
    hook_settings: Any, make_endpoint: Any
) -> None:
    make_endpoint("http://127.0.0.1:9/x", active=False, disabled_reason="gone")
    response = _client(*MANAGER).get(ENDPOINTS)
    assert "disabled after failed deliveries" in response.content.decode()


def test_deliveries_are_listed_and_replayed(
    hook_settings: Any, make_endpoint: Any, receiver: Receiver
) -> None:
    endpoint, _ = make_endpoint(receiver.url)
    item = outbox.ping(endpoint).deliveries.get()
    delivery.deliver(item.pk)
    viewer = _client("view_webhookdelivery")
    page = viewer.get(DELIVERIES + f"?endpoint__id__exact={endpoint.pk}").content.decode()
    assert item.message_id in page and "Delivered" in page
    # Viewing is not replaying.
    viewer.post(DELIVERIES, {"action": "replay", "_selected_action": [str(item.pk)]})
    item.refresh_from_db()
    assert item.status == "delivered"
    operator = _client("view_webhookdelivery", "change_webhookdelivery")
    operator.post(DELIVERIES, {"action": "replay", "_selected_action": [str(item.pk)]})
    item.refresh_from_db()
    assert item.status == "pending"
    assert delivery.deliver(item.pk) == "delivered"
    assert [hit.headers["webhook-id"] for hit in receiver.hits()] == [item.message_id] * 2


def test_the_replay_command_takes_a_time_range(hook_settings: Any, make_endpoint: Any) -> None:
    endpoint, _ = make_endpoint("http://127.0.0.1:9/x")
    old = outbox.ping(endpoint)
    WebhookMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    recent = outbox.ping(endpoint)
    WebhookDelivery.objects.update(status="failed")
    out = StringIO()
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    call_command("face_idcard_webhooks_replay", "--since", since, stdout=out)
    assert out.getvalue().strip() == "deliveries=1"
    assert WebhookDelivery.objects.get(message=recent).status == "pending"
    assert WebhookDelivery.objects.get(message=old).status == "failed"


def test_old_deliveries_are_purged_on_the_retention_schedule(
    hook_settings: Any, make_endpoint: Any
) -> None:
    hook_settings(WEBHOOK_RETENTION_DAYS=30)
    endpoint, _ = make_endpoint("http://127.0.0.1:9/x")
    old, pending, recent = (outbox.ping(endpoint) for _ in range(3))
    long_ago = timezone.now() - timedelta(days=31)
    WebhookMessage.objects.filter(pk__in=[old.pk, pending.pk]).update(created_at=long_ago)
    WebhookDelivery.objects.exclude(message=pending).update(status="delivered")
    assert services.purge()["webhook_deliveries"] == 1
    assert set(WebhookMessage.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}


def test_an_endpoint_is_deleted_only_once_disabled_for_a_while(
    hook_settings: Any, make_endpoint: Any
) -> None:
    """Other processes keep their list of active endpoints for a few seconds: a delivery they
    wrote for an endpoint deleted meanwhile would break the decision's transaction."""
    from datetime import timedelta

    from django.utils import timezone

    from face_idcard.webhooks.models import WebhookEndpoint

    endpoint, _ = make_endpoint("http://127.0.0.1:9/x")
    client = _client(*MANAGER, "delete_webhookendpoint")
    assert client.post(f"{ENDPOINTS}{endpoint.pk}/delete/", {"post": "yes"}).status_code == 403
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_at=timezone.now() - timedelta(minutes=1)
    )
    response = client.post(f"{ENDPOINTS}{endpoint.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
