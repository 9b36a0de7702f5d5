"""The legacy backend under its old import path (:mod:`face_idcard.providers.legacy.backend`)."""

from ..providers.legacy.backend import LEGACY_LIMITS, LegacyBackend

__all__ = ["LEGACY_LIMITS", "LegacyBackend"]
