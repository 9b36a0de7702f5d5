"""No ID number, name, image or secret in logs, messages, reprs or stored provider responses."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from face_idcard import services
from face_idcard.backends import get_backend
from face_idcard.backends.base import scrub
from face_idcard.models import AttemptEvent, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import DEFAULT_SECRET_KEY, magic
from tests.support import imagefactory
from tests.support.celery_app import wait_terminal
from tests.support.users import user_with

NAME = "欧阳娜娜"
IMAGE = imagefactory.noise_jpeg(320, 240, seed=4242)
IMAGE_CHUNK = IMAGE[len(IMAGE) // 2 : len(IMAGE) // 2 + 24]


def forbidden(settings: Any) -> list[str]:
    """Every form in which personal information or a secret could show up in text."""
    values = [NAME, DEFAULT_SECRET_KEY, *settings.FACE_IDCARD["PII_ENCRYPTION_KEYS"]]
    for number in (magic.MATCH, magic.NAME_MISMATCH, magic.flaky(1, variant=7)):
        values += [number, number[6:14]]  # the number and its birth date
    values += [
        repr(IMAGE_CHUNK)[2:-1],
        base64.b64encode(IMAGE_CHUNK).decode(),
        IMAGE_CHUNK.decode("latin-1"),
    ]
    return values


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG and above, from the root logger and Celery's own loggers."""
    caplog.set_level(logging.DEBUG)
    prefixes = ("celery", "kombu", "face_idcard", "urllib3")
    names = [n for n in logging.root.manager.loggerDict if n.startswith(prefixes)]
    # Celery sets levels on its own child loggers: lower each of them, and listen at the top.
    extra = [logging.getLogger(name) for name in {*prefixes, *names}]
    levels = [logger.level for logger in extra]
    for logger in extra:
        logger.setLevel(logging.DEBUG)
        if logger.name in prefixes:
            logger.addHandler(caplog.handler)
    yield caplog
    for logger, level in zip(extra, levels, strict=True):
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    texts = []
    for record in records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            texts.append(record.exc_text)
    return texts


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_full_runs_log_no_pii_or_secret(
    face_settings: Any, settings: Any, all_logs: pytest.LogCaptureFixture
) -> None:
    face_settings(READ_TIMEOUT_SECONDS=0.3, RETRY_MAX_COUNT=1)
    numbers = [magic.MATCH, magic.NAME_MISMATCH, magic.flaky(1, variant=7), magic.HANG]
    attempts = [
        services.submit(
            idcard_number=number,
            idcard_name=NAME,
            image=IMAGE,
            consent_at=timezone.now(),
        )
        for number in numbers
    ]
    for attempt in attempts:
        wait_terminal(attempt.pk)
    staff = user_with("dpo", "view_pii")
    services.reveal_pii(attempts[0], viewer=staff)
    services.sweep()
    services.purge()

    texts = record_texts(all_logs.records)
    # The capture works: our own records and the worker's are there.
    assert any("face_idcard" in r.name for r in all_logs.records)
    assert any(r.name.startswith("celery") for r in all_logs.records)
    assert any(str(attempts[0].pk) in text for text in texts)
    leaks = [value for value in forbidden(settings) for text in texts if value in text]
    assert leaks == []

    # Stored provider responses and event data hold no personal information either.
    stored = [repr(a.raw_response) for a in VerificationAttempt.objects.all()]
    stored += [repr(e.data) for e in AttemptEvent.objects.all()]
    assert [v for v in forbidden(settings) for text in stored if v in text] == []


def test_scrub_removes_pii_keys_and_echoed_values() -> None:
    raw = {
        "code": -5803,
        "message": f"name {NAME} does not match",
        "data": {"similarity": 0, "session_id": "abc", "idcard_number": magic.MATCH},
        "list": [magic.MATCH, "fine"],
    }
    assert scrub(raw, (magic.MATCH, NAME), frozenset({"idcard_number"})) == {
        "code": -5803,
        "message": "[removed]",
        "data": {"similarity": 0, "session_id": "abc"},
        "list": ["[removed]", "fine"],
    }


@pytest.mark.django_db
def test_reprs_hold_no_secret(face_settings: Any) -> None:
    backend = get_backend()
    assert DEFAULT_SECRET_KEY not in repr(backend)
    assert DEFAULT_SECRET_KEY not in repr(backend.client)  # type: ignore[attr-defined]
    attempt = services.submit(
        idcard_number=magic.MATCH,
        idcard_name=NAME,
        image=IMAGE,
        consent_at=timezone.now(),
        enqueue=False,
    )
    for text in (repr(attempt), str(attempt), *map(repr, attempt.events.all())):
        assert magic.MATCH not in text and NAME not in text


@pytest.mark.django_db
def test_admin_shows_masked_values_only(face_settings: Any) -> None:
    attempt = services.submit(
        idcard_number=magic.MATCH,
        idcard_name=NAME,
        image=IMAGE,
        consent_at=timezone.now(),
        enqueue=False,
    )
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    pages = [
        client.get("/admin/face_idcard/verificationattempt/"),
        client.get(f"/admin/face_idcard/verificationattempt/{attempt.pk}/change/"),
        client.get(
            "/admin/face_idcard/verificationattempt/?status__exact=completed&legal_hold__exact=0"
        ),
    ]
    assert [page.status_code for page in pages] == [200, 200, 200]
    for page in pages:
        html = page.content.decode()
        assert magic.MATCH not in html and NAME not in html
        assert attempt.idcard_number_encrypted not in html
    assert attempt.idcard_number_masked in pages[0].content.decode()
    # Read-only: nothing can be added or deleted.
    assert client.get("/admin/face_idcard/verificationattempt/add/").status_code == 403
    assert (
        client.post(
            f"/admin/face_idcard/verificationattempt/{attempt.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert VerificationAttempt.objects.filter(pk=attempt.pk).exists()


@pytest.mark.django_db
def test_admin_search_by_id_or_reference(face_settings: Any) -> None:
    attempt = services.submit(
        idcard_number=magic.MATCH,
        idcard_name=NAME,
        image=IMAGE,
        consent_at=timezone.now(),
        external_reference="onboarding-42",
        enqueue=False,
    )
    admin = get_user_model().objects.create_superuser("root2", "root2@example.com", "pw")
    client = Client()
    client.force_login(admin)
    url = "/admin/face_idcard/verificationattempt/"
    assert str(attempt.pk) in client.get(url, {"q": str(attempt.pk)}).content.decode()
    assert str(attempt.pk) in client.get(url, {"q": "onboarding-42"}).content.decode()
    # Not an id: no match, and no error. Searching by ID number finds nothing (not stored).
    # (An ID number in the address is sent on to the POST search form, not echoed.)
    for query in ("not-a-uuid", magic.MATCH):
        page = client.get(url, {"q": query}, follow=True)
        assert page.status_code == 200
        assert str(attempt.pk) not in page.content.decode()
