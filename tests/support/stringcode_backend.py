"""A test backend whose provider answers with string codes, shaped like FaceID's.

It speaks a small JSON protocol (``{"Response": {"Sim", "Result", "RequestId"}}`` or
``{"Response": {"Error": {"Code", "Message"}}}``) to a scripted server over real HTTP, and
keeps its codes as data in its own catalogue. It proves that generic code (pipeline, sweeper,
reasons, billing) needs nothing from the legacy catalogue: every decision comes through the
neutral outcome.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import requests

# A provider of a site's own needs nothing beyond the backends package and the exceptions.
from face_idcard.backends import (
    GENERIC,
    TRANSPORT_BAD_RESPONSE,
    TRANSPORT_CONNECTION,
    Backend,
    BackendSettings,
    Catalogue,
    CodeInfo,
    ErrorClass,
    ImageLimits,
    Option,
    ProviderOutcome,
    Reason,
    VerificationRequest,
)
from face_idcard.exceptions import ProviderBadResponse, ProviderConnectionError

_S, _I, _T, _C, _R, _U = (
    ErrorClass.SUCCESS,
    ErrorClass.INPUT,
    ErrorClass.TRANSIENT,
    ErrorClass.CONFIGURATION,
    ErrorClass.RESIGN,
    ErrorClass.URL_FETCH,
)

STRING_CODES = Catalogue(
    [
        CodeInfo("Success", _S, Reason.MATCH, True, "成功", "OK"),
        CodeInfo(
            "FailedOperation.CompareLowSimilarity",
            _S,
            Reason.LOW_SIMILARITY,
            True,
            "比对相似度未达到通过标准",
            "Similarity below the provider's bar",
        ),
        CodeInfo(
            "FailedOperation.IdNameMisMatch",
            _I,
            Reason.NAME_MISMATCH,
            True,
            "身份证号码与姓名不一致",
            "The name does not match the ID number",
        ),
        CodeInfo(
            "FailedOperation.LifePhotoDetectFaces",
            _I,
            Reason.MULTIPLE_FACES,
            False,
            "检测到多张人脸",
            "Several faces detected",
        ),
        CodeInfo(
            "RequestLimitExceeded", _T, Reason.RATE_LIMITED, False, "请求频率超限", "Rate limit"
        ),
        CodeInfo(
            "InternalError", _T, Reason.PROVIDER_UNAVAILABLE, False, "内部错误", "Internal error"
        ),
        CodeInfo(
            "AuthFailure.SignatureExpire",
            _R,
            Reason.SIGNATURE_REJECTED,
            False,
            "签名过期",
            "The signature expired",
        ),
        CodeInfo(
            "FailedOperation.DownLoadError",
            _U,
            Reason.IMAGE_FETCH_FAILED,
            False,
            "图片下载失败",
            "The image could not be downloaded",
        ),
        CodeInfo(
            "UnauthorizedOperation.Arrears",
            _C,
            Reason.ACCOUNT_PROBLEM,
            False,
            "账号已欠费",
            "The account is in arrears",
        ),
    ],
    fallback=GENERIC,
)


class StringCodeBackend(Backend):
    provider = "stringcode"
    default_threshold = 70.0
    accepts_url = False
    base_image_limits = ImageLimits(max_bytes=3 * 1024 * 1024, formats=frozenset({"JPEG", "PNG"}))
    pii_keys = frozenset({"IdCard", "Name", "ImageBase64"})
    catalogue = STRING_CODES
    billing_rule = "Test provider: a comparison and a name mismatch are billed."
    options = MappingProxyType({"ENDPOINT": Option(required=True)})

    def __init__(self, config: BackendSettings) -> None:
        super().__init__(config)
        self.endpoint = str(self.option("ENDPOINT"))
        self.session = requests.Session()

    def call_provider(self, request: VerificationRequest) -> ProviderOutcome:
        try:
            response = self.session.post(
                self.endpoint,
                json={"IdCard": request.idcard_number, "Name": request.idcard_name},
                timeout=(self.config.connect_timeout, self.config.read_timeout),
            )
            body = response.json()
        except requests.ConnectionError:
            raise ProviderConnectionError(TRANSPORT_CONNECTION) from None
        except ValueError:
            raise ProviderBadResponse(TRANSPORT_BAD_RESPONSE) from None
        answer = body.get("Response", {}) if isinstance(body, dict) else {}
        fields: dict[str, Any] = {
            "request_id": str(answer.get("RequestId", "")),
            "raw": body,
            "http_status": response.status_code,
        }
        if "Error" in answer:
            return ProviderOutcome.from_code(self.catalogue, answer["Error"].get("Code"), **fields)
        sim = answer.get("Sim")
        return ProviderOutcome.from_code(
            self.catalogue,
            answer.get("Result"),
            similarity=float(sim) if sim is not None else None,
            provider_result=str(answer.get("Result", "")),
            **fields,
        )

    def close(self) -> None:
        self.session.close()
