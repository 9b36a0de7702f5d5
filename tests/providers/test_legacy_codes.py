"""Every legacy idcardcompare code, flag by flag, against the spec (not against the code).

Classes come from ``shared/spec/PROTOCOLS.md`` §2.4 (its table, code by code); the codes it
leaves out (video, liveness and feature extraction, from ``idcardcompare.md``) are about the
person or the photo: input. Reasons follow each code's documented meaning. Billing follows the
rule the backend states (``LegacyBackend.billing_rule``): a comparison, or a refusal made after
the identity lookup (name mismatch, no face in the selfie, no usable registry photo), is
billed; nothing else is. The Chinese texts are checked against ``idcardcompare.md`` itself.
"""

from __future__ import annotations

import re

import pytest

from face_idcard.outcome import ErrorClass, Reason
from face_idcard.providers.legacy import codes
from face_idcard.providers.legacy.backend import LegacyBackend
from tests.support.paths import REPO_ROOT

SPEC_DIR = REPO_ROOT.parent / "shared" / "spec"


def _codes(text: str) -> list[str]:
    return text.split()


#: PROTOCOLS.md §2.4, row by row (url-fetch codes apart: their class depends on the mode).
SPEC_CLASS: dict[str, ErrorClass] = {
    **dict.fromkeys(_codes("0"), ErrorClass.SUCCESS),
    **dict.fromkeys(
        _codes("15 107 108 213 200 201 202 203 7 8 -5802"),
        ErrorClass.TRANSIENT,
    ),
    **dict.fromkeys(_codes("9 13"), ErrorClass.RESIGN),
    **dict.fromkeys(
        _codes("3 4 5 6 10 11 12 14 16 24 25"),
        ErrorClass.CONFIGURATION,
    ),
    **dict.fromkeys(
        _codes(
            "21 23 -5801 -5803 -5804 -4011 -4012 -4015 -4016 -4017 -4018 -1101 -1102 -1300 -1400"
        ),
        ErrorClass.INPUT,
    ),
    # Not in §2.4's table: video, liveness and feature codes of idcardcompare.md (the person
    # or the photo, never worth an automatic retry).
    **dict.fromkeys(
        _codes(
            "-4006 -4007 -4009 -4010 -5001 -5002 -5005 -5007 -5008 -5009 -5010 -5011 -5012 "
            "-5013 -5014 -5015 -5016"
        ),
        ErrorClass.INPUT,
    ),
}
#: "url fetch: -5805, -1308, -1403 in url mode"; without a url nothing was downloaded.
URL_FETCH = _codes("-5805 -1308 -1403")

#: The neutral reason of each code, from its documented meaning.
REASON: dict[str, Reason] = {
    **dict.fromkeys(_codes("0"), Reason.MATCH),
    # 3: bad request / account suspended for arrears; 24: service not applied for; 25: quota.
    **dict.fromkeys(_codes("3 24 25"), Reason.ACCOUNT_PROBLEM),
    # Signature empty or malformed, appid/bucket/SecretId wrong, verification failed.
    **dict.fromkeys(_codes("4 5 6 10 11 12 14 16"), Reason.CONFIGURATION),
    **dict.fromkeys(_codes("9 13"), Reason.SIGNATURE_REJECTED),
    **dict.fromkeys(_codes("15"), Reason.RATE_LIMITED),
    **dict.fromkeys(
        _codes("7 8 107 108 200 201 202 203 213 -5802"),
        Reason.PROVIDER_UNAVAILABLE,
    ),
    # Invalid parameter, body too large, invalid video, no sound, bad level, missing fields.
    **dict.fromkeys(_codes("21 23 -5001 -5007 -5014 -5801"), Reason.INVALID_INPUT),
    **dict.fromkeys(_codes("-1101 -4006 -4012 -4015 -5009"), Reason.NO_FACE),
    **dict.fromkeys(_codes("-1102 -1300 -1400 -4011 -4016"), Reason.IMAGE_UNREADABLE),
    **dict.fromkeys(_codes("-1308 -1403 -5805"), Reason.IMAGE_FETCH_FAILED),
    **dict.fromkeys(_codes("-4007 -4010 -5005 -5012 -5013 -5015"), Reason.POOR_QUALITY),
    # Feature extraction, face detection or decoding of the ID card (registry) photo failed.
    **dict.fromkeys(_codes("-4009 -4017 -4018"), Reason.NO_REGISTRY_PHOTO),
    **dict.fromkeys(_codes("-5002 -5008 -5010 -5011 -5016"), Reason.SPOOF_SUSPECTED),
    **dict.fromkeys(_codes("-5803"), Reason.NAME_MISMATCH),
    **dict.fromkeys(_codes("-5804"), Reason.ID_NOT_FOUND),
}

#: Billed: the comparison (0, -4010: the similarity itself failed), the name mismatch, no face
#: in the selfie, and the three "registry photo unusable" codes. Everything else is free.
BILLED = set(_codes("0 -4010 -5803 -4015 -4009 -4017 -4018"))


def test_the_tables_cover_exactly_the_catalogue() -> None:
    catalogued = set(codes.LEGACY_CODES.entries)
    assert set(SPEC_CLASS) | set(URL_FETCH) == catalogued
    assert set(REASON) == catalogued
    assert BILLED <= catalogued


@pytest.mark.parametrize("code", sorted(codes.LEGACY_CODES.entries))
def test_each_code_flag_by_flag(code: str) -> None:
    info = codes.lookup(code)
    assert info.code == code
    assert info.reason is REASON[code]
    assert info.billable is (code in BILLED)
    if code in URL_FETCH:
        assert codes.classify(code, url_mode=True) is ErrorClass.URL_FETCH
        assert codes.classify(code, url_mode=False) is ErrorClass.INPUT
        assert codes.classify(code) is ErrorClass.INPUT  # without a mode: an image was sent
    else:
        # Whatever the mode: only the download codes depend on it.
        assert info.error_class is SPEC_CLASS[code]
        assert codes.classify(code, url_mode=False) is SPEC_CLASS[code]
        assert codes.classify(code, url_mode=True) is SPEC_CLASS[code]
    # The same entry whether the code comes as an int, a string or with blanks around it.
    assert codes.lookup(int(code)) is info
    assert codes.lookup(f" {code}\n") is info
    assert code in codes.LEGACY_CODES and int(code) in codes.LEGACY_CODES
    assert codes.CATALOGUE[code] is info


def _documented_meanings() -> dict[str, str]:
    text = (SPEC_DIR / "idcardcompare.md").read_text(encoding="utf-8")
    section = text.split("## 错误码", 1)[1]
    rows = re.findall(r"^\|\s*(-?\d+)\s*\|\s*(.+?)\s*\|\s*$", section, flags=re.MULTILINE)
    return dict(rows)


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.skipif(not SPEC_DIR.exists(), reason="shared/spec is beside the checkout")
def test_chinese_texts_say_what_the_api_page_says() -> None:
    meanings = _documented_meanings()
    assert len(meanings) >= 46
    for code, meaning in meanings.items():
        # The page's meaning up to its first aside ("；其中 …", "(活体其他 …)").
        head = re.split(r"[；(（]", _compact(meaning))[0]
        assert _compact(codes.lookup(code).zh_hans).startswith(head), code


@pytest.mark.parametrize("info", list(codes.CATALOGUE.values()), ids=lambda i: i.code)
def test_texts_in_both_languages(info: codes.CodeInfo) -> None:
    assert re.search(r"[\u4e00-\u9fff]", info.zh_hans), info.code
    assert info.en and not re.search(r"[\u4e00-\u9fff]", info.en), info.code
    assert info.message("zh-hans") == info.zh_hans
    assert info.message("en") == info.en


def test_the_shared_pseudo_codes_are_in_the_catalogue() -> None:
    assert codes.lookup(codes.TRANSPORT_TIMEOUT).error_class is ErrorClass.TRANSIENT
    assert codes.lookup(codes.TRANSPORT_TIMEOUT).billable is None  # the call may have finished
    assert codes.classify(codes.TRANSPORT_CONNECTION) is ErrorClass.TRANSIENT
    assert codes.classify(codes.TRANSPORT_BAD_RESPONSE, url_mode=True) is ErrorClass.TRANSIENT
    assert {codes.TRANSPORT_TIMEOUT, codes.TRANSPORT_CONNECTION} <= set(codes.CATALOGUE)


@pytest.mark.parametrize("code", [99999, "-9999", "1", "-5806", "FailedOperation.Nope", None])
@pytest.mark.parametrize("url_mode", [False, True])
def test_unknown_codes_pass_through_in_either_mode(code: int | str | None, url_mode: bool) -> None:
    info = codes.lookup(code)
    assert (info.error_class, info.reason, info.billable) == (
        ErrorClass.UNKNOWN,
        Reason.UNKNOWN,
        None,
    )
    assert info.code == codes.normalise_code(code)
    assert codes.classify(code, url_mode=url_mode) is ErrorClass.UNKNOWN
    assert code not in codes.LEGACY_CODES


@pytest.mark.parametrize(
    ("code", "message", "arrears"),
    [
        (3, "account abnormal,errorno is:2", True),
        ("3", "account abnormal,errorno is:2", True),
        (" 3 ", "account abnormal,errorno is:2", True),
        (3, "errorno is:2", True),
        (3, "bad request", False),
        (3, "", False),
        (3, None, False),
        (4, "account abnormal,errorno is:2", False),
        (-3, "account abnormal,errorno is:2", False),
        (None, "account abnormal,errorno is:2", False),
        (0, "account abnormal,errorno is:2", False),
    ],
)
def test_arrears_is_code_3_with_its_marker(
    code: int | str | None, message: str | None, arrears: bool
) -> None:
    assert codes.is_account_in_arrears(code, message) is arrears


def test_the_backend_uses_this_catalogue() -> None:
    assert LegacyBackend.catalogue is codes.LEGACY_CODES
