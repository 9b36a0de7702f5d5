"""Every outage answers 503 with Retry-After, never 500, and stores nothing half-way: the
database refusing, the throttle's cache or the rate limiter's cache down (a Redis on a closed
port). The broker down at submit time is the one outage that does not refuse the request: the
attempt is stored whole and queued, answered 202, and the sweeper publishes it once the broker
is back (nothing lost, nothing half-stored, the client need not retry)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from celery import Celery
from django.db import OperationalError, connection
from django.utils import timezone

from face_idcard import services
from face_idcard.api.errors import OUTAGE_RETRY_AFTER_SECONDS
from face_idcard.models import AttemptEvent, EventKind, IdempotencyKey, VerificationAttempt
from face_idcard.services import dispatch
from face_idcard.states import Status
from tests.support.api_helpers import client_for, create, error_code, plain_user
from tests.support.dispatchers import RecordingDispatcher

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_down() -> dict[str, Any]:
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
    }


@pytest.fixture
def selfies(settings: Any, tmp_path: Path) -> Path:
    """The encrypted selfies go to a folder of this test's own (an orphan would show)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "face_idcard": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    return tmp_path


def stored_nothing(selfies: Path) -> bool:
    return (
        not VerificationAttempt.objects.exists()
        and not AttemptEvent.objects.exists()
        and not IdempotencyKey.objects.exists()
        and not [path for path in selfies.rglob("*") if path.is_file()]
    )


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert error_code(response) == "unavailable"
    assert response["Retry-After"] == str(OUTAGE_RETRY_AFTER_SECONDS)


def test_throttle_cache_down_is_503(
    settings: Any, face_settings: Callable[..., None], selfies: Path
) -> None:
    # The creation throttle (DRF's, on the default cache) cannot count.
    settings.CACHES = {**settings.CACHES, "default": redis_down()}
    client = client_for(plain_user("owner"))
    assert_unavailable(create(client, headers={"Idempotency-Key": "k-cache"}))
    assert stored_nothing(selfies)


def test_rate_limiter_cache_down_is_503_and_stores_nothing(
    settings: Any, face_settings: Callable[..., None], selfies: Path
) -> None:
    # The throttle passes; the submission's slot reservation (after the photo was sealed and
    # stored) cannot reach its cache: the transaction rolls back and the selfie goes with it.
    settings.CACHES = {**settings.CACHES, "ratelimit": redis_down()}
    face_settings(
        API_CREATE_THROTTLE_RATE=None, RATE_LIMIT_PER_SECOND=5, RATE_LIMIT_CACHE="ratelimit"
    )
    client = client_for(plain_user("owner"))
    assert_unavailable(create(client, headers={"Idempotency-Key": "k-rate"}))
    assert stored_nothing(selfies)


@contextlib.contextmanager
def database_refusing(statements: tuple[str, ...]) -> Iterator[None]:
    """The database raises OperationalError for the statements starting with ``statements``
    (Django's documented execute_wrapper hook, on this thread's connection)."""

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(statements):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param(("SELECT", "INSERT", "UPDATE"), id="down"),
        # Reads answer (authentication, the daily limits), the write of the attempt fails.
        pytest.param(("INSERT",), id="refusing-writes"),
    ],
)
def test_database_refusing_is_503_and_stores_nothing(
    face_settings: Callable[..., None], selfies: Path, statements: tuple[str, ...]
) -> None:
    client = client_for(plain_user("owner"))
    with database_refusing(statements):
        response = create(client, headers={"Idempotency-Key": "k-db"})
    assert_unavailable(response)
    assert stored_nothing(selfies)


def test_database_down_for_a_read_is_503(face_settings: Callable[..., None]) -> None:
    client = client_for(plain_user("owner"))
    with database_refusing(("SELECT",)):
        response = client.get("/api/face-idcard/attempts/")
    assert_unavailable(response)


class DownBrokerDispatcher:
    """Celery's own publish, to a Redis broker on a closed port (kombu's real failure)."""

    def __init__(self) -> None:
        self.app = Celery("face_idcard_down_broker", set_as_current=False)
        self.app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"

    def dispatch(self, attempt_id: UUID, countdown: float | None) -> None:
        self.app.send_task(
            "face_idcard.tasks.verify_attempt",
            args=(str(attempt_id),),
            countdown=countdown,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.1},
        )


def test_broker_down_at_submit_stores_the_attempt_whole_and_the_sweeper_sends_it(
    face_settings: Callable[..., None], selfies: Path, django_capture_on_commit_callbacks: Any
) -> None:
    dispatch.set_dispatcher(DownBrokerDispatcher())
    try:
        client = client_for(plain_user("owner"))
        with django_capture_on_commit_callbacks(execute=True) as publishes:
            response = create(client, headers={"Idempotency-Key": "k-broker"})
        assert len(publishes) == 1  # the publish was tried, and failed
    finally:
        dispatch.set_dispatcher(None)
    # Stored whole and answered: the attempt, its key, its sealed selfie.
    assert response.status_code == 202, response.content
    attempt = VerificationAttempt.objects.get(pk=response.json()["id"])
    assert attempt.status == Status.QUEUED
    assert IdempotencyKey.objects.count() == 1
    assert [path for path in selfies.rglob("*") if path.is_file()]
    failed = [e.data for e in attempt.events.filter(kind=EventKind.QUEUED) if "published" in e.data]
    assert failed == [{"published": False, "error": "OperationalError", "recovery": "sweeper"}]
    # The broker is back: the sweeper publishes it (once its queueing is stale).
    recorder = RecordingDispatcher()
    dispatch.set_dispatcher(recorder)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.sweep(now=timezone.now() + timedelta(days=1))["lost_queued"] == 1
    finally:
        dispatch.set_dispatcher(None)
    assert recorder.ids == [attempt.pk]
