"""A re-run keeps its original's retention clock: the purge erases the re-run's copy of the
selfie and the personal information with the original's, however late the re-run finished
(a re-run of a re-run too), and never while the re-run is under legal hold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard import services
from face_idcard.models import VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.states import Status
from tests.support.retention import finished, without_orphans

pytestmark = pytest.mark.django_db


def rerun_finished(original: VerificationAttempt) -> VerificationAttempt:
    """A re-run of ``original``, run and finished now."""
    new = services.rerun(original, enqueue=False)
    pipeline.run(new.pk)
    new.refresh_from_db()
    assert new.status == Status.COMPLETED and new.finished_at is not None
    assert new.finished_at > timezone.now() - timedelta(minutes=1)
    return new


def age(attempt: VerificationAttempt, days: float) -> None:
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        finished_at=timezone.now() - timedelta(days=days)
    )


def test_a_rerun_is_purged_with_its_original(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    original = finished(days_ago=0)
    first = rerun_finished(original)
    second = rerun_finished(first)  # a re-run of the re-run
    age(original, 181)  # past PII_RETENTION_DAYS (180); the re-runs finished today
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.purge()
    assert without_orphans(counts) == {"selfies": 0, "pii": 3, "held": 0}
    for attempt in (original, first, second):
        attempt.refresh_from_db()
        assert attempt.pii_purged_at is not None and not attempt.has_pii
        assert attempt.idcard_number_encrypted == attempt.idcard_hash == ""


def test_a_reruns_selfie_goes_with_its_originals(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    original = finished(days_ago=0)
    copy = rerun_finished(original)
    age(original, 8)  # past SELFIE_RETENTION_DAYS (7)
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.purge()
    assert without_orphans(counts) == {"selfies": 2, "pii": 0, "held": 0}
    copy.refresh_from_db()
    assert copy.selfie_name == "" and copy.selfie_purged_at is not None
    assert copy.idcard_number_encrypted and copy.pii_purged_at is None


def test_a_held_rerun_is_kept(face_settings: Any) -> None:
    original = finished(days_ago=0)
    copy = rerun_finished(original)
    VerificationAttempt.objects.filter(pk=copy.pk).update(legal_hold=True)
    age(original, 181)
    services.purge()
    copy.refresh_from_db()
    assert copy.has_pii and copy.pii_purged_at is None


def test_a_fresh_rerun_of_a_fresh_original_is_kept(face_settings: Any) -> None:
    original = finished(days_ago=0)
    copy = rerun_finished(original)
    assert without_orphans(services.purge()) == {"selfies": 0, "pii": 0, "held": 0}
    copy.refresh_from_db()
    assert copy.has_pii
