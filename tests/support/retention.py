"""Attempts finished a given number of days ago, and the purge's counts without what
other tests leave in the shared storage.

First written in tests/privacy/test_retention.py; kept here so that no test module imports
from another."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support import imagefactory
from tests.support.factories import finished_attempt

IMAGE = imagefactory.jpeg(320, 240)


def finished(
    number: str = magic.MATCH, *, days_ago: float = 0, **kwargs: Any
) -> VerificationAttempt:
    attempt = finished_attempt(number, idcard_name="赵六", image=IMAGE, **kwargs)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        finished_at=timezone.now() - timedelta(days=days_ago)
    )
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED
    return attempt


def without_orphans(counts: dict[str, int]) -> dict[str, int]:
    # The shared test storage also holds files of other tests' rolled-back submits.
    return {
        key: value
        for key, value in counts.items()
        if key
        not in (
            "orphans",
            "idempotency_keys",
            "limit_hashes",
            "webhook_deliveries",
            # The document reviews' own (tests/privacy/test_document_retention.py).
            "documents",
            "document_pii",
        )
    }
