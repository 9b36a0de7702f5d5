"""Redaction, purge after the retention periods (legal holds kept), and key rotation."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.utils import timezone

from face_idcard import crypto, services
from face_idcard.exceptions import (
    IllegalTransition,
    LegalHoldActive,
    PersonalInformationUnavailable,
)
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.services._common import load_selfie, selfie_storage
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.retention import IMAGE, finished, without_orphans
from tests.support.users import user_with

pytestmark = pytest.mark.django_db


def staff_user() -> Any:
    return user_with("retention-auditor", "view_pii")


def test_purge_deletes_old_orphaned_selfies_only(face_settings: Any) -> None:
    """A selfie whose submit rolled back is deleted after a day; referenced ones stay."""
    import os
    import uuid

    face_settings(SELFIE_UPLOAD_TO=f"orphans-{uuid.uuid4().hex}")
    from face_idcard.services._common import save_selfie

    storage = selfie_storage()
    kept = finished(days_ago=1)  # referenced by an attempt (retention not yet due)
    old_orphan = save_selfie(b"rolled back long ago", uuid.uuid4())
    new_orphan = save_selfie(b"a submit still in its transaction", uuid.uuid4())
    two_days_ago = (timezone.now() - timedelta(days=2)).timestamp()
    for name in (kept.selfie_name, old_orphan):
        os.utime(storage.path(name), (two_days_ago, two_days_ago))

    counts = services.purge()

    assert counts["orphans"] == 1
    assert not storage.exists(old_orphan)
    assert storage.exists(new_orphan)
    assert storage.exists(kept.selfie_name)
    # Still a readable JPEG.
    assert load_selfie(kept.selfie_name, kept.selfie_storage, kept.pk)[:2] == b"\xff\xd8"


def test_purge_removes_selfie_then_pii_and_keeps_record_and_events(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    fresh = finished(days_ago=1)
    old_selfie = finished(days_ago=8)
    old_pii = finished(days_ago=181)
    held = finished(days_ago=400)
    VerificationAttempt.objects.filter(pk=held.pk).update(legal_hold=True)
    files = {a.pk: a.selfie_name for a in (fresh, old_selfie, old_pii, held)}
    events_before = AttemptEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        counts = services.purge()
    assert without_orphans(counts) == {"selfies": 1, "pii": 1, "held": 1}

    storage = selfie_storage()
    for attempt in (fresh, old_selfie, old_pii, held):
        attempt.refresh_from_db()
    # Fresh and held: untouched.
    for attempt in (fresh, held):
        assert attempt.selfie_name and storage.exists(files[attempt.pk])
        assert attempt.idcard_number_encrypted and attempt.idcard_number_masked
    # Past selfie retention: selfie gone, ID number and name kept.
    assert old_selfie.selfie_name == "" and not storage.exists(files[old_selfie.pk])
    assert old_selfie.selfie_purged_at is not None
    assert old_selfie.idcard_number_encrypted and old_selfie.pii_purged_at is None
    # Past PII retention: everything personal gone, the record stays.
    assert not storage.exists(files[old_pii.pk])
    assert (old_pii.idcard_number_encrypted, old_pii.idcard_name_encrypted) == ("", "")
    assert (old_pii.idcard_hash, old_pii.idcard_number_masked, old_pii.idcard_name_masked) == (
        "",
        "",
        "",
    )
    assert old_pii.pii_purged_at is not None
    assert (old_pii.status, old_pii.decision, old_pii.similarity) == (
        Status.COMPLETED,
        "match",
        magic.MATCH_SIMILARITY,
    )
    # The audit trail grew; nothing was removed from it.
    assert AttemptEvent.objects.count() == events_before + 2
    assert old_pii.events.filter(kind=EventKind.PURGED.value, data__what="pii").count() == 1
    assert old_pii.events.filter(kind=EventKind.PROVIDER_CALL.value).count() == 1
    # A second purge finds nothing more.
    assert without_orphans(services.purge()) == {"selfies": 0, "pii": 0, "held": 1}


def test_purge_command(face_settings: Any) -> None:
    finished(days_ago=200)
    out = io.StringIO()
    call_command("face_idcard_purge", stdout=out)
    assert out.getvalue().split()[:3] == ["selfies=0", "pii=1", "held=0"]
    assert out.getvalue().split()[3].startswith("orphans=")


def test_redact(face_settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    attempt = finished()
    name = attempt.selfie_name
    with django_capture_on_commit_callbacks(execute=True):
        services.redact(attempt)
    attempt.refresh_from_db()
    assert attempt.redacted_at is not None
    assert not attempt.has_pii and attempt.idcard_number_masked == ""
    assert not selfie_storage().exists(name)
    assert attempt.events.filter(kind=EventKind.REDACTED.value).count() == 1
    with pytest.raises(PersonalInformationUnavailable):
        services.reveal_pii(attempt, viewer=staff_user())


def test_redact_refuses_legal_hold_and_unfinished(face_settings: Any) -> None:
    attempt = finished()
    VerificationAttempt.objects.filter(pk=attempt.pk).update(legal_hold=True)
    attempt.refresh_from_db()
    with pytest.raises(LegalHoldActive):
        services.redact(attempt)
    queued = services.submit(
        idcard_number=magic.MATCH,
        idcard_name="赵六",
        image=IMAGE,
        consent_at=timezone.now(),
        enqueue=False,
    )
    with pytest.raises(IllegalTransition):
        services.redact(queued)
    attempt.refresh_from_db()
    assert attempt.has_pii


def test_rotate_keys(face_settings: Any, settings: Any) -> None:
    old_key = settings.FACE_IDCARD["PII_ENCRYPTION_KEYS"][0]
    attempt = finished()
    queued_url = services.submit(
        idcard_number=magic.NO_MATCH,
        idcard_name="孙七",
        url="https://images.example.com/p.jpg",
        consent_at=timezone.now(),
        enqueue=False,
    )
    new_key = Fernet.generate_key().decode()
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "PII_ENCRYPTION_KEYS": [new_key, old_key]}
    out = io.StringIO()
    call_command("face_idcard_rotate_keys", stdout=out)
    assert out.getvalue().split() == [
        "attempts=2",
        "selfies=1",
        "webhook_secrets=0",
        "document_reviews=0",
    ]
    assert not selfie_storage().exists(attempt.selfie_name)

    # Only the new key is needed now.
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "PII_ENCRYPTION_KEYS": [new_key]}
    attempt.refresh_from_db()
    queued_url.refresh_from_db()
    assert services.reveal_pii(attempt, viewer=staff_user()) == (magic.MATCH, "赵六")
    assert load_selfie(attempt.selfie_name, "", attempt.pk) == IMAGE
    assert (
        crypto.decrypt_text(queued_url.url_encrypted, attempt_id=queued_url.pk, field=crypto.URL)
        == "https://images.example.com/p.jpg"
    )
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "PII_ENCRYPTION_KEYS": [old_key]}
    with pytest.raises(InvalidToken):
        crypto.decrypt_text(
            attempt.idcard_number_encrypted, attempt_id=attempt.pk, field=crypto.NUMBER
        )
