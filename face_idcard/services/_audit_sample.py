"""The audit sample: a random share of decided attempts, of every score, sent to review.

Reviews of the review band alone see only scores near the threshold; the threshold's
calibration (face_idcard.insight.calibration) needs reviewers' verdicts across all scores.
The machine's decision stands (the person is not held up); the attempt is marked
``audit_sample`` and waits in the review queue beside the review band.
"""

from __future__ import annotations

import secrets

from ..conf import face_idcard_settings
from ..states import Decision

_RESOLUTION = 1_000_000


def draw(decision: Decision) -> bool:
    """Whether an attempt the machine decided so joins the audit sample."""
    if decision is Decision.REVIEW:
        return False  # already reviewed as part of the band
    rate = float(face_idcard_settings.REVIEW_AUDIT_SAMPLE_RATE or 0.0)
    if rate <= 0:
        return False
    return secrets.randbelow(_RESOLUTION) < rate * _RESOLUTION
