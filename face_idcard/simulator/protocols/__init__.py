"""Wire protocols over the shared core: one module per protocol."""

from __future__ import annotations

from .aliyun import CloudauthContrastFaceVerify
from .base import PendingRecord, ProtocolHandler, Reply, ReplyAction, Request
from .faceid import FaceIdImageRecognitionV2
from .legacy import LegacyIdCardCompare

__all__ = [
    "CloudauthContrastFaceVerify",
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
    # Cloudauth before FaceID: both answer POST /, Cloudauth claims the x-acs-* requests.
    return [LegacyIdCardCompare(), CloudauthContrastFaceVerify(), FaceIdImageRecognitionV2()]
