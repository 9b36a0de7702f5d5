"""The simulator's Cloudauth ContrastFaceVerify protocol: Alibaba Cloud's official SDK
(``alibabacloud-cloudauth20190307``, pointed at the simulator with its endpoint override and
``protocol="http"``) over real HTTP for every outcome, wrong keys, an expired timestamp, a
reused nonce, the quota; hand-signed requests for what the SDK cannot send."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import time
from typing import Any

import pytest
import requests
from alibabacloud_cloudauth20190307 import models
from alibabacloud_cloudauth20190307.client import Client
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi import utils as openapi_utils
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions

from face_idcard.simulator import (
    DEFAULT_APPID,
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SimulatorConfig,
    SimulatorServer,
    magic,
)
from face_idcard.simulator.protocols.aliyun import CloudauthContrastFaceVerify
from face_idcard.simulator.registry import demo_people
from tests.support import imagefactory
from tests.support.idfactory import make_id

PEOPLE = demo_people()
ZHANG, LI = PEOPLE[0], PEOPLE[1]
PHOTO = ZHANG.photo_bytes
UNREGISTERED = "11010519491231002X"
#: A valid number of a person born in 2020: under 14 until 2034.
CHILD = make_id(birth="20200101")


def sdk(
    sim: SimulatorServer, *, key_id: str = DEFAULT_SECRET_ID, secret: str = DEFAULT_SECRET_KEY
) -> Client:
    host = sim.base_url.split("://", 1)[1]
    return Client(
        openapi_models.Config(
            access_key_id=key_id, access_key_secret=secret, endpoint=host, protocol="http"
        )
    )


def request(
    number: str = ZHANG.idcard_number, name: str = ZHANG.idcard_name, **overrides: Any
) -> models.ContrastFaceVerifyRequest:
    fields: dict[str, Any] = {
        "scene_id": int(DEFAULT_APPID),
        "outer_order_no": secrets.token_hex(16),
        "product_code": "ID_MIN",
        "cert_type": "IDENTITY_CARD",
        "cert_name": name,
        "cert_no": number,
        "face_contrast_picture": base64.b64encode(PHOTO).decode(),
        **overrides,
    }
    return models.ContrastFaceVerifyRequest(**fields)


def call(
    sim: SimulatorServer, req: models.ContrastFaceVerifyRequest | None = None, **kw: Any
) -> dict[str, Any]:
    response = sdk(sim, **kw).contrast_face_verify_with_options(
        req or request(), RuntimeOptions(autoretry=False, max_attempts=0)
    )
    assert response.status_code == 200
    return response.body.to_map()


def material(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(body["ResultObject"]["MaterialInfo"])


def test_a_registered_person_passes_and_is_billed(simulator: SimulatorServer) -> None:
    body = call(simulator)
    assert body["Code"] == "200"
    result = body["ResultObject"]
    assert (result["Passed"], result["SubCode"]) == ("T", "200")
    assert len(result["CertifyId"]) == 32
    face = material(body)
    assert face["faceAttack"] == "F"
    assert face["facialPictureFront"]["verifyScore"] >= 70
    assert "qualityScore" in face["facialPictureFront"]
    assert body["RequestId"]
    assert (simulator.ledger.total, simulator.ledger.billable) == (1, 1)
    assert simulator.ledger.calls()[0].protocol == "aliyun"
    assert simulator.ledger.calls()[0].code == "200.200"


@pytest.mark.parametrize(
    ("number", "name", "sub_code", "attack"),
    [
        (magic.NO_MATCH, "某人", "204", "F"),
        (magic.NAME_MISMATCH, "某人", "201", "F"),
        (UNREGISTERED, "某人", "202", "F"),
        (magic.ID_PHOTO_MISSING, "某人", "203", "F"),
        (magic.POOR_QUALITY, "某人", "204", "F"),
        (magic.SPOOFED, "某人", "205", "T"),
    ],
)
def test_business_results_are_code_200_with_their_sub_code_and_billed(
    simulator: SimulatorServer, number: str, name: str, sub_code: str, attack: str
) -> None:
    body = call(simulator, request(number, name))
    assert body["Code"] == "200"
    assert body["ResultObject"]["SubCode"] == sub_code
    assert body["ResultObject"]["Passed"] == "F"
    assert material(body)["faceAttack"] == attack
    assert simulator.ledger.billable == 1


def test_an_identity_resubmitted_after_a_refusal_answers_417_unbilled(
    simulator: SimulatorServer,
) -> None:
    call(simulator, request(magic.NAME_MISMATCH, "某人"))
    body = call(simulator, request(magic.NAME_MISMATCH, "某人"))
    assert body["Code"] == "417"
    assert (simulator.ledger.total, simulator.ledger.billable) == (2, 1)
    simulator.reset()  # the server's reset forgets the refusals
    assert call(simulator, request(magic.NAME_MISMATCH, "某人"))["ResultObject"]["SubCode"] == "201"


@pytest.mark.parametrize(
    ("req", "code"),
    [
        (request(CHILD, "小明"), "405"),
        (request(magic.NO_FACE), "419"),
        (request(face_contrast_picture=base64.b64encode(imagefactory.png()).decode()), "419"),
        (request(face_contrast_picture="not base64!"), "419"),
        (request(magic.INTERNAL_ERROR), "500"),
        (request(magic.ARREARS), "412"),
        (request(magic.NOT_ACTIVATED), "402"),
        (request(scene_id=42), "404"),
        (request(product_code="ID_PLUS"), "401"),
        (request(cert_type="PASSPORT"), "401"),
        (request(outer_order_no="x" * 33), "401"),
        (request(model="SIDEWAYS"), "401"),
        (request(name="张三1"), "401"),
        (request("110101190001010015"), "401"),
        (request(face_contrast_picture_url="https://example.com/a.jpg"), "420"),
        (request(face_contrast_picture=None, face_contrast_picture_url="https://x/a.jpg"), "419"),
        (request(face_contrast_picture=None, certify_id="abc"), "423"),
        (request(face_contrast_picture=None), "400"),
        (request(name=" "), "400"),
        (
            request(
                face_contrast_picture=base64.b64encode(imagefactory.noise_jpeg(1400, 1400)).decode()
            ),
            "421",
        ),
    ],
)
def test_refusals_answer_their_code_unbilled(
    simulator: SimulatorServer, req: models.ContrastFaceVerifyRequest, code: str
) -> None:
    body = call(simulator, req)
    assert body["Code"] == code
    assert "ResultObject" not in body
    assert simulator.ledger.billable == 0


def test_a_missing_required_field_is_a_gateway_error(simulator: SimulatorServer) -> None:
    with pytest.raises(ClientException) as raised:
        call(simulator, request(scene_id=None))
    assert raised.value.code == "MissingSceneId"
    assert raised.value.status_code == 400


def test_a_wrong_access_key_id_is_not_found(simulator: SimulatorServer) -> None:
    with pytest.raises(ClientException) as raised:
        call(simulator, key_id="LTAIwrong")
    assert (raised.value.code, raised.value.status_code) == ("InvalidAccessKeyId.NotFound", 404)
    assert simulator.ledger.billable == 0


def test_a_wrong_secret_does_not_match(simulator: SimulatorServer) -> None:
    with pytest.raises(ClientException) as raised:
        call(simulator, secret="wrong")
    assert (raised.value.code, raised.value.status_code) == ("SignatureDoesNotMatch", 400)


def test_the_quota_is_answered_as_throttling(simulator_factory: Any) -> None:
    sim = simulator_factory(qps=1)
    assert call(sim)["Code"] == "200"
    with pytest.raises(ClientException) as raised:
        call(sim)
    assert raised.value.code == "Throttling.User"
    assert raised.value.status_code == 400
    assert sim.ledger.billable == 1


def test_the_sdk_with_an_expired_timestamp_is_refused(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=16)
    monkeypatch.setattr(
        openapi_utils.Utils,
        "get_timestamp",
        staticmethod(lambda: stale.strftime("%Y-%m-%dT%H:%M:%SZ")),
    )
    with pytest.raises(ClientException) as raised:
        call(simulator)
    assert (raised.value.code, raised.value.status_code) == ("InvalidTimeStamp.Expired", 400)
    assert simulator.ledger.billable == 0


def test_the_sdk_reusing_a_nonce_is_refused(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    nonce = secrets.token_hex(16)
    monkeypatch.setattr(openapi_utils.Utils, "get_nonce", staticmethod(lambda: nonce))
    assert call(simulator)["Code"] == "200"
    with pytest.raises(ClientException) as raised:
        call(simulator)
    assert (raised.value.code, raised.value.status_code) == ("SignatureNonceUsed", 400)
    assert simulator.ledger.billable == 1


@pytest.mark.parametrize("number", [magic.BAD_GATEWAY, magic.DROP])
def test_transport_faults(simulator: SimulatorServer, number: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own wrapping of the failure
        call(simulator, request(number))
    assert simulator.ledger.billable == 0


# --- Hand-signed requests: what the SDK never sends -------------------------------------------


def _signed(
    sim: SimulatorServer,
    body: bytes,
    *,
    date: str | None = None,
    nonce: str | None = None,
    secret: str = DEFAULT_SECRET_KEY,
    query: str = "",
) -> requests.Response:
    """A request signed from the spec's algorithm by hand (independent of both clients)."""
    import hashlib
    import hmac

    host = sim.base_url.split("://", 1)[1]
    headers = {
        "host": host,
        "content-type": "application/x-www-form-urlencoded",
        "x-acs-action": "ContrastFaceVerify",
        "x-acs-version": "2019-03-07",
        "x-acs-date": date or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": nonce or secrets.token_hex(16),
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/",
            query,
            "".join(f"{n}:{headers[n]}\n" for n in names),
            ";".join(names),
            headers["x-acs-content-sha256"],
        ]
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(
        secret.encode(), f"ACS3-HMAC-SHA256\n{digest}".encode(), hashlib.sha256
    ).hexdigest()
    headers["Authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={DEFAULT_SECRET_ID},"
        f"SignedHeaders={';'.join(names)},Signature={signature}"
    )
    url = sim.base_url + "/" + (f"?{query}" if query else "")
    return requests.post(url, data=body, headers=headers, timeout=10)


FORM = (
    "SceneId=1000000001&OuterOrderNo=a1&ProductCode=ID_MIN&CertType=IDENTITY_CARD&CertName="
    + requests.utils.quote(ZHANG.idcard_name)
    + f"&CertNo={ZHANG.idcard_number}&FaceContrastPicture="
    + requests.utils.quote(base64.b64encode(PHOTO).decode(), safe="")
).encode()


def test_a_hand_signed_request_with_a_query_passes(simulator: SimulatorServer) -> None:
    response = _signed(simulator, FORM, query="Model=NO_LIVENESS")
    assert response.status_code == 200
    assert response.json()["ResultObject"]["SubCode"] == "200"


def test_an_expired_timestamp_is_refused(simulator: SimulatorServer) -> None:
    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=16)
    response = _signed(simulator, FORM, date=stale.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert response.status_code == 400
    assert response.json()["Code"] == "InvalidTimeStamp.Expired"
    assert simulator.ledger.billable == 0


def test_a_reused_nonce_is_refused(simulator: SimulatorServer) -> None:
    nonce = secrets.token_hex(16)
    assert _signed(simulator, FORM, nonce=nonce).status_code == 200
    replay = _signed(simulator, FORM, nonce=nonce)
    assert replay.status_code == 400
    assert replay.json()["Code"] == "SignatureNonceUsed"
    assert simulator.ledger.billable == 1


def test_a_body_changed_after_signing_does_not_match(simulator: SimulatorServer) -> None:
    import hashlib

    good = _signed(simulator, FORM)
    assert good.status_code == 200
    tampered = good.request.copy()
    tampered.body = FORM.replace(b"a1", b"a2")
    tampered.headers["x-acs-signature-nonce"] = secrets.token_hex(16)
    assert hashlib.sha256(FORM).hexdigest() == tampered.headers["x-acs-content-sha256"]
    response = requests.Session().send(tampered, timeout=10)
    assert response.json()["Code"] == "SignatureDoesNotMatch"


def test_a_request_without_authorization_is_incomplete(simulator: SimulatorServer) -> None:
    response = requests.post(
        simulator.base_url + "/",
        data=FORM,
        headers={"x-acs-action": "ContrastFaceVerify", "x-acs-version": "2019-03-07"},
        timeout=10,
    )
    assert (response.status_code, response.json()["Code"]) == (400, "IncompleteSignature")


def test_another_action_is_not_found(simulator: SimulatorServer) -> None:
    response = requests.post(
        simulator.base_url + "/",
        data=FORM,
        headers={"x-acs-action": "DescribeFaceVerify", "x-acs-version": "2019-03-07"},
        timeout=10,
    )
    assert (response.status_code, response.json()["Code"]) == (404, "InvalidApi.NotFound")


def test_business_errors_as_http_statuses(simulator_factory: Any) -> None:
    """The other reading of the spec's UNVERIFIED point: Code 4xx with HTTP 400."""
    sim = SimulatorServer(
        SimulatorConfig(), protocols=[CloudauthContrastFaceVerify(business_errors_as_http=True)]
    ).start()
    try:
        with pytest.raises(ClientException) as raised:
            call(sim, request(magic.NO_FACE))
        assert (raised.value.code, raised.value.status_code) == ("419", 400)
        assert call(sim)["ResultObject"]["SubCode"] == "200"
    finally:
        sim.shutdown()
