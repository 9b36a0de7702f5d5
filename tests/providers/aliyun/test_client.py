"""Our Cloudauth client against the simulator over real HTTP (every outcome class, wrong keys,
the quota, transport faults, a capped answer) and against a scripted server (what was sent,
what the simulator cannot answer)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from face_idcard import exceptions
from face_idcard.providers.aliyun.client import MAX_RESPONSE_BYTES, CloudauthClient
from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorServer,
    magic,
)
from face_idcard.simulator.registry import demo_people
from tests.support.fakeprovider import Drop, FakeProvider, JsonReply, RawReply, StallBody

ZHANG = demo_people()[0]
PHOTO = ZHANG.photo_bytes


def client(endpoint: str, **kw: Any) -> CloudauthClient:
    kw.setdefault("read_timeout", 5.0)
    return CloudauthClient(
        kw.pop("key_id", DEFAULT_SECRET_ID),
        kw.pop("secret", DEFAULT_SECRET_KEY),
        endpoint=endpoint,
        **kw,
    )


def fields(number: str = ZHANG.idcard_number, name: str = ZHANG.idcard_name) -> dict[str, str]:
    return {
        "SceneId": DEFAULT_APPID,
        "OuterOrderNo": "0123456789abcdef0123456789abcdef",
        "ProductCode": "ID_MIN",
        "CertType": "IDENTITY_CARD",
        "CertName": name,
        "CertNo": number,
        "FaceContrastPicture": base64.b64encode(PHOTO).decode(),
    }


def test_a_match(simulator: SimulatorServer) -> None:
    answer = client(simulator.base_url).contrast_face_verify(fields(), model="NO_LIVENESS")
    assert (answer.http_status, answer.code, answer.sub_code, answer.passed) == (
        200,
        "200",
        "200",
        "T",
    )
    assert answer.verify_score is not None and answer.verify_score >= 70
    assert answer.quality_score is not None
    assert answer.face_attack == "F"
    assert len(answer.certify_id) == 32 and answer.request_id
    assert simulator.ledger.billable == 1


@pytest.mark.parametrize(
    ("number", "code", "sub_code", "http_status"),
    [
        (magic.NO_MATCH, "200", "204", 200),
        (magic.NAME_MISMATCH, "200", "201", 200),
        (magic.SPOOFED, "200", "205", 200),
        (magic.ID_PHOTO_MISSING, "200", "203", 200),
        (magic.NO_FACE, "419", "", 200),
        (magic.INTERNAL_ERROR, "500", "", 200),
        (magic.ARREARS, "412", "", 200),
        (magic.RATE_LIMITED, "Throttling.User", "", 400),
    ],
)
def test_outcomes(
    simulator: SimulatorServer, number: str, code: str, sub_code: str, http_status: int
) -> None:
    answer = client(simulator.base_url).contrast_face_verify(fields(number, "某人"))
    assert (answer.code, answer.sub_code, answer.http_status) == (code, sub_code, http_status)
    if sub_code == "205":
        assert answer.face_attack == "T"


@pytest.mark.parametrize(
    ("kw", "code", "status"),
    [
        ({"key_id": "LTAIother"}, "InvalidAccessKeyId.NotFound", 404),
        ({"secret": "wrong"}, "SignatureDoesNotMatch", 400),
    ],
)
def test_wrong_keys_are_answers_not_exceptions(
    simulator: SimulatorServer, kw: dict[str, str], code: str, status: int
) -> None:
    answer = client(simulator.base_url, **kw).contrast_face_verify(fields())
    assert (answer.code, answer.http_status) == (code, status)
    assert simulator.ledger.billable == 0


def test_every_call_has_a_fresh_nonce(simulator: SimulatorServer) -> None:
    c = client(simulator.base_url)
    assert [c.contrast_face_verify(fields()).code for _ in range(3)] == ["200"] * 3


@pytest.mark.parametrize(
    ("number", "error"),
    [
        (magic.HANG, exceptions.ProviderTimeout),
        (magic.DROP, exceptions.ProviderConnectionError),
        (magic.BAD_GATEWAY, exceptions.ProviderBadResponse),
    ],
)
def test_transport_faults(simulator: SimulatorServer, number: str, error: type) -> None:
    with pytest.raises(error) as raised:
        client(simulator.base_url, read_timeout=0.5).contrast_face_verify(fields(number))
    assert number not in str(raised.value) and ZHANG.idcard_name not in str(raised.value)


def test_an_oversized_answer_is_cut_off(simulator_factory: Callable[..., SimulatorServer]) -> None:
    sim = simulator_factory(
        error_rates={"oversized": 1.0}, oversized_answer_bytes=10 * MAX_RESPONSE_BYTES
    )
    with pytest.raises(exceptions.ProviderBadResponse):
        client(sim.base_url).contrast_face_verify(fields())


def test_the_request_as_sent() -> None:
    with FakeProvider() as fake:
        fake.script(
            JsonReply({"RequestId": "r", "Code": "200", "ResultObject": {"SubCode": "200"}})
        )
        client(fake.url).contrast_face_verify(fields(), model="NO_LIVENESS")
        sent = fake.requests[0]
    assert sent.method == "POST"
    assert dict(parse_qsl(urlsplit(sent.path).query)) == {"Model": "NO_LIVENESS"}
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(sent.body.decode())) == fields()
    assert sent.headers["x-acs-action"] == "ContrastFaceVerify"
    assert sent.headers["x-acs-version"] == "2019-03-07"
    signed = sent.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "content-type", "x-acs-content-sha256", "x-acs-signature-nonce"} <= set(signed)
    assert DEFAULT_SECRET_KEY not in json.dumps(sent.headers)


@pytest.mark.parametrize(
    "reply",
    [
        RawReply(b"<html>502</html>", status=502),
        JsonReply({"no": "code"}),
        JsonReply(["a list"]),
        Drop(),
    ],
)
def test_bodies_that_are_not_answers(reply: Any) -> None:
    with FakeProvider() as fake:
        fake.script(reply)
        with pytest.raises(exceptions.ProviderTransportError):
            client(fake.url).contrast_face_verify(fields())


def test_material_info_that_is_not_json_is_ignored() -> None:
    body = {"Code": "200", "ResultObject": {"SubCode": "200", "Passed": "T", "MaterialInfo": "{x"}}
    with FakeProvider() as fake:
        fake.script(JsonReply(body))
        answer = client(fake.url).contrast_face_verify(fields())
    assert (answer.sub_code, answer.verify_score, answer.material) == ("200", None, {})


@pytest.mark.parametrize(
    "kw",
    [
        {"connect_timeout": 0},
        {"read_timeout": float("inf")},
        {"endpoint": "ftp://x"},
        {"key_id": ""},
    ],
)
def test_unusable_settings_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as raised:
        client(kw.pop("endpoint", "https://cloudauth.aliyuncs.com"), **kw)
    assert DEFAULT_SECRET_KEY not in str(raised.value)


def test_the_repr_shows_no_secret() -> None:
    assert DEFAULT_SECRET_KEY not in repr(client("cloudauth.aliyuncs.com"))
    assert client("cloudauth.aliyuncs.com").endpoint == "https://cloudauth.aliyuncs.com"


def test_a_body_that_stalls_is_a_timeout() -> None:
    with FakeProvider() as fake:
        fake.script(StallBody(seconds=3))
        with pytest.raises(exceptions.ProviderTimeout):
            client(fake.url, read_timeout=0.3).contrast_face_verify(fields())
