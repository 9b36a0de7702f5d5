"""The simulator's TC3-HMAC-SHA256 verifier: the official vector and every refusal."""

from __future__ import annotations

import pytest

from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, tc3
from face_idcard.simulator.outcomes import Outcome

# PROTOCOLS.md §3: Tencent's documented example (the \u escapes are literal text in the body).
VECTOR_BODY = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
VECTOR_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
VECTOR_TIMESTAMP = 1551113065
VECTOR_CONTENT_TYPE = "application/json; charset=utf-8"
VECTOR_HOST = "cvm.tencentcloudapi.com"
VECTOR_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"

CREDENTIALS = tc3.Credentials(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY)
NOW = 1_700_000_000
HOST = "127.0.0.1:8701"
BODY = b'{"IdCard": "x"}'


def test_official_vector() -> None:
    hashed = tc3.payload_hash(VECTOR_BODY)
    assert hashed.startswith("35e9c5b0") and hashed.endswith("934f064")
    assert tc3.credential_date(VECTOR_TIMESTAMP) == "2019-02-25"
    canonical = tc3.canonical_request(
        "POST",
        "/",
        "",
        {"content-type": VECTOR_CONTENT_TYPE, "host": VECTOR_HOST},
        ("content-type", "host"),
        hashed,
    )
    assert canonical == (
        f"POST\n/\n\ncontent-type:{VECTOR_CONTENT_TYPE}\nhost:{VECTOR_HOST}\n\n"
        f"content-type;host\n{hashed}"
    )
    to_sign = tc3.string_to_sign(VECTOR_TIMESTAMP, "2019-02-25", "cvm", canonical)
    assert tc3.signature(VECTOR_KEY, "2019-02-25", "cvm", to_sign) == VECTOR_SIGNATURE


def test_official_vector_through_the_verifier() -> None:
    header = tc3.authorization(
        tc3.Credentials("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", VECTOR_KEY),
        service="cvm",
        timestamp=VECTOR_TIMESTAMP,
        host=VECTOR_HOST,
        content_type=VECTOR_CONTENT_TYPE,
        body=VECTOR_BODY,
    )
    assert header.endswith(f"Signature={VECTOR_SIGNATURE}")
    assert (
        tc3.verify(
            header=header,
            headers={"content-type": VECTOR_CONTENT_TYPE, "host": VECTOR_HOST},
            method="POST",
            uri="/",
            body=VECTOR_BODY,
            timestamp=VECTOR_TIMESTAMP,
            now=VECTOR_TIMESTAMP + 10,
            service="cvm",
            credentials=tc3.Credentials("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", VECTOR_KEY),
        )
        is None
    )


def sign(
    *,
    credentials: tc3.Credentials = CREDENTIALS,
    timestamp: int = NOW,
    service: str = "faceid",
    body: bytes = BODY,
) -> str:
    return tc3.authorization(
        credentials,
        service=service,
        timestamp=timestamp,
        host=HOST,
        content_type="application/json",
        body=body,
    )


def check(
    header: str,
    *,
    body: bytes = BODY,
    timestamp: int = NOW,
    now: float = NOW,
    headers: dict[str, str] | None = None,
) -> Outcome | None:
    return tc3.verify(
        header=header,
        headers=headers
        if headers is not None
        else {"content-type": "application/json", "host": HOST},
        method="POST",
        uri="/",
        body=body,
        timestamp=timestamp,
        now=now,
        service="faceid",
        credentials=CREDENTIALS,
    )


def test_a_good_signature_passes() -> None:
    assert check(sign()) is None


@pytest.mark.parametrize("skew", [-300, 300])
def test_five_minutes_either_way_are_still_valid(skew: int) -> None:
    assert check(sign(timestamp=NOW + skew), timestamp=NOW + skew) is None


@pytest.mark.parametrize("skew", [-301, 301, -86400])
def test_a_timestamp_more_than_five_minutes_off_has_expired(skew: int) -> None:
    assert check(sign(timestamp=NOW + skew), timestamp=NOW + skew) is Outcome.SIGNATURE_EXPIRED


def test_wrong_key_wrong_body_wrong_timestamp_fail() -> None:
    wrong_key = tc3.Credentials(DEFAULT_SECRET_ID, "another-key")
    assert check(sign(credentials=wrong_key)) is Outcome.SIGNATURE_MISMATCH
    assert check(sign(), body=BODY + b" ") is Outcome.SIGNATURE_MISMATCH
    # Signed for one second, sent with the next: the string to sign differs.
    assert check(sign(), timestamp=NOW + 1) is Outcome.SIGNATURE_MISMATCH


def test_secret_ids() -> None:
    other = tc3.Credentials("AKIDsomeoneElse", DEFAULT_SECRET_KEY)
    assert check(sign(credentials=other)) is Outcome.UNKNOWN_SECRET_ID
    not_a_key = tc3.Credentials("not-a-key!", DEFAULT_SECRET_KEY)
    assert check(sign(credentials=not_a_key)) is Outcome.INVALID_SECRET_ID


def test_scope_must_be_faceid_and_the_timestamps_date() -> None:
    assert check(sign(service="cvm")) is Outcome.SIGNATURE_TARGET_MISMATCH
    header = sign().replace(tc3.credential_date(NOW), "2000-01-01")
    assert check(header) is Outcome.SIGNATURE_TARGET_MISMATCH


def test_unsigned_payload_is_honoured_only_when_declared() -> None:
    date = tc3.credential_date(NOW)
    headers = {"content-type": "application/json", "host": HOST}
    canonical = tc3.canonical_request(
        "POST", "/", "", headers, ("content-type", "host"), tc3.UNSIGNED_PAYLOAD
    )
    sig = tc3.signature(
        DEFAULT_SECRET_KEY, date, "faceid", tc3.string_to_sign(NOW, date, "faceid", canonical)
    )
    header = (
        f"TC3-HMAC-SHA256 Credential={DEFAULT_SECRET_ID}/{date}/faceid/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )
    declared = {**headers, "x-tc-content-sha256": tc3.UNSIGNED_PAYLOAD}
    assert check(header, headers=declared) is None
    assert check(header) is Outcome.SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    "header",
    [
        "HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=content-type;host, Signature=00",
        "TC3-HMAC-SHA256",
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/faceid, SignedHeaders=content-type;host, "
        "Signature=" + "0" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/faceid/tc3_request, SignedHeaders=host, "
        "Signature=" + "0" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/faceid/tc3_request, "
        "SignedHeaders=host;content-type, Signature=" + "0" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/faceid/tc3_request, "
        "SignedHeaders=content-type;host, Signature=XYZ",
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/faceid/tc3_request, Credential=x, "
        "SignedHeaders=content-type;host, Signature=" + "0" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/faceid/tc3_request, "
        "SignedHeaders=content-type;host;x-tc-absent, Signature=" + "0" * 64,
    ],
)
def test_malformed_authorizations(header: str) -> None:
    assert check(header) is Outcome.SIGNATURE_MALFORMED


def test_an_empty_authorization() -> None:
    assert check("  ") is Outcome.SIGNATURE_EMPTY


def test_the_parse_error_never_quotes_the_header() -> None:
    secret = "TC3-HMAC-SHA256 Credential=AKIDsecret/2023/faceid"
    with pytest.raises(tc3.MalformedAuthorization) as caught:
        tc3.parse_authorization(secret)
    assert "AKIDsecret" not in str(caught.value)
