"""A backend that cannot be built: one rule for submit, the API and the worker.

Whatever the reason (an unusable ENCRYPTION_PUBLIC_KEY, missing credentials, a default alias
that names nothing), ``submit`` refuses with ``BackendUnavailable`` before storing anything or
calling anyone, the API answers 503 ``backend_unavailable`` in the request's language, and a
worker fails an attempt already queued with ``internal.backend_unavailable`` (a configuration
reason, no provider call, no retry). No text carries personal information or key material.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from face_idcard.backends import BackendUnavailable, usable_backend
from face_idcard.models import IdempotencyKey, VerificationAttempt
from face_idcard.services._common import enqueue
from face_idcard.simulator import SimulatorServer, magic
from tests.support.api_helpers import NAME, client_for, create, error_code, plain_user
from tests.support.celery_app import FAST, wait_terminal
from tests.support.faceid import call_events, faceid_alias, submit

#: Looks like a key, loads as none; its body must never show up in a text.
BAD_PEM = "-----BEGIN PUBLIC KEY-----\nTm90QUtleUJ1dFNlY3JldGlzaA==\n-----END PUBLIC KEY-----\n"
KEY_BODY = "Tm90QUtleUJ1dFNlY3JldGlzaA"

ENGLISH = "Identity verification is not available at the moment. Please try again later."
CHINESE = "身份核验暂时无法使用，请稍后再试。"


def broken(kind: str, sim: SimulatorServer) -> dict[str, Any]:
    """FACE_IDCARD's backend part for one way of being unbuildable."""
    if kind == "bad_key":
        return {"BACKENDS": {"default": faceid_alias(sim, ENCRYPTION_PUBLIC_KEY=BAD_PEM)}}
    if kind == "no_secret":
        return {"BACKENDS": {"default": faceid_alias(sim, SECRET_KEY="")}}
    if kind == "alias_removed":  # the attempt's alias ("default") is gone from the settings
        return {"BACKENDS": {"other": faceid_alias(sim)}, "DEFAULT_BACKEND": "other"}
    assert kind == "unknown_alias"
    return {"BACKENDS": {"default": faceid_alias(sim)}, "DEFAULT_BACKEND": "nosuchalias"}


KINDS = ["bad_key", "no_secret", "unknown_alias"]


@pytest.fixture
def configure(settings: Any) -> Callable[..., None]:
    def apply(backends: dict[str, Any]) -> None:
        face = {**settings.FACE_IDCARD, **FAST, **backends}
        if "DEFAULT_BACKEND" not in backends:
            face.pop("DEFAULT_BACKEND", None)
        settings.FACE_IDCARD = face

    return apply


def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage()
        assert magic.MATCH not in text and NAME not in text and KEY_BODY not in text


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_submit_refuses_and_stores_nothing(
    configure: Callable[..., None],
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    configure(broken(kind, simulator))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendUnavailable) as raised:
        submit(magic.MATCH)
    error = raised.value
    assert str(error) == ENGLISH
    assert error.alias == ("nosuchalias" if kind == "unknown_alias" else "default")
    assert error.__cause__ is None and error.__suppress_context__
    assert KEY_BODY not in error.detail and magic.MATCH not in error.detail
    assert not VerificationAttempt.objects.exists()
    assert not simulator.ledger.calls()
    # The operators learn which alias and why, from the log.
    (logged,) = [r for r in caplog.records if r.name == "face_idcard.backends"]
    assert logged.levelno == logging.ERROR and error.alias in logged.getMessage()
    no_secret_in_logs(caplog)


@pytest.mark.django_db
def test_usable_backend_is_the_one_rule(
    configure: Callable[..., None], simulator: SimulatorServer
) -> None:
    configure(broken("bad_key", simulator))
    with pytest.raises(BackendUnavailable) as raised:
        usable_backend("default")
    assert "ENCRYPTION_PUBLIC_KEY" in raised.value.detail
    configure({"BACKENDS": {"default": faceid_alias(simulator)}})
    assert usable_backend().provider == "faceid"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_the_api_answers_503_with_a_stable_code_in_both_languages(
    configure: Callable[..., None],
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    configure(broken(kind, simulator))
    caplog.set_level(logging.DEBUG)
    client = client_for(plain_user("misconfigured"))
    english = create(client, headers={"Accept-Language": "en"})
    chinese = create(client, headers={"Accept-Language": "zh-hans"})
    for response in (english, chinese):
        assert response.status_code == 503
        assert error_code(response) == "backend_unavailable"
        assert "fields" not in response.json()["error"]
    assert english.json()["error"]["message"] == ENGLISH
    assert chinese.json()["error"]["message"] == CHINESE
    for response in (english, chinese):
        assert KEY_BODY not in response.content.decode() and magic.MATCH not in str(response)
    assert not VerificationAttempt.objects.exists()
    assert not simulator.ledger.calls()
    no_secret_in_logs(caplog)


@pytest.mark.django_db
def test_an_idempotency_key_is_not_used_up_by_the_refusal(
    configure: Callable[..., None], simulator: SimulatorServer
) -> None:
    configure(broken("bad_key", simulator))
    client = client_for(plain_user("retrier"))
    headers = {"Idempotency-Key": "misconfigured-1"}
    assert create(client, headers=headers).status_code == 503
    assert not IdempotencyKey.objects.exists()
    # Fixed at run time: the same request with the same key goes through.
    configure({"BACKENDS": {"default": faceid_alias(simulator)}})
    accepted = create(client, headers=headers)
    assert accepted.status_code == 202, accepted.content
    assert VerificationAttempt.objects.count() == 1


@pytest.mark.django_db
def test_validation_errors_still_come_first(
    configure: Callable[..., None], simulator: SimulatorServer
) -> None:
    configure(broken("bad_key", simulator))
    response = create(client_for(plain_user("typo")), idcard_number="110101190001010015")
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize("kind", ["bad_key", "no_secret", "alias_removed"])
def test_the_worker_fails_a_queued_attempt_once_without_calling_anyone(
    configure: Callable[..., None],
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    configure({"BACKENDS": {"default": faceid_alias(simulator)}})
    queued = submit(magic.MATCH, enqueue=False)
    # The settings go bad after the attempt was stored, before the worker meets it.
    configure(broken(kind, simulator))
    caplog.set_level(logging.DEBUG)
    assert enqueue(queued.pk) is None
    done = wait_terminal(queued.pk)
    assert (done.status, done.error_code, done.error_class, done.reason) == (
        "failed",
        "internal.backend_unavailable",
        "configuration",
        "configuration",
    )
    assert done.provider_calls == 0 and not call_events(done)
    assert not simulator.ledger.calls()
    assert done.error_message and KEY_BODY not in done.error_message
    no_secret_in_logs(caplog)
