"""The status lifecycle of a verification attempt: the ONE place that says what may follow what.

Status (where the attempt is in the pipeline) is kept apart from the decision (what the
comparison said)::

    queued ──► processing ──► completed | rejected | failed
      │  ▲         │   ▲
      │  │         ▼   │
      │  └──── retry_wait
      ▼
    canceled  (from queued or retry_wait only: a call in flight cannot be taken back)

``processing → queued`` is the sweeper taking back an attempt whose worker lost its lease.

Every change is a conditional UPDATE that filters on the status the caller saw, so two
workers (or a worker and the sweeper) can never both win; the loser gets
:class:`ConcurrentTransition`. Asking for a transition the table does not allow raises
:class:`IllegalTransition` before the database is touched.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from .exceptions import ConcurrentTransition, IllegalTransition

if TYPE_CHECKING:
    from collections.abc import Sequence

    from django.db.models import Q
    from django_stubs_ext import StrOrPromise

    from .models import AttemptEvent, VerificationAttempt


class StrChoice(str, enum.Enum):
    """A string enum whose ``str()`` is its value (what the database stores)."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


class Status(StrChoice):
    QUEUED = "queued"
    PROCESSING = "processing"
    RETRY_WAIT = "retry_wait"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELED = "canceled"


class Decision(StrChoice):
    MATCH = "match"
    NO_MATCH = "no_match"
    REVIEW = "review"
    NONE = "none"


class ReviewDecision(StrChoice):
    """What a reviewer concluded; the attempt's ``decision`` keeps what the machine said."""

    MATCH = "match"
    NO_MATCH = "no_match"


# Choices for the model fields, with translated labels. (Plain enums rather than Django's
# TextChoices: the type checker sees TextChoices members with lazy labels as tuples.)
STATUS_CHOICES: list[tuple[str, StrOrPromise]] = [
    (Status.QUEUED.value, _("Queued")),
    (Status.PROCESSING.value, _("Processing")),
    (Status.RETRY_WAIT.value, _("Waiting to retry")),
    (Status.COMPLETED.value, _("Completed")),
    (Status.REJECTED.value, _("Rejected")),
    (Status.FAILED.value, _("Failed")),
    (Status.CANCELED.value, _("Canceled")),
]
DECISION_CHOICES: list[tuple[str, StrOrPromise]] = [
    (Decision.MATCH.value, _("Match")),
    (Decision.NO_MATCH.value, _("No match")),
    (Decision.REVIEW.value, _("Needs review")),
    (Decision.NONE.value, _("None")),
]
REVIEW_DECISION_CHOICES: list[tuple[str, StrOrPromise]] = [
    (ReviewDecision.MATCH.value, _("Match")),
    (ReviewDecision.NO_MATCH.value, _("No match")),
]


# The tables hold plain strings: an enum member hashes by its name, so ``"queued" in {Status.QUEUED}``
# would be False.
_S = Status
#: States an attempt never leaves.
TERMINAL: frozenset[str] = frozenset(
    {_S.COMPLETED.value, _S.REJECTED.value, _S.FAILED.value, _S.CANCELED.value}
)
#: States a worker may claim an attempt from.
CLAIMABLE: frozenset[str] = frozenset({_S.QUEUED.value, _S.RETRY_WAIT.value})

ALLOWED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        _S.QUEUED.value: frozenset({_S.PROCESSING.value, _S.CANCELED.value}),
        _S.RETRY_WAIT.value: frozenset({_S.PROCESSING.value, _S.CANCELED.value}),
        _S.PROCESSING.value: frozenset(
            {
                _S.COMPLETED.value,
                _S.REJECTED.value,
                _S.FAILED.value,
                _S.RETRY_WAIT.value,
                _S.QUEUED.value,  # the sweeper, after the claim lease expired
            }
        ),
        _S.COMPLETED.value: frozenset(),
        _S.REJECTED.value: frozenset(),
        _S.FAILED.value: frozenset(),
        _S.CANCELED.value: frozenset(),
    }
)


def can_transition(current: str, target: str) -> bool:
    return str(target) in ALLOWED.get(str(current), frozenset())


def check_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        raise IllegalTransition(current, target)


def is_terminal(status: str) -> bool:
    return str(status) in TERMINAL


def transition(
    attempt: VerificationAttempt,
    target: str,
    *,
    expected_claim_token: Any = None,
    condition: Q | None = None,
    **fields: Any,
) -> None:
    """Move ``attempt`` to ``target`` and write ``fields`` in one conditional UPDATE.

    The UPDATE only matches while the row still has the status this instance was loaded with
    (and, when given, the worker's ``expected_claim_token`` and the further ``condition`` on
    the row); otherwise nothing is written and :class:`ConcurrentTransition` is raised. On
    success the instance is updated in place.
    """
    current = str(attempt.status)
    target = str(target)
    check_transition(current, target)
    where: dict[str, Any] = {"pk": attempt.pk, "status": current}
    if expected_claim_token is not None:
        where["claim_token"] = expected_claim_token
    # One filter() call: each one clones the query, on the worker's hot path.
    queryset = type(attempt)._base_manager.filter(*([condition] if condition else []), **where)
    updated = queryset.update(status=target, **fields)
    if updated != 1:
        raise ConcurrentTransition(current, target, detail="the attempt changed meanwhile")
    attempt.status = target
    for name, value in fields.items():
        setattr(attempt, name, value)


def transition_with_events(
    attempt: VerificationAttempt,
    target: str,
    events: Sequence[AttemptEvent],
    *,
    expected_claim_token: Any = None,
    condition: Q | None = None,
    **fields: Any,
) -> None:
    """:func:`transition` plus audit events, atomically: both are written or neither."""
    from django.db import router, transaction

    check_transition(str(attempt.status), str(target))  # before the database is touched
    alias = router.db_for_write(type(attempt))
    with transaction.atomic(using=alias):
        transition(
            attempt,
            target,
            expected_claim_token=expected_claim_token,
            condition=condition,
            **fields,
        )
        if events:
            type(events[0]).objects.using(alias).bulk_create(list(events))
