"""The aliyun backend: Cloudauth ContrastFaceVerify through our client, against the simulator
over real HTTP with a real worker (every outcome class: decided, reviewed, rejected, failed,
retried, deferred under the quota), the threshold policies, the request as sent and the
answers the simulator cannot send (scripted server), options and checks."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from PIL import Image

from face_idcard.backends import get_backend
from face_idcard.models import VerificationAttempt
from face_idcard.providers.aliyun.backend import (
    ACCOUNT_CALLS_PER_SECOND,
    AliyunBackend,
    outer_order_no,
)
from face_idcard.services import _pipeline as pipeline
from face_idcard.simulator import DEFAULT_SECRET_KEY, SimulatorServer, magic
from tests.providers.aliyun.helpers import (
    CHILD,
    PHOTO,
    UNREGISTERED,
    aliyun_alias,
    aliyun_calls,
    call_events,
    submit,
    use_aliyun,
)
from tests.support import imagefactory
from tests.support.celery_app import wait_terminal
from tests.support.factories import NAME
from tests.support.fakeprovider import FakeProvider, JsonReply

# --- every outcome class through the pipeline, with a real worker ---------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize(
    ("number", "status", "decision", "code", "error_class", "reason", "billable"),
    [
        (magic.MATCH, "completed", "match", "200.200", "success", "match", [True]),
        # verifyScore 74: Passed T, so a match whatever our threshold says.
        (magic.REVIEW, "completed", "match", "200.200", "success", "match", [True]),
        (magic.NO_MATCH, "completed", "no_match", "200.204", "success", "low_similarity", [True]),
        (UNREGISTERED, "completed", "review", "200.202", "success", "id_not_found", [True]),
        (
            magic.ID_PHOTO_MISSING,
            "completed",
            "review",
            "200.203",
            "success",
            "no_registry_photo",
            [True],
        ),
        (magic.SPOOFED, "completed", "review", "200.205", "success", "spoof_suspected", [True]),
        (CHILD, "completed", "review", "405", "success", "no_registry_photo", [False]),
        (magic.NAME_MISMATCH, "rejected", "none", "200.201", "input", "name_mismatch", [True]),
        (magic.NO_FACE, "rejected", "none", "419", "input", "image_unreadable", [False]),
        (magic.ARREARS, "failed", "none", "412", "configuration", "account_problem", [False]),
        (
            magic.INTERNAL_ERROR,
            "failed",
            "none",
            "500",
            "transient",
            "provider_unavailable",
            [False] * 4,
        ),
        (
            magic.RATE_LIMITED,
            "failed",
            "none",
            "Throttling.User",
            "transient",
            "rate_limited",
            [False] * 4,
        ),
        (
            magic.flaky(2, variant=43),
            "completed",
            "match",
            "200.200",
            "success",
            "match",
            [False, False, True],
        ),
    ],
)
def test_outcomes_through_the_pipeline(
    settings: Any,
    simulator: SimulatorServer,
    number: str,
    status: str,
    decision: str,
    code: str,
    error_class: str,
    reason: str,
    billable: list[bool | None],
) -> None:
    use_aliyun(settings, simulator)
    attempt = submit(number, guardian_consent=number == CHILD)
    done = wait_terminal(attempt.pk)
    assert (done.status, done.decision, done.error_code, done.error_class, done.reason) == (
        status,
        decision,
        code,
        error_class,
        reason,
    )
    assert [event["billable"] for event in call_events(done)] == billable
    assert done.provider_request_id and len(aliyun_calls(simulator, done)) == 1
    assert [c.protocol for c in aliyun_calls(simulator, done)] == ["aliyun"]
    if code.startswith("200."):
        # CertifyId and the MaterialInfo (faceAttack, scores) are kept.
        assert len(done.provider_session_id) == 32
        assert "faceAttack" in done.raw_response["ResultObject"]["MaterialInfo"]
    if code in ("200.200", "200.204"):
        assert done.similarity is not None
    assert number not in str(done.raw_response)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_throttling_is_retried_until_the_quota_allows(
    settings: Any, simulator_factory: Any
) -> None:
    sim = simulator_factory(qps=2)
    use_aliyun(
        sim=sim,
        settings=settings,
        site={
            "RETRY_MAX_COUNT": 30,
            "RETRY_BACKOFF_BASE_SECONDS": 0.3,
            "RETRY_BACKOFF_MAX_SECONDS": 1.0,
        },
    )
    attempts = [submit(magic.MATCH) for _ in range(6)]
    done = [wait_terminal(a.pk, timeout=60) for a in attempts]
    assert {a.status for a in done} == {"completed"}
    limited = [e for a in done for e in call_events(a) if e["code"] == "Throttling.User"]
    assert limited, "the quota of 2/s should have refused some of 6 quick calls"
    assert {(e["error_class"], e["reason"], e["billable"]) for e in limited} == {
        ("transient", "rate_limited", False)
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_the_alias_rate_limit_defers_calls_under_the_providers_quota(
    settings: Any, simulator_factory: Any
) -> None:
    sim = simulator_factory(qps=3)
    use_aliyun(settings, sim, RATE_LIMIT_PER_SECOND=2)
    done = [wait_terminal(a.pk, timeout=30) for a in [submit(magic.MATCH) for _ in range(5)]]
    assert {a.status for a in done} == {"completed"}
    assert "Throttling.User" not in sim.ledger.stats()["by_code"]
    # Five calls at two a second: the pipeline waited for its slots rather than call at once.
    times = sorted(call.time for call in sim.ledger.calls())
    assert len(times) == 5 and times[-1] - times[0] >= 1.0


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
    settings: Any, simulator: SimulatorServer, number: str, code: str
) -> None:
    use_aliyun(settings, simulator, READ_TIMEOUT_SECONDS=0.5, site={"RETRY_MAX_COUNT": 1})
    done = wait_terminal(submit(number).pk, timeout=20)
    assert (done.status, done.error_code, done.error_class) == ("failed", code, "transient")
    assert done.provider_calls == 2


@pytest.mark.django_db
def test_a_wrong_secret_fails_as_configuration(settings: Any, simulator: SimulatorServer) -> None:
    use_aliyun(settings, simulator, ACCESS_KEY_SECRET="wrong")
    attempt = submit(magic.MATCH, enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_code, attempt.error_class, attempt.reason) == (
        "failed",
        "SignatureDoesNotMatch",
        "configuration",
        "signature_rejected",
    )


@pytest.mark.django_db
def test_a_wrong_scene_fails_as_configuration(settings: Any, simulator: SimulatorServer) -> None:
    use_aliyun(settings, simulator, SCENE_ID="42")
    attempt = submit(magic.MATCH, enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.error_code, attempt.error_class) == (
        "failed",
        "404",
        "configuration",
    )


# --- the threshold policies -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "decision", "reason"),
    [("passed", "match", "match"), ("score", "no_match", "low_similarity")],
)
def test_the_threshold_policy(
    settings: Any, simulator: SimulatorServer, policy: str, decision: str, reason: str
) -> None:
    use_aliyun(settings, simulator, THRESHOLD=80, THRESHOLD_POLICY=policy)
    attempt = submit(magic.REVIEW, enqueue=False)  # verifyScore 74, Passed T
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.decision, attempt.reason) == ("completed", decision, reason)
    assert (attempt.similarity, attempt.threshold, attempt.error_code) == (74.0, 80.0, "200.200")


@pytest.mark.django_db
def test_the_score_policy_uses_the_review_band(settings: Any, simulator: SimulatorServer) -> None:
    use_aliyun(settings, simulator, THRESHOLD=75, REVIEW_BAND=5, THRESHOLD_POLICY="score")
    attempt = submit(magic.REVIEW, enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert attempt.decision == "review"


# --- answers the simulator cannot send ------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def result(
    sub_code: str, passed: str = "F", material: str | None = None, **extra: Any
) -> JsonReply:
    body: dict[str, Any] = {"SubCode": sub_code, "Passed": passed, "CertifyId": "c1"}
    if material is not None:
        body["MaterialInfo"] = material
    return JsonReply({"RequestId": "r1", "Code": "200", "ResultObject": body, **extra})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "policy", "status", "decision", "code"),
    [
        # Passed decides: a match without a score is still Alibaba Cloud's match.
        (result("200", "T"), "passed", "completed", "match", "200.200"),
        (result("200", "T"), "score", "retry_wait", "none", "transport.bad_response"),
        (result("", "T"), "passed", "retry_wait", "none", "transport.bad_response"),
        (result("212"), "passed", "failed", "none", "200.212"),
        (JsonReply({"RequestId": "r", "Code": "999"}), "passed", "failed", "none", "999"),
        (
            JsonReply({"Code": "MissingUserId"}, status=400),
            "passed",
            "failed",
            "none",
            "MissingUserId",
        ),
        (
            JsonReply({"Code": "InvalidTimeStamp.Expired"}, status=400),
            "passed",
            "retry_wait",
            "none",
            "InvalidTimeStamp.Expired",
        ),
        (JsonReply({"Code": "418"}), "passed", "rejected", "none", "418"),
        (JsonReply({"Code": "500"}, status=500), "passed", "retry_wait", "none", "500"),
    ],
)
def test_bodies_the_simulator_cannot_send(
    settings: Any,
    fake: FakeProvider,
    reply: Any,
    policy: str,
    status: str,
    decision: str,
    code: str,
) -> None:
    use_aliyun(settings, fake.url, THRESHOLD_POLICY=policy)
    fake.script(reply)
    attempt = submit(magic.MATCH, enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.decision, attempt.error_code) == (status, decision, code)
    if code == "MissingUserId":
        assert attempt.error_class == "configuration"
    assert len(fake.requests) == 1


@pytest.mark.django_db
def test_the_request_as_sent(settings: Any, fake: FakeProvider) -> None:
    use_aliyun(settings, fake.url, MODEL="NO_LIVENESS")
    fake.script(result("200", "T", '{"faceAttack":"F","facialPictureFront":{"verifyScore":90}}'))
    big = imagefactory.noise_jpeg(1600, 2400, quality=98)
    attempt = submit(magic.MATCH, enqueue=False, image=big)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    sent = fake.requests[0]
    assert dict(parse_qsl(urlsplit(sent.path).query)) == {"Model": "NO_LIVENESS"}
    form = dict(parse_qsl(sent.body.decode()))
    assert form["OuterOrderNo"] == attempt.pk.hex
    assert (form["ProductCode"], form["CertType"], form["SceneId"]) == (
        "ID_MIN",
        "IDENTITY_CARD",
        "1000000001",
    )
    assert form["CertNo"] == magic.MATCH
    photo = base64.b64decode(form["FaceContrastPicture"])
    assert len(photo) < 1024 * 1024
    with Image.open(io.BytesIO(photo)) as image:
        assert image.format == "JPEG"
        assert max(image.size) <= 1080 and image.size[1] > image.size[0]
        # Shrunk to fit 1 MB, never below the provider's smallest photo (640 x 480).
        assert max(image.size) >= 640 and min(image.size) >= 480
    assert "FaceContrastPictureUrl" not in form
    assert (attempt.status, attempt.decision, attempt.similarity) == ("completed", "match", 90.0)
    assert (attempt.provider_session_id, attempt.provider_request_id) == ("c1", "r1")


def test_outer_order_no() -> None:
    assert outer_order_no("a" * 40) == "a" * 32
    assert outer_order_no("ab-12_c") == "ab12c"
    assert len(outer_order_no("")) == 32


@pytest.mark.django_db
def test_a_url_is_refused_before_anything_is_stored(
    settings: Any, simulator: SimulatorServer
) -> None:
    use_aliyun(settings, simulator)
    with pytest.raises(ValidationError) as caught:
        submit(image=None, url="https://example.com/face.jpg")
    assert caught.value.code == "url_not_accepted"
    assert not VerificationAttempt.objects.exists()


# --- options and checks ---------------------------------------------------------------------


def test_the_rate_limit_defaults_to_the_account_quota(settings: Any) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {
            "default": aliyun_alias("https://cloudauth.aliyuncs.com", RATE_LIMIT_PER_SECOND=None)
        },
    }
    backend = get_backend()
    assert isinstance(backend, AliyunBackend)
    assert backend.rate_limit_per_second == ACCOUNT_CALLS_PER_SECOND == 50
    assert backend.accepts_url is False
    assert backend.image_limits.formats == frozenset({"JPEG"})
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": aliyun_alias("cloudauth.aliyuncs.com", RATE_LIMIT_PER_SECOND=7)},
    }
    assert get_backend().rate_limit_per_second == 7


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"SCENE_ID": ""}, "face_idcard.E002"),
        ({"ACCESS_KEY_SECRET": ""}, "face_idcard.E002"),
        ({"SCENE_ID": "scene"}, "face_idcard.E017"),
        ({"MODEL": "SIDEWAYS"}, "face_idcard.E017"),
        ({"THRESHOLD_POLICY": "vibes"}, "face_idcard.E017"),
    ],
)
def test_checks(settings: Any, options: dict[str, Any], expected: str) -> None:
    settings.SILENCED_SYSTEM_CHECKS = []
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {"default": aliyun_alias("https://cloudauth.aliyuncs.com", **options)},
    }
    assert expected in {m.id for m in run_checks(tags=["face_idcard"])}


def test_a_complete_alias_passes_the_checks(settings: Any) -> None:
    settings.FACE_IDCARD = {
        **settings.FACE_IDCARD,
        "BACKENDS": {
            "default": aliyun_alias(
                "cloudauth.aliyuncs.com",
                MODEL="NO_LIVENESS",
                THRESHOLD=80,
                RATE_LIMIT_PER_SECOND=None,
            )
        },
    }
    # The backend paces at the account's quota: where the suite keeps the count in a
    # LocMemCache (no Redis configured), which worker processes do not share, W005 says so,
    # though the settings set no limit.
    cache_alias = settings.FACE_IDCARD.get("RATE_LIMIT_CACHE", "default")
    local = settings.CACHES[cache_alias]["BACKEND"].endswith("LocMemCache")
    expected = {"face_idcard.W005"} if local else set()
    assert {m.id for m in run_checks(tags=["face_idcard"])} == expected


@pytest.mark.django_db
def test_no_personal_information_or_secret_in_any_log_record(
    settings: Any, simulator: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    use_aliyun(settings, simulator)
    image_b64 = base64.b64encode(PHOTO).decode()[:40]
    secrets = (magic.MATCH, NAME, image_b64, DEFAULT_SECRET_KEY, "%E5%BC%A0")
    with caplog.at_level(logging.DEBUG):
        for name in ("", "urllib3", "face_idcard"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        attempt = submit(magic.MATCH, enqueue=False)
        pipeline.run(attempt.pk)
        attempt.refresh_from_db()
    assert attempt.status == "completed"
    text = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    assert "ContrastFaceVerify code=200" in text
    assert not [s for s in secrets if s in text]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "decision", "reason"),
    [
        # Passed decides even where the SubCode says otherwise; the reason follows the decision.
        (result("204", "T", '{"facialPictureFront":{"verifyScore":60}}'), "match", "match"),
        (
            result("200", "F", '{"facialPictureFront":{"verifyScore":90}}'),
            "no_match",
            "low_similarity",
        ),
    ],
)
def test_passed_decides_when_it_and_the_sub_code_disagree(
    settings: Any, fake: FakeProvider, reply: Any, decision: str, reason: str
) -> None:
    use_aliyun(settings, fake.url)
    fake.script(reply)
    attempt = submit(magic.MATCH, enqueue=False)
    pipeline.run(attempt.pk)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.decision, attempt.reason) == ("completed", decision, reason)
