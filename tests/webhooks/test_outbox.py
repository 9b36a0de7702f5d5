"""The outbox: an event's message is written in the transaction of the change it reports (a
rollback writes none), one delivery per endpoint that wants it, thin payloads without PII."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction

from face_idcard import services
from face_idcard.models import VerificationAttempt
from face_idcard.signals import attempt_redacted
from face_idcard.simulator import magic
from face_idcard.webhooks import outbox, payloads
from face_idcard.webhooks.models import WebhookDelivery, WebhookMessage
from tests.support.factories import NAME, finished_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db(transaction=True)


def _bodies(event_type: str) -> list[dict[str, Any]]:
    return [
        json.loads(body)
        for body in WebhookMessage.objects.filter(event_type=event_type).values_list(
            "body", flat=True
        )
    ]


def assert_no_pii(text: str, attempt: VerificationAttempt, number: str) -> None:
    for secret in (number, NAME, attempt.idcard_number_masked, attempt.idcard_name_masked):
        if secret:
            assert secret not in text
    data = json.loads(text)["data"]
    assert not {"similarity", "threshold", "selfie", "url", "name", "idcard_number"} & set(data)


def test_a_decided_attempt_writes_its_event_for_each_endpoint(make_endpoint: Any) -> None:
    first, _ = make_endpoint("http://127.0.0.1:9/a")
    second, _ = make_endpoint("http://127.0.0.1:9/b", event_types=["attempt.decided"])
    make_endpoint("http://127.0.0.1:9/c", event_types=["attempt.reviewed"])
    make_endpoint("http://127.0.0.1:9/d", active=False)

    attempt = finished_attempt(magic.MATCH, external_reference="order-17")

    (body,) = _bodies("attempt.decided")
    assert body["type"] == "attempt.decided"
    assert body["timestamp"].endswith("Z")
    assert set(body["data"]) == set(payloads.ATTEMPT_FIELDS)
    assert body["data"]["id"] == str(attempt.pk)
    assert body["data"]["external_reference"] == "order-17"
    assert body["data"]["status"] == "completed"
    assert body["data"]["decision"] == "match"
    assert body["data"]["reason"] == attempt.reason
    assert body["data"]["backend"] == attempt.backend
    message = WebhookMessage.objects.get()
    assert message.id.startswith("msg_")
    assert message.attempt_id == attempt.pk
    assert {d.endpoint_id for d in WebhookDelivery.objects.all()} == {first.pk, second.pk}
    assert_no_pii(message.body, attempt, magic.MATCH)


def test_no_endpoint_no_message(hook_settings: Any) -> None:
    finished_attempt(magic.MATCH)
    assert not WebhookMessage.objects.exists()


def test_a_rolled_back_change_sends_nothing(make_endpoint: Any, monkeypatch: Any) -> None:
    make_endpoint("http://127.0.0.1:9/a")
    attempt = finished_attempt(magic.REVIEW)
    WebhookMessage.objects.all().delete()
    published: list[int] = []
    monkeypatch.setattr(
        outbox, "publish", lambda delivery_id, countdown=None: published.append(delivery_id)
    )
    reviewer = user_with("reviewer", "review")

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.review(attempt, reviewer=reviewer, decision="match", reason="same person")
        assert WebhookMessage.objects.filter(event_type="attempt.reviewed").exists()
        raise Abort
    assert not WebhookMessage.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert published == []


def test_review_and_redaction_events(make_endpoint: Any, monkeypatch: Any) -> None:
    make_endpoint("http://127.0.0.1:9/a")
    attempt = finished_attempt(magic.REVIEW)
    published: list[int] = []
    monkeypatch.setattr(
        outbox, "publish", lambda delivery_id, countdown=None: published.append(delivery_id)
    )
    signalled: list[Any] = []
    attempt_redacted.connect(
        lambda **kw: signalled.append(kw["attempt"].pk), weak=False, dispatch_uid="t"
    )
    try:
        services.review(attempt, reviewer=user_with("r", "review"), decision="match", reason="ok")
        services.redact(attempt)
    finally:
        attempt_redacted.disconnect(dispatch_uid="t")

    (reviewed,) = _bodies("attempt.reviewed")
    assert reviewed["data"]["review_decision"] == "match"
    assert reviewed["data"]["machine_decision"] == "review"
    assert reviewed["data"]["decision"] == "match"
    assert reviewed["data"]["reviewed_at"]
    (redacted,) = _bodies("attempt.redacted")
    assert redacted["data"]["redacted_at"]
    assert signalled == [attempt.pk]
    # Published once each transaction committed.
    assert len(published) == 2
    for message in WebhookMessage.objects.all():
        assert_no_pii(message.body, attempt, magic.REVIEW)


def test_the_similarity_only_when_a_setting_allows_it(
    make_endpoint: Any, hook_settings: Any
) -> None:
    hook_settings(WEBHOOK_INCLUDE_SIMILARITY=True)
    make_endpoint("http://127.0.0.1:9/a")
    attempt = finished_attempt(magic.MATCH)
    (body,) = _bodies("attempt.decided")
    assert body["data"]["similarity"] == attempt.similarity


def test_ping_goes_to_its_endpoint_alone(make_endpoint: Any) -> None:
    endpoint, _ = make_endpoint("http://127.0.0.1:9/a", event_types=["attempt.redacted"])
    make_endpoint("http://127.0.0.1:9/b")
    message = outbox.ping(endpoint)
    assert message.event_type == "ping"
    assert [d.endpoint_id for d in message.deliveries.all()] == [endpoint.pk]


def test_a_withdrawal_sends_attempt_withdrawn(make_endpoint: Any, monkeypatch: Any) -> None:
    make_endpoint("http://127.0.0.1:9/a", event_types=["attempt.withdrawn"])
    monkeypatch.setattr(outbox, "publish", lambda delivery_id, countdown=None: None)
    attempt = finished_attempt(magic.MATCH)
    services.withdraw(attempt=attempt)
    (withdrawn,) = _bodies("attempt.withdrawn")
    assert withdrawn["data"]["id"] == str(attempt.pk)
    assert WebhookDelivery.objects.filter(message__event_type="attempt.withdrawn").count() == 1
    for message in WebhookMessage.objects.all():
        assert_no_pii(message.body, attempt, magic.MATCH)


# --- The list of active endpoints, kept per process ----------------------------------------


def _delivered_to() -> set[Any]:
    return set(WebhookDelivery.objects.values_list("endpoint_id", flat=True))


def test_the_active_endpoints_are_read_once_and_kept(make_endpoint: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_endpoint("http://127.0.0.1:9/a")
    outbox.active_endpoints("default")
    with CaptureQueriesContext(connection) as queries:
        assert len(outbox.active_endpoints("default")) == 1
    assert queries.captured_queries == []


def test_an_endpoint_saved_here_is_seen_at_once(make_endpoint: Any) -> None:
    first, _ = make_endpoint("http://127.0.0.1:9/a")
    finished_attempt(magic.MATCH)
    assert _delivered_to() == {first.pk}
    second, _ = make_endpoint("http://127.0.0.1:9/b")
    finished_attempt(magic.MATCH)
    assert _delivered_to() == {first.pk, second.pk}
    assert WebhookDelivery.objects.filter(endpoint=second).count() == 1
    first.active = False
    first.save()
    finished_attempt(magic.MATCH)
    assert WebhookDelivery.objects.filter(endpoint=first).count() == 2  # none for the third


def test_another_process_s_change_is_seen_within_the_cache_time(
    make_endpoint: Any, monkeypatch: Any
) -> None:
    """A queryset update sends no signal: as a change made by another process."""
    import time

    monkeypatch.setattr(outbox, "ENDPOINTS_CACHE_SECONDS", 0.5)
    endpoint, _ = make_endpoint("http://127.0.0.1:9/a")
    finished_attempt(magic.MATCH)
    type(endpoint).objects.filter(pk=endpoint.pk).update(active=False)
    finished_attempt(magic.MATCH)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2  # still kept
    time.sleep(0.6)
    finished_attempt(magic.MATCH)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2


def test_an_endpoint_of_a_rolled_back_transaction_is_not_kept(make_endpoint: Any) -> None:
    """Read inside the transaction that created it, the list holds the endpoint; after the
    rollback no delivery is written for it (the row is gone: that would fail the change)."""
    kept, _ = make_endpoint("http://127.0.0.1:9/kept")

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        make_endpoint("http://127.0.0.1:9/gone")
        assert len(outbox.active_endpoints("default")) == 2
        raise Rollback
    finished_attempt(magic.MATCH)
    assert _delivered_to() == {kept.pk}


def test_an_endpoint_disabled_by_its_failures_leaves_the_list(
    make_endpoint: Any, hook_settings: Any
) -> None:
    from face_idcard.webhooks import delivery
    from face_idcard.webhooks.models import DisabledReason

    endpoint, _ = make_endpoint("http://127.0.0.1:9/a")
    assert outbox.active_endpoints("default") == [endpoint]
    delivery.disable(endpoint, DisabledReason.FAILURES)
    assert outbox.active_endpoints("default") == []


def test_an_endpoint_is_deletable_once_disabled_for_the_cache_time(make_endpoint: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    endpoint, _ = make_endpoint("http://127.0.0.1:9/a")
    assert not outbox.deletable(endpoint)
    endpoint.active, endpoint.disabled_at = False, timezone.now()
    assert not outbox.deletable(endpoint)
    endpoint.disabled_at -= timedelta(seconds=outbox.ENDPOINTS_CACHE_SECONDS + 1)
    assert outbox.deletable(endpoint)
