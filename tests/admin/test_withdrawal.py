"""The admin action "withdraw the person's consent and delete their data", for a request that
reached staff by another channel: the selected attempt stands for its person, and every attempt
of that person (the same ID number, any account) is withdrawn, one queued, one in flight at the
provider (its late result stored without PII), one decided, one under legal hold; a
confirmation page first; the redact permission required."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from face_idcard import services
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.admin_helpers import CHANGELIST, IMAGE, NAME, action, client_for, finished
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db

NAME_OF_ACTION = "withdraw_consent"
queued = functools.partial(submit_attempt, enqueue=False, idcard_name=NAME, image=IMAGE)


def account(name: str) -> Any:
    return get_user_model().objects.create(username=name)


def test_the_action_withdraws_every_attempt_of_the_person(
    face_settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    # Four accounts of the same person: over the default ceiling of accounts per ID number.
    face_settings(MAX_ACCOUNTS_PER_ID_PER_DAY=10)
    client, staff = client_for("withdrawal-admin", "view_verificationattempt", "redact")
    decided = finished(magic.MATCH, user=account("person-web"))
    held = finished(magic.MATCH, user=account("person-app"))
    services.set_legal_hold(held, hold=True, reason="court case 2026-17")
    waiting = queued(magic.MATCH, user=account("person-app-2"))
    in_flight = queued(magic.MATCH, user=account("person-web-2"))
    someone_else = finished(magic.NO_MATCH, user=account("someone-else"))

    confirmation = action(client, NAME_OF_ACTION, decided)
    assert confirmation.status_code == 200
    assert "cannot be undone" in confirmation.content.decode()
    assert VerificationAttempt.objects.get(pk=decided.pk).has_pii  # nothing done yet

    pages: list[Any] = []
    call = pipeline._call

    def withdrawn_during_the_call(*args: Any, **kwargs: Any) -> Any:
        outcome = call(*args, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            pages.append(action(client, NAME_OF_ACTION, decided, confirm="yes"))
        return outcome

    monkeypatch.setattr(pipeline, "_call", withdrawn_during_the_call)
    pipeline.run(in_flight.pk)
    assert pages[0].status_code == 302
    shown = [str(m) for m in client.get(CHANGELIST).context["messages"]]
    said = " ".join(shown)
    assert "4 attempts withdrawn, 1 canceled, 3 erased" in said
    assert "legal hold" in said and "court" not in said

    for attempt in (decided, waiting, in_flight):
        attempt.refresh_from_db()
        assert not attempt.has_pii and attempt.idcard_number_masked == ""
        event = attempt.events.get(kind=EventKind.WITHDRAWN.value)
        assert event.actor_id == staff.pk and event.data["channel"] == "staff"
    assert waiting.status == Status.CANCELED
    assert in_flight.status == Status.COMPLETED and in_flight.similarity is not None
    assert in_flight.provider_session_id == "" and in_flight.raw_response is None
    held.refresh_from_db()
    assert held.has_pii
    assert held.events.get(kind=EventKind.WITHDRAWN.value).data["kept"] == "legal_hold"
    someone_else.refresh_from_db()
    assert someone_else.has_pii


def test_the_action_needs_the_redact_permission(face_settings: Any) -> None:
    client, _ = client_for("withdrawal-reviewer", "view_verificationattempt", "review")
    attempt = finished(magic.MATCH, user=account("person-x"))
    changelist = client.get(CHANGELIST)
    assert NAME_OF_ACTION not in changelist.content.decode()
    action(client, NAME_OF_ACTION, attempt, confirm="yes")
    attempt.refresh_from_db()
    assert attempt.has_pii
    assert not attempt.events.filter(kind=EventKind.WITHDRAWN.value).exists()


def test_the_action_never_runs_across_the_whole_list(face_settings: Any) -> None:
    client, _ = client_for("withdrawal-admin-all", "view_verificationattempt", "redact")
    attempt = finished(magic.MATCH, user=account("person-all"))
    response = client.post(
        CHANGELIST,
        {
            "action": NAME_OF_ACTION,
            "_selected_action": [str(attempt.pk)],
            "select_across": "1",
            "confirm": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    attempt.refresh_from_db()
    assert attempt.has_pii
