"""Deliveries to a real receiver on loopback: signed per the specification (verified with the
reference library), retried on failures with the same webhook-id, never following redirects,
reading a capped answer, disabling an endpoint on 410 or after a run of failures."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from face_idcard.webhooks import delivery, outbox
from face_idcard.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.webhooks.receiver import Receiver, Reply

pytestmark = pytest.mark.django_db(transaction=True)


def _ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    message = outbox.ping(endpoint)
    return message.deliveries.get()


def _deliver(item: WebhookDelivery) -> str:
    result = delivery.deliver(item.pk)
    item.refresh_from_db()
    return result


def _due_now(item: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())


def test_a_2xx_is_delivered_signed_per_the_specification(
    receiver: Receiver, make_endpoint: Any
) -> None:
    endpoint, secret = make_endpoint(receiver.url)
    item = _ping(endpoint)
    assert _deliver(item) == "delivered"
    assert item.status == "delivered" and item.attempts == 1 and item.last_status_code == 200
    assert item.last_latency_ms is not None
    (hit,) = receiver.hits()
    assert hit.headers["webhook-id"] == item.message_id
    assert hit.headers["content-type"] == "application/json"
    Webhook(secret).verify(hit.body, hit.headers)
    # Delivered once: a second message for it is skipped.
    assert delivery.deliver(item.pk) == "skipped"
    assert len(receiver.hits()) == 1


def test_rotation_both_secrets_sign(receiver: Receiver, make_endpoint: Any) -> None:
    from face_idcard.webhooks import secrets

    endpoint, old = make_endpoint(receiver.url)
    new = secrets.rotate(endpoint)
    _deliver(_ping(endpoint))
    (hit,) = receiver.hits()
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(hit.body, hit.headers)
    Webhook(new).verify(hit.body, hit.headers)
    assert secrets.retire_old(endpoint) == 1
    assert secrets.load(endpoint) == [new]


def test_failures_are_retried_on_the_schedule_with_the_same_webhook_id(
    receiver: Receiver, make_endpoint: Any, hook_settings: Any
) -> None:
    hook_settings(WEBHOOK_RETRY_SCHEDULE_SECONDS=[5, 300])
    endpoint, secret = make_endpoint(receiver.url)
    receiver.script(Reply(500, b"oops"), Reply(503), Reply(500))
    item = _ping(endpoint)
    before = timezone.now()
    assert _deliver(item) == "retry"
    assert item.status == "pending" and item.last_status_code == 500
    assert item.last_error == "HTTP 500: oops"
    assert timedelta(seconds=5) <= item.next_attempt_at - before <= timedelta(seconds=6.5)
    assert delivery.deliver(item.pk) == "skipped"  # not due yet
    _due_now(item)
    assert _deliver(item) == "retry"
    assert timedelta(seconds=300) <= item.next_attempt_at - before <= timedelta(seconds=332)
    _due_now(item)
    assert _deliver(item) == "failed"  # the schedule is over
    assert item.attempts == 3
    ids = {hit.headers["webhook-id"] for hit in receiver.hits()}
    assert ids == {item.message_id}
    timestamps = [hit.headers["webhook-timestamp"] for hit in receiver.hits()]
    assert len(timestamps) == 3
    for hit in receiver.hits():
        Webhook(secret).verify(hit.body, hit.headers)


def test_the_default_schedule_lasts_about_three_days() -> None:
    from face_idcard.conf import DEFAULTS

    total = sum(DEFAULTS["WEBHOOK_RETRY_SCHEDULE_SECONDS"])
    assert timedelta(days=2.5) < timedelta(seconds=total) < timedelta(days=3.5)


def test_a_timeout_is_a_failure(receiver: Receiver, make_endpoint: Any, hook_settings: Any) -> None:
    hook_settings(WEBHOOK_TIMEOUT_SECONDS=0.3)
    endpoint, _ = make_endpoint(receiver.url)
    receiver.script(Reply(200, delay=1.0))
    item = _ping(endpoint)
    started = time.monotonic()
    assert _deliver(item) == "retry"
    assert time.monotonic() - started < 1.0
    assert item.last_status_code is None
    assert "Timeout" in item.last_error


def test_a_refused_connection_is_a_failure(make_endpoint: Any) -> None:
    endpoint, _ = make_endpoint("http://127.0.0.1:9/closed")
    item = _ping(endpoint)
    assert _deliver(item) == "retry"
    assert item.last_error == "ConnectionError"


def test_410_disables_the_endpoint(receiver: Receiver, make_endpoint: Any) -> None:
    endpoint, _ = make_endpoint(receiver.url)
    receiver.script(Reply(410))
    item = _ping(endpoint)
    assert _deliver(item) == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_reason == "gone" and endpoint.disabled_at is not None
    # Later events are not written for it.
    assert outbox.EVENT_KINDS  # (the outbox reads active endpoints only)
    assert WebhookEndpoint.objects.filter(active=True).count() == 0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(
    receiver: Receiver, make_endpoint: Any, hook_settings: Any, status: int
) -> None:
    hook_settings(WEBHOOK_RETRY_SCHEDULE_SECONDS=[5, 10])
    endpoint, _ = make_endpoint(receiver.url)
    receiver.script(Reply(status, headers={"Retry-After": "120"}))
    item = _ping(endpoint)
    before = timezone.now()
    assert _deliver(item) == "retry"
    assert timedelta(seconds=119) <= item.next_attempt_at - before <= timedelta(seconds=125)


def test_retry_after_as_an_http_date() -> None:
    now = time.time()
    value = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 600))
    assert 590 <= (delivery.parse_retry_after(value, now) or 0) <= 601
    assert delivery.parse_retry_after("soon", now) is None
    assert delivery.parse_retry_after("99999999", now) == delivery.MAX_RETRY_AFTER_SECONDS


def test_redirects_are_failures_never_followed(receiver: Receiver, make_endpoint: Any) -> None:
    endpoint, _ = make_endpoint(receiver.url)
    target = receiver.url.replace("/hook", "/elsewhere")
    receiver.script(Reply(307, headers={"Location": target}), Reply(200))
    item = _ping(endpoint)
    assert _deliver(item) == "retry"
    assert item.last_status_code == 307
    assert receiver.hits("/elsewhere") == []
    assert len(receiver.received) == 1


def test_a_huge_answer_is_read_capped(receiver: Receiver, make_endpoint: Any) -> None:
    endpoint, _ = make_endpoint(receiver.url)
    receiver.script(Reply(500, b"E" * 300, stream_bytes=50 * 1024 * 1024))
    item = _ping(endpoint)
    started = time.monotonic()
    assert _deliver(item) == "retry"
    assert time.monotonic() - started < 5
    assert len(item.last_error) <= 255
    assert item.last_error.startswith("HTTP 500: EEE")


def test_a_run_of_failures_disables_the_endpoint_and_others_go_on(
    receiver: Receiver, make_endpoint: Any, hook_settings: Any
) -> None:
    hook_settings(WEBHOOK_DISABLE_AFTER_FAILURES=2)
    failing, _ = make_endpoint("http://127.0.0.1:9/closed")
    healthy, _ = make_endpoint(receiver.url)
    first = _ping(failing)
    assert _deliver(first) == "retry"
    _due_now(first)
    assert _deliver(first) == "retry"
    failing.refresh_from_db()
    assert not failing.active and failing.disabled_reason == "failures"
    assert _deliver(_ping(healthy)) == "delivered"
    healthy.refresh_from_db()
    assert healthy.active and healthy.failure_run == 0


def test_a_success_resets_the_run(receiver: Receiver, make_endpoint: Any) -> None:
    endpoint, _ = make_endpoint(receiver.url)
    receiver.script(Reply(500), Reply(200))
    item = _ping(endpoint)
    _deliver(item)
    endpoint.refresh_from_db()
    assert endpoint.failure_run == 1
    _due_now(item)
    assert _deliver(item) == "delivered"
    endpoint.refresh_from_db()
    assert endpoint.failure_run == 0


def test_private_destinations_are_refused_unless_allowed(
    receiver: Receiver, make_endpoint: Any, hook_settings: Any
) -> None:
    endpoint, _ = make_endpoint(receiver.url)
    hook_settings(WEBHOOK_ALLOW_PRIVATE=False)
    item = _ping(endpoint)
    assert _deliver(item) == "retry"
    assert "destination refused" in item.last_error
    assert receiver.received == []


def test_a_worker_killed_mid_delivery_is_delivered_later_with_the_same_id(
    receiver: Receiver, make_endpoint: Any, hook_settings: Any, monkeypatch: Any
) -> None:
    hook_settings(WEBHOOK_LEASE_SECONDS=30)
    endpoint, secret = make_endpoint(receiver.url)
    item = _ping(endpoint)
    # A worker took the delivery and died before it finished (its claim stays on the row).
    assert delivery.claim(item.pk, timezone.now()) is not None
    assert delivery.deliver(item.pk) == "skipped"  # the broker's redelivery: still held
    published: list[int] = []
    monkeypatch.setattr(
        delivery,
        "publish",
        lambda delivery_id, countdown=None: published.append(delivery_id) or True,
    )
    assert delivery.deliver_due() == 0  # the lease still runs
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=True):
        assert delivery.deliver_due() == 1
        assert published == [item.pk]
        assert _deliver(item) == "delivered"
    assert item.attempts == 2
    (hit,) = receiver.hits()
    assert hit.headers["webhook-id"] == item.message_id
    Webhook(secret).verify(hit.body, hit.headers)


def test_a_lost_publish_is_sent_by_the_periodic_task(make_endpoint: Any, monkeypatch: Any) -> None:
    published: list[int] = []
    monkeypatch.setattr(outbox, "publish", lambda delivery_id, countdown=None: False)
    endpoint, _ = make_endpoint("http://127.0.0.1:9/x")
    item = _ping(endpoint)
    monkeypatch.setattr(
        delivery,
        "publish",
        lambda delivery_id, countdown=None: published.append(delivery_id) or True,
    )
    assert delivery.deliver_due() == 0  # just written: its own message may be on its way
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=True):
        assert delivery.deliver_due() == 1
    assert published == [item.pk]


def test_replay_sends_the_same_webhook_id_again(receiver: Receiver, make_endpoint: Any) -> None:
    endpoint, secret = make_endpoint(receiver.url)
    item = _ping(endpoint)
    assert _deliver(item) == "delivered"
    assert outbox.replay([item]) == 1
    item.refresh_from_db()
    assert item.status == "pending"
    assert _deliver(item) == "delivered"
    first, second = receiver.hits()
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == item.message_id
    assert first.body == second.body
    Webhook(secret).verify(second.body, second.headers)


def test_no_pii_in_logs_headers_or_bodies(
    receiver: Receiver, make_endpoint: Any, caplog: Any
) -> None:
    from face_idcard.simulator import magic
    from tests.support.factories import NAME, finished_attempt

    make_endpoint(receiver.url)
    receiver.script(Reply(500), Reply(200))
    with caplog.at_level(logging.DEBUG):
        attempt = finished_attempt(magic.MATCH)
        item = WebhookDelivery.objects.get()
        _deliver(item)
        _due_now(item)
        _deliver(item)
    masks = (attempt.idcard_number_masked, attempt.idcard_name_masked)
    everything = caplog.text + "".join(
        str(hit.headers) + hit.body.decode() for hit in receiver.hits()
    )
    assert len(receiver.hits()) == 2
    for secret in (magic.MATCH, NAME, *masks):
        assert secret not in everything


def test_the_commit_publishes_one_celery_message_per_delivery(
    make_endpoint: Any, parked_publishes: str
) -> None:
    from tests.support.celery_app import queued_messages

    make_endpoint("http://127.0.0.1:9/a")
    make_endpoint("http://127.0.0.1:9/b")
    endpoint, _ = make_endpoint("http://127.0.0.1:9/c")
    outbox.ping(endpoint)
    assert queued_messages(parked_publishes) == 1


def test_the_celery_task_delivers(receiver: Receiver, make_endpoint: Any) -> None:
    from face_idcard import tasks

    endpoint, secret = make_endpoint(receiver.url)
    item = _ping(endpoint)
    assert tasks.deliver_webhook.apply(args=(item.pk,)).get() == "delivered"
    (hit,) = receiver.hits()
    Webhook(secret).verify(hit.body, hit.headers)
