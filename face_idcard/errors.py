"""The error catalogue: every provider code with its meaning and what to do about it.

One data structure read by the client, the pipeline, the admin and the API. Codes are kept as
strings so that one column holds both the legacy API's integers (``-5803``) and FaceID's
dotted names (``FailedOperation.IdNameMisMatch``).

The classes follow ``shared/spec/PROTOCOLS.md`` §2.4. Tencent publishes no classification for
the legacy API; this one is ours. This module imports nothing from Django so that the
provider client and the simulator can use it as well.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class ErrorClass(str, enum.Enum):
    """What a caller should do about an outcome."""

    SUCCESS = "success"
    #: Retry with backoff and jitter, bounded (network faults, 5xx, rate limits, internal errors).
    TRANSIENT = "transient"
    #: Sign again and retry once (expired signature, replay).
    RESIGN = "resign"
    #: The provider could not download the image from the url: at most one retry, then fail.
    URL_FETCH = "url_fetch"
    #: Credentials, account or service configuration: no retry, alert operators, not the user's fault.
    CONFIGURATION = "configuration"
    #: The input or the person: final result for this attempt, no retry.
    INPUT = "input"
    #: A code this catalogue does not know: recorded as it came, never retried automatically.
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        return self in (ErrorClass.TRANSIENT, ErrorClass.RESIGN, ErrorClass.URL_FETCH)


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    error_class: ErrorClass
    zh_hans: str
    en: str

    def message(self, language: str | None = None) -> str:
        """The meaning in ``language`` (``zh-hans`` or ``en``; English for anything else)."""
        if language and language.lower().replace("_", "-").startswith("zh"):
            return self.zh_hans
        return self.en


# Pseudo-codes for outcomes that have no provider code: the transport failed before a JSON
# body arrived. They are stored in the same column so every attempt has a code to filter on.
TRANSPORT_TIMEOUT = "transport.timeout"
TRANSPORT_CONNECTION = "transport.connection"
TRANSPORT_BAD_RESPONSE = "transport.bad_response"

#: The message the legacy API returns with code 3 when the account is in arrears.
ARREARS_MESSAGE_MARKER = "errorno is:2"

_T = ErrorClass.TRANSIENT
_R = ErrorClass.RESIGN
_U = ErrorClass.URL_FETCH
_C = ErrorClass.CONFIGURATION
_I = ErrorClass.INPUT

_ENTRIES: tuple[tuple[str, ErrorClass, str, str], ...] = (
    ("0", ErrorClass.SUCCESS, "成功", "OK"),
    # Transport-level outcomes (no JSON body).
    (TRANSPORT_TIMEOUT, _T, "请求超时", "The request timed out"),
    (TRANSPORT_CONNECTION, _T, "无法连接服务器", "Could not connect to the service"),
    (
        TRANSPORT_BAD_RESPONSE,
        _T,
        "服务器返回了无法解析的应答",
        "The service sent a response that is not valid JSON",
    ),
    # Legacy idcardcompare codes (idcardcompare.md) and related image/face codes (PROTOCOLS.md §2.4).
    (
        "3",
        _C,
        "错误的请求（账号欠费停服时 message 为 account abnormal,errorno is:2）",
        "Bad request (with message 'account abnormal,errorno is:2' the account is suspended for arrears)",
    ),
    ("4", _C, "签名为空", "The signature is empty"),
    ("5", _C, "签名串错误", "The signature string is malformed"),
    (
        "6",
        _C,
        "签名中的 appid/bucket 与操作目标不匹配",
        "The appid/bucket in the signature does not match the request",
    ),
    ("7", _T, "签名编码失败（内部错误）", "Signature encoding failed (internal error)"),
    ("8", _T, "签名解码失败（内部错误）", "Signature decoding failed (internal error)"),
    ("9", _R, "签名过期", "The signature has expired"),
    ("10", _C, "appid 不存在", "The appid does not exist"),
    ("11", _C, "secretid 不存在", "The SecretId does not exist"),
    ("12", _C, "appid 和 secretid 不匹配", "The appid and SecretId do not match"),
    ("13", _R, "重放攻击", "Replayed request"),
    ("14", _C, "签名校验失败", "Signature verification failed"),
    ("15", _T, "操作太频繁，触发频控", "Too many requests: rate limit reached"),
    ("16", _C, "Bucket 不存在", "The bucket does not exist"),
    ("21", _I, "无效参数", "Invalid parameter"),
    ("23", _I, "请求包体过大", "The request body is too large"),
    ("24", _C, "无权限，未申请服务", "Not authorised: the service has not been applied for"),
    ("25", _C, "已购买的用量已用完", "The purchased quota is used up"),
    ("107", _T, "鉴权服务不可用", "The authentication service is unavailable"),
    ("108", _T, "鉴权服务不可用", "The authentication service is unavailable"),
    ("200", _T, "内部错误", "Internal error"),
    ("201", _T, "内部错误", "Internal error"),
    ("202", _T, "内部错误", "Internal error"),
    ("203", _T, "内部错误", "Internal error"),
    ("213", _T, "内部错误", "Internal error"),
    ("-1101", _I, "人脸检测失败", "Face detection failed"),
    ("-1102", _I, "图片解码失败", "The image could not be decoded"),
    ("-1300", _I, "图片为空", "The image is empty"),
    ("-1308", _U, "url 图片下载失败", "The image could not be downloaded from the url"),
    ("-1400", _I, "非法的图片格式", "Unsupported image format"),
    ("-1403", _U, "图片下载失败", "The image download failed"),
    ("-4006", _I, "视频中自拍照特征提取失败", "Feature extraction from the video selfie failed"),
    ("-4007", _I, "视频中自拍照之间对比失败", "Comparison between video selfies failed"),
    ("-4009", _I, "Card 照片提取特征失败", "Feature extraction from the ID card photo failed"),
    (
        "-4010",
        _I,
        "自拍照与 Card 照片相似度计算失败",
        "Similarity between selfie and ID card photo could not be computed",
    ),
    ("-4011", _I, "照片解码失败", "The photo could not be decoded"),
    ("-4012", _I, "照片人脸检测失败", "No face detected in the photo"),
    ("-4015", _I, "自拍照人脸检测失败", "No face detected in the selfie"),
    ("-4016", _I, "自拍照解码失败", "The selfie could not be decoded"),
    ("-4017", _I, "Card 照片人脸检测失败", "No face detected in the ID card photo"),
    ("-4018", _I, "Card 照片解码失败", "The ID card photo could not be decoded"),
    ("-5001", _I, "视频无效，上传文件不符合视频要求", "Invalid video"),
    ("-5002", _I, "唇语失败", "Lip-reading check failed"),
    (
        "-5005",
        _I,
        "自拍照解析照片不足，视频里检测到的人脸较少",
        "Too few faces detected in the video",
    ),
    ("-5007", _I, "视频没有声音", "The video has no sound"),
    (
        "-5008",
        _I,
        "语音识别失败，视频里的人读错数字",
        "Speech recognition failed: wrong digits read",
    ),
    ("-5009", _I, "视频人脸检测失败，没有嘴或者脸", "No face or mouth detected in the video"),
    ("-5010", _I, "唇动检测失败，视频里的人嘴巴未张开或者张开幅度小", "Lip movement not detected"),
    ("-5011", _I, "活体检测失败", "Liveness check failed"),
    ("-5012", _I, "视频中噪声太大", "The video is too noisy"),
    ("-5013", _I, "视频里的声音太小", "The video's sound is too quiet"),
    ("-5014", _I, "活体检测 level 参数无效", "Invalid liveness level parameter"),
    (
        "-5015",
        _I,
        "视频像素太低，最小 270*480",
        "The video resolution is too low (minimum 270x480)",
    ),
    (
        "-5016",
        _I,
        "视频里的人不是活体（翻拍等攻击）",
        "The person in the video is not live (spoofing)",
    ),
    ("-5801", _I, "请求缺少身份证号码或身份证姓名", "The ID number or name is missing"),
    (
        "-5802",
        _T,
        "服务器内部错误，服务暂时不可用",
        "Internal server error: the service is temporarily unavailable",
    ),
    ("-5803", _I, "身份证姓名与身份证号码不一致", "The name does not match the ID number"),
    ("-5804", _I, "身份证号码无效", "The ID number is invalid"),
    (
        "-5805",
        _I,
        "用户未输入图像或者 url 下载失败",
        "No image was given, or the url could not be downloaded",
    ),
)

#: Codes that mean "the url could not be fetched" when the request was in url mode.
URL_MODE_FETCH_CODES = frozenset({"-5805", "-1308", "-1403"})

CATALOGUE: Mapping[str, ErrorInfo] = MappingProxyType(
    {code: ErrorInfo(code, cls, zh, en) for code, cls, zh, en in _ENTRIES}
)


def normalise_code(code: int | str | None) -> str:
    """The catalogue key for a code as it came from a provider (int, str or missing)."""
    if code is None:
        return ""
    return str(code).strip()


def lookup(code: int | str | None) -> ErrorInfo:
    """The catalogue entry for ``code``; an unknown code gets an UNKNOWN entry, never an error."""
    key = normalise_code(code)
    info = CATALOGUE.get(key)
    if info is not None:
        return info
    return ErrorInfo(key, ErrorClass.UNKNOWN, f"未知错误码 {key}", f"Unknown error code {key}")


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
