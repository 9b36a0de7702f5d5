"""The neutral core: a FaceID-shaped backend with string codes runs through the pipeline (a
real worker, real HTTP) with the right classes, reasons and billing, and per-alias
configuration (BACKENDS) decides thresholds, quotas and where each attempt runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from face_idcard import ratelimit, reasons, services
from face_idcard.models import VerificationAttempt
from face_idcard.outcome import Reason
from face_idcard.simulator import magic
from face_idcard.states import Decision, Status
from tests import imagefactory
from tests.celery_app import FAST, ledger_calls, wait_terminal
from tests.fakeprovider import FakeProvider, JsonReply

NAME = "王五"
IMAGE = imagefactory.jpeg(320, 240)
STRINGCODE = "tests.stringcode_backend.StringCodeBackend"


def submit(number: str = magic.MATCH, **kwargs: Any) -> VerificationAttempt:
    params: dict[str, Any] = {
        "idcard_number": number,
        "idcard_name": NAME,
        "image": IMAGE,
        "consent_at": timezone.now(),
    }
    params.update(kwargs)
    return services.submit(**params)


def answer(**response: Any) -> JsonReply:
    return JsonReply({"Response": {"RequestId": "req-1", **response}})


def error(code: str) -> JsonReply:
    return JsonReply({"Response": {"Error": {"Code": code, "Message": "x"}, "RequestId": "r"}})


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def stringcode(settings: Any, fake: FakeProvider) -> FakeProvider:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        "BACKENDS": {"default": {"BACKEND": STRINGCODE, "ENDPOINT": fake.url, "REVIEW_BAND": 0}},
    }
    return fake


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize(
    ("replies", "status", "decision", "code", "error_class", "reason", "billable"),
    [
        (
            [answer(Sim=88.0, Result="Success")],
            "completed",
            "match",
            "Success",
            "success",
            "match",
            [True],
        ),
        # The app decides on Sim against its own threshold (70 here) whatever Result says.
        (
            [answer(Sim=72.0, Result="FailedOperation.CompareLowSimilarity")],
            "completed",
            "match",
            "FailedOperation.CompareLowSimilarity",
            "success",
            "match",
            [True],
        ),
        (
            [answer(Sim=40.0, Result="FailedOperation.CompareLowSimilarity")],
            "completed",
            "no_match",
            "FailedOperation.CompareLowSimilarity",
            "success",
            "low_similarity",
            [True],
        ),
        # The measured defect: this code used to end "failed" as unknown.
        (
            [answer(Sim=0, Result="FailedOperation.IdNameMisMatch")],
            "rejected",
            "none",
            "FailedOperation.IdNameMisMatch",
            "input",
            "name_mismatch",
            [True],
        ),
        (
            [answer(Result="FailedOperation.LifePhotoDetectFaces")],
            "rejected",
            "none",
            "FailedOperation.LifePhotoDetectFaces",
            "input",
            "multiple_faces",
            [False],
        ),
        (
            [
                error("RequestLimitExceeded"),
                error("InternalError"),
                answer(Sim=90, Result="Success"),
            ],
            "completed",
            "match",
            "Success",
            "success",
            "match",
            [False, False, True],
        ),
        (
            [error("UnauthorizedOperation.Arrears")],
            "failed",
            "none",
            "UnauthorizedOperation.Arrears",
            "configuration",
            "account_problem",
            [False],
        ),
        # Unknown codes pass through as they came, never retried.
        (
            [error("FailedOperation.SomethingNew")],
            "failed",
            "none",
            "FailedOperation.SomethingNew",
            "unknown",
            "unknown",
            [None],
        ),
    ],
)
def test_string_codes_through_the_pipeline(
    stringcode: FakeProvider,
    replies: list[JsonReply],
    status: str,
    decision: str,
    code: str,
    error_class: str,
    reason: str,
    billable: list[bool | None],
) -> None:
    stringcode.script(*replies)
    attempt = submit()
    done = wait_terminal(attempt.pk)
    assert (done.status, done.decision, done.error_code, done.error_class, done.reason) == (
        status,
        decision,
        code,
        error_class,
        reason,
    )
    assert done.backend == "default"
    calls = done.events.filter(kind="provider_call").order_by("created_at", "id")
    assert [event.data["billable"] for event in calls] == billable
    assert len(stringcode.requests) == len(replies)
    if status == "completed":
        assert done.threshold == 70.0 and done.provider_request_id == "req-1"
    # The PII keys the backend declares never reach the stored response.
    assert "IdCard" not in str(done.raw_response) and NAME not in str(done.raw_response)
    # What a person is told comes from the neutral reason.
    assert reasons.user_message(done.reason) == str(reasons.MESSAGES[Reason(reason)])


@pytest.mark.django_db
def test_url_refused_for_a_backend_that_takes_none(stringcode: FakeProvider) -> None:
    with pytest.raises(ValidationError) as caught:
        submit(image=None, url="https://example.com/face.jpg")
    assert caught.value.code == "url_not_accepted"
    assert not VerificationAttempt.objects.exists()
    assert not stringcode.requests


# --- per-alias configuration --------------------------------------------------------------------


@pytest.fixture
def two_simulators(settings: Any, simulator_factory: Any) -> tuple[Any, Any]:
    first, second = simulator_factory(), simulator_factory()
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        "BACKENDS": {
            "default": {"BACKEND": "simulator", "ENDPOINT": first.base_url, "THRESHOLD": 95},
            "partner": {
                "BACKEND": "simulator",
                "ENDPOINT": second.base_url,
                "THRESHOLD": 60,
                "REVIEW_BAND": 0,
            },
        },
    }
    return first, second


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_each_alias_has_its_own_endpoint_and_threshold(two_simulators: tuple[Any, Any]) -> None:
    first, second = two_simulators
    on_default = wait_terminal(submit(magic.MATCH).pk)
    on_partner = wait_terminal(submit(magic.MATCH, backend="partner").pk)
    assert (on_default.backend, on_default.threshold) == ("default", 95.0)
    assert (on_partner.backend, on_partner.threshold) == ("partner", 60.0)
    assert on_partner.decision == Decision.MATCH.value
    assert len(ledger_calls(first, on_default.pk)) == 1 and not ledger_calls(
        first, on_partner.pk, 0
    )
    assert len(ledger_calls(second, on_partner.pk)) == 1 and not ledger_calls(
        second, on_default.pk, 0
    )


@pytest.mark.django_db
def test_an_attempt_finishes_on_the_backend_it_started_on(
    settings: Any, two_simulators: tuple[Any, Any]
) -> None:
    first, second = two_simulators
    attempt = submit(magic.MATCH, enqueue=False)
    # The site switches its default while the attempt waits in the queue.
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "DEFAULT_BACKEND": "partner"}
    services.run(attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED.value and attempt.backend == "default"
    assert len(ledger_calls(first, attempt.pk)) == 1 and not ledger_calls(second, attempt.pk, 0)
    assert submit(magic.MATCH, enqueue=False).backend == "partner"


@pytest.mark.django_db
def test_an_attempt_stored_before_aliases_resolves_from_the_flat_keys(
    settings: Any, simulator: Any, two_simulators: tuple[Any, Any]
) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "SIMULATOR_URL": simulator.base_url}
    attempt = submit(magic.MATCH, enqueue=False)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(backend="simulator")
    services.run(attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED.value
    assert len(ledger_calls(simulator, attempt.pk)) == 1


@pytest.mark.django_db
def test_an_alias_that_is_gone_fails_the_attempt_without_a_call(
    settings: Any, two_simulators: tuple[Any, Any]
) -> None:
    first, _second = two_simulators
    attempt = submit(magic.MATCH, enqueue=False)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(backend="removed")
    outcome = services.run(attempt.pk)
    attempt.refresh_from_db()
    assert outcome.action == "done"
    assert (attempt.status, attempt.error_code, attempt.reason, attempt.provider_calls) == (
        "failed",
        "internal.backend_unavailable",
        "configuration",
        0,
    )
    assert not ledger_calls(first, attempt.pk, 0)


def test_each_alias_counts_its_own_quota(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    now = 1_000_000.0
    assert ratelimit.acquire(now, limit=1, scope="a").allowed
    assert not ratelimit.acquire(now, limit=1, scope="a").allowed
    assert ratelimit.acquire(now, limit=1, scope="b").allowed


@pytest.mark.parametrize(
    ("backends", "extra", "expected"),
    [
        ({"default": {"BACKEND": "legacy"}}, {}, "face_idcard.E002"),
        ({"default": {"BACKEND": "nope"}}, {}, "face_idcard.E001"),
        ({"main": {"BACKEND": "simulator"}}, {}, "face_idcard.E001"),  # no "default" alias
        ({"main": {"BACKEND": "simulator"}}, {"DEFAULT_BACKEND": "main"}, "face_idcard.W001"),
        ({"default": {"BACKEND": "simulator", "THRESHOLD": 120}}, {}, "face_idcard.E003"),
        ({"default": {"BACKEND": "simulator", "REVIEW_BAND": -1}}, {}, "face_idcard.E004"),
        ({"default": {"BACKEND": "simulator", "READ_TIMEOUT": 0}}, {}, "face_idcard.E007"),
        ({"default": {"BACKEND": "simulator", "RATE_LIMIT_PER_SECOND": 0}}, {}, "face_idcard.E012"),
        ({"default": {"BACKEND": "simulator", "SECRET_KY": "x"}}, {}, "face_idcard.W006"),
    ],
)
def test_checks_per_alias(settings: Any, backends: Any, extra: Any, expected: str) -> None:
    from django.core.checks import run_checks

    settings.SILENCED_SYSTEM_CHECKS = []
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "BACKENDS": backends, **extra}
    ids = {message.id for message in run_checks(tags=["face_idcard"])}
    assert expected in ids


def test_a_complete_alias_configuration_passes_the_checks(settings: Any) -> None:
    from django.core.checks import run_checks

    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {
            "default": {
                "BACKEND": "legacy",
                "APPID": "1250000000",
                "SECRET_ID": "AKIDexample",
                "SECRET_KEY": "example-secret",
                "THRESHOLD": 80,
            }
        },
    }
    assert {message.id for message in run_checks(tags=["face_idcard"])} == set()
