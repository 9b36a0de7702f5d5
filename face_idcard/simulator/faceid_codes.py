"""FaceID (Tencent Cloud API 3.0) codes the simulator answers, and which outcome answers each.

Texts follow the catalogue of the official SDK (``tencentcloud-sdk-python-faceid``,
``errorcodes.py``) in Chinese, with an English rendering; the simulator answers in English
when the request says ``X-TC-Language: en-US``. ``Success`` and the ``FailedOperation.*``
codes are business results: by default they come back in ``Response.Result`` (HTTP 200, no
``Error``), as the SDK's response model documents; the simulator can also answer them as
``Response.Error.Code`` (PROTOCOLS.md §3 leaves it OPEN). Every other code is an
``Error.Code``.

Billable (see :mod:`.outcomes`): ``Success``, ``CompareLowSimilarity``, ``IdNameMisMatch``,
``IdNoExistSystem``, ``IdPhotoNoExist``, ``LifePhotoDetectNoFaces``, ``LifePhotoDetectFaces``,
``LifePhotoDetectFake``, ``LifePhotoPoorQuality``. Nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .outcomes import Outcome

__all__ = [
    "CATALOGUE",
    "LOW_SIMILARITY",
    "OUTCOME_CODES",
    "PASS_SIMILARITY",
    "SUCCESS",
    "FaceIdCode",
    "code_for",
    "is_business_result",
]

SUCCESS = "Success"
LOW_SIMILARITY = "FailedOperation.CompareLowSimilarity"
#: Tencent's fixed bar: ``Result`` is Success from this Sim up (the SDK's model documents 70).
PASS_SIMILARITY = 70.0


@dataclass(frozen=True)
class FaceIdCode:
    code: str
    zh: str
    en: str

    @property
    def billable(self) -> bool:
        return self.code in _BILLABLE_CODES


def _table(*rows: tuple[str, str, str]) -> MappingProxyType[str, FaceIdCode]:
    return MappingProxyType({code: FaceIdCode(code, zh, en) for code, zh, en in rows})


CATALOGUE = _table(
    (SUCCESS, "成功", "Success"),
    (LOW_SIMILARITY, "比对相似度未达到通过标准。", "The similarity is below the pass mark."),
    (
        "FailedOperation.IdNameMisMatch",
        "姓名和身份证号不一致，请核实后重试。",
        "The name does not match the ID number.",
    ),
    (
        "FailedOperation.IdNoExistSystem",
        "库中无此号，请到户籍所在地进行核实。",
        "The ID number is not in the registry.",
    ),
    (
        "FailedOperation.IdPhotoNoExist",
        "库中无此号照片，请到户籍所在地进行核实。",
        "The registry has no photo for this ID number.",
    ),
    ("FailedOperation.IdFormatError", "输入的身份证号有误。", "The ID number is malformed."),
    ("FailedOperation.NameFormatError", "输入的姓名有误。", "The name is malformed."),
    (
        "FailedOperation.LifePhotoDetectNoFaces",
        "未能检测到完整人脸。",
        "No complete face was found in the photo.",
    ),
    ("FailedOperation.LifePhotoDetectFaces", "检测到多张人脸。", "Several faces were found."),
    (
        "FailedOperation.LifePhotoDetectFake",
        "实人比对没通过。",
        "The photo is not of a live person.",
    ),
    (
        "FailedOperation.LifePhotoPoorQuality",
        "传入图片分辨率太低，请重新上传。",
        "The photo's resolution is too low.",
    ),
    (
        "FailedOperation.LifePhotoSizeError",
        "传入图片过大或过小。",
        "The photo is too large or small.",
    ),
    ("FailedOperation.ImageDecodeFailed", "图片解码失败。", "The image could not be decoded."),
    ("FailedOperation.ImageSizeTooLarge", "图片尺寸过大。", "The image is too large."),
    ("FailedOperation.EmptyImageError", "图片内容为空。", "The image is empty."),
    ("FailedOperation.DownLoadError", "文件下载失败。", "The file could not be downloaded."),
    ("FailedOperation.DecryptSystemError", "解密失败。", "Decryption failed."),
    (
        "FailedOperation.CompareSystemError",
        "调用比对引擎接口出错。",
        "The comparison engine failed.",
    ),
    ("FailedOperation.UnKnown", "内部未知错误。", "Unknown internal error."),
    ("InternalError", "内部错误。", "Internal error."),
    ("UnauthorizedOperation.Arrears", "账号已欠费。", "The account is in arrears."),
    (
        "UnauthorizedOperation.Nonactivated",
        "未开通服务。",
        "The service has not been activated.",
    ),
    (
        "RequestLimitExceeded",
        "请求的次数超过了频率限制。",
        "Too many requests: rate limit reached.",
    ),
    ("RequestSizeLimitExceeded", "请求包超过限制大小。", "The request body is too large."),
    ("InvalidAction", "接口不存在。", "The action does not exist."),
    ("NoSuchVersion", "接口版本不存在。", "The API version does not exist."),
    ("UnknownParameter", "未知参数错误。", "Unknown parameter."),
    ("MissingParameter", "缺少参数错误。", "A required parameter is missing."),
    ("InvalidParameter", "参数错误。", "Invalid parameter."),
    ("InvalidParameterValue", "参数取值错误。", "Invalid parameter value."),
    (
        "InvalidParameter.UnsupportEncryptField",
        "存在不加密的字段，请参考文档修改。",
        "A field in EncryptList cannot be encrypted.",
    ),
    (
        "AuthFailure.InvalidAuthorization",
        "CAM签名/鉴权错误。",
        "The Authorization header is invalid.",
    ),
    (
        "AuthFailure.InvalidSecretId",
        "密钥非法（不是云 API 密钥类型）。",
        "The SecretId is not an API key.",
    ),
    ("AuthFailure.SecretIdNotFound", "密钥不存在。", "The SecretId does not exist."),
    ("AuthFailure.SignatureExpire", "签名过期。", "The signature has expired."),
    ("AuthFailure.SignatureFailure", "签名错误。", "The signature is wrong."),
)

#: Outcome -> code. COMPARED answers Success or CompareLowSimilarity by its score (code_for);
#: transport outcomes (502, drop, hang) have no code.
OUTCOME_CODES: MappingProxyType[Outcome, str] = MappingProxyType(
    {
        Outcome.COMPARED: SUCCESS,
        Outcome.NAME_MISMATCH: "FailedOperation.IdNameMisMatch",
        Outcome.NOT_REGISTERED: "FailedOperation.IdNoExistSystem",
        Outcome.ID_PHOTO_MISSING: "FailedOperation.IdPhotoNoExist",
        Outcome.NO_FACE: "FailedOperation.LifePhotoDetectNoFaces",
        Outcome.MULTIPLE_FACES: "FailedOperation.LifePhotoDetectFaces",
        Outcome.SPOOFED: "FailedOperation.LifePhotoDetectFake",
        Outcome.POOR_QUALITY: "FailedOperation.LifePhotoPoorQuality",
        Outcome.MISSING_FIELDS: "FailedOperation.IdFormatError",
        Outcome.INVALID_ID: "FailedOperation.IdFormatError",
        Outcome.INVALID_NAME: "FailedOperation.NameFormatError",
        Outcome.NO_IMAGE: "FailedOperation.EmptyImageError",
        Outcome.URL_FETCH_FAILED: "FailedOperation.DownLoadError",
        Outcome.UNSUPPORTED_FORMAT: "FailedOperation.ImageDecodeFailed",
        Outcome.UNDECODABLE_IMAGE: "FailedOperation.ImageDecodeFailed",
        Outcome.IMAGE_TOO_LARGE: "FailedOperation.ImageSizeTooLarge",
        Outcome.DECRYPT_FAILED: "FailedOperation.DecryptSystemError",
        Outcome.BAD_REQUEST: "InvalidParameter",
        Outcome.BODY_TOO_LARGE: "RequestSizeLimitExceeded",
        Outcome.SIGNATURE_EMPTY: "AuthFailure.InvalidAuthorization",
        Outcome.SIGNATURE_MALFORMED: "AuthFailure.InvalidAuthorization",
        Outcome.SIGNATURE_TARGET_MISMATCH: "AuthFailure.SignatureFailure",
        Outcome.SIGNATURE_EXPIRED: "AuthFailure.SignatureExpire",
        Outcome.UNKNOWN_SECRET_ID: "AuthFailure.SecretIdNotFound",
        Outcome.INVALID_SECRET_ID: "AuthFailure.InvalidSecretId",
        Outcome.APPID_SECRET_ID_MISMATCH: "AuthFailure.SecretIdNotFound",
        Outcome.SIGNATURE_MISMATCH: "AuthFailure.SignatureFailure",
        Outcome.RATE_LIMITED: "RequestLimitExceeded",
        Outcome.INTERNAL_ERROR: "InternalError",
        Outcome.SERVICE_UNAVAILABLE: "FailedOperation.CompareSystemError",
        Outcome.ARREARS: "UnauthorizedOperation.Arrears",
        Outcome.NOT_ACTIVATED: "UnauthorizedOperation.Nonactivated",
    }
)

_BILLABLE_CODES = frozenset(
    {LOW_SIMILARITY} | {code for outcome, code in OUTCOME_CODES.items() if outcome.billable}
)


def code_for(outcome: Outcome, similarity: float) -> str | None:
    """The code answering ``outcome`` (None for a transport outcome)."""
    if outcome is Outcome.COMPARED and similarity < PASS_SIMILARITY:
        return LOW_SIMILARITY
    return OUTCOME_CODES.get(outcome)


def is_business_result(code: str) -> bool:
    """Success and FailedOperation.* are business results; the rest are API errors."""
    return code == SUCCESS or code.startswith("FailedOperation.")
