"""The legacy idcardcompare API's codes as data: class, neutral reason, billing, meanings.

The classes follow ``shared/spec/PROTOCOLS.md`` §2.4. Tencent publishes no classification for
this API, nor which outcomes it bills; both are ours: a comparison, or a refusal made after the
identity lookup (name mismatch, no face in the selfie, no usable registry photo), is counted as
billed; errors before the lookup (signature, account, parameters) are not. Free of Django so the
client and the simulator can use it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...outcome import (
    GENERIC,
    TRANSPORT_BAD_RESPONSE,
    TRANSPORT_CONNECTION,
    TRANSPORT_TIMEOUT,
    Catalogue,
    CodeInfo,
    ErrorClass,
    Reason,
    normalise_code,
)

__all__ = [
    "ARREARS_MESSAGE_MARKER",
    "CATALOGUE",
    "LEGACY_CODES",
    "TRANSPORT_BAD_RESPONSE",
    "TRANSPORT_CONNECTION",
    "TRANSPORT_TIMEOUT",
    "URL_MODE_FETCH_CODES",
    "CodeInfo",
    "ErrorClass",
    "ErrorInfo",
    "classify",
    "is_account_in_arrears",
    "lookup",
    "normalise_code",
]

#: The name this module used to export; the entries are :class:`CodeInfo` now.
ErrorInfo = CodeInfo

#: The message the legacy API returns with code 3 when the account is in arrears.
ARREARS_MESSAGE_MARKER = "errorno is:2"

_r = Reason
_T = ErrorClass.TRANSIENT
_R = ErrorClass.RESIGN
_U = ErrorClass.URL_FETCH
_C = ErrorClass.CONFIGURATION
_I = ErrorClass.INPUT

_ENTRIES: tuple[tuple[str, ErrorClass, Reason, bool | None, str, str], ...] = (
    ("0", ErrorClass.SUCCESS, _r.MATCH, True, "成功", "OK"),
    # Legacy idcardcompare codes (idcardcompare.md) and related image/face codes (PROTOCOLS.md §2.4).
    (
        "3",
        _C,
        _r.ACCOUNT_PROBLEM,
        False,
        "错误的请求（账号欠费停服时 message 为 account abnormal,errorno is:2）",
        "Bad request (with message 'account abnormal,errorno is:2' the account is suspended for arrears)",
    ),
    ("4", _C, _r.CONFIGURATION, False, "签名为空", "The signature is empty"),
    ("5", _C, _r.CONFIGURATION, False, "签名串错误", "The signature string is malformed"),
    (
        "6",
        _C,
        _r.CONFIGURATION,
        False,
        "签名中的 appid/bucket 与操作目标不匹配",
        "The appid/bucket in the signature does not match the request",
    ),
    (
        "7",
        _T,
        _r.PROVIDER_UNAVAILABLE,
        False,
        "签名编码失败（内部错误）",
        "Signature encoding failed (internal error)",
    ),
    (
        "8",
        _T,
        _r.PROVIDER_UNAVAILABLE,
        False,
        "签名解码失败（内部错误）",
        "Signature decoding failed (internal error)",
    ),
    ("9", _R, _r.SIGNATURE_REJECTED, False, "签名过期", "The signature has expired"),
    ("10", _C, _r.CONFIGURATION, False, "appid 不存在", "The appid does not exist"),
    ("11", _C, _r.CONFIGURATION, False, "secretid 不存在", "The SecretId does not exist"),
    (
        "12",
        _C,
        _r.CONFIGURATION,
        False,
        "appid 和 secretid 不匹配",
        "The appid and SecretId do not match",
    ),
    ("13", _R, _r.SIGNATURE_REJECTED, False, "重放攻击", "Replayed request"),
    ("14", _C, _r.CONFIGURATION, False, "签名校验失败", "Signature verification failed"),
    (
        "15",
        _T,
        _r.RATE_LIMITED,
        False,
        "操作太频繁，触发频控",
        "Too many requests: rate limit reached",
    ),
    ("16", _C, _r.CONFIGURATION, False, "Bucket 不存在", "The bucket does not exist"),
    ("21", _I, _r.INVALID_INPUT, False, "无效参数", "Invalid parameter"),
    ("23", _I, _r.INVALID_INPUT, False, "请求包体过大", "The request body is too large"),
    (
        "24",
        _C,
        _r.ACCOUNT_PROBLEM,
        False,
        "无权限，未申请服务",
        "Not authorised: the service has not been applied for",
    ),
    ("25", _C, _r.ACCOUNT_PROBLEM, False, "已购买的用量已用完", "The purchased quota is used up"),
    (
        "107",
        _T,
        _r.PROVIDER_UNAVAILABLE,
        False,
        "鉴权服务不可用",
        "The authentication service is unavailable",
    ),
    (
        "108",
        _T,
        _r.PROVIDER_UNAVAILABLE,
        False,
        "鉴权服务不可用",
        "The authentication service is unavailable",
    ),
    ("200", _T, _r.PROVIDER_UNAVAILABLE, False, "内部错误", "Internal error"),
    ("201", _T, _r.PROVIDER_UNAVAILABLE, False, "内部错误", "Internal error"),
    ("202", _T, _r.PROVIDER_UNAVAILABLE, False, "内部错误", "Internal error"),
    ("203", _T, _r.PROVIDER_UNAVAILABLE, False, "内部错误", "Internal error"),
    ("213", _T, _r.PROVIDER_UNAVAILABLE, False, "内部错误", "Internal error"),
    ("-1101", _I, _r.NO_FACE, False, "人脸检测失败", "Face detection failed"),
    ("-1102", _I, _r.IMAGE_UNREADABLE, False, "图片解码失败", "The image could not be decoded"),
    ("-1300", _I, _r.IMAGE_UNREADABLE, False, "图片为空", "The image is empty"),
    (
        "-1308",
        _U,
        _r.IMAGE_FETCH_FAILED,
        False,
        "url 图片下载失败",
        "The image could not be downloaded from the url",
    ),
    ("-1400", _I, _r.IMAGE_UNREADABLE, False, "非法的图片格式", "Unsupported image format"),
    ("-1403", _U, _r.IMAGE_FETCH_FAILED, False, "图片下载失败", "The image download failed"),
    (
        "-4006",
        _I,
        _r.NO_FACE,
        False,
        "视频中自拍照特征提取失败",
        "Feature extraction from the video selfie failed",
    ),
    (
        "-4007",
        _I,
        _r.POOR_QUALITY,
        False,
        "视频中自拍照之间对比失败",
        "Comparison between video selfies failed",
    ),
    (
        "-4009",
        _I,
        _r.NO_REGISTRY_PHOTO,
        True,
        "Card 照片提取特征失败",
        "Feature extraction from the ID card photo failed",
    ),
    (
        "-4010",
        _I,
        _r.POOR_QUALITY,
        True,
        "自拍照与 Card 照片相似度计算失败",
        "Similarity between selfie and ID card photo could not be computed",
    ),
    ("-4011", _I, _r.IMAGE_UNREADABLE, False, "照片解码失败", "The photo could not be decoded"),
    ("-4012", _I, _r.NO_FACE, False, "照片人脸检测失败", "No face detected in the photo"),
    ("-4015", _I, _r.NO_FACE, True, "自拍照人脸检测失败", "No face detected in the selfie"),
    ("-4016", _I, _r.IMAGE_UNREADABLE, False, "自拍照解码失败", "The selfie could not be decoded"),
    (
        "-4017",
        _I,
        _r.NO_REGISTRY_PHOTO,
        True,
        "Card 照片人脸检测失败",
        "No face detected in the ID card photo",
    ),
    (
        "-4018",
        _I,
        _r.NO_REGISTRY_PHOTO,
        True,
        "Card 照片解码失败",
        "The ID card photo could not be decoded",
    ),
    ("-5001", _I, _r.INVALID_INPUT, False, "视频无效，上传文件不符合视频要求", "Invalid video"),
    ("-5002", _I, _r.SPOOF_SUSPECTED, False, "唇语失败", "Lip-reading check failed"),
    (
        "-5005",
        _I,
        _r.POOR_QUALITY,
        False,
        "自拍照解析照片不足，视频里检测到的人脸较少",
        "Too few faces detected in the video",
    ),
    ("-5007", _I, _r.INVALID_INPUT, False, "视频没有声音", "The video has no sound"),
    (
        "-5008",
        _I,
        _r.SPOOF_SUSPECTED,
        False,
        "语音识别失败，视频里的人读错数字",
        "Speech recognition failed: wrong digits read",
    ),
    (
        "-5009",
        _I,
        _r.NO_FACE,
        False,
        "视频人脸检测失败，没有嘴或者脸",
        "No face or mouth detected in the video",
    ),
    (
        "-5010",
        _I,
        _r.SPOOF_SUSPECTED,
        False,
        "唇动检测失败，视频里的人嘴巴未张开或者张开幅度小",
        "Lip movement not detected",
    ),
    ("-5011", _I, _r.SPOOF_SUSPECTED, False, "活体检测失败", "Liveness check failed"),
    ("-5012", _I, _r.POOR_QUALITY, False, "视频中噪声太大", "The video is too noisy"),
    ("-5013", _I, _r.POOR_QUALITY, False, "视频里的声音太小", "The video's sound is too quiet"),
    (
        "-5014",
        _I,
        _r.INVALID_INPUT,
        False,
        "活体检测 level 参数无效",
        "Invalid liveness level parameter",
    ),
    (
        "-5015",
        _I,
        _r.POOR_QUALITY,
        False,
        "视频像素太低，最小 270*480",
        "The video resolution is too low (minimum 270x480)",
    ),
    (
        "-5016",
        _I,
        _r.SPOOF_SUSPECTED,
        False,
        "视频里的人不是活体（翻拍等攻击）",
        "The person in the video is not live (spoofing)",
    ),
    (
        "-5801",
        _I,
        _r.INVALID_INPUT,
        False,
        "请求缺少身份证号码或身份证姓名",
        "The ID number or name is missing",
    ),
    (
        "-5802",
        _T,
        _r.PROVIDER_UNAVAILABLE,
        False,
        "服务器内部错误，服务暂时不可用",
        "Internal server error: the service is temporarily unavailable",
    ),
    (
        "-5803",
        _I,
        _r.NAME_MISMATCH,
        True,
        "身份证姓名与身份证号码不一致",
        "The name does not match the ID number",
    ),
    ("-5804", _I, _r.ID_NOT_FOUND, False, "身份证号码无效", "The ID number is invalid"),
    (
        "-5805",
        _I,
        _r.IMAGE_FETCH_FAILED,
        False,
        "用户未输入图像或者 url 下载失败",
        "No image was given, or the url could not be downloaded",
    ),
)

#: Codes that mean "the url could not be fetched" when the request was in url mode.
URL_MODE_FETCH_CODES = frozenset({"-5805", "-1308", "-1403"})

LEGACY_CODES = Catalogue(
    [
        CodeInfo(code, cls, reason, billable, zh, en)
        for code, cls, reason, billable, zh, en in _ENTRIES
    ],
    fallback=GENERIC,
)

#: Every code this API can answer with, plus the shared transport and internal pseudo-codes.
CATALOGUE: Mapping[str, CodeInfo] = {**GENERIC.entries, **LEGACY_CODES.entries}


def lookup(code: int | str | None) -> CodeInfo:
    """The catalogue entry for ``code``; an unknown code gets an UNKNOWN entry, never an error."""
    return LEGACY_CODES.lookup(code)


def classify(code: int | str | None, *, url_mode: bool = False) -> ErrorClass:
    """The class of ``code``. In url mode, download failures (-5805 …) are URL_FETCH."""
    key = normalise_code(code)
    if url_mode and key in URL_MODE_FETCH_CODES:
        return ErrorClass.URL_FETCH
    if not url_mode and key in URL_MODE_FETCH_CODES:
        # Without a url there was nothing to download: the image itself was missing or bad.
        return ErrorClass.INPUT
    return lookup(key).error_class


def is_account_in_arrears(code: int | str | None, message: str | None) -> bool:
    """Code 3 with ``errorno is:2`` is the legacy API's way of saying the account is suspended."""
    return normalise_code(code) == "3" and ARREARS_MESSAGE_MARKER in (message or "")
