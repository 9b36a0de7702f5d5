"""Writing the append-only audit trails: each attempt's
(:class:`~face_idcard.models.AttemptEvent`) and that of the staff actions concerning no single
attempt, such as a search (:class:`~face_idcard.models.StaffAuditEvent`).

Event data holds codes, classes, timings, counts and ids only: never an ID number, a name, an
image, a url or a provider's raw message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .models import AttemptEvent, EventKind, StaffAuditEvent, StaffAuditKind

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from .models import DocumentReview, VerificationAttempt

    Actor = AbstractBaseUser | AnonymousUser | None


def _actor(actor: Any) -> Any:
    # Anonymous users and unsaved users cannot be referenced.
    if actor is None or not getattr(actor, "pk", None):
        return None
    return actor


def event(
    attempt: VerificationAttempt,
    kind: EventKind | str,
    *,
    actor: Actor = None,
    **data: Any,
) -> AttemptEvent:
    """Build (not save) one event."""
    return AttemptEvent(
        attempt=attempt,
        kind=str(kind),  # the value, for enum members too
        actor=_actor(actor),
        data=data,
        created_at=timezone.now(),
    )


def record(
    attempt: VerificationAttempt,
    kind: EventKind | str,
    *,
    actor: Actor = None,
    **data: Any,
) -> AttemptEvent:
    """Append one event."""
    item = event(attempt, kind, actor=actor, **data)
    item.save(force_insert=True)
    return item


def record_many(events: Iterable[AttemptEvent]) -> None:
    """Append several events in one INSERT (the pipeline's hot path)."""
    items = list(events)
    if len(items) == 1:
        items[0].save(force_insert=True)
    elif items:
        AttemptEvent.objects.bulk_create(items)


def record_staff(
    kind: StaffAuditKind | str,
    *,
    actor: Actor,
    document_review: DocumentReview | None = None,
    **data: Any,
) -> StaffAuditEvent:
    """Append one staff event (an action on no single attempt, such as a search, or an event
    of a ``document_review``)."""
    item = StaffAuditEvent(
        kind=str(kind),
        actor=_actor(actor),
        document_review=document_review,
        data=data,
        created_at=timezone.now(),
    )
    item.save(force_insert=True)
    return item
