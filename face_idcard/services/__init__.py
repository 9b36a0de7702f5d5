"""The services layer: plain functions, usable without Celery.

- :func:`submit` validates, stores (encrypted) and enqueues on commit;
- :func:`run` claims an attempt, calls the backend and records the outcome (the Celery task
  is a thin wrapper around it);
- :func:`review`, :func:`rerun`, :func:`cancel`, :func:`redact`, :func:`set_legal_hold`, :func:`reveal_pii` for
  staff and the host site (each checks the acting user's permission, :mod:`..permissions`);
- :func:`sweep` and :func:`purge` for the periodic tasks, :func:`rotate_keys` for key rotation.
"""

from __future__ import annotations

from ..exceptions import BackendUnavailable
from .common import (
    AttemptLimitExceeded,
    ConsentRequired,
    LegalHoldActive,
    PersonalInformationUnavailable,
    enqueue,
)
from .operations import cancel, pending_review, reveal_pii, reveal_selfie, review
from .pipeline import RunOutcome, backoff, decide, run
from .rerun import can_rerun, rerun
from .retention import purge, redact, rotate_keys, set_legal_hold
from .submission import submit
from .sweeper import sweep

__all__ = [
    "AttemptLimitExceeded",
    "BackendUnavailable",
    "ConsentRequired",
    "LegalHoldActive",
    "PersonalInformationUnavailable",
    "RunOutcome",
    "backoff",
    "can_rerun",
    "cancel",
    "decide",
    "enqueue",
    "pending_review",
    "purge",
    "redact",
    "rerun",
    "reveal_pii",
    "reveal_selfie",
    "review",
    "rotate_keys",
    "run",
    "set_legal_hold",
    "submit",
    "sweep",
]
