"""The simulator backend under its old import path (:mod:`face_idcard.providers.legacy.backend`)."""

from ..providers.legacy.backend import SimulatorBackend

__all__ = ["SimulatorBackend"]
