"""services.withdraw: the person's attempts stopped and erased at once, whatever state each
is in (queued, in flight at the provider, decided, under legal hold), the record and the audit
trail kept, the signal sent, and what cannot be deleted said.

Runs on every database (FACE_IDCARD_TEST_DB=postgres / mysql): the cancel races a worker's
claim, and the late result's guarded UPDATE is SQL of its own."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from face_idcard import services, signals
from face_idcard.exceptions import PermissionRequired
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.providers.legacy.backend import LegacyBackend
from face_idcard.services import _pipeline as pipeline
from face_idcard.services._common import selfie_storage
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.factories import finished_attempt, submit_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

queued = functools.partial(submit_attempt, enqueue=False)


def person(name: str = "withdrawing-person") -> Any:
    return get_user_model().objects.create(username=name)


def selfie_exists(attempt: VerificationAttempt) -> bool:
    return selfie_storage(attempt.selfie_storage).exists(attempt.selfie_name)


def assert_erased(attempt: VerificationAttempt) -> None:
    attempt.refresh_from_db()
    assert not attempt.has_pii
    assert attempt.idcard_number_masked == attempt.idcard_name_masked == ""
    assert attempt.provider_session_id == attempt.provider_request_id == ""
    assert attempt.raw_response is None
    assert attempt.redacted_at is not None


@pytest.fixture
def withdrawn_signals() -> Any:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    signals.attempt_withdrawn.connect(receiver)
    yield received
    signals.attempt_withdrawn.disconnect(receiver)


def test_a_queued_attempt_is_canceled_and_erased(
    face_settings: Any, django_capture_on_commit_callbacks: Any, withdrawn_signals: Any
) -> None:
    user = person()
    attempt = queued(user=user)
    stored = (attempt.selfie_name, attempt.selfie_storage)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.withdraw(user=user, actor=user)
    assert (result.attempts, result.canceled, result.erased, result.held) == (1, 1, 1, 0)
    assert_erased(attempt)
    assert attempt.status == Status.CANCELED
    assert not selfie_storage(stored[1]).exists(stored[0])
    kinds = list(attempt.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.CANCELED.value, EventKind.WITHDRAWN.value]
    event = attempt.events.get(kind=EventKind.WITHDRAWN.value)
    assert event.actor_id == user.pk and event.data["channel"] == "person"
    assert event.data["erased"] is True
    assert [kwargs["attempt"].pk for kwargs in withdrawn_signals] == [attempt.pk]
    # The worker's message, when it comes, finds nothing to do: no provider call.
    assert pipeline.run(attempt.pk).action == "done"
    attempt.refresh_from_db()
    assert attempt.provider_calls == 0


def test_an_attempt_in_flight_keeps_its_late_result_without_personal_information(
    face_settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    user = person()
    attempt = queued(user=user)
    call = pipeline._call
    results: list[Any] = []

    def withdrawn_during_the_call(*args: Any, **kwargs: Any) -> Any:
        outcome = call(*args, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            results.append(services.withdraw(user=user, actor=user))
        return outcome

    monkeypatch.setattr(pipeline, "_call", withdrawn_during_the_call)
    assert pipeline.run(attempt.pk).status == Status.COMPLETED.value
    assert results[0].in_flight == 1 and results[0].canceled == 0
    assert_erased(attempt)
    # The answer itself stays: it says nothing of the person.
    assert attempt.status == Status.COMPLETED
    assert attempt.decision == "match" and attempt.similarity is not None
    assert attempt.events.filter(kind=EventKind.DECIDED.value).exists()


def test_without_a_withdrawal_the_provider_ids_are_stored(face_settings: Any) -> None:
    """The guard of the late result only erases for a withdrawn attempt."""
    attempt = finished_attempt(user=person())
    assert attempt.provider_session_id and attempt.raw_response is not None


def test_a_decided_attempt_is_erased_and_its_record_kept(
    face_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = person()
    attempt = finished_attempt(magic.NO_MATCH, user=user)
    assert selfie_exists(attempt)
    stored = (attempt.selfie_name, attempt.selfie_storage)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.withdraw(user=user, actor=user)
    assert (result.attempts, result.erased, result.canceled) == (1, 1, 0)
    assert_erased(attempt)
    assert not selfie_storage(stored[1]).exists(stored[0])
    assert attempt.status == Status.COMPLETED and attempt.decision == "no_match"


def test_a_legal_hold_keeps_everything_and_the_person_is_told_only_that(
    face_settings: Any, withdrawn_signals: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = person()
    held = finished_attempt(user=user)
    other = finished_attempt(magic.NO_MATCH, user=user)
    services.set_legal_hold(held, hold=True, reason="court case 2026-17")
    with django_capture_on_commit_callbacks(execute=True):
        result = services.withdraw(user=user, actor=user)
    assert (result.attempts, result.erased, result.held) == (2, 1, 1)
    assert result.legal_hold
    held.refresh_from_db()
    assert held.has_pii and held.idcard_number_masked and selfie_exists(held)
    assert_erased(other)
    event = held.events.get(kind=EventKind.WITHDRAWN.value)
    assert event.data["kept"] == "legal_hold" and event.data["erased"] is False
    said = " ".join(result.statements())
    assert "legal hold" in said and "court" not in said
    by_attempt = {kwargs["attempt"].pk: kwargs["legal_hold"] for kwargs in withdrawn_signals}
    assert by_attempt == {held.pk: True, other.pk: False}


def test_another_account_needs_the_redact_permission(face_settings: Any) -> None:
    user = person()
    queued(user=user)
    stranger = user_with("withdrawal-stranger", "review")
    with pytest.raises(PermissionRequired):
        services.withdraw(user=user, actor=stranger)
    with pytest.raises(PermissionRequired):
        services.withdraw(attempt=VerificationAttempt.objects.get(user=user), actor=stranger)


def test_staff_withdraw_every_attempt_of_the_person_under_every_live_key(
    face_settings: Any, settings: Any
) -> None:
    """The person behind one attempt: the same ID number on another account, and an attempt
    hashed under a previous key, are theirs too; another person's attempt is not."""
    keys = settings.FACE_IDCARD["PII_HASH_KEYS"]
    face_settings(PII_HASH_KEYS=["an-older-hash-key"])
    under_old_key = finished_attempt(user=person("old-account"))
    face_settings(PII_HASH_KEYS=[*keys, "an-older-hash-key"])
    chosen = finished_attempt(user=person("one-account"))
    second_account = queued(user=person("another-account"))
    someone_else = finished_attempt(magic.NO_MATCH, user=person("someone-else"))
    staff = user_with("withdrawal-staff", "redact")
    result = services.withdraw(attempt=chosen, actor=staff)
    assert (result.attempts, result.canceled, result.erased) == (3, 1, 3)
    for attempt in (chosen, second_account, under_old_key):
        assert_erased(attempt)
        event = attempt.events.get(kind=EventKind.WITHDRAWN.value)
        assert event.actor_id == staff.pk and event.data["channel"] == "staff"
    someone_else.refresh_from_db()
    assert someone_else.has_pii


def test_the_answer_says_what_the_provider_keeps(
    face_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = person()
    finished_attempt(user=user)
    monkeypatch.setattr(LegacyBackend, "provider_keeps_results_days", 3)
    said = " ".join(services.withdraw(user=user, actor=user).statements())
    assert "for 3 days" in said and "cannot delete it" in said


def test_an_attempt_never_sent_names_no_provider_copy(face_settings: Any) -> None:
    user = person()
    queued(user=user)
    result = services.withdraw(user=user, actor=user)
    assert result.provider_days == ()
    assert not any("verification service" in line for line in result.statements())


def test_a_second_withdrawal_finds_nothing_left_to_erase(face_settings: Any) -> None:
    user = person()
    finished_attempt(user=user)
    services.withdraw(user=user, actor=user)
    again = services.withdraw(user=user, actor=user)
    assert (again.attempts, again.erased) == (1, 0)


def test_the_site_s_own_code_is_audited_as_such(face_settings: Any) -> None:
    user = person()
    attempt = queued(user=user)
    services.withdraw(user=user)
    event = attempt.events.get(kind=EventKind.WITHDRAWN.value)
    assert event.actor_id is None and event.data["channel"] == "site"
    assert event.data["by"] == "system"
