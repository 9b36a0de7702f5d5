"""rotate_keys never brings erased data back, and selfies are erased where they are stored.

The race: rotate_keys reads an attempt, re-encrypts, and writes; a ``redact`` or ``purge``
that commits in between erased the row. Each race here runs the eraser in another thread
(its own database connection) exactly inside that window, on SQLite and on PostgreSQL
(``FACE_IDCARD_TEST_DB=postgres``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.db import connections
from django.utils import timezone

from face_idcard import crypto, services
from face_idcard.models import VerificationAttempt
from face_idcard.services._common import selfie_storage
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support import imagefactory
from tests.support.factories import submit_attempt

IMAGE = imagefactory.jpeg(160, 120)


def finished(*, url: bool, days_ago: float = 0) -> VerificationAttempt:
    photo = {"image": None, "url": "https://images.example.com/p.jpg"} if url else {"image": IMAGE}
    return submit_attempt(
        magic.MATCH,
        idcard_name="赵六",
        enqueue=False,
        **photo,
        update={
            "status": Status.COMPLETED.value,
            "finished_at": timezone.now() - timedelta(days=days_ago),
        },
    )


def in_another_thread(action: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            action()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors, errors


def erase_during_rotation(monkeypatch: pytest.MonkeyPatch, eraser: Callable[[], object]) -> None:
    """Make rotate_keys' first re-encryption the moment another connection erases the row."""
    real = crypto.rotate_token
    fired = threading.Event()

    def rotate_token(token: str, **binding: Any) -> str:
        if not fired.is_set():
            fired.set()
            in_another_thread(eraser)
        return real(token, **binding)

    monkeypatch.setattr(crypto, "rotate_token", rotate_token)


@pytest.fixture
def new_key(settings: Any) -> None:
    old = settings.FACE_IDCARD["PII_ENCRYPTION_KEYS"][0]
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "PII_ENCRYPTION_KEYS": [Fernet.generate_key().decode(), old],
    }


def assert_erased(attempt: VerificationAttempt, *, pii: bool) -> None:
    attempt.refresh_from_db()
    assert attempt.url_encrypted == "" and attempt.selfie_name == ""
    if pii:
        assert attempt.idcard_number_encrypted == "" and attempt.idcard_name_encrypted == ""
        # A redaction keeps the ID hash while the per-ID daily limit counts the attempt.
        assert (attempt.idcard_hash == "") != (attempt.redacted_at is not None)
        assert not attempt.has_pii


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("url", [True, False], ids=["url-mode", "image"])
def test_rotate_keys_does_not_resurrect_a_concurrent_redact(
    face_settings: Any, new_key: None, monkeypatch: pytest.MonkeyPatch, url: bool
) -> None:
    attempt = finished(url=url)
    erase_during_rotation(monkeypatch, lambda: services.redact(attempt))
    counts = services.rotate_keys()
    assert counts["attempts"] == 0
    assert_erased(attempt, pii=True)
    assert attempt.redacted_at is not None


@pytest.mark.django_db(transaction=True)
def test_rotate_keys_does_not_resurrect_a_concurrent_selfie_purge(
    face_settings: Any, new_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A url-mode attempt past selfie retention: its url is erased, its PII is kept."""
    attempt = finished(url=True, days_ago=30)
    erase_during_rotation(monkeypatch, services.purge)
    services.rotate_keys()
    assert_erased(attempt, pii=False)
    # Its remaining PII was rotated on the second read, under the new key only.
    assert (
        crypto.decrypt_text(
            attempt.idcard_number_encrypted, attempt_id=attempt.pk, field=crypto.NUMBER
        )
        == magic.MATCH
    )
    assert attempt.selfie_purged_at is not None


@pytest.mark.django_db(transaction=True)
def test_rotate_keys_does_not_resurrect_a_concurrent_pii_purge(
    face_settings: Any, new_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempt = finished(url=False, days_ago=400)
    name = attempt.selfie_name
    erase_during_rotation(monkeypatch, services.purge)
    assert services.rotate_keys()["attempts"] == 0
    assert_erased(attempt, pii=True)
    assert not selfie_storage().exists(name)


@pytest.mark.django_db
def test_redact_deletes_the_selfie_where_it_was_stored(
    face_settings: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """After SELFIE_STORAGE changes, the file in the old storage is deleted all the same."""
    attempt = finished(url=False)
    name, alias = attempt.selfie_name, attempt.selfie_storage
    assert alias == "face_idcard" and selfie_storage(alias).exists(name)
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "SELFIE_STORAGE": "default"}
    with django_capture_on_commit_callbacks(execute=True):
        services.redact(attempt)
    assert not selfie_storage(alias).exists(name)


@pytest.mark.django_db
def test_purge_and_rotation_follow_the_recorded_storage(
    face_settings: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    attempt = finished(url=False)
    old_name = attempt.selfie_name
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "SELFIE_STORAGE": "default"}
    # rotate_keys reads from where the selfie is and moves it to the current storage.
    services.rotate_keys()
    attempt.refresh_from_db()
    assert attempt.selfie_storage == "default"
    assert not selfie_storage("face_idcard").exists(old_name)
    assert selfie_storage("default").exists(attempt.selfie_name)
    moved = attempt.selfie_name
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "SELFIE_STORAGE": "face_idcard"}
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        finished_at=timezone.now() - timedelta(days=30)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.purge()
    assert not selfie_storage("default").exists(moved)
