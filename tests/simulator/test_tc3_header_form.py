"""The TC3 verifier's form checks, one at a time: each header below is a correctly SIGNED header
with exactly one thing wrong in its form, so only the check for that one thing can refuse it
(a header wrong in two ways would be refused by whichever check comes first)."""

from __future__ import annotations

import dataclasses

import pytest

from face_idcard.simulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, tc3
from face_idcard.simulator.outcomes import Outcome

NOW = 1_700_000_000
DATE = tc3.credential_date(NOW)
HOST = "127.0.0.1:8701"
BODY = b'{"IdCard": "x"}'
CREDENTIALS = tc3.Credentials(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY)
HEADERS = {"content-type": "application/json", "host": HOST, "x-tc-action": "DetectAuth"}


def _signature(signed: tuple[str, ...]) -> str:
    """The right signature of this request over the headers ``signed`` (in that order)."""
    canonical = tc3.canonical_request("POST", "/", "", HEADERS, signed, tc3.payload_hash(BODY))
    to_sign = tc3.string_to_sign(NOW, DATE, "faceid", canonical)
    return tc3.signature(DEFAULT_SECRET_KEY, DATE, "faceid", to_sign)


def _header(
    *,
    algorithm: str = tc3.ALGORITHM,
    signed: tuple[str, ...] = ("content-type", "host"),
    signed_text: str | None = None,
    extra: str = "",
) -> str:
    sig = _signature(signed)
    signed_text = ";".join(signed) if signed_text is None else signed_text
    return (
        f"{algorithm} Credential={DEFAULT_SECRET_ID}/{DATE}/faceid/tc3_request, "
        f"SignedHeaders={signed_text}, Signature={sig}{extra}"
    )


def _verify(header: str) -> Outcome | None:
    return tc3.verify(
        header=header,
        headers={**HEADERS, "": "empty"},
        method="POST",
        uri="/",
        body=BODY,
        timestamp=NOW,
        now=NOW,
        service="faceid",
        credentials=CREDENTIALS,
    )


def test_the_well_formed_headers_below_are_signed_right() -> None:
    assert _verify(_header()) is None
    # Signing one more header than the minimum is allowed.
    assert _verify(_header(signed=("content-type", "host", "x-tc-action"))) is None


@pytest.mark.parametrize(
    "header",
    [
        # Another algorithm's name on a TC3 signature.
        _header(algorithm="TC3-HMAC-SHA1"),
        _header(algorithm="tc3-hmac-sha256"),
        # A part given twice (the second would win in a dict).
        _header(extra=f", Signature={_signature(('content-type', 'host'))}"),
        _header(extra=", SignedHeaders=content-type;host"),
        # A part that is no name=value pair, and a part nobody asked for.
        _header(extra=", Extra"),
        _header(extra=", Extra=1"),
        # Not all the minimum headers signed (each alone is a correct signature over it).
        _header(signed=("content-type",)),
        _header(signed=("host",)),
        # Header names that are not lower-case names (sorted, unique, minimum present).
        _header(signed_text=";content-type;host"),
        _header(signed_text="Content-Type;content-type;host"),
    ],
    ids=[
        "sha1",
        "lower-case-algorithm",
        "signature-twice",
        "signed-headers-twice",
        "no-equals",
        "unknown-part",
        "host-unsigned",
        "content-type-unsigned",
        "empty-header-name",
        "upper-case-header-name",
    ],
)
def test_one_thing_wrong_in_the_form_is_malformed(header: str) -> None:
    with pytest.raises(tc3.MalformedAuthorization):
        tc3.parse_authorization(header)
    assert _verify(header) is Outcome.SIGNATURE_MALFORMED


@pytest.mark.parametrize("missing", ["Credential", "SignedHeaders", "Signature"])
def test_a_missing_part_is_malformed_not_a_crash(missing: str) -> None:
    parts = [p for p in _header().partition(" ")[2].split(", ") if not p.startswith(missing)]
    header = f"{tc3.ALGORITHM} " + ", ".join(parts)
    with pytest.raises(tc3.MalformedAuthorization):
        tc3.parse_authorization(header)
    assert _verify(header) is Outcome.SIGNATURE_MALFORMED


def test_the_secret_key_never_shows_in_a_repr() -> None:
    credentials = tc3.Credentials("AKIDvisible", "the-secret-key")
    assert repr(credentials) == "<Credentials AKIDvisible>"
    assert "the-secret-key" not in str(credentials)


def test_credentials_and_parsed_headers_are_frozen() -> None:
    parsed = tc3.parse_authorization(_header())
    assert parsed.signed_headers == ("content-type", "host")
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.signature = "0" * 64  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CREDENTIALS.secret_key = "changed"  # type: ignore[misc]
