"""Minimal retention by default (issue 33, item 6): with SELFIE_RETENTION_DAYS 0, the default,
the selfie goes as soon as the decision is final: at the decision when no reviewer is to look
at it, else at the review; never under legal hold; a longer setting keeps it that many days
after the final decision (the purge's clock starts at the review)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from face_idcard import services
from face_idcard.conf import DEFAULTS
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.services._common import selfie_storage
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.factories import submit_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db


def run(number: str, capture: Any) -> VerificationAttempt:
    attempt = submit_attempt(number, enqueue=False)
    with capture(execute=True):
        pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    return attempt


def stored(attempt: VerificationAttempt) -> bool:
    return bool(attempt.selfie_name) and selfie_storage(attempt.selfie_storage).exists(
        attempt.selfie_name
    )


@pytest.fixture
def minimal(face_settings: Any) -> None:
    face_settings(SELFIE_RETENTION_DAYS=DEFAULTS["SELFIE_RETENTION_DAYS"])


def test_the_default_is_the_shortest() -> None:
    assert DEFAULTS["SELFIE_RETENTION_DAYS"] == 0


@pytest.mark.parametrize("number", [magic.MATCH, magic.NO_MATCH])
def test_a_final_decision_deletes_the_selfie_at_once(
    minimal: None, django_capture_on_commit_callbacks: Any, number: str
) -> None:
    submitted = submit_attempt(number, enqueue=False)
    name, alias = submitted.selfie_name, submitted.selfie_storage
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.run(submitted.pk)
    attempt = VerificationAttempt.objects.get(pk=submitted.pk)
    assert attempt.status == Status.COMPLETED
    assert attempt.selfie_name == "" and attempt.selfie_purged_at is not None
    assert not selfie_storage(alias).exists(name)
    # Only the selfie: the ID number and name follow PII_RETENTION_DAYS.
    assert attempt.idcard_number_encrypted and attempt.idcard_number_masked
    purged = attempt.events.get(kind=EventKind.PURGED.value)
    assert purged.data == {"what": "selfie", "at": "decision"}


def test_a_review_band_attempt_keeps_it_until_the_review(
    minimal: None, django_capture_on_commit_callbacks: Any
) -> None:
    attempt = run(magic.REVIEW, django_capture_on_commit_callbacks)
    assert attempt.decision == "review" and stored(attempt)
    name = attempt.selfie_name
    # The purge leaves it to the reviewer too.
    services.purge(timezone.now() + timedelta(days=30))
    attempt.refresh_from_db()
    assert attempt.selfie_name == name
    reviewer = user_with("minimal-retention-reviewer", "review")
    with django_capture_on_commit_callbacks(execute=True):
        services.review(attempt, reviewer=reviewer, decision="match", reason="same person")
    attempt.refresh_from_db()
    assert attempt.selfie_name == "" and not selfie_storage(attempt.selfie_storage).exists(name)


def test_an_audit_sample_keeps_it_until_the_review(
    minimal: None, face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    face_settings(SELFIE_RETENTION_DAYS=0, REVIEW_AUDIT_SAMPLE_RATE=1.0)
    attempt = run(magic.MATCH, django_capture_on_commit_callbacks)
    assert attempt.audit_sample and stored(attempt)


def test_a_legal_hold_placed_during_the_call_keeps_it(
    minimal: None, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    call = pipeline._call
    submitted = submit_attempt(magic.MATCH, enqueue=False)

    def held_during_the_call(*args: Any, **kwargs: Any) -> Any:
        outcome = call(*args, **kwargs)
        services.set_legal_hold(submitted, hold=True, reason="inquiry")
        return outcome

    monkeypatch.setattr(pipeline, "_call", held_during_the_call)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.run(submitted.pk)
    attempt = VerificationAttempt.objects.get(pk=submitted.pk)
    assert attempt.status == Status.COMPLETED and attempt.legal_hold
    assert stored(attempt)
    assert not attempt.events.filter(kind=EventKind.PURGED.value).exists()


def test_an_attempt_without_a_decision_waits_for_the_purge(
    minimal: None, django_capture_on_commit_callbacks: Any
) -> None:
    attempt = run(magic.NO_FACE, django_capture_on_commit_callbacks)
    assert attempt.status == Status.REJECTED and stored(attempt)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.purge()["selfies"] == 1
    attempt.refresh_from_db()
    assert attempt.selfie_name == ""


def test_a_longer_setting_counts_from_the_review(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    face_settings(SELFIE_RETENTION_DAYS=7)
    attempt = run(magic.REVIEW, django_capture_on_commit_callbacks)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        finished_at=timezone.now() - timedelta(days=20)
    )
    reviewer = user_with("longer-retention-reviewer", "review")
    with django_capture_on_commit_callbacks(execute=True):
        services.review(attempt, reviewer=reviewer, decision="no_match", reason="not the same")
    attempt.refresh_from_db()
    assert stored(attempt)  # reviewed now: 7 more days
    with django_capture_on_commit_callbacks(execute=True):
        services.purge()
    attempt.refresh_from_db()
    assert stored(attempt)
    with django_capture_on_commit_callbacks(execute=True):
        services.purge(timezone.now() + timedelta(days=8))
    attempt.refresh_from_db()
    assert attempt.selfie_name == ""


def test_a_withdrawal_during_the_call_leaves_one_erasure(
    minimal: None, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """The selfie erased by the withdrawal is not erased (and audited) a second time at the
    decision."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username="withdrawn-mid-call")
    submitted = submit_attempt(magic.MATCH, enqueue=False, user=user)
    call = pipeline._call

    def withdrawn_during_the_call(*args: Any, **kwargs: Any) -> Any:
        outcome = call(*args, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            services.withdraw(user=user, actor=user)
        return outcome

    monkeypatch.setattr(pipeline, "_call", withdrawn_during_the_call)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.run(submitted.pk)
    attempt = VerificationAttempt.objects.get(pk=submitted.pk)
    assert attempt.selfie_name == "" and attempt.status == Status.COMPLETED
    assert not attempt.events.filter(kind=EventKind.PURGED.value).exists()
