"""The Cloudauth catalogue against the spec file (``shared/spec/aliyun-cloudauth.md``, beside
the checkout or ``FACE_IDCARD_SPEC_DIR``): every Code of its section 4, every SubCode of its
section 5 and every gateway error it names is catalogued, billed exactly when Alibaba Cloud
bills (SubCodes 200-206), with the class the spec gives; what it says is not this API's passes
through as unknown."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from face_idcard.outcome import ErrorClass, Reason
from face_idcard.providers.aliyun.codes import (
    ALIYUN_CODES,
    REVIEW_CODES,
    catalogue_key,
    missing_parameter,
)
from tests.support.paths import REPO_ROOT

SPEC_DIR = Path(os.environ.get("FACE_IDCARD_SPEC_DIR", REPO_ROOT.parent / "shared" / "spec"))
SPEC = SPEC_DIR / "aliyun-cloudauth.md"
needs_spec = pytest.mark.skipif(
    not SPEC.is_file(), reason="shared/spec is beside the checkout (or FACE_IDCARD_SPEC_DIR)"
)


def _section(number: int) -> str:
    text = SPEC.read_text(encoding="utf-8")
    start = text.index(f"\n## {number}.")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def _table_codes(number: int) -> list[str]:
    return re.findall(r"^\| (\d{3}) \|", _section(number), flags=re.MULTILINE)


@needs_spec
def test_every_code_of_the_spec_is_catalogued_unbilled() -> None:
    codes = _table_codes(4)
    assert len(codes) >= 16
    for code in codes:
        if code == "200":
            continue  # the call ran: its SubCode is what is catalogued
        info = ALIYUN_CODES.lookup(code)
        assert info.error_class is not ErrorClass.UNKNOWN, code
        assert info.billable is False, code
        assert info.source == "api-codes"


@needs_spec
def test_every_sub_code_of_the_spec_is_catalogued_and_billed() -> None:
    sub_codes = _table_codes(5)
    assert sub_codes == ["200", "201", "202", "203", "204", "205", "206"]
    for sub_code in sub_codes:
        info = ALIYUN_CODES.lookup(catalogue_key("200", sub_code))
        assert info.error_class is not ErrorClass.UNKNOWN, sub_code
        assert info.billable is True, sub_code
        assert info.billing_source == "billing-subcodes"


@needs_spec
def test_every_gateway_error_of_the_spec_is_catalogued_unbilled() -> None:
    paragraph = _section(4).split("Gateway errors", 1)[1]
    names = re.findall(r"`([A-Za-z.<>]+)`", paragraph)
    assert "SignatureDoesNotMatch" in names
    for name in names:
        if name == "Missing<Param>":
            assert missing_parameter("MissingSomethingNew") is ErrorClass.CONFIGURATION
            continue
        info = ALIYUN_CODES.lookup(name)
        assert info.error_class is not ErrorClass.UNKNOWN, name
        assert info.billable is False


@needs_spec
def test_what_the_spec_says_is_not_this_apis_passes_through_as_unknown() -> None:
    other_apis = re.findall(r"\d{3}", _section(4).split("Other Cloudauth APIs add", 1)[1][:60])
    assert other_apis
    other_schemes = ["207", "209", "210", "212", "213", "214", "220", "221", "222"]
    for code in other_apis:
        assert ALIYUN_CODES.lookup(code).error_class is ErrorClass.UNKNOWN, code
    for sub_code in other_schemes:
        info = ALIYUN_CODES.lookup(catalogue_key("200", sub_code))
        assert (info.code, info.error_class, info.billable) == (
            f"200.{sub_code}",
            ErrorClass.UNKNOWN,
            None,
        )


@pytest.mark.parametrize(
    ("code", "error_class", "reason", "retryable", "user_fixable"),
    [
        ("200.200", ErrorClass.SUCCESS, Reason.MATCH, False, False),
        ("200.201", ErrorClass.INPUT, Reason.NAME_MISMATCH, False, True),
        ("200.204", ErrorClass.SUCCESS, Reason.LOW_SIMILARITY, False, True),
        ("200.205", ErrorClass.SUCCESS, Reason.SPOOF_SUSPECTED, False, False),
        ("401", ErrorClass.INPUT, Reason.INVALID_INPUT, False, True),
        ("404", ErrorClass.CONFIGURATION, Reason.CONFIGURATION, False, False),
        ("411", ErrorClass.CONFIGURATION, Reason.CONFIGURATION, False, False),
        ("412", ErrorClass.CONFIGURATION, Reason.ACCOUNT_PROBLEM, False, False),
        ("418", ErrorClass.INPUT, Reason.RATE_LIMITED, False, False),
        ("419", ErrorClass.INPUT, Reason.IMAGE_UNREADABLE, False, True),
        ("422", ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE, True, False),
        ("500", ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE, True, False),
        (
            "SignatureDoesNotMatch",
            ErrorClass.CONFIGURATION,
            Reason.SIGNATURE_REJECTED,
            False,
            False,
        ),
        ("InvalidTimeStamp.Expired", ErrorClass.RESIGN, Reason.SIGNATURE_REJECTED, True, False),
        ("SignatureNonceUsed", ErrorClass.RESIGN, Reason.SIGNATURE_REJECTED, True, False),
        ("Throttling.User", ErrorClass.TRANSIENT, Reason.RATE_LIMITED, True, False),
    ],
)
def test_classes(
    code: str, error_class: ErrorClass, reason: Reason, retryable: bool, user_fixable: bool
) -> None:
    info = ALIYUN_CODES.lookup(code)
    assert (info.error_class, info.reason) == (error_class, reason)
    assert info.error_class.retryable is retryable
    assert info.reason.user_fixable is user_fixable


def test_the_advised_reviews_are_successes_the_backend_turns_into_reviews() -> None:
    assert {"405", "417", "200.202", "200.203"} <= REVIEW_CODES
    for code in REVIEW_CODES:
        assert ALIYUN_CODES.lookup(code).error_class is ErrorClass.SUCCESS


def test_catalogue_keys() -> None:
    assert catalogue_key("200", "204") == "200.204"
    assert catalogue_key(200, 201) == "200.201"
    assert catalogue_key("417", "") == "417"
    assert catalogue_key("Throttling.User") == "Throttling.User"
    assert catalogue_key(None) == ""


def test_the_billing_table_of_the_docs_is_the_catalogue() -> None:
    text = (REPO_ROOT / "docs" / "providers-aliyun.rst").read_text(encoding="utf-8")
    rows = {
        code: (error_class, reason, billed)
        for code, error_class, reason, billed in re.findall(
            r"^``([^`]+)``\s+(\w+)\s+(\w+)\s+(yes|no)\s", text, flags=re.MULTILINE
        )
    }
    listed = {code for code in ALIYUN_CODES.entries if not code.startswith("Missing")}
    assert listed <= set(rows)
    for code in listed:
        info = ALIYUN_CODES.lookup(code)
        assert rows[code] == (
            info.error_class.value,
            info.reason.value,
            "yes" if info.billable else "no",
        ), code
