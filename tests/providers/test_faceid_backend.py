"""The FaceID backend: ImageRecognitionV2 through Tencent's SDK, against the simulator over real
HTTP with a real worker (every outcome class, transport faults, encryption, a site switching
from legacy to FaceID), plus the bodies the simulator cannot send (scripted server)."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.checks import run_checks
from django.core.exceptions import ValidationError

from face_idcard import services
from face_idcard.backends import get_backend
from face_idcard.exceptions import BackendUnavailable
from face_idcard.models import VerificationAttempt
from face_idcard.outcome import ErrorClass
from face_idcard.providers.faceid import codes, sdk
from face_idcard.providers.faceid.backend import MAX_IMAGE_BASE64_CHARS, FaceIdBackend
from face_idcard.services import _pipeline as pipeline
from face_idcard.services._common import enqueue
from face_idcard.simulator import DEFAULT_SECRET_KEY, SimulatorServer, magic
from tests.support.celery_app import FAST, wait_terminal
from tests.support.faceid import NAME, PHOTO, call_events, faceid_alias, submit
from tests.support.faceid import use_faceid as use_faceid
from tests.support.fakeprovider import Drop, FakeProvider, JsonReply, RawReply


def faceid_calls(sim: SimulatorServer, attempt: VerificationAttempt) -> list[Any]:
    """The simulator's ledger keys FaceID calls by RequestId."""
    return [call for call in sim.ledger.calls() if call.session_id == attempt.provider_request_id]


# --- every outcome class through the pipeline ----------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize(
    ("number", "status", "decision", "code", "error_class", "reason", "billable"),
    [
        (magic.MATCH, "completed", "match", "Success", "success", "match", [True]),
        # Sim 74: Tencent says Success; 74 >= 70 matches on the default threshold too.
        (magic.REVIEW, "completed", "match", "Success", "success", "match", [True]),
        (
            magic.NO_MATCH,
            "completed",
            "no_match",
            "FailedOperation.CompareLowSimilarity",
            "success",
            "low_similarity",
            [True],
        ),
        (
            magic.NAME_MISMATCH,
            "rejected",
            "none",
            "FailedOperation.IdNameMisMatch",
            "input",
            "name_mismatch",
            [True],
        ),
        (
            magic.NO_FACE,
            "rejected",
            "none",
            "FailedOperation.LifePhotoDetectNoFaces",
            "input",
            "no_face",
            [False],
        ),
        (
            magic.ID_PHOTO_MISSING,
            "rejected",
            "none",
            "FailedOperation.IdPhotoNoExist",
            "input",
            "no_registry_photo",
            [None],
        ),
        (
            magic.ARREARS,
            "failed",
            "none",
            "UnauthorizedOperation.Arrears",
            "configuration",
            "account_problem",
            [False],
        ),
        # Retried (RETRY_MAX_COUNT 3), then failed.
        (
            magic.INTERNAL_ERROR,
            "failed",
            "none",
            "InternalError",
            "transient",
            "provider_unavailable",
            [False] * 4,
        ),
        (
            magic.flaky(2, variant=41),
            "completed",
            "match",
            "Success",
            "success",
            "match",
            [False, False, True],
        ),
    ],
)
def test_outcomes_through_the_pipeline(
    use_faceid: Callable[..., None],
    simulator: SimulatorServer,
    number: str,
    status: str,
    decision: str,
    code: str,
    error_class: str,
    reason: str,
    billable: list[bool | None],
) -> None:
    use_faceid(simulator)
    attempt = submit(number)
    done = wait_terminal(attempt.pk)
    assert (done.status, done.decision, done.error_code, done.error_class, done.reason) == (
        status,
        decision,
        code,
        error_class,
        reason,
    )
    assert done.backend == "default"
    assert [event["billable"] for event in call_events(done)] == billable
    assert done.provider_request_id and len(faceid_calls(simulator, done)) == 1
    if status == "completed":
        assert done.threshold == 70.0
        # Result kept beside the decision; Extra is the short correlation tag, echoed back.
        assert done.raw_response["Response"]["Result"] == code
        assert done.raw_response["Response"]["Extra"] == done.pk.hex[:10]
    assert number not in str(done.raw_response) and NAME not in str(done.raw_response)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_request_limit_exceeded_is_retried_until_the_quota_allows(
    use_faceid: Callable[..., None], simulator_factory: Callable[..., SimulatorServer]
) -> None:
    sim = simulator_factory(qps=2)
    # Retries enough that no attempt runs out by bad luck: with no rate limit of the app's in
    # this test, the six compete for the quota at every retry, and with 8 one of them lost
    # every draw now and then (each retry's chance is about even).
    use_faceid(
        sim,
        site={
            "RETRY_MAX_COUNT": 30,
            "RETRY_BACKOFF_BASE_SECONDS": 0.3,
            "RETRY_BACKOFF_MAX_SECONDS": 1.0,
        },
    )
    attempts = [submit(magic.MATCH) for _ in range(6)]
    done = [wait_terminal(a.pk, timeout=60) for a in attempts]
    assert {a.status for a in done} == {"completed"}
    limited = [
        event
        for attempt in done
        for event in call_events(attempt)
        if event["code"] == "RequestLimitExceeded"
    ]
    assert limited, "the quota of 2/s should have refused some of 6 quick calls"
    assert {(e["error_class"], e["reason"], e["billable"]) for e in limited} == {
        ("transient", "rate_limited", False)
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize(
    ("number", "code"),
    [
        (magic.HANG, "transport.timeout"),
        (magic.DROP, "transport.connection"),
        (magic.BAD_GATEWAY, "transport.bad_response"),
    ],
)
def test_transport_faults_are_retried_then_fail(
    use_faceid: Callable[..., None], simulator: SimulatorServer, number: str, code: str
) -> None:
    use_faceid(simulator, READ_TIMEOUT_SECONDS=0.5, site={"RETRY_MAX_COUNT": 1})
    done = wait_terminal(submit(number).pk, timeout=20)
    assert (done.status, done.error_code, done.error_class) == ("failed", code, "transient")
    assert [e["code"] for e in call_events(done)] == [code, code]
    assert done.provider_calls == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize(
    ("number", "reason", "billable"),
    [(magic.NO_MATCH, "low_similarity", True), (magic.NAME_MISMATCH, "name_mismatch", True)],
)
def test_business_results_answered_as_errors(
    use_faceid: Callable[..., None],
    simulator_factory: Callable[..., SimulatorServer],
    number: str,
    reason: str,
    billable: bool,
) -> None:
    sim = simulator_factory(faceid_business_answer="error")
    use_faceid(sim)
    done = wait_terminal(submit(number).pk)
    # Without a Sim nothing can be decided on our threshold: the person's result, final.
    assert (done.status, done.error_class, done.reason) == ("rejected", "input", reason)
    assert [e["billable"] for e in call_events(done)] == [billable]
    assert wait_terminal(submit(magic.MATCH).pk).status == "completed"


# --- the threshold -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_alias_threshold_decides_on_sim_whatever_result_says(
    use_faceid: Callable[..., None], simulator: SimulatorServer
) -> None:
    use_faceid(simulator, THRESHOLD=80)
    attempt = submit(magic.REVIEW, enqueue=False)  # Sim 74: Tencent's Result is Success
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.decision, attempt.similarity, attempt.threshold) == (
        "completed",
        "no_match",
        74.0,
        80.0,
    )
    assert (attempt.error_code, attempt.reason) == ("Success", "low_similarity")


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def answer(**response: Any) -> JsonReply:
    return JsonReply({"Response": {"RequestId": "req-1", **response}})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "status", "decision", "code"),
    [
        # Sim 65 with CompareLowSimilarity matches on a site threshold of 60 (W008 warns).
        (
            answer(Sim=65.0, Result="FailedOperation.CompareLowSimilarity"),
            "completed",
            "match",
            codes.LOW_SIMILARITY,
        ),
        (answer(Sim=88.0), "completed", "match", "Success"),  # Sim without Result
        (answer(Result="Success"), "retry_wait", "none", "transport.bad_response"),
        (answer(Sim=101.0, Result="Success"), "retry_wait", "none", "transport.bad_response"),
        (answer(Sim="NaN", Result="Success"), "retry_wait", "none", "transport.bad_response"),
        (answer(Description="x"), "retry_wait", "none", "transport.bad_response"),
        (JsonReply({"NoResponse": {}}), "retry_wait", "none", "transport.bad_response"),
        (JsonReply(["Response"]), "retry_wait", "none", "transport.bad_response"),
        (
            RawReply(b"{not json", content_type="application/json"),
            "retry_wait",
            "none",
            "transport.bad_response",
        ),
        (
            RawReply(b"<html>ok</html>", content_type="text/html"),
            "retry_wait",
            "none",
            "transport.bad_response",
        ),
        (
            JsonReply({"Response": {"Error": {"Code": 7}, "RequestId": "r"}}),
            "retry_wait",
            "none",
            "transport.bad_response",
        ),
        (
            JsonReply({"Response": {"Error": {"Code": "X"}}}),
            "retry_wait",
            "none",
            "transport.bad_response",
        ),
        (
            RawReply(b"", status=503, content_type="text/plain"),
            "retry_wait",
            "none",
            "transport.bad_response",
        ),
        (Drop(), "retry_wait", "none", "transport.connection"),
        (
            answer(Error={"Code": "FailedOperation.SomethingNew", "Message": "m"}),
            "failed",
            "none",
            "FailedOperation.SomethingNew",
        ),
    ],
)
def test_bodies_the_simulator_cannot_send(
    use_faceid: Callable[..., None],
    fake: FakeProvider,
    reply: Any,
    status: str,
    decision: str,
    code: str,
) -> None:
    use_faceid(fake.url, THRESHOLD=60)
    fake.script(reply)
    attempt = submit(magic.MATCH, enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.decision, attempt.error_code) == (status, decision, code)
    assert len(fake.requests) == 1


# --- images, urls, request fields ----------------------------------------------------------


def test_image_limits_fit_tencents_base64_cap() -> None:
    limits = FaceIdBackend.base_image_limits
    assert limits.formats == frozenset({"JPEG", "PNG"})
    assert len(base64.b64encode(b"\0" * limits.max_bytes)) <= MAX_IMAGE_BASE64_CHARS
    assert limits.max_bytes > 2 * 1024 * 1024


@pytest.mark.django_db
def test_a_url_is_refused_before_anything_is_stored(
    use_faceid: Callable[..., None], simulator: SimulatorServer
) -> None:
    use_faceid(simulator)
    with pytest.raises(ValidationError) as caught:
        submit(image=None, url="https://example.com/face.jpg")
    assert caught.value.code == "url_not_accepted"
    assert not VerificationAttempt.objects.exists()


@pytest.mark.django_db
def test_the_request_as_sent(use_faceid: Callable[..., None], fake: FakeProvider) -> None:
    use_faceid(fake.url, REGION="ap-shanghai")
    fake.script(answer(Sim=90.0, Result="Success"))
    attempt = submit(magic.MATCH, enqueue=False)
    pipeline.run(attempt.pk)
    (sent,) = fake.requests
    body = sent.json
    assert set(body) == {"IdCard", "Name", "ImageBase64", "Extra"}
    assert body["Extra"] == attempt.pk.hex[:10] and magic.MATCH not in body["Extra"]
    assert base64.b64decode(body["ImageBase64"])[:2] == b"\xff\xd8"
    assert sent.headers["x-tc-action"] == "ImageRecognitionV2"
    assert sent.headers["x-tc-region"] == "ap-shanghai"
    assert sent.headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=")


def test_timeouts_and_endpoint_reach_the_sdk(settings: Any, simulator: SimulatorServer) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {
            "default": faceid_alias(simulator, CONNECT_TIMEOUT_SECONDS=1.5, READ_TIMEOUT_SECONDS=7)
        },
    }
    backend = get_backend("default")
    assert isinstance(backend, FaceIdBackend)
    # The SDK's one reqTimeout is replaced by the (connect, read) pair on its session.
    assert backend.client.session_timeout == (1.5, 7.0)
    assert backend.client.endpoint == simulator.base_url
    assert sdk.parse_endpoint("") == ("faceid.tencentcloudapi.com", "https")
    assert sdk.parse_endpoint("faceid.ap-guangzhou.tencentcloudapi.com") == (
        "faceid.ap-guangzhou.tencentcloudapi.com",
        "https",
    )
    with pytest.raises(ValueError):
        sdk.parse_endpoint("ftp://x")
    with pytest.raises(ValueError):
        sdk.parse_endpoint("https://x/path")
    assert DEFAULT_SECRET_KEY not in repr(backend.client)


# --- encryption ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.django_db
def test_encryption_round_trip_through_the_simulator(
    use_faceid: Callable[..., None],
    simulator_factory: Callable[..., SimulatorServer],
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    sim = simulator_factory(faceid_private_key=private_pem(rsa_key))
    use_faceid(sim, ENCRYPTION_PUBLIC_KEY=public_pem(rsa_key))
    for number, expected in ((magic.MATCH, "match"), (magic.NO_MATCH, "no_match")):
        attempt = submit(number, enqueue=False)
        pipeline.run(attempt.pk)
        attempt.refresh_from_db()
        # The simulator decrypted the right number (a wrong one would not be a magic number).
        assert (attempt.status, attempt.decision) == ("completed", expected)


@pytest.mark.django_db
def test_the_encrypted_request_carries_no_clear_text(
    use_faceid: Callable[..., None], fake: FakeProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    use_faceid(fake.url, ENCRYPTION_PUBLIC_KEY=public_pem(rsa_key))
    fake.script(answer(Sim=90.0, Result="Success"), answer(Sim=90.0, Result="Success"))
    for _ in range(2):
        pipeline.run(submit(magic.MATCH, enqueue=False).pk)
    first, second = (request.json for request in fake.requests)
    assert magic.MATCH not in fake.requests[0].body.decode() and "\\u5f20" not in first["Name"]
    assert first["Encryption"]["EncryptList"] == ["IdCard", "Name"]
    assert first["Encryption"]["Algorithm"] == "AES-256-CBC"
    assert len(base64.b64decode(first["Encryption"]["Iv"])) == 16
    assert len(base64.b64decode(first["Encryption"]["CiphertextBlob"])) == 256
    # A fresh key and IV for every request.
    assert first["Encryption"]["CiphertextBlob"] != second["Encryption"]["CiphertextBlob"]
    assert first["IdCard"] != second["IdCard"]


@pytest.mark.django_db
def test_a_wrong_key_is_refused_clearly(
    use_faceid: Callable[..., None],
    simulator_factory: Callable[..., SimulatorServer],
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sim = simulator_factory(faceid_private_key=private_pem(rsa_key))
    use_faceid(sim, ENCRYPTION_PUBLIC_KEY=public_pem(other))
    attempt = submit(magic.MATCH, enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_code, attempt.error_class, attempt.reason) == (
        "failed",
        "FailedOperation.DecryptSystemError",
        "configuration",
        "configuration",
    )
    assert "ENCRYPTION_PUBLIC_KEY" in attempt.error_message


@pytest.mark.django_db
def test_a_key_that_cannot_be_loaded_stops_everything_clearly(
    use_faceid: Callable[..., None], simulator: SimulatorServer
) -> None:
    use_faceid(simulator)
    queued = submit(magic.MATCH, enqueue=False)
    use_faceid(simulator, ENCRYPTION_PUBLIC_KEY="-----BEGIN PUBLIC KEY-----\nnope\n")
    # submit refuses (tests/providers/test_backend_unavailable.py: the API's 503), storing nothing.
    with pytest.raises(BackendUnavailable) as refused:
        submit(magic.MATCH, enqueue=False)
    assert re.search(r"ENCRYPTION_PUBLIC_KEY.*E017", refused.value.detail)
    # An attempt queued before the key went bad fails without calling anyone.
    pipeline.run(queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.error_code) == ("failed", "internal.backend_unavailable")
    assert VerificationAttempt.objects.count() == 1
    assert not simulator.ledger.calls()


# --- system checks -------------------------------------------------------------------------


def small_rsa_public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return public_pem(key)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"ENCRYPTION_PUBLIC_KEY": "not a key"}, "face_idcard.E017"),
        ({"ENCRYPTION_PUBLIC_KEY": "small"}, "face_idcard.E017"),
        ({"THRESHOLD": 60}, "face_idcard.W008"),
        ({"SECRET_KEY": ""}, "face_idcard.E002"),
    ],
)
def test_checks(settings: Any, options: dict[str, Any], expected: str) -> None:
    if options.get("ENCRYPTION_PUBLIC_KEY") == "small":
        options = {"ENCRYPTION_PUBLIC_KEY": small_rsa_public_pem()}
    settings.SILENCED_SYSTEM_CHECKS = []
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": faceid_alias("https://faceid.tencentcloudapi.com", **options)},
    }
    assert expected in {m.id for m in run_checks(tags=["face_idcard"])}


def test_a_complete_faceid_alias_passes_the_checks(
    settings: Any, rsa_key: rsa.RSAPrivateKey
) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {
            "default": faceid_alias(
                "faceid.tencentcloudapi.com",
                THRESHOLD=70,
                ENCRYPTION_PUBLIC_KEY=public_pem(rsa_key),
            )
        },
    }
    assert {m.id for m in run_checks(tags=["face_idcard"])} == set()


# --- the catalogue -------------------------------------------------------------------------


def sdk_codes() -> set[str]:
    import tencentcloud.faceid.v20180301.errorcodes as module

    text = Path(module.__file__).read_text(encoding="utf-8")
    return set(re.findall(r"^[A-Z_]+ = '([^']+)'", text, flags=re.M))


def test_every_sdk_and_common_code_is_in_the_catalogue() -> None:
    known = set(codes.FACEID_CODES.entries)
    assert len(sdk_codes()) > 90 and sdk_codes() <= known
    common = {
        "AuthFailure.SignatureExpire",
        "AuthFailure.SignatureFailure",
        "AuthFailure.SecretIdNotFound",
        "AuthFailure.InvalidSecretId",
        "InvalidAction",
        "NoSuchVersion",
        "UnknownParameter",
        "MissingParameter",
        "RequestLimitExceeded",
        "RequestSizeLimitExceeded",
        "ServiceUnavailable",
    }
    assert common <= known
    for info in codes.FACEID_CODES:
        assert info.zh_hans and info.en and info.en.isascii(), info.code
        assert codes.BILLING_SOURCE[info.code] in (
            codes.DOC_BILLED,
            codes.DOC_FREE,
            codes.OURS_FREE,
            codes.UNKNOWN,
        )
    # What Tencent's billing page says, kept as it says it.
    billed = {c for c, source in codes.BILLING_SOURCE.items() if source == codes.DOC_BILLED}
    assert billed == {"Success", codes.LOW_SIMILARITY, "FailedOperation.IdNameMisMatch"}
    assert codes.FACEID_CODES.lookup("AuthFailure.SignatureExpire").error_class is ErrorClass.RESIGN


# --- no personal information from the SDK --------------------------------------------------


@pytest.mark.django_db
def test_no_personal_information_in_any_log_record(
    use_faceid: Callable[..., None],
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_faceid(simulator)
    image_b64 = base64.b64encode(PHOTO).decode()[:40]
    secrets = (magic.MATCH, NAME, "\\u5f20\\u4e09", image_b64, DEFAULT_SECRET_KEY)

    def records_of_a_full_run() -> str:
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            for name in ("", sdk.SDK_LOGGER, "urllib3", "face_idcard"):
                logging.getLogger(name).setLevel(logging.DEBUG)
            attempt = submit(magic.MATCH, enqueue=False)
            pipeline.run(attempt.pk)
            attempt.refresh_from_db()
            assert attempt.status == "completed"
        return "\n".join(
            f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
        )

    text = records_of_a_full_run()
    assert caplog.records, "a full run logs something at DEBUG"
    assert not [s for s in secrets if s in text]
    # The test can fail: without the filter the SDK writes the body at DEBUG.
    from face_idcard import logfilters

    assert sdk.SDK_LOGGER in logfilters.HTTP_LOGGERS
    logfilters.uninstall()
    try:
        leaked = records_of_a_full_run()
    finally:
        logfilters.install()
    assert magic.MATCH in leaked or "\\u5f20" in leaked


# --- a site switching from legacy to FaceID ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_switching_from_legacy_to_faceid_mid_stream(
    settings: Any, simulator: SimulatorServer
) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        **FAST,
        "REVIEW_BAND": 5,
        "DEFAULT_BACKEND": "old",
        "BACKENDS": {
            "old": {"BACKEND": "simulator", "ENDPOINT": simulator.base_url},
            "new": faceid_alias(simulator, REVIEW_BAND=5),
        },
    }
    # Queued on the legacy alias, not yet run, when the site switches.
    on_legacy = submit(magic.REVIEW, enqueue=False)
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "DEFAULT_BACKEND": "new"}
    on_faceid = submit(magic.REVIEW)
    enqueue(on_legacy.pk)
    legacy_done, faceid_done = wait_terminal(on_legacy.pk), wait_terminal(on_faceid.pk)

    assert (legacy_done.backend, legacy_done.error_code, legacy_done.threshold) == (
        "old",
        "0",
        75.0,
    )
    assert (faceid_done.backend, faceid_done.error_code, faceid_done.threshold) == (
        "new",
        "Success",
        70.0,
    )
    # 74 is within 5 of both thresholds: both go to a person.
    assert legacy_done.decision == faceid_done.decision == "review"
    legacy_calls = [c for c in simulator.ledger.calls() if c.session_id == legacy_done.pk.hex]
    assert [(c.protocol, c.code) for c in legacy_calls] == [("legacy", 0)]
    assert [c.protocol for c in faceid_calls(simulator, faceid_done)] == ["faceid"]
    assert len(simulator.ledger.calls()) == 2

    from tests.support.users import user_with

    staff = user_with("reviewer14", "review")
    services.review(legacy_done, reviewer=staff, decision="no_match", reason="not the same person")
    services.review(faceid_done, reviewer=staff, decision="match", reason="checked by hand")
    legacy_done.refresh_from_db()
    faceid_done.refresh_from_db()
    assert (legacy_done.review_decision, faceid_done.review_decision) == ("no_match", "match")
