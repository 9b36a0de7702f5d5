"""The neutral core: a FaceID-shaped backend with string codes runs through the pipeline (a
real worker, real HTTP) with the right classes, reasons and billing, and per-alias
configuration (BACKENDS) decides thresholds, quotas and where each attempt runs."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from face_idcard import _ratelimit as ratelimit
from face_idcard import _reasons as reasons
from face_idcard.backends import VerificationRequest, get_backend
from face_idcard.models import VerificationAttempt
from face_idcard.outcome import ErrorClass, Reason
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import magic
from face_idcard.states import Decision, Status
from tests.support import imagefactory
from tests.support.celery_app import FAST, ledger_calls, wait_terminal
from tests.support.factories import submit_attempt
from tests.support.fakeprovider import Drop, FakeProvider, JsonReply, RawReply
from tests.support.paths import REPO_ROOT

NAME = "王五"
IMAGE = imagefactory.jpeg(320, 240)
STRINGCODE = "tests.support.stringcode_backend.StringCodeBackend"


submit = functools.partial(submit_attempt, idcard_name=NAME)


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
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == Status.COMPLETED.value and attempt.backend == "default"
    assert len(ledger_calls(first, attempt.pk)) == 1 and not ledger_calls(second, attempt.pk, 0)
    assert submit(magic.MATCH, enqueue=False).backend == "partner"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stored", ["simulator", "face_idcard.providers.legacy.backend.SimulatorBackend"]
)
def test_a_backend_name_is_not_an_alias(
    settings: Any, simulator: Any, two_simulators: tuple[Any, Any], stored: str
) -> None:
    """Only the aliases of BACKENDS resolve: a built-in name or a dotted path stored on an
    attempt is not configured, so the attempt fails without a call."""
    first, second = two_simulators
    attempt = submit(magic.MATCH, enqueue=False)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(backend=stored)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_code, attempt.provider_calls) == (
        "failed",
        "internal.backend_unavailable",
        0,
    )
    for server in (simulator, first, second):
        assert not ledger_calls(server, attempt.pk, 0)


@pytest.mark.django_db
def test_an_alias_that_is_gone_fails_the_attempt_without_a_call(
    settings: Any, two_simulators: tuple[Any, Any]
) -> None:
    first, _second = two_simulators
    attempt = submit(magic.MATCH, enqueue=False)
    VerificationAttempt.objects.filter(pk=attempt.pk).update(backend="removed")
    outcome = pipeline.run(attempt.pk)
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
        (
            {"main": {"BACKEND": "simulator"}},
            {"DEFAULT_BACKEND": "main", "ALLOW_DEVELOPMENT_BACKENDS": False},
            "face_idcard.E030",
        ),
        ({"default": {"BACKEND": "simulator", "THRESHOLD": 120}}, {}, "face_idcard.E003"),
        ({"default": {"BACKEND": "simulator", "REVIEW_BAND": -1}}, {}, "face_idcard.E004"),
        ({"default": {"BACKEND": "simulator", "READ_TIMEOUT_SECONDS": 0}}, {}, "face_idcard.E007"),
        ({"default": {"BACKEND": "simulator", "RATE_LIMIT_PER_SECOND": 0}}, {}, "face_idcard.E012"),
        ({"default": {"BACKEND": "simulator", "SECRET_KY": "x"}}, {}, "face_idcard.E018"),
        ({"default": {"BACKEND": STRINGCODE, "APPID": "1"}}, {}, "face_idcard.E018"),
        ({"default": {"BACKEND": STRINGCODE}}, {}, "face_idcard.E002"),
        ({"default": {"BACKEND": "faceid", "SECRET_ID": "AKID"}}, {}, "face_idcard.E002"),
        ({}, {}, "face_idcard.E001"),  # no alias at all
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


def test_an_unknown_alias_key_is_an_error_naming_alias_and_key_never_the_value(
    settings: Any,
) -> None:
    from django.core.checks import run_checks

    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {
            "default": {"BACKEND": "simulator"},
            "partner": {"BACKEND": "simulator", "SECRET_KY": "value-never-shown"},
        },
    }
    errors = [m for m in run_checks(tags=["face_idcard"]) if m.id == "face_idcard.E018"]
    assert len(errors) == 1
    assert errors[0].is_serious()
    text = f"{errors[0].msg} {errors[0].hint}"
    assert "'partner'" in text and "'SECRET_KY'" in text and "SECRET_KEY (secret)" in text
    assert "value-never-shown" not in text


def test_each_backend_declares_its_options_required_and_secret() -> None:
    from face_idcard.providers.faceid.backend import FaceIdBackend
    from face_idcard.providers.legacy.backend import LegacyBackend, SimulatorBackend

    assert LegacyBackend.describe_options() == (
        "APPID (required), SECRET_ID (required), SECRET_KEY (required, secret), BUCKET, "
        "ENDPOINT, SIGNATURE_LIFETIME_SECONDS"
    )
    assert SimulatorBackend.describe_options() == (
        "APPID, SECRET_ID, SECRET_KEY (secret), BUCKET, ENDPOINT, SIGNATURE_LIFETIME_SECONDS"
    )
    assert FaceIdBackend.describe_options() == (
        "SECRET_ID (required), SECRET_KEY (required, secret), ENDPOINT, REGION, "
        "ENCRYPTION_PUBLIC_KEY, LIVENESS_PRECHECK, PRECHECK_RATE_LIMIT_PER_SECOND"
    )


def test_a_missing_required_option_is_an_error_and_the_backend_is_not_built(
    settings: Any,
) -> None:
    from django.core.checks import run_checks

    from face_idcard.backends import usable_backend
    from face_idcard.exceptions import BackendUnavailable

    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": {"BACKEND": "legacy", "APPID": "1", "SECRET_KEY": "hidden"}},
    }
    errors = [m for m in run_checks(tags=["face_idcard"]) if m.id == "face_idcard.E002"]
    assert len(errors) == 1 and "SECRET_ID" in errors[0].msg and "hidden" not in errors[0].msg
    with pytest.raises(ImproperlyConfigured, match="SECRET_ID"):
        get_backend()
    with pytest.raises(BackendUnavailable):
        usable_backend()


# --- the base class: verify always returns a neutral outcome ------------------------------------


def _request(url: str | None = None) -> VerificationRequest:
    return VerificationRequest(
        idcard_number=magic.MATCH,
        idcard_name=NAME,
        image=None if url else IMAGE,
        url=url,
        correlation_id="c0ffee",
    )


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (RawReply(b"<html>502 Bad Gateway</html>", status=502), "transport.bad_response"),
        (Drop(reset=True), "transport.connection"),
    ],
)
def test_verify_turns_a_transport_error_into_an_outcome(
    stringcode: FakeProvider, reply: Any, code: str
) -> None:
    """Over real HTTP: the backend's call raises, the base class answers with an outcome."""
    stringcode.script(reply)
    outcome = get_backend().verify(_request())
    assert (outcome.code, outcome.error_class, outcome.reason) == (
        code,
        ErrorClass.TRANSIENT,
        Reason.PROVIDER_UNAVAILABLE,
    )
    assert outcome.elapsed is not None and outcome.elapsed >= 0
    assert len(stringcode.requests) == 1


def test_verify_scrubs_the_declared_pii_keys_and_the_values(stringcode: FakeProvider) -> None:
    stringcode.script(
        JsonReply(
            {
                "Response": {
                    "Sim": 88.0,
                    "Result": "Success",
                    "RequestId": "r",
                    "IdCard": magic.MATCH,
                    "Echo": f"for {NAME}",
                }
            }
        )
    )
    outcome = get_backend().verify(_request())
    assert outcome.similarity == 88.0 and outcome.raw is not None
    assert "IdCard" not in outcome.raw["Response"]
    assert outcome.raw["Response"]["Echo"] == "[removed]"
    assert outcome.raw["Response"]["RequestId"] == "r"


def test_verify_never_sends_a_url_to_a_backend_that_takes_none(stringcode: FakeProvider) -> None:
    outcome = get_backend().verify(_request(url="https://example.com/face.jpg"))
    assert (outcome.code, outcome.error_class) == ("internal.error", ErrorClass.UNKNOWN)
    assert not stringcode.requests


def test_a_success_without_a_score_is_a_bad_response(stringcode: FakeProvider) -> None:
    stringcode.script(answer(Result="Success"))
    outcome = get_backend().verify(_request())
    assert (outcome.code, outcome.error_class) == ("transport.bad_response", ErrorClass.TRANSIENT)


@pytest.mark.parametrize(("can_resign", "expected"), [(True, "resign"), (False, "configuration")])
def test_a_refused_signature_is_retried_only_by_a_backend_that_can_resign(
    stringcode: FakeProvider, monkeypatch: Any, can_resign: bool, expected: str
) -> None:
    from tests.support.stringcode_backend import StringCodeBackend

    monkeypatch.setattr(StringCodeBackend, "can_resign", can_resign)
    stringcode.script(error("AuthFailure.SignatureExpire"))
    outcome = get_backend().verify(_request())
    assert outcome.code == "AuthFailure.SignatureExpire"
    assert outcome.error_class.value == expected


def test_a_url_fetch_failure_outside_url_mode_is_the_input(stringcode: FakeProvider) -> None:
    stringcode.script(error("FailedOperation.DownLoadError"))
    outcome = get_backend().verify(_request())
    assert (outcome.error_class, outcome.reason) == (ErrorClass.INPUT, Reason.IMAGE_FETCH_FAILED)


def test_generic_modules_name_no_provider() -> None:
    """Adding a provider touches no generic file: none names one, its options or limits.

    ``FaceIdcardSettings`` is the app's own name, hence the word boundaries."""
    import re

    package = REPO_ROOT / "face_idcard"
    generic = [
        package / name
        for name in (
            "conf.py",
            "checks.py",
            "_consent.py",
            "_images.py",
            "outcome.py",
            "_ratelimit.py",
        )
    ]
    generic += sorted((package / "backends").glob("*.py"))
    generic += sorted((package / "services").glob("*.py"))
    provider_words = re.compile(
        r"\b(legacy|faceid|tencent|appid|bucket|aliyun|alibaba|cloudauth)\b", re.IGNORECASE
    )
    found = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in generic
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if provider_words.search(line)
    ]
    assert found == []
