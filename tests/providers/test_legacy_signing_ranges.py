"""Edges of the legacy signature (issue 17: behaviour the mutation run found unpinned).

Tables of inputs and the outcome the protocol (PROTOCOLS.md §2.3) requires, not copies of the
implementation: every range is tested at and just beyond each end.
"""

from __future__ import annotations

import base64

import pytest

from face_idcard.providers.legacy import signing

DAY = 24 * 3600
BASE = {"appid": "1252821871", "secret_id": "AKIDexample", "bucket": "b", "fileid": ""}


def _plaintext(**overrides: object) -> str:
    values: dict[str, object] = {**BASE, "now": 1_000, "expiry": 2_000, "rand": 7} | overrides
    return signing.legacy_plaintext(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "expiry", "valid"),
    [(1_000, 999, False), (1_000, 1_000, False), (1_000, 1_001, True), (0, 1, True)],
)
def test_expiry_must_be_strictly_after_the_start(now: int, expiry: int, valid: bool) -> None:
    if valid:
        assert f"&e={expiry}&t={now}&" in _plaintext(now=now, expiry=expiry)
    else:
        with pytest.raises(ValueError, match="expiry"):
            _plaintext(now=now, expiry=expiry)


@pytest.mark.parametrize(
    ("rand", "valid"),
    [(-1, False), (0, True), (1, True), (9_999_999_999, True), (10_000_000_000, False)],
)
def test_rand_is_an_unsigned_integer_of_at_most_ten_digits(rand: int, valid: bool) -> None:
    if valid:
        assert f"&r={rand}&" in _plaintext(rand=rand)
    else:
        with pytest.raises(ValueError, match="10 digits"):
            _plaintext(rand=rand)


def test_u_is_left_out_unless_asked_for() -> None:
    assert "u=" not in _plaintext()
    assert _plaintext(include_u=True).endswith("&r=7&u=0&f=")


@pytest.mark.parametrize(
    ("lifetime", "valid"),
    [(-1, False), (0, False), (1, True), (90 * DAY, True), (90 * DAY + 1, False)],
)
def test_lifetime_is_between_one_second_and_ninety_days(lifetime: int, valid: bool) -> None:
    kwargs = {**BASE, "secret_key": "k", "lifetime": lifetime, "now": 1_000}
    del kwargs["fileid"]
    if not valid:
        with pytest.raises(ValueError, match="lifetime"):
            signing.sign_legacy(**kwargs)  # type: ignore[arg-type]
        return
    parsed = signing.parse_legacy_authorization(signing.sign_legacy(**kwargs))  # type: ignore[arg-type]
    assert parsed.get_int("t") == 1_000
    assert parsed.get_int("e") == 1_000 + lifetime
    assert signing.verify_legacy_digest(parsed, "k")
    assert "u" not in parsed.fields


def test_the_default_lifetime_is_five_minutes() -> None:
    header = signing.sign_legacy(appid="1", secret_id="s", secret_key="k", now=50)
    assert signing.parse_legacy_authorization(header).get_int("e") == 350


def test_the_start_defaults_to_the_clock(time_machine: object) -> None:
    time_machine.move_to(1_700_000_000.0, tick=False)  # type: ignore[attr-defined]
    header = signing.sign_legacy(appid="1", secret_id="s", secret_key="k", lifetime=10)
    parsed = signing.parse_legacy_authorization(header)
    assert (parsed.get_int("t"), parsed.get_int("e")) == (1_700_000_000, 1_700_000_010)


def _header(plaintext: bytes, digest: bytes = b"d" * signing.DIGEST_SIZE) -> str:
    return base64.b64encode(digest + plaintext).decode()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("not base64!", "Base64"),
        # Non-alphabet characters: a lenient decoder would drop them and accept the header.
        (_header(b"a=1&e=2")[:8] + "*" + _header(b"a=1&e=2")[8:], "Base64"),
        (_header(b"a=1")[:4] + "\n" + _header(b"a=1")[4:], "Base64"),
        (base64.b64encode(b"d" * signing.DIGEST_SIZE).decode(), "too short"),
        (base64.b64encode(b"d" * (signing.DIGEST_SIZE - 1)).decode(), "too short"),
        (_header(b"\xff\xfe"), "UTF-8"),
        (_header(b"a=1&novalue"), "key=value"),
        (_header(b"a=1&=2"), "key=value"),
    ],
)
def test_malformed_headers_are_refused(header: str, message: str) -> None:
    with pytest.raises(signing.MalformedSignature, match=message):
        signing.parse_legacy_authorization(header)


def test_a_header_just_longer_than_the_digest_is_parsed() -> None:
    parsed = signing.parse_legacy_authorization(_header(b"a="))
    assert parsed.fields == {"a": ""}
    assert parsed.digest == b"d" * signing.DIGEST_SIZE


@pytest.mark.parametrize(
    ("plaintext", "expected"),
    [
        (b"e=100&t=5", {"e": 100, "t": 5}),
        (b"t=5", {"e": None, "t": 5}),
        (b"e=&t=-5", {"e": None, "t": None}),
        (b"e=1e3&t=+5", {"e": None, "t": None}),
        (b"e=0&t=007", {"e": 0, "t": 7}),
    ],
)
def test_missing_or_non_numeric_times_read_as_none(
    plaintext: bytes, expected: dict[str, int | None]
) -> None:
    parsed = signing.parse_legacy_authorization(_header(plaintext))
    assert {name: parsed.get_int(name) for name in expected} == expected


def test_the_digest_is_not_in_the_repr() -> None:
    digest = bytes(range(1, signing.DIGEST_SIZE + 1))
    parsed = signing.parse_legacy_authorization(_header(b"a=1", digest))
    assert repr(digest) not in repr(parsed)
    assert "digest" not in repr(parsed)


def test_a_parsed_signature_cannot_be_altered() -> None:
    import dataclasses

    parsed = signing.parse_legacy_authorization(_header(b"a=1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.plaintext = b"a=2"  # type: ignore[misc]
