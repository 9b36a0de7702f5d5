"""Wire protocols over the shared core: one module per protocol."""

from __future__ import annotations

from .base import PendingRecord, ProtocolHandler, Reply, ReplyAction, Request
from .faceid import FaceIdImageRecognitionV2
from .legacy import LegacyIdCardCompare

__all__ = [
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
    return [LegacyIdCardCompare(), FaceIdImageRecognitionV2()]
