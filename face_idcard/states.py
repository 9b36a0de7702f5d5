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
import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

# Re-exported: the lifecycle exceptions lived here before face_idcard.exceptions held them all.
from .exceptions import ConcurrentTransition as ConcurrentTransition
from .exceptions import IllegalTransition as IllegalTransition

if TYPE_CHECKING:
    from collections.abc import Sequence

    from django.utils.functional import _StrOrPromise as StrOrPromise

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
    **fields: Any,
) -> None:
    """Move ``attempt`` to ``target`` and write ``fields`` in one conditional UPDATE.

    The UPDATE only matches while the row still has the status this instance was loaded with
    (and, when given, the worker's ``expected_claim_token``); otherwise nothing is written and
    :class:`ConcurrentTransition` is raised. On success the instance is updated in place.
    """
    current = str(attempt.status)
    target = str(target)
    check_transition(current, target)
    queryset = type(attempt)._base_manager.filter(pk=attempt.pk, status=current)
    if expected_claim_token is not None:
        queryset = queryset.filter(claim_token=expected_claim_token)
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
    **fields: Any,
) -> None:
    """:func:`transition` plus audit events, atomically: both are written or neither.

    On PostgreSQL this is ONE statement (``WITH moved AS (UPDATE … RETURNING id) INSERT …
    SELECT … FROM moved``): the pipeline's hot path pays one round trip instead of four
    (BEGIN, UPDATE, INSERT, COMMIT). Elsewhere it is a transaction around the same UPDATE.
    """
    from django.db import connections, router, transaction

    current = str(attempt.status)
    target = str(target)
    check_transition(current, target)
    model = type(attempt)
    alias = router.db_for_write(model)
    plain_values = not any(hasattr(v, "resolve_expression") for v in fields.values())
    if connections[alias].vendor != "postgresql" or not events or not plain_values:
        with transaction.atomic(using=alias):
            transition(attempt, target, expected_claim_token=expected_claim_token, **fields)
            if events:
                type(events[0]).objects.using(alias).bulk_create(list(events))
        return
    sql, params = _update_and_insert_sql(
        attempt, current, target, events, expected_claim_token, fields, alias
    )
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchall()
    if len(inserted) != len(events):
        raise ConcurrentTransition(current, target, detail="the attempt changed meanwhile")
    attempt.status = target
    for name, value in fields.items():
        setattr(attempt, name, value)


def _update_and_insert_sql(
    attempt: VerificationAttempt,
    current: str,
    target: str,
    events: Sequence[AttemptEvent],
    expected_claim_token: Any,
    fields: dict[str, Any],
    alias: str,
) -> tuple[str, list[Any]]:
    from django.db import connections

    connection = connections[alias]
    names = tuple(fields)
    sql, update_fields, event_fields = _statement(
        alias, type(attempt), type(events[0]), names, len(events), expected_claim_token is not None
    )
    raws: list[Any] = [target, *fields.values(), attempt.pk, current]
    if expected_claim_token is not None:
        raws.append(expected_claim_token)
    params = [
        field.get_db_prep_save(raw, connection)
        for field, raw in zip(update_fields, raws, strict=True)
    ]
    for item in events:
        row = (item.kind, item.created_at, item.actor_id, item.data)
        params += [
            field.get_db_prep_save(raw, connection)
            for field, raw in zip(event_fields, row, strict=True)
        ]
    return sql, params


_EVENT_COLUMNS = ("kind", "created_at", "actor", "data")


@functools.lru_cache(maxsize=256)
def _statement(
    alias: str,
    model: type[VerificationAttempt],
    event_model: type[AttemptEvent],
    names: tuple[str, ...],
    event_count: int,
    with_token: bool,
) -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
    """The UPDATE … INSERT statement for one shape of move (which fields, how many events),
    with the fields whose ``get_db_prep_save`` turns each parameter into its database value.

    Built once per shape: the text depends only on the shape, and working it out from the
    models' metadata on every move was a good part of the pipeline's CPU per attempt."""
    from django.db import connections

    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    event_meta = event_model._meta

    def column(options: Any, name: str) -> str:
        return quote(str(options.get_field(name).column))

    assignments = ", ".join(f"{column(meta, name)} = %s" for name in ("status", *names))
    condition_names = ["id", "status", *(["claim_token"] if with_token else [])]
    conditions = [f"{column(meta, name)} = %s" for name in condition_names]
    update_fields = tuple(meta.get_field(name) for name in ("status", *names, *condition_names))

    def typed(name: str) -> str:
        # Typed explicitly: in a UNION the parameters' types are not taken from the table.
        return f"CAST(%s AS {event_meta.get_field(name).db_type(connection)})"

    row = ", ".join(typed(name) for name in _EVENT_COLUMNS)
    selects = [" ".join(["SELECT moved.id,", row, "FROM moved"])] * event_count
    insert_columns = ", ".join(
        [column(event_meta, "attempt"), *(column(event_meta, n) for n in _EVENT_COLUMNS)]
    )
    # Identifiers come from the models' metadata, every value is a parameter.
    sql = " ".join(
        [
            "WITH moved AS (",
            "UPDATE", quote(meta.db_table), "SET", assignments,
            "WHERE", " AND ".join(conditions),
            "RETURNING", column(meta, "id"), "AS id",
            ")",
            "INSERT INTO", quote(event_meta.db_table), f"({insert_columns})",
            " UNION ALL ".join(selects),
            "RETURNING", column(event_meta, "id"),
        ]
    )  # fmt: skip
    event_fields = tuple(event_meta.get_field(name) for name in _EVENT_COLUMNS)
    return sql, update_fields, event_fields
