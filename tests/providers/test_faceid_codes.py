"""FaceID codes against the spec: PROTOCOLS.md §3 (named codes, Tencent's fixed bar of 70) and
Tencent's "计费相关返回码" page for billing as README.rst quotes it (billed, not billed, not
said), with our own reading (refused before any comparison: not billed) for the rest."""

from __future__ import annotations

import re

import pytest

from face_idcard.outcome import CodeInfo, ErrorClass, Reason
from face_idcard.providers.faceid import codes
from face_idcard.providers.faceid.backend import FaceIdBackend

F = "FailedOperation."

#: Tencent's page, section 人脸核验类.
TENCENT_BILLED = {"Success", F + "IdNameMisMatch", F + "CompareLowSimilarity"}
TENCENT_FREE = {
    F + name
    for name in [
        "IdPhotoPoorQuality",
        "LifePhotoDetectFaces",
        "LifePhotoDetectFake",
        "LifePhotoDetectNoFaces",
        "CompareFail",
        "CoveredFace",
        "DetectEngineSystemError",
        "ImageDecodeFailed",
    ]
}
#: Business codes the page says nothing about: the call may have reached the registry.
NOT_SAID = {
    F + name
    for name in [
        "IdNoExistSystem",
        "IdPhotoNoExist",
        "IdFormatError",
        "NameFormatError",
        "LifePhotoPoorQuality",
        "LifePhotoSizeError",
    ]
}
#: Refused before any comparison: signature, account, parameters, quota, internal errors.
REFUSED = {
    "AuthFailure.SignatureExpire",
    "AuthFailure.SignatureFailure",
    "AuthFailure.SecretIdNotFound",
    "AuthFailure.InvalidAuthorization",
    "AuthFailure.InvalidSecretId",
    "RequestLimitExceeded",
    "InternalError",
    "UnauthorizedOperation.Arrears",
    "UnauthorizedOperation.Nonactivated",
    "InvalidAction",
    "NoSuchVersion",
    "UnknownParameter",
    "MissingParameter",
    "InvalidParameter",
    "InvalidParameterValue",
    F + "DecryptSystemError",
    F + "CompareSystemError",
}

BILLING: dict[str, tuple[bool | None, str]] = {
    **dict.fromkeys(TENCENT_BILLED, (True, codes.DOC_BILLED)),
    **dict.fromkeys(TENCENT_FREE, (False, codes.DOC_FREE)),
    **dict.fromkeys(NOT_SAID, (None, codes.UNKNOWN)),
    **dict.fromkeys(REFUSED, (False, codes.OURS_FREE)),
}


@pytest.mark.parametrize(("code", "expected"), sorted(BILLING.items()))
def test_billing_of_the_named_codes(code: str, expected: tuple[bool | None, str]) -> None:
    info = codes.FACEID_CODES.lookup(code)
    assert info.code == code  # catalogued, not an unknown pass-through
    assert (info.billable, codes.BILLING_SOURCE[code]) == expected


#: What each source means for the flag.
FLAG = {codes.DOC_BILLED: True, codes.DOC_FREE: False, codes.OURS_FREE: False, codes.UNKNOWN: None}


def test_every_code_says_where_its_billing_comes_from() -> None:
    assert set(codes.BILLING_SOURCE) == set(codes.FACEID_CODES.entries)
    for code, info in codes.FACEID_CODES.entries.items():
        assert info.billable is FLAG[codes.BILLING_SOURCE[code]], code
    # Only what Tencent's page says is billed is billed.
    billed = {code for code, info in codes.FACEID_CODES.entries.items() if info.billable}
    assert billed == TENCENT_BILLED


#: PROTOCOLS.md §3's named codes: what a caller should do.
CLASSES: dict[str, tuple[ErrorClass, Reason]] = {
    "Success": (ErrorClass.SUCCESS, Reason.MATCH),
    # The app decides on Sim against its own threshold: a comparison, like Success.
    F + "CompareLowSimilarity": (ErrorClass.SUCCESS, Reason.LOW_SIMILARITY),
    F + "IdNameMisMatch": (ErrorClass.INPUT, Reason.NAME_MISMATCH),
    F + "IdFormatError": (ErrorClass.INPUT, Reason.INVALID_INPUT),
    F + "NameFormatError": (ErrorClass.INPUT, Reason.INVALID_INPUT),
    F + "IdNoExistSystem": (ErrorClass.INPUT, Reason.ID_NOT_FOUND),
    F + "IdPhotoNoExist": (ErrorClass.INPUT, Reason.NO_REGISTRY_PHOTO),
    F + "LifePhotoDetectNoFaces": (ErrorClass.INPUT, Reason.NO_FACE),
    F + "LifePhotoDetectFaces": (ErrorClass.INPUT, Reason.MULTIPLE_FACES),
    F + "LifePhotoDetectFake": (ErrorClass.INPUT, Reason.SPOOF_SUSPECTED),
    F + "LifePhotoPoorQuality": (ErrorClass.INPUT, Reason.POOR_QUALITY),
    F + "CompareSystemError": (ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE),
    # An operator must fix the key (README: class configuration).
    F + "DecryptSystemError": (ErrorClass.CONFIGURATION, Reason.CONFIGURATION),
    # "timestamp more than 5 minutes off": sign again.
    "AuthFailure.SignatureExpire": (ErrorClass.RESIGN, Reason.SIGNATURE_REJECTED),
    "AuthFailure.SignatureFailure": (ErrorClass.CONFIGURATION, Reason.CONFIGURATION),
    "AuthFailure.SecretIdNotFound": (ErrorClass.CONFIGURATION, Reason.CONFIGURATION),
    "RequestLimitExceeded": (ErrorClass.TRANSIENT, Reason.RATE_LIMITED),
    "InternalError": (ErrorClass.TRANSIENT, Reason.PROVIDER_UNAVAILABLE),
    "UnauthorizedOperation.Arrears": (ErrorClass.CONFIGURATION, Reason.ACCOUNT_PROBLEM),
    "UnauthorizedOperation.Nonactivated": (ErrorClass.CONFIGURATION, Reason.ACCOUNT_PROBLEM),
}


@pytest.mark.parametrize(("code", "expected"), sorted(CLASSES.items()))
def test_class_and_reason_of_the_named_codes(
    code: str, expected: tuple[ErrorClass, Reason]
) -> None:
    info = codes.FACEID_CODES.lookup(code)
    assert (info.error_class, info.reason) == expected


def test_tencents_fixed_bar() -> None:
    # "Recommended threshold Sim >= 70"; the SDK: a fixed bar of 70 for Result.
    assert codes.TENCENT_PASS_MARK == 70.0
    assert FaceIdBackend.default_threshold == 70.0


def test_transport_pseudo_codes_come_from_the_shared_catalogue() -> None:
    info = codes.FACEID_CODES.lookup("transport.timeout")
    assert (info.error_class, info.billable) == (ErrorClass.TRANSIENT, None)
    assert codes.FACEID_CODES.lookup("FailedOperation.Nope").error_class is ErrorClass.UNKNOWN


@pytest.mark.parametrize("info", list(codes.FACEID_CODES), ids=lambda i: i.code)
def test_texts_in_both_languages(info: CodeInfo) -> None:
    assert re.search(r"[\u4e00-\u9fff]", info.zh_hans), info.code
    assert info.en and not re.search(r"[\u4e00-\u9fff]", info.en), info.code
