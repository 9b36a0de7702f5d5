"""Legacy signature against Tencent's official vectors (PROTOCOLS.md §2.3)."""

from __future__ import annotations

import base64

import pytest

from face_idcard.providers.legacy import signing

VECTOR = {
    "appid": "1252821871",
    "bucket": "tencentyun",
    "secret_id": "AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK",
    "secret_key": "nwOKDouy5JctNOlnere4gkVoOUz5EYAb",
    "now": 1436077115,
    "expiry": 1438669115,
    "rand": 11162,
}
EXPECTED_PLAINTEXT = (
    "a=1252821871&b=tencentyun&k=AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK"
    "&e=1438669115&t=1436077115&r=11162&u=0&f="
)
EXPECTED_SIGNATURE = "p2Y5iIYyBmQNfUvPe3e1sxEN/rZhPTEyNTI4MjE4NzEmYj10ZW5jZW50eXVuJms9QUtJRGdhb09ZaDJrT21KZldWZEg0bHBmeFNjRzJ6UExQR29LJmU9MTQzODY2OTExNSZ0PTE0MzYwNzcxMTUmcj0xMTE2MiZ1PTAmZj0="


def plaintext(**overrides: object) -> str:
    values = {k: v for k, v in VECTOR.items() if k != "secret_key"} | overrides
    return signing.legacy_plaintext(include_u=True, **values)  # type: ignore[arg-type]


def test_plaintext_matches_official_vector() -> None:
    assert plaintext() == EXPECTED_PLAINTEXT


def test_signature_matches_official_vector() -> None:
    assert signing.legacy_authorization(plaintext(), VECTOR["secret_key"]) == EXPECTED_SIGNATURE  # type: ignore[arg-type]


def test_signature_with_fileid_matches_official_vector() -> None:
    value = signing.legacy_authorization(
        plaintext(fileid="tencentyunSignTest"), VECTOR["secret_key"]
    )  # type: ignore[arg-type]
    assert value.startswith("Tt9IYBG4j1TpO/9M6M9TokVJrKhh")


def test_authorization_is_str_not_bytes() -> None:
    assert isinstance(signing.legacy_authorization(plaintext(), "k"), str)


def test_sign_legacy_uses_utc_epoch_and_lifetime() -> None:
    header = signing.sign_legacy(
        appid="1", secret_id="AKID", secret_key="key", now=1_700_000_000, lifetime=60
    )
    parsed = signing.parse_legacy_authorization(header)
    assert parsed.fields["t"] == "1700000000"
    assert parsed.fields["e"] == "1700000060"
    assert parsed.fields["a"] == "1"
    assert parsed.fields["k"] == "AKID"
    assert 0 <= int(parsed.fields["r"]) < 10**10
    assert parsed.fields["f"] == ""
    assert signing.verify_legacy_digest(parsed, "key")
    assert not signing.verify_legacy_digest(parsed, "other")


def test_sign_legacy_randomises_r() -> None:
    values = {
        signing.parse_legacy_authorization(
            signing.sign_legacy(appid="1", secret_id="k", secret_key="s", now=1)
        ).fields["r"]
        for _ in range(20)
    }
    assert len(values) > 1


def test_parse_accepts_any_field_order() -> None:
    java_order = "a=1&b=&k=AKID&t=100&e=200&r=7&f="
    header = signing.legacy_authorization(java_order, "secret")
    parsed = signing.parse_legacy_authorization(header)
    assert parsed.plaintext == java_order.encode()
    assert parsed.get_int("e") == 200
    assert signing.verify_legacy_digest(parsed, "secret")


def test_parse_official_vector_round_trip() -> None:
    parsed = signing.parse_legacy_authorization(EXPECTED_SIGNATURE)
    assert parsed.plaintext.decode() == EXPECTED_PLAINTEXT
    assert signing.verify_legacy_digest(parsed, VECTOR["secret_key"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "not base64!!",
        base64.b64encode(b"x" * 20).decode(),
        base64.b64encode(b"x" * 20 + b"novalue").decode(),
    ],
)
def test_parse_rejects_malformed(header: str) -> None:
    with pytest.raises(signing.MalformedSignature):
        signing.parse_legacy_authorization(header)


def test_tampered_plaintext_fails_verification() -> None:
    raw = base64.b64decode(EXPECTED_SIGNATURE)
    tampered = base64.b64encode(raw.replace(b"e=1438669115", b"e=1938669115")).decode()
    assert not signing.verify_legacy_digest(
        signing.parse_legacy_authorization(tampered), VECTOR["secret_key"]
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("lifetime", [0, -1, 90 * 24 * 3600 + 1])
def test_lifetime_bounds(lifetime: int) -> None:
    with pytest.raises(ValueError):
        signing.sign_legacy(appid="1", secret_id="k", secret_key="s", lifetime=lifetime)


def test_secret_not_in_repr() -> None:
    parsed = signing.parse_legacy_authorization(EXPECTED_SIGNATURE)
    assert "digest" not in repr(parsed)
