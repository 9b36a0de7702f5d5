"""ACS3-HMAC-SHA256 against Alibaba Cloud's official test vector, and against the simulator's
own verifier (written separately from the spec)."""

from __future__ import annotations

import hashlib

from face_idcard.providers.aliyun import signing
from face_idcard.simulator.protocols import aliyun as simulated

VECTOR = {
    "method": "POST",
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "uri": "/",
    "query": [
        ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
        ("RegionId", "cn-shanghai"),
    ],
    "body": b"",
    "action": "RunInstances",
    "version": "2014-05-26",
    "date": "2023-10-26T10:22:32Z",
    "nonce": "3156853299f313e23d1673dc12e1703d",
}
CANONICAL_HASH = "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
SIGNATURE = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"


def test_the_official_vector() -> None:
    headers = signing.sign(
        access_key_id="YourAccessKeyId", access_key_secret="YourAccessKeySecret", **VECTOR
    )
    assert headers["x-acs-content-sha256"] == signing.EMPTY_PAYLOAD_HASH
    assert signing.EMPTY_PAYLOAD_HASH.startswith("e3b0c442")
    assert headers["Authorization"] == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        f"Signature={SIGNATURE}"
    )
    signed = [name for name in headers if name != "Authorization"]
    canonical = signing.canonical_request(
        method="POST",
        uri="/",
        query=VECTOR["query"],
        headers=headers,
        signed_headers=signed,
        payload_hash=headers["x-acs-content-sha256"],
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == CANONICAL_HASH
    assert signing.string_to_sign(canonical) == f"ACS3-HMAC-SHA256\n{CANONICAL_HASH}"


def test_rfc3986_encoding_of_the_query() -> None:
    assert signing.canonical_query([("b", "a b*~"), ("a", "中")]) == "a=%E4%B8%AD&b=a%20b%2A~"


def test_a_changed_secret_changes_the_signature() -> None:
    one = signing.sign(access_key_id="k", access_key_secret="s1", **VECTOR)
    two = signing.sign(access_key_id="k", access_key_secret="s2", **VECTOR)
    assert one["Authorization"] != two["Authorization"]


def test_the_simulator_verifies_what_the_client_signs() -> None:
    from email.message import Message

    body = b"CertName=%E5%BC%A0%E4%B8%89&SceneId=1"
    headers = signing.sign(
        access_key_id="k",
        access_key_secret="secret",
        method="POST",
        host="127.0.0.1:8701",
        uri="/",
        query=[("Model", "NO_LIVENESS")],
        body=body,
        action="ContrastFaceVerify",
        version="2019-03-07",
        content_type="application/x-www-form-urlencoded",
    )
    message = Message()
    for name, value in headers.items():
        message[name] = value
    parsed = signing.parse_authorization(headers["Authorization"])
    canonical = simulated.canonical_request(
        "POST",
        "/",
        "Model=NO_LIVENESS",
        message,
        list(parsed.signed_headers),
        hashlib.sha256(body).hexdigest(),
    )
    assert simulated.expected_signature("secret", canonical) == parsed.signature
    assert "content-type" in parsed.signed_headers
