"""``rerun``: verify an attempt again from the same encrypted inputs, on today's default backend.

The new attempt is linked to the original (``rerun_of``), audited on both, billed by the
provider like any call, and not counted toward the person's daily limits (a staff decision,
not the person trying numbers). The selfie is copied: each attempt owns its file, so purging
one never breaks the other. The copy keeps the original's retention clock: the purge erases a
re-run's selfie and personal information with its original's (``services._retention.purge``),
however late the re-run finished.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import uuid4

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone

from .. import _audit as audit
from .. import _consent as consent
from .. import _filing as filing
from .. import crypto, permissions
from ..backends import backend_class, default_alias
from ..backends.config import resolve
from ..exceptions import IllegalTransition, PersonalInformationUnavailable
from ..models import EventKind, VerificationAttempt
from ..sensitive import Sensitive, forget_locals_on_error
from ..states import Decision, Status, is_terminal
from ._common import (
    current_selfie_storage_alias,
    delete_selfie,
    enqueue_on_commit,
    load_selfie,
    save_selfie,
)

logger = logging.getLogger("face_idcard.services")


def can_rerun(attempt: VerificationAttempt) -> bool:
    """Whether the inputs of ``attempt`` are still there to verify again."""
    return (
        is_terminal(attempt.status)
        and attempt.selfie_purged_at is None
        and attempt.pii_purged_at is None
        and attempt.redacted_at is None
        and bool(attempt.idcard_number_encrypted and attempt.idcard_name_encrypted)
        and bool(attempt.selfie_name or attempt.url_encrypted)
    )


def _require_consent_for(attempt: VerificationAttempt, alias: str) -> None:
    """The re-run keeps the original's consent: refused (``ValidationError``) before anything
    is copied when that consent does not name the company ``alias`` sends to. An alias that
    cannot be built is left to the pipeline (``internal.backend_unavailable``)."""
    try:
        cls = backend_class(resolve(alias).backend)
    except ImproperlyConfigured:
        return
    if not consent.covers(attempt.consent_recipients, attempt.consent_over_internet, cls):
        raise ValidationError(
            consent.NOTICE_MESSAGES["rerun_recipient_not_named"],
            code="consent_recipient_not_named",
        )


@forget_locals_on_error
def rerun(
    attempt: VerificationAttempt, *, actor: Any = None, enqueue: bool = True
) -> VerificationAttempt:
    """A new attempt from the inputs of ``attempt`` (which must be finished), queued on commit.

    ``actor`` needs ``face_idcard.rerun`` (``None``: the host's own code, audited as system).
    Raises :class:`PersonalInformationUnavailable` once the selfie or the personal
    information was purged or redacted. The provider bills the new call.
    """
    who = permissions.require(actor, permissions.RERUN)
    if not is_terminal(attempt.status):
        raise IllegalTransition(attempt.status, "rerun", detail="only finished attempts")
    if not can_rerun(attempt):
        raise PersonalInformationUnavailable("the selfie or personal information was erased")
    backend_name = default_alias()
    _require_consent_for(attempt, backend_name)
    number = Sensitive.id_number(
        crypto.decrypt_text(
            attempt.idcard_number_encrypted, attempt_id=attempt.pk, field=crypto.NUMBER
        )
    )
    hash_key_id, idcard_hash = crypto.id_number_hash_with_key(number.reveal())
    every_hash = crypto.id_number_hashes(number.reveal())
    del number
    now = timezone.now()
    new_id = uuid4()

    def copied(token: str, field: str) -> str:
        # Same plaintext, under the newest key, bound to the new attempt.
        return crypto.rotate_token(token, attempt_id=attempt.pk, field=field, to_attempt_id=new_id)

    new = VerificationAttempt(
        id=new_id,
        user_id=attempt.user_id,
        backend=backend_name,
        rerun_of=attempt,
        idcard_number_encrypted=copied(attempt.idcard_number_encrypted, crypto.NUMBER),
        idcard_name_encrypted=copied(attempt.idcard_name_encrypted, crypto.NAME),
        idcard_hash=idcard_hash,
        idcard_hash_key_id=hash_key_id,
        idcard_number_masked=attempt.idcard_number_masked,
        idcard_name_masked=attempt.idcard_name_masked,
        url_encrypted=copied(attempt.url_encrypted, crypto.URL),
        consent_at=attempt.consent_at,
        notice_version=attempt.notice_version,
        # The same consent: the pipeline refuses the re-run on an alias it does not cover.
        notice_sha256=attempt.notice_sha256,
        consent_recipients=attempt.consent_recipients,
        consent_over_internet=attempt.consent_over_internet,
        external_reference=attempt.external_reference,
        status=Status.QUEUED.value,
        decision=Decision.NONE.value,
        created_at=now,
        queued_at=now,
    )
    if attempt.selfie_name:
        try:
            clear = load_selfie(attempt.selfie_name, attempt.selfie_storage, attempt.pk)
        except FileNotFoundError:
            raise PersonalInformationUnavailable("the selfie was erased") from None
        new.selfie_name = save_selfie(clear, new_id)
        new.selfie_storage = current_selfie_storage_alias()
        new.selfie_content_type = attempt.selfie_content_type
        del clear
    try:
        with transaction.atomic():
            # Still there? A purge or redact between the read and now leaves nothing to re-run.
            still_there = VerificationAttempt._base_manager.filter(
                pk=attempt.pk,
                selfie_purged_at__isnull=True,
                pii_purged_at__isnull=True,
                redacted_at__isnull=True,
            ).exists()
            if not still_there:
                raise PersonalInformationUnavailable("the personal information was erased")
            new.save(force_insert=True)
            audit.record_many(
                [
                    audit.event(
                        new,
                        EventKind.CREATED,
                        actor=actor,
                        backend=backend_name,
                        mode="image" if new.selfie_name else "url",
                        rerun_of=str(attempt.pk),
                        **who,
                    ),
                    audit.event(
                        new, EventKind.QUEUED, publish="after_commit" if enqueue else "caller"
                    ),
                    audit.event(
                        attempt,
                        EventKind.RERUN,
                        actor=actor,
                        new_attempt=str(new.pk),
                        backend=backend_name,
                        billed=True,
                        **who,
                    ),
                ]
            )
            # The face is sent again: the person counted once (re-keyed if need be).
            filing.record_person(key_id=hash_key_id, idcard_hash=idcard_hash, every_hash=every_hash)
            if enqueue:
                enqueue_on_commit(new.pk)
    except BaseException:
        delete_selfie(new.selfie_name, new.selfie_storage)
        raise
    logger.info("attempt %s: re-run as %s (backend %s)", attempt.pk, new.pk, backend_name)
    return new
