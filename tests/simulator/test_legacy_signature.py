"""The simulator's own reading of the legacy signature (``simulator/legacy_signature.py``) and its
own code table (``simulator/legacy_codes.py``), against PROTOCOLS.md §2.3's official vector, the
field orders of the official SDKs, the app's client (which it checks) and the app's catalogue.
"""

from __future__ import annotations

import base64
import dataclasses

import pytest

from face_idcard.providers.legacy import codes as app_codes
from face_idcard.providers.legacy import signing as app_signing
from face_idcard.simulator import legacy_codes, legacy_signature
from face_idcard.simulator.outcomes import Outcome

#: PROTOCOLS.md §2.3, doc sample values (not live credentials).
SECRET_KEY = "nwOKDouy5JctNOlnere4gkVoOUz5EYAb"
PLAINTEXT = (
    "a=1252821871&b=tencentyun&k=AKIDgaoOYh2kOmJfWVdH4lpfxScG2zPLPGoK"
    "&e=1438669115&t=1436077115&r=11162&u=0&f="
)
VECTOR = (
    "p2Y5iIYyBmQNfUvPe3e1sxEN/rZhPTEyNTI4MjE4NzEmYj10ZW5jZW50eXVuJms9QUtJRGdhb09ZaDJrT21KZldWZEg0"
    "bHBmeFNjRzJ6UExQR29LJmU9MTQzODY2OTExNSZ0PTE0MzYwNzcxMTUmcj0xMTE2MiZ1PTAmZj0="
)


def test_the_official_vector_verifies() -> None:
    parsed = legacy_signature.parse(VECTOR)
    assert parsed.plaintext == PLAINTEXT.encode()
    assert parsed.fields["a"] == "1252821871" and parsed.fields["f"] == ""
    assert parsed.number("e") == 1438669115
    assert legacy_signature.verify(parsed, SECRET_KEY)
    assert not legacy_signature.verify(parsed, SECRET_KEY[:-1] + "c")
    assert legacy_signature.authorization(PLAINTEXT, SECRET_KEY) == VECTOR


def test_the_second_vector_with_a_fileid() -> None:
    header = legacy_signature.authorization(
        PLAINTEXT.replace("&f=", "&f=tencentyunSignTest"), SECRET_KEY
    )
    assert header.startswith("Tt9IYBG4j1TpO/9M6M9TokVJrKhh")


@pytest.mark.parametrize(
    "plaintext",
    [
        "a=1&b=&k=AKID&e=200&t=100&r=7&f=",  # Python SDK
        "a=1&k=AKID&t=100&e=200",  # Java SDK order, no r or f
        "a=1&k=AKID&e=200&t=100&r=7&u=0&f=",  # Node SDK
    ],
)
def test_any_field_order_verifies_over_the_bytes_received(plaintext: str) -> None:
    parsed = legacy_signature.parse(legacy_signature.authorization(plaintext, "secret"))
    assert parsed.plaintext == plaintext.encode()
    assert legacy_signature.verify(parsed, "secret")


def test_what_the_apps_client_signs_verifies() -> None:
    header = app_signing.sign_legacy(appid="1", secret_id="AKID", secret_key="secret", now=100)
    parsed = legacy_signature.parse(header)
    assert legacy_signature.verify(parsed, "secret")
    assert (parsed.fields["a"], parsed.fields["k"], parsed.number("t")) == ("1", "AKID", 100)
    assert parsed.number("e") == 100 + app_signing.DEFAULT_LIFETIME_SECONDS


def test_a_tampered_plaintext_fails() -> None:
    raw = base64.b64decode(VECTOR)
    tampered = base64.b64encode(raw.replace(b"e=1438669115", b"e=1438669116")).decode()
    assert not legacy_signature.verify(legacy_signature.parse(tampered), SECRET_KEY)


@pytest.mark.parametrize(
    "header",
    [
        "not base64!",
        base64.b64encode(b"x" * 20).decode(),  # a digest and nothing after it
        base64.b64encode(b"x" * 20 + b"\xff\xfe").decode(),  # not UTF-8
        base64.b64encode(b"x" * 20 + b"a=1&novalue").decode(),
        base64.b64encode(b"x" * 20 + b"=1&a=2").decode(),
    ],
)
def test_malformed_headers(header: str) -> None:
    with pytest.raises(legacy_signature.MalformedSignature):
        legacy_signature.parse(header)


@pytest.mark.parametrize(("value", "number"), [("12", 12), ("", None), ("-1", None), ("²", None)])
def test_numbers_are_unsigned_ascii_decimals(value: str, number: int | None) -> None:
    header = legacy_signature.authorization(f"a=1&e={value}", "k")
    assert legacy_signature.parse(header).number("e") == number


def test_every_outcome_has_a_code_but_the_transport_ones() -> None:
    transport = {Outcome.BAD_GATEWAY, Outcome.DROP, Outcome.HANG, Outcome.OVERSIZED}
    transport.add(Outcome.GZIP_BOMB)
    assert set(legacy_codes.OUTCOME_CODES) == set(Outcome) - transport
    assert all(legacy_codes.code_for(outcome) is None for outcome in transport)


@pytest.mark.parametrize("outcome", sorted(legacy_codes.OUTCOME_CODES, key=lambda o: o.value))
def test_each_answer_has_a_message_and_a_code_the_app_knows(outcome: Outcome) -> None:
    code = legacy_codes.code_for(outcome)
    assert code is not None
    assert legacy_codes.message_for(outcome)
    # The app's catalogue knows every code the simulator answers (none arrives as unknown).
    assert code in app_codes.LEGACY_CODES


def test_the_documented_messages() -> None:
    assert legacy_codes.message_for(Outcome.COMPARED) == "OK"
    assert legacy_codes.message_for(Outcome.ARREARS) == "account abnormal,errorno is:2"
    assert app_codes.is_account_in_arrears(
        legacy_codes.code_for(Outcome.ARREARS), legacy_codes.message_for(Outcome.ARREARS)
    )


def test_a_digest_alone_is_refused_for_what_it_is() -> None:
    with pytest.raises(legacy_signature.MalformedSignature, match="no plaintext"):
        legacy_signature.parse(base64.b64encode(b"x" * legacy_signature.DIGEST_SIZE).decode())


def test_characters_outside_base64_are_refused_not_skipped() -> None:
    with pytest.raises(legacy_signature.MalformedSignature, match="not Base64"):
        legacy_signature.parse(VECTOR[:12] + "*" + VECTOR[12:])


def test_the_parsed_signature_is_frozen_and_keeps_the_digest_out_of_its_repr() -> None:
    parsed = legacy_signature.parse(VECTOR)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.fields = {}  # type: ignore[misc]
    assert "digest" not in repr(parsed)
    assert repr(parsed.digest) not in repr(parsed)
