"""The code catalogues against their sources: the official SDK's error list and the spec files.

FaceID, against ``tencentcloud-sdk-python-faceid`` (a dev dependency; its
``tencentcloud/faceid/v20180301/errorcodes.py`` lists ``CONSTANT = 'Code'`` lines, each under a
comment with its Chinese meaning):

* The SDK's list is product-wide: it does not say which codes ImageRecognitionV2 (the only
  action our backend calls, PROTOCOLS.md §3) can answer, and the action's response model only
  says "错误情况请参考下方错误码列表中FailedOperation部分". So the subset "codes the comparison can
  return" cannot be narrowed from the SDK, and the test requires *every* code the SDK lists to
  be catalogued (none of them may reach the pipeline as unknown).
* Every catalogued code is either in the SDK's list, with a source that names the SDK's file
  (``sdk-errorcodes``, or ``sdk-errorcodes-other-actions`` for the liveness/video/token
  actions' codes), or not in it, with a source that is not that file (``Success`` from the
  response model, the API 3.0 common codes from Tencent's 公共错误码 table).
* Where the SDK gives a Chinese meaning, the catalogue's zh-hans text is exactly it.
* The common SDK's retryer retries exactly the rate-limit codes we class as transient
  rate-limiting.

Both providers, against ``shared/spec`` (beside the checkout, or ``FACE_IDCARD_SPEC_DIR``):
every code of idcardcompare.md's 错误码 table and of PROTOCOLS.md §2.4 is in the legacy
catalogue with the source that names its page, and every code PROTOCOLS.md §3 names is in the
FaceID catalogue.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import tencentcloud.common.retry
import tencentcloud.faceid.v20180301.errorcodes as sdk_errorcodes

from face_idcard.outcome import ErrorClass, Reason
from face_idcard.providers.faceid.codes import FACEID_CODES
from face_idcard.providers.legacy.codes import LEGACY_CODES
from tests.support.paths import REPO_ROOT

SPEC_DIR = Path(
    os.environ.get(
        "FACE_IDCARD_SPEC_DIR",
        REPO_ROOT.parent / "shared" / "spec",
    )
)
needs_spec = pytest.mark.skipif(
    not SPEC_DIR.is_dir(), reason="shared/spec is beside the checkout (or FACE_IDCARD_SPEC_DIR)"
)

SDK_SOURCES = {"sdk-errorcodes", "sdk-errorcodes-other-actions"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def _sdk_codes() -> dict[str, str]:
    """Code -> the comment above its constant in the SDK's errorcodes.py."""
    path = Path(sdk_errorcodes.__file__)
    text = path.read_text(encoding="utf-8")
    pairs = re.findall(r"^# (.*)\n[A-Z0-9_]+ = '([^']+)'$", text, flags=re.MULTILINE)
    codes = {code: comment.strip() for comment, code in pairs}
    # Every constant of the module was read (none missed by the pattern).
    constants = {
        value
        for name, value in vars(sdk_errorcodes).items()
        if name.isupper() and isinstance(value, str)
    }
    assert set(codes) == constants
    return codes


SDK = _sdk_codes()


def test_the_sdk_list_is_read() -> None:
    assert len(SDK) >= 90
    assert "FailedOperation.IdNameMisMatch" in SDK


def test_every_code_the_sdk_lists_is_catalogued() -> None:
    missing = sorted(set(SDK) - set(FACEID_CODES.entries))
    assert missing == []


def test_every_catalogued_code_is_the_sdks_or_says_where_else_it_comes_from() -> None:
    for code, info in FACEID_CODES.entries.items():
        if code in SDK:
            assert info.source in SDK_SOURCES, code
        else:
            assert info.source not in SDK_SOURCES, code
            assert "errorcodes.py" not in FACEID_CODES.sources[info.source], code
    assert "errorcodes.py" in FACEID_CODES.sources["sdk-errorcodes"]


#: The one code whose SDK comment is English: our zh-hans text is a translation of it.
SDK_COMMENT_NOT_CHINESE = {"FailedOperation.CompressVideoError"}


def test_the_chinese_meanings_are_the_sdks() -> None:
    for code, comment in SDK.items():
        if code in SDK_COMMENT_NOT_CHINESE:
            assert not HAN.search(comment), code
            assert HAN.search(FACEID_CODES.lookup(code).zh_hans), code
        else:
            assert FACEID_CODES.lookup(code).zh_hans == comment, code


def test_success_comes_from_the_comparisons_response_model() -> None:
    assert FACEID_CODES.lookup("Success").source == "sdk-result-model"
    assert "ImageRecognitionV2Response" in FACEID_CODES.sources["sdk-result-model"]


def test_the_codes_the_sdk_retries_are_transient_rate_limits() -> None:
    source = Path(tencentcloud.common.retry.__file__).read_text(encoding="utf-8")
    retried = set(re.findall(r'"(RequestLimitExceeded[A-Za-z.]*)"', source))
    assert "RequestLimitExceeded" in retried
    for code in retried:
        info = FACEID_CODES.lookup(code)
        assert (info.error_class, info.reason) == (ErrorClass.TRANSIENT, Reason.RATE_LIMITED), code


# --- Against the spec files -------------------------------------------------------------------


def _spec(name: str) -> str:
    return (SPEC_DIR / name).read_text(encoding="utf-8")


@needs_spec
def test_the_legacy_page_codes_are_exactly_those_sourced_to_it() -> None:
    section = _spec("idcardcompare.md").split("## 错误码", 1)[1]
    page = set(re.findall(r"^\|\s*(-?\d+)\s*\|", section, flags=re.MULTILINE))
    assert len(page) >= 46
    sourced = {
        code for code, info in LEGACY_CODES.entries.items() if info.source == "idcardcompare"
    }
    assert sourced == page


def _protocols_section(heading: str, end: str) -> str:
    return _spec("PROTOCOLS.md").split(heading, 1)[1].split(end, 1)[0]


def _codes_in(cell: str) -> set[str]:
    """The codes of a table cell or sentence: '15', '200-203', '7/8', '-4015..-4018'."""
    found: set[str] = set()
    cell = re.sub(r"\([^)]*\)", " ", cell)  # asides: "(message ... errorno is:2 ...)"
    for token in re.split(r"[,\s/]+", cell):
        if re.fullmatch(r"-?\d+", token):
            found.add(token)
        elif span := re.fullmatch(r"(\d+)-(\d+)", token):
            found |= {str(n) for n in range(int(span[1]), int(span[2]) + 1)}
        elif span := re.fullmatch(r"(-\d+)\.\.(-\d+)", token):
            low, high = sorted((int(span[1]), int(span[2])))
            found |= {str(n) for n in range(low, high + 1)}
    return found


@needs_spec
def test_every_code_of_protocols_2_4_is_catalogued() -> None:
    section = _protocols_section("### 2.4", "## 3.")
    rows = re.findall(r"^\|([^|]+)\|([^|]+)\|[^|]+\|$", section, flags=re.MULTILINE)
    listed = set().union(*(_codes_in(codes) for _, codes in rows[2:]))  # after header, rule
    assert {"0", "3", "9", "13", "15", "200", "203", "-4015", "-4018", "-1403"} <= listed
    assert "2" not in listed  # "errorno is:2" is part of a message
    assert sorted(listed - set(LEGACY_CODES.entries)) == []


@needs_spec
def test_the_codes_of_tencents_other_pages_are_sourced_to_them() -> None:
    sentence = _protocols_section("Tencent's other image/face pages add", "Unknown codes")
    range_ = re.search(r"(-\d+)\.\.(-\d+)", sentence)
    assert range_ is not None
    low, high = sorted((int(range_[1]), int(range_[2])))
    explicit = _codes_in(re.sub(r"-\d+\.\.-\d+", " ", sentence)) | {range_[1], range_[2]}
    assert {"25", "7", "8", "200", "201", "202", "203", "-1308", "-1403"} <= explicit
    sourced = {
        code for code, info in LEGACY_CODES.entries.items() if info.source == "image-face-pages"
    }
    assert explicit <= sourced
    # Nothing else: the rest of what we catalogue from those pages lies in the named range.
    assert all(low <= int(code) <= high for code in sourced - explicit), sorted(sourced - explicit)


def _backticked(text: str) -> set[str]:
    return {token.rstrip("*") for token in re.findall(r"`([^`]+)`", text)}


@needs_spec
def test_every_code_protocols_3_names_is_catalogued() -> None:
    section = _protocols_section("## 3.", "## 4.")
    business = section.split("Business codes include", 1)[1].split("Whether", 1)[0]
    common = section.split("common API 3.0 error codes include", 1)[1].split("\n\n", 1)[0]
    named = {
        "FailedOperation" + token if token.startswith(".") else token
        for token in _backticked(business) | _backticked(common)
    }
    assert {
        "FailedOperation.IdNameMisMatch",
        "AuthFailure.SignatureExpire",
        "InvalidAction",
    } <= named
    assert len(named) >= 25
    assert sorted(named - set(FACEID_CODES.entries)) == []
