"""Wire protocols over the shared core: one module per protocol."""

from __future__ import annotations

from .aliyun import CloudauthContrastFaceVerify
from .base import PendingRecord, ProtocolHandler, Reply, ReplyAction, Request
from .faceid import FaceIdImageRecognitionV2
from .faceid_precheck import FaceIdDetectAIFakeFaces
from .legacy import LegacyIdCardCompare

__all__ = [
    "CloudauthContrastFaceVerify",
    "FaceIdDetectAIFakeFaces",
    "FaceIdImageRecognitionV2",
    "LegacyIdCardCompare",
    "PendingRecord",
    "ProtocolHandler",
    "Reply",
    "ReplyAction",
    "Request",
    "default_protocols",
]


def default_protocols() -> list[ProtocolHandler]:
    # Cloudauth before FaceID: both answer POST /, Cloudauth claims the x-acs-* requests; the
    # FaceID pre-check claims its own X-TC-Action before ImageRecognitionV2 answers the rest.
    return [
        LegacyIdCardCompare(),
        CloudauthContrastFaceVerify(),
        FaceIdDetectAIFakeFaces(),
        FaceIdImageRecognitionV2(),
    ]
