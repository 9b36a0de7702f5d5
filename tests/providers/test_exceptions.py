"""The error catalogue and the exception hierarchy."""

from __future__ import annotations

import pickle
import re

import pytest

from face_idcard import exceptions
from face_idcard.outcome import ErrorClass
from face_idcard.providers.legacy import codes as legacy_codes
from tests.support.paths import REPO_ROOT

SPEC = REPO_ROOT.parent / "shared" / "spec" / "idcardcompare.md"


def documented_codes() -> set[str]:
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("## 错误码", 1)[1]
    return set(re.findall(r"^\|\s*(-?\d+)\s*\|", section, flags=re.MULTILINE))


@pytest.mark.skipif(not SPEC.exists(), reason="shared/spec is beside the checkout in CI and dev")
def test_every_documented_code_is_catalogued() -> None:
    codes = documented_codes()
    assert len(codes) >= 46
    assert codes <= set(legacy_codes.CATALOGUE)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, ErrorClass.SUCCESS),
        (15, ErrorClass.TRANSIENT),
        (107, ErrorClass.TRANSIENT),
        (108, ErrorClass.TRANSIENT),
        (213, ErrorClass.TRANSIENT),
        (200, ErrorClass.TRANSIENT),
        (7, ErrorClass.TRANSIENT),
        (-5802, ErrorClass.TRANSIENT),
        (9, ErrorClass.RESIGN),
        (13, ErrorClass.RESIGN),
        (3, ErrorClass.CONFIGURATION),
        (4, ErrorClass.CONFIGURATION),
        (14, ErrorClass.CONFIGURATION),
        (25, ErrorClass.CONFIGURATION),
        (21, ErrorClass.INPUT),
        (23, ErrorClass.INPUT),
        (-5803, ErrorClass.INPUT),
        (-5804, ErrorClass.INPUT),
        (-4015, ErrorClass.INPUT),
        (-1101, ErrorClass.INPUT),
        ("-5803", ErrorClass.INPUT),
        (legacy_codes.TRANSPORT_TIMEOUT, ErrorClass.TRANSIENT),
    ],
)
def test_classes_follow_protocols(code: int | str, expected: ErrorClass) -> None:
    assert legacy_codes.classify(code) is expected


@pytest.mark.parametrize("code", ["-5805", "-1308", "-1403"])
def test_download_codes_depend_on_mode(code: str) -> None:
    assert legacy_codes.classify(code, url_mode=True) is ErrorClass.URL_FETCH
    assert legacy_codes.classify(code, url_mode=False) is ErrorClass.INPUT


@pytest.mark.parametrize("code", [99999, "-9999", "FailedOperation.Nope", None, ""])
def test_unknown_codes_pass_through(code: int | str | None) -> None:
    info = legacy_codes.lookup(code)
    assert info.error_class is ErrorClass.UNKNOWN
    assert info.code == legacy_codes.normalise_code(code)
    assert legacy_codes.classify(code) is ErrorClass.UNKNOWN


def test_every_entry_has_both_languages() -> None:
    for info in legacy_codes.CATALOGUE.values():
        assert info.zh_hans and info.en
        assert info.message("zh-hans") == info.zh_hans
        assert info.message("zh_Hans") == info.zh_hans
        assert info.message("en") == info.en
        assert info.message(None) == info.en


def test_arrears_detection() -> None:
    assert legacy_codes.is_account_in_arrears(3, "account abnormal,errorno is:2")
    assert not legacy_codes.is_account_in_arrears(3, "bad request")
    assert not legacy_codes.is_account_in_arrears(4, "account abnormal,errorno is:2")


def test_retryable_classes() -> None:
    assert {c for c in ErrorClass if c.retryable} == {
        ErrorClass.TRANSIENT,
        ErrorClass.RESIGN,
        ErrorClass.URL_FETCH,
    }


def test_every_class_has_an_exception() -> None:
    for cls in ErrorClass:
        if cls is ErrorClass.SUCCESS:
            continue
        assert exceptions.EXCEPTION_FOR_CLASS[cls].error_class is cls


def test_exception_text_has_code_and_meaning_only() -> None:
    # The provider's catalogue gives the meaning; the exception module knows no provider.
    exc = exceptions.ProviderRejected(
        "-5803", meaning=legacy_codes.lookup("-5803").en, detail="HTTP 200"
    )
    assert str(exc) == "[-5803] The name does not match the ID number (HTTP 200)"
    assert exc.error_class is ErrorClass.INPUT


def test_exceptions_pickle() -> None:
    exc = exceptions.ProviderTimeout(
        legacy_codes.TRANSPORT_TIMEOUT, elapsed=1.5, detail="ReadTimeout", request_sent=True
    )
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is exceptions.ProviderTimeout
    assert clone.code == exc.code and clone.elapsed == 1.5 and str(clone) == str(exc)
    assert clone.request_sent is True
    assert isinstance(clone, exceptions.TransientProviderError)
