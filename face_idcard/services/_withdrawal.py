"""Withdrawing consent: the person's attempts stopped and their personal information erased
at once, within the request (PIPL Art. 15 and 47; the 2025 face-recognition measures).

"The person" is either an account (the person's own request, through the API or the
onboarding page: that account's attempts) or the person behind one attempt (a request that
reached staff by another channel: every attempt whose ID number hashes the same under any live
hash key). For each of their attempts:

- one not yet sent to the provider (queued, or waiting between retries) is canceled;
- one in flight at the provider cannot be called back: its personal information is erased now,
  and the pipeline stores its late result without the provider's identifiers (``_pipeline``);
- the selfie and the clear personal information go as a redaction takes them
  (:mod:`._retention`); the record without them and the audit trail stay;
- one under legal hold keeps everything: the audit trail says so; the person is told that a
  hold applies, never why.

The person's document reviews (the non-face alternative, :mod:`._documents`) go the same way:
a pending one is withdrawn, the photos and personal information of each erased (a hold
excepted), in the staff trail.

Each attempt gets a ``withdrawn`` audit event and the ``attempt_withdrawn`` signal. What cannot
be deleted here is said in the answer: the provider's own record of a call, kept under the
provider's terms (``Backend.provider_keeps_results_days``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import _audit as audit
from .. import crypto, permissions
from ..backends import backend_class
from ..backends.config import resolve
from ..exceptions import ConcurrentTransition
from ..models import EventKind, IdempotencyKey, VerificationAttempt
from ..signals import attempt_finished, attempt_withdrawn
from ..states import CLAIMABLE, Status, transition
from ._common import send_after_commit
from ._documents import withdraw_documents
from ._retention import _erase

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger("face_idcard.retention")

#: How a withdrawal reached the site (kept in the audit trail).
CHANNEL_PERSON = "person"
CHANNEL_STAFF = "staff"
#: The host site's own code acting on the person's request (``actor=None``).
CHANNEL_SITE = "site"

#: How often one attempt is read again when a worker changed it between the read and the cancel.
_TRIES = 3


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal did, in counts (no personal information)."""

    #: The person's attempts found.
    attempts: int = 0
    #: Not yet sent to the provider, now canceled.
    canceled: int = 0
    #: At the provider when the request came: their answer is stored without the provider's ids.
    in_flight: int = 0
    #: Whose selfie or personal information was erased now.
    erased: int = 0
    #: Under legal hold: nothing of them erased.
    held: int = 0
    #: The person's document reviews (the non-face alternative) found; their photos and
    #: personal information erased are counted in ``erased``, those held in ``held``.
    document_reviews: int = 0
    #: For each provider the person's data went to: how many days it keeps its own record of
    #: the call (None: the provider does not say).
    provider_days: tuple[int | None, ...] = ()

    @property
    def legal_hold(self) -> bool:
        return self.held > 0

    def statements(self) -> list[str]:
        """What the person is told, in the active language: what was done, and what was not
        and why. Never the reason of a legal hold."""
        lines = [str(_("Your consent is withdrawn: nothing more of yours will be verified."))]
        if self.attempts == 0 and self.document_reviews == 0:
            lines.append(str(_("We hold no verification of yours.")))
        if self.erased or ((self.attempts or self.document_reviews) and not self.held):
            lines.append(
                str(
                    _(
                        "Your photo, ID card number and name are deleted. We keep a record "
                        "without them (when and how each verification ended) and the log of "
                        "this request, as the law requires."
                    )
                )
            )
        if self.in_flight:
            lines.append(
                str(
                    _(
                        "Verifications already with the verification service when you asked "
                        "keep their answers, without your personal information."
                    )
                )
            )
        if self.held:
            lines.append(
                str(
                    _(
                        "A legal hold applies to some of your records: they cannot be deleted "
                        "while it lasts. They will be deleted once it is lifted."
                    )
                )
            )
        for days in sorted({day for day in self.provider_days if day is not None}):
            lines.append(
                str(
                    _(
                        "The verification service keeps its own record of each check under its "
                        "own terms, for %(days)d days: we cannot delete it; it is deleted there "
                        "when that time is up."
                    )
                )
                % {"days": days}
            )
        if None in self.provider_days:
            lines.append(
                str(
                    _(
                        "The verification service may keep its own record of a check under its "
                        "own terms; we cannot delete it. Ask us and we will request its "
                        "deletion."
                    )
                )
            )
        return lines


def withdraw(
    *,
    user: Any = None,
    attempt: VerificationAttempt | None = None,
    actor: Any = None,
) -> Withdrawal:
    """Withdraw the person's consent and erase their personal information now.

    ``user=``: the account's own attempts (the person's request); ``actor`` is that user, or
    ``None`` for the host's own code; anyone else needs ``face_idcard.redact``.
    ``attempt=``: every attempt of the person behind it (same ID number under any live hash
    key), for a request that reached staff another way; ``actor`` needs ``face_idcard.redact``.
    """
    if (user is None) == (attempt is None):
        raise TypeError("withdraw() takes exactly one of user= and attempt=")
    if user is not None:
        if actor is not None and getattr(actor, "pk", None) == getattr(user, "pk", object()):
            who: dict[str, Any] = {"channel": CHANNEL_PERSON}
        elif actor is None:
            who = {"channel": CHANNEL_SITE, "by": "system"}
        else:
            who = {"channel": CHANNEL_STAFF, **permissions.require(actor, permissions.REDACT)}
        found = VerificationAttempt._base_manager.filter(user=user)
        reviews = Q(user=user)
    else:
        assert attempt is not None
        who = {"channel": CHANNEL_STAFF, **permissions.require(actor, permissions.REDACT)}
        found = VerificationAttempt._base_manager.filter(_same_person(attempt))
        hashes = _person_hashes(attempt)
        reviews = Q(idcard_hash__in=sorted(hashes)) if hashes else Q(pk__in=[])
    now = timezone.now()
    counts = {"attempts": 0, "canceled": 0, "in_flight": 0, "erased": 0, "held": 0}
    backends: set[str] = set()
    with transaction.atomic():
        # Locked in one order (where the database locks rows): a worker's claim waits for the
        # cancel rather than calling the provider with what is being erased.
        for pk in list(found.order_by("pk").values_list("pk", flat=True)):
            outcome = _withdraw_one(pk, actor=actor, now=now, who=who)
            if outcome is None:
                continue
            counts["attempts"] += 1
            for key in outcome[0]:
                counts[key] += 1
            if outcome[1]:
                backends.add(outcome[1])
        # The document reviews too: their photos and personal information go the same way.
        documents = withdraw_documents(reviews, actor=actor, now=now, who=who)
    counts["erased"] += documents["erased"]
    counts["held"] += documents["held"]
    result = Withdrawal(
        **counts, document_reviews=documents["found"], provider_days=_provider_days(backends)
    )
    logger.info(
        "withdrawal (%s): %d attempts, %d canceled, %d in flight, %d erased, %d on legal hold",
        who["channel"],
        result.attempts,
        result.canceled,
        result.in_flight,
        result.erased,
        result.held,
    )
    return result


def _same_person(attempt: VerificationAttempt) -> Q:
    """The attempt and every attempt whose ID number hash is the same, under any live key
    (the stored hash alone when the number itself was erased already)."""
    hashes = _person_hashes(attempt)
    condition = Q(pk=attempt.pk)
    if hashes:
        condition |= Q(idcard_hash__in=sorted(hashes))
    return condition


def _person_hashes(attempt: VerificationAttempt) -> set[str]:
    """The attempt's ID number hashed under every live key, and its stored hash."""
    hashes: set[str] = set()
    if attempt.idcard_number_encrypted:
        number = crypto.decrypt_text(
            attempt.idcard_number_encrypted, attempt_id=attempt.pk, field=crypto.NUMBER
        )
        if number:
            hashes.update(crypto.id_number_hashes(number))
        del number
    if attempt.idcard_hash:
        hashes.add(attempt.idcard_hash)
    return hashes


def _withdraw_one(
    pk: Any, *, actor: Any, now: Any, who: dict[str, Any]
) -> tuple[list[str], str] | None:
    """Withdraw one attempt: the counters it adds to, and its backend when it was sent."""
    for _try in range(_TRIES):
        row = VerificationAttempt._base_manager.select_for_update().filter(pk=pk).first()
        if row is None:
            return None
        done: list[str] = []
        if row.status in CLAIMABLE:
            try:
                transition(
                    row,
                    Status.CANCELED,
                    finished_at=now,
                    next_attempt_at=None,
                    lease_expires_at=None,
                    claim_token=None,
                    slot_ends_at=None,
                    parked=False,
                )
            except ConcurrentTransition:
                continue  # a worker claimed it meanwhile: read it again
            audit.record(row, EventKind.CANCELED, actor=actor, withdrawal=True, **who)
            send_after_commit(attempt_finished, row)
            done.append("canceled")
        elif row.status == Status.PROCESSING.value:
            done.append("in_flight")
        erased = False
        if row.legal_hold:
            done.append("held")
        elif row.has_pii or row.redacted_at is None:
            had_pii = row.has_pii
            erased = _erase(row, selfie_only=False, now=now, redacting=True, redacted_at=now)
            if not erased:
                done.append("held")  # placed under hold since it was read
            else:
                IdempotencyKey.objects.filter(attempt_id=row.pk).delete()
                if had_pii:
                    done.append("erased")
        audit.record(
            row,
            EventKind.WITHDRAWN,
            actor=actor,
            status=row.status,
            erased=erased,
            kept="legal_hold" if "held" in done else "",
            # When the request came: its handling time, in the processing records.
            requested_at=now.isoformat(),
            **who,
        )
        send_after_commit(attempt_withdrawn, row, legal_hold="held" in done)
        return done, row.backend if row.provider_calls else ""
    raise ConcurrentTransition(Status.QUEUED.value, Status.CANCELED.value, detail="kept changing")


def _provider_days(aliases: Iterable[str]) -> tuple[int | None, ...]:
    """How long each provider the data went to keeps its own record (None: not said)."""
    days: list[int | None] = []
    for alias in sorted(aliases):
        try:
            cls = backend_class(resolve(alias).backend)
        except ImproperlyConfigured:
            days.append(None)  # an alias since removed from the settings
            continue
        days.append(cls.provider_keeps_results_days)
    return tuple(days)
