"""The admin review console (registered on import, like any ``admin`` module)."""

from __future__ import annotations

from .attempts import AttemptAwaitingReviewAdmin, VerificationAttemptAdmin

__all__ = ["AttemptAwaitingReviewAdmin", "VerificationAttemptAdmin"]
