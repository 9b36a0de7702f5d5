"""POST /api/face-idcard/withdrawal/: the person's own withdrawal, answered within the request:
an attempt queued (canceled), one in flight at the provider (its late result stored without
PII), one decided (erased), one under legal hold (kept; the person told a hold applies, never
why); what the provider keeps said; other people's attempts untouched."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from face_idcard import services
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.providers.legacy.backend import LegacyBackend
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests.support.api_helpers import client_for, error_code, field_codes, plain_user
from tests.support.factories import finished_attempt, submit_attempt

pytestmark = pytest.mark.django_db

URL = "/api/face-idcard/withdrawal/"
queued = functools.partial(submit_attempt, enqueue=False)


def withdraw(client: Any, **headers: str) -> Any:
    return client.post(URL, {"confirm": True}, format="json", headers=headers or None)


def test_withdrawal_of_queued_in_flight_decided_and_held_attempts(
    face_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(LegacyBackend, "provider_keeps_results_days", 3)
    user = plain_user("api-withdrawer")
    client = client_for(user)
    decided = finished_attempt(user=user)
    held = finished_attempt(magic.NO_MATCH, user=user)
    services.set_legal_hold(held, hold=True, reason="court case 2026-17")
    waiting = queued(user=user)
    in_flight = queued(user=user)
    someone_else = finished_attempt(user=plain_user("api-bystander"))
    answers: list[Any] = []
    call = pipeline._call

    def withdrawn_during_the_call(*args: Any, **kwargs: Any) -> Any:
        outcome = call(*args, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(withdraw(client))
        return outcome

    monkeypatch.setattr(pipeline, "_call", withdrawn_during_the_call)
    pipeline.run(in_flight.pk)

    response = answers[0]
    assert response.status_code == 200, response.content
    assert (
        response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    )
    body = response.json()
    assert {key: body[key] for key in ("attempts", "canceled", "in_flight", "erased")} == {
        "attempts": 4,
        "canceled": 1,
        "in_flight": 1,
        "erased": 3,
    }
    assert body["legal_hold"] is True
    said = " ".join(body["messages"])
    assert "legal hold" in said and "court" not in said
    assert "for 3 days" in said
    # No PII in the answer.
    assert magic.MATCH not in response.content.decode()

    for attempt in (decided, waiting, in_flight):
        attempt.refresh_from_db()
        assert not attempt.has_pii and attempt.idcard_number_masked == ""
        assert attempt.events.filter(kind=EventKind.WITHDRAWN.value).exists()
    assert waiting.status == Status.CANCELED
    assert in_flight.status == Status.COMPLETED and in_flight.similarity is not None
    assert in_flight.provider_session_id == "" and in_flight.raw_response is None
    held.refresh_from_db()
    assert held.has_pii
    someone_else.refresh_from_db()
    assert someone_else.has_pii
    # The attempts endpoint shows the record without the personal information.
    shown = client.get(f"/api/face-idcard/attempts/{decided.pk}/").json()
    assert shown["idcard_number"] in ("", None) and shown["status"] == "completed"


def test_the_answer_is_in_the_request_language(face_settings: Any) -> None:
    client = client_for(plain_user("api-withdrawer-zh"))
    response = withdraw(client, **{"Accept-Language": "zh-hans"})
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assert all(not line.isascii() for line in response.json()["messages"])


def test_confirmation_is_required(face_settings: Any) -> None:
    user = plain_user("api-withdrawer-unconfirmed")
    attempt = queued(user=user)
    client = client_for(user)
    response = client.post(URL, {"confirm": False}, format="json")
    assert response.status_code == 400
    assert field_codes(response) == {"confirm": ["confirmation_required"]}
    assert client.post(URL, {}, format="json").status_code == 400
    attempt.refresh_from_db()
    assert attempt.has_pii and attempt.status == Status.QUEUED


def test_anonymous_is_refused(face_settings: Any) -> None:
    response = withdraw(client_for(None))
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_only_post(face_settings: Any) -> None:
    response = client_for(plain_user("api-withdrawer-get")).get(URL)
    assert response.status_code == 405


def test_a_person_without_attempts_is_told_so(face_settings: Any) -> None:
    response = withdraw(client_for(plain_user("api-withdrawer-nothing")))
    assert response.status_code == 200
    body = response.json()
    assert body["attempts"] == 0 and body["legal_hold"] is False
    assert VerificationAttempt.objects.count() == 0
