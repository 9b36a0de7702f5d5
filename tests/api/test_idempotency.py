"""Idempotency-Key: a retry returns the first attempt; never a second attempt nor a second
billed call, also when the duplicates arrive at once (threads: a real race on PostgreSQL and
MySQL/MariaDB; on SQLite, whose writers go one at a time, the duplicates queue up). Keys are
compared exactly, case included, whatever the database's collation."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from face_idcard import services
from face_idcard.api import idempotency
from face_idcard.models import IdempotencyKey, VerificationAttempt
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.api_helpers import BASE, client_for, create, error_code, photo_file, plain_user
from tests.support.celery_app import PARKED_QUEUE, ledger_calls, wait_terminal


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> None:
    cache.clear()


def with_key(client: Any, key: str, **overrides: Any) -> Any:
    return create(client, headers={"Idempotency-Key": key}, **overrides)


@pytest.mark.django_db(transaction=True)
def test_sequential_retry_returns_the_first_attempt_and_bills_once(
    face_settings: Any, simulator: Any, celery_worker_thread: Any
) -> None:
    client = client_for(plain_user("owner"))
    first = with_key(client, "order-1-try")
    assert first.status_code == 202
    # A retry: a new multipart body (new boundary, a new file object), same content.
    second = with_key(client, "order-1-try")
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second["Location"] == first["Location"]
    assert VerificationAttempt.objects.count() == 1
    attempt = wait_terminal(first.json()["id"])
    assert len(ledger_calls(simulator, attempt.pk)) == 1
    assert len(simulator.ledger.calls()) == 1


@pytest.mark.django_db
def test_same_key_different_request_is_422(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    assert with_key(client, "k1").status_code == 202
    other_photo = with_key(client, "k1", image=photo_file(imagefactory.jpeg(330, 240)))
    assert other_photo.status_code == 422 and error_code(other_photo) == "idempotency_key_reused"
    other_number = with_key(client, "k1", idcard_number=magic.NO_MATCH)
    assert other_number.status_code == 422
    assert VerificationAttempt.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user_and_expire(face_settings: Any) -> None:
    a, b = client_for(plain_user("a")), client_for(plain_user("b"))
    first = with_key(a, "shared")
    assert with_key(b, "shared").json()["id"] != first.json()["id"]
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = with_key(a, "shared")
    assert again.status_code == 202 and again.json()["id"] != first.json()["id"]
    assert VerificationAttempt.objects.count() == 3
    # Purge removes the expired row (b's), keeps the live one (a's new one).
    counts = services.purge()
    assert counts["idempotency_keys"] == 1
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_first_request_leaves_the_key_free(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    bad = with_key(client, "k2", image=photo_file(imagefactory.gif(), "a.gif"))
    assert bad.status_code == 400
    assert IdempotencyKey.objects.count() == 0
    assert with_key(client, "k2").status_code == 202


@pytest.mark.django_db
def test_fingerprint_is_keyed_not_a_plain_hash(face_settings: Any) -> None:
    import hashlib

    fields = {"idcard_number": magic.MATCH, "idcard_name": "张三"}
    keyed = idempotency.fingerprints(fields, None)[0]
    face_settings(IDEMPOTENCY_KEY="another key")
    assert idempotency.fingerprints(fields, None)[0] != keyed
    assert keyed not in {hashlib.sha256(magic.MATCH.encode()).hexdigest()}
    with_key(client_for(plain_user("owner")), "k3")
    stored = IdempotencyKey.objects.get().fingerprint
    assert magic.MATCH not in stored and len(stored) == 64


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_make_one_attempt_and_one_call(
    face_settings: Any, simulator: Any, celery_worker_thread: Any
) -> None:
    owner = plain_user("owner")
    client_for(owner)  # the token, made before the threads
    start = threading.Barrier(6)
    answers: list[Any] = []
    lock = threading.Lock()

    def post() -> None:
        try:
            client = client_for(owner)
            start.wait()
            response = with_key(client, "same-order")
            with lock:
                answers.append(response)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.status_code for r in answers] == [202] * 6, [r.content[:200] for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert VerificationAttempt.objects.count() == 1
    attempt = wait_terminal(answers[0].json()["id"])
    assert len(ledger_calls(simulator, attempt.pk)) == 1
    assert len(simulator.ledger.calls()) == 1
    assert BASE in answers[0]["Location"]


def post_at_once(calls: list[Any]) -> list[Any]:
    """Run each call (a request) in its own thread, all released together; their responses."""
    start = threading.Barrier(len(calls))
    answers: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def post(call: Any) -> None:
        try:
            start.wait(timeout=30)
            response = call()
            with lock:
                answers.append(response)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a request never returned"
    assert errors == []
    return answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("parked_publishes")
def test_concurrent_duplicates_store_one_attempt_and_one_key(face_settings: Any) -> None:
    owner = plain_user("owner")
    client_for(owner)  # the token, made before the threads
    answers = post_at_once([lambda: with_key(client_for(owner), "same-order")] * 6)
    assert [r.status_code for r in answers] == [202] * 6, [r.content[:200] for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert VerificationAttempt.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("parked_publishes")
def test_a_burst_of_keyed_creations_stays_within_the_daily_limit(face_settings: Any) -> None:
    """Distinct keys, distinct numbers, one account: the per-user limit decides, inside the
    transaction that also stores each key (submit runs in the API's own transaction)."""
    face_settings(
        MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=3,
        MAX_ATTEMPTS_PER_ID_PER_DAY=1000,
        API_CREATE_THROTTLE_RATE=None,
        CELERY_QUEUE=PARKED_QUEUE,
    )
    owner = plain_user("owner")
    client_for(owner)

    def keyed(index: int) -> Any:
        return lambda: with_key(
            client_for(owner), f"order-{index}", idcard_number=magic.flaky(0, variant=index)
        )

    answers = post_at_once([keyed(index) for index in range(8)])
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * 3 + [429] * 5, [r.content[:200] for r in answers]
    assert VerificationAttempt.objects.count() == 3
    assert IdempotencyKey.objects.count() == 3
    assert {str(pk) for pk in IdempotencyKey.objects.values_list("attempt", flat=True)} == {
        r.json()["id"] for r in answers if r.status_code == 202
    }


@pytest.mark.django_db
def test_keys_that_differ_only_in_case_are_two_keys(face_settings: Any) -> None:
    """MySQL's ``_ci`` collations compare ``Order-1`` and ``order-1`` as equal: the key is
    stored as a digest, so they stay two keys there too (two attempts), and the same key
    sent again is still one."""
    client = client_for(plain_user("owner"))
    upper = with_key(client, "Order-1")
    lower = with_key(client, "order-1")
    assert (upper.status_code, lower.status_code) == (202, 202), lower.content
    assert upper.json()["id"] != lower.json()["id"]
    again = with_key(client, "Order-1")
    assert again.status_code == 202 and again.json()["id"] == upper.json()["id"]
    assert VerificationAttempt.objects.count() == 2
    assert IdempotencyKey.objects.count() == 2


@pytest.mark.django_db
def test_the_key_is_stored_as_its_digest(face_settings: Any) -> None:
    import hashlib

    with_key(client_for(plain_user("owner")), "Order-1")
    stored = IdempotencyKey.objects.get().key
    assert stored == hashlib.sha256(b"Order-1").hexdigest()
    assert stored == idempotency.key_digest("Order-1") != idempotency.key_digest("order-1")
