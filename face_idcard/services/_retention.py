"""Erasing personal information: redaction on request, purge after the retention periods,
and re-encryption under the newest key.

The record (status, decision, codes, times) and its audit trail stay; ID number, name, their
masked forms, the selfie and the url go. A redaction also erases what could lead back to the
person: the review's reason, the provider's session and request ids and raw response, the
caller's external reference and the API's Idempotency-Key rows of the attempt; it keeps the
ID number's keyed hash while the per-ID daily limit still counts the attempt (an erasure must
not reset the limit), and ``purge`` clears it after that window. Legal holds are never erased.
Free-text reasons that would carry personal data into the audit trail are refused
(:mod:`._freetext`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import _audit as audit
from .. import _filing as filing
from .. import crypto, permissions
from ..conf import face_idcard_settings
from ..exceptions import IllegalTransition, LegalHoldActive
from ..models import EventKind, IdempotencyKey, VerificationAttempt
from ..signals import attempt_redacted
from ..states import Decision, Status, is_terminal
from ..webhooks import delivery as webhooks_delivery
from ..webhooks import secrets as webhook_secrets
from . import _documents as documents
from . import _limits as limits
from ._common import (
    current_selfie_storage_alias,
    delete_selfie,
    load_selfie,
    save_selfie,
    selfie_storage,
    send_after_commit,
)
from ._freetext import refuse_personal_data_in_reason

logger = logging.getLogger("face_idcard.retention")

#: How long an attempt counts toward the per-ID daily limit (the rolling 24 hours of
#: ``submission.check_limits``): a redacted attempt keeps its ID hash that long.
LIMIT_WINDOW = timedelta(days=1)

_SELFIE_FIELDS: dict[str, Any] = {
    "selfie_name": "",
    "selfie_storage": "",
    "selfie_content_type": "",
    "url_encrypted": "",
}
_PII_FIELDS: dict[str, Any] = {
    **_SELFIE_FIELDS,
    "idcard_number_encrypted": "",
    "idcard_name_encrypted": "",
    "idcard_hash": "",
    "idcard_number_masked": "",
    "idcard_name_masked": "",
}
#: What a redaction erases beyond the personal information proper: texts and identifiers
#: that lead back to the person (a reviewer's words, the provider's records of the call, the
#: caller's own reference). The ID hash stays for the limit's window (see ``redact``).
_REDACTED_FIELDS: dict[str, Any] = {
    **_PII_FIELDS,
    "review_reason": "",
    "provider_session_id": "",
    "provider_request_id": "",
    "raw_response": None,
    "external_reference": "",
}
_LIMIT_FIELDS = ("idcard_hash", "idcard_hash_key_id")


def _erase(
    attempt: VerificationAttempt,
    *,
    selfie_only: bool,
    now: datetime,
    redacting: bool = False,
    **extra: Any,
) -> bool:
    """Clear the fields (conditional on no legal hold); delete the file after commit."""
    if selfie_only:
        fields = dict(_SELFIE_FIELDS)
    elif redacting:
        fields = dict(_REDACTED_FIELDS)
        if attempt.created_at > now - LIMIT_WINDOW:
            # Still counted by the per-ID limit: erasing the hash would reset it.
            for name in _LIMIT_FIELDS:
                fields.pop(name, None)
        else:
            fields["idcard_hash_key_id"] = ""
    else:
        fields = dict(_PII_FIELDS)
    fields["selfie_purged_at"] = attempt.selfie_purged_at or now
    if not selfie_only:
        fields["pii_purged_at"] = attempt.pii_purged_at or now
    fields.update(extra)
    updated = VerificationAttempt._base_manager.filter(pk=attempt.pk, legal_hold=False).update(
        **fields
    )
    if updated != 1:
        return False
    # Deleted where it was stored, whatever SELFIE_STORAGE says now.
    name, alias = attempt.selfie_name, attempt.selfie_storage
    for key, value in fields.items():
        setattr(attempt, key, value)
    if name:
        transaction.on_commit(lambda: delete_selfie(name, alias))
    return True


def awaiting_review() -> Q:
    """Completed attempts a reviewer has still to decide: the review band's and the audit
    sample's (their selfie is what the reviewer looks at)."""
    return Q(
        status=Status.COMPLETED.value,
        reviewed_at__isnull=True,
    ) & (Q(decision=Decision.REVIEW.value) | Q(audit_sample=True))


def decision_is_final(attempt: VerificationAttempt) -> bool:
    """Completed with a decision no reviewer is still to make (reviewed, or never sent to
    review)."""
    return attempt.status == Status.COMPLETED.value and (
        attempt.reviewed_at is not None
        or (attempt.decision != Decision.REVIEW.value and not attempt.audit_sample)
    )


def erase_selfie_once_final(attempt: VerificationAttempt) -> None:
    """With ``SELFIE_RETENTION_DAYS`` 0 (the default), the selfie goes as soon as the
    decision is final: once the current transaction commits, in a transaction of its own
    (conditional on no legal hold, audited as a purge). A longer setting leaves it to
    ``purge``."""
    if int(face_idcard_settings.SELFIE_RETENTION_DAYS) != 0 or not decision_is_final(attempt):
        return
    if attempt.legal_hold or not (attempt.selfie_name or attempt.url_encrypted):
        return

    name, alias = attempt.selfie_name, attempt.selfie_storage

    def erase() -> None:
        now = timezone.now()
        fields = {**_SELFIE_FIELDS, "selfie_purged_at": now}
        with transaction.atomic():
            # Only the selfie the decision was made on, still there and not held: a withdrawal
            # or a key rotation meanwhile leaves nothing (or another file) to erase here.
            updated = VerificationAttempt._base_manager.filter(
                pk=attempt.pk, legal_hold=False, selfie_purged_at__isnull=True, selfie_name=name
            ).update(**fields)
            if updated != 1:
                return
            for key, value in fields.items():
                setattr(attempt, key, value)
            audit.record(attempt, EventKind.PURGED, what="selfie", at="decision")
            if name:
                transaction.on_commit(lambda: delete_selfie(name, alias))

    transaction.on_commit(erase)


def redact(attempt: VerificationAttempt, *, actor: Any = None) -> VerificationAttempt:
    """Erase the attempt's personal information now (for example on the person's request).

    ``actor`` needs ``face_idcard.redact``; ``None`` is the host's own code (audited as
    ``by="system"``)."""
    who = permissions.require(actor, permissions.REDACT)
    if attempt.legal_hold:
        raise LegalHoldActive("the attempt is under legal hold")
    if not is_terminal(attempt.status):
        raise IllegalTransition(attempt.status, "redacted", detail="cancel or finish it first")
    now = timezone.now()
    with transaction.atomic():
        if not _erase(attempt, selfie_only=False, now=now, redacting=True, redacted_at=now):
            raise LegalHoldActive("the attempt is under legal hold")
        # The request fingerprints of the API's Idempotency-Key (only this attempt's rows).
        IdempotencyKey.objects.filter(attempt_id=attempt.pk).delete()
        audit.record(attempt, EventKind.REDACTED, actor=actor, **who)
        send_after_commit(attempt_redacted, attempt)
    logger.info("attempt %s: redacted", attempt.pk)
    return attempt


def set_legal_hold(
    attempt: VerificationAttempt, *, hold: bool, actor: Any = None, reason: str = ""
) -> VerificationAttempt:
    """Put the attempt under legal hold (nothing of it is erased) or lift the hold.

    ``actor`` needs ``face_idcard.redact`` (``None``: the host's own code, audited as system).
    """
    who = permissions.require(actor, permissions.REDACT)
    reason = reason.strip()
    if reason:
        refuse_personal_data_in_reason(reason, attempt, actor=actor)  # the trail keeps it
    with transaction.atomic():
        updated = VerificationAttempt._base_manager.filter(
            pk=attempt.pk, legal_hold=not hold
        ).update(legal_hold=hold)
        attempt.legal_hold = hold
        if updated == 1:
            kind = EventKind.LEGAL_HOLD_SET if hold else EventKind.LEGAL_HOLD_RELEASED
            audit.record(attempt, kind, actor=actor, reason=reason, **who)
    return attempt


def purge(now: datetime | None = None) -> dict[str, int]:
    """Erase selfies and then PII of finished attempts past their retention periods."""
    now = now or timezone.now()
    selfie_cutoff = now - timedelta(days=int(face_idcard_settings.SELFIE_RETENTION_DAYS))
    pii_cutoff = now - timedelta(days=int(face_idcard_settings.PII_RETENTION_DAYS))
    counts = {"selfies": 0, "pii": 0, "held": 0}
    finished = VerificationAttempt.objects.filter(finished_at__isnull=False)
    counts["held"] = finished.filter(legal_hold=True, finished_at__lt=selfie_cutoff).count()

    # A re-run copies its original's inputs and keeps the original's clock: its copy goes
    # with the original's (a re-run of a re-run on the next pass, so each pass re-reads).
    pii_due = finished.filter(legal_hold=False, pii_purged_at__isnull=True).filter(
        Q(finished_at__lt=pii_cutoff) | Q(rerun_of__pii_purged_at__isnull=False)
    )
    erased = True
    while erased:
        erased = False
        for attempt in pii_due.iterator(chunk_size=500):
            with transaction.atomic():
                if _erase(attempt, selfie_only=False, now=now):
                    audit.record(attempt, EventKind.PURGED, what="pii")
                    counts["pii"] += 1
                    erased = True

    # The clock starts at the final decision: a review's time where there is one, and not
    # while a reviewer has still to look at the selfie.
    selfie_due = (
        finished.filter(legal_hold=False, selfie_purged_at__isnull=True)
        .filter(
            (
                Q(finished_at__lt=selfie_cutoff)
                & (Q(reviewed_at__isnull=True) | Q(reviewed_at__lt=selfie_cutoff))
            )
            | Q(rerun_of__selfie_purged_at__isnull=False)
        )
        .exclude(awaiting_review())
    )
    erased = True
    while erased:
        erased = False
        for attempt in selfie_due.iterator(chunk_size=500):
            with transaction.atomic():
                had_selfie = bool(attempt.selfie_name or attempt.url_encrypted)
                if _erase(attempt, selfie_only=True, now=now):
                    erased = True
                    if had_selfie:
                        audit.record(attempt, EventKind.PURGED, what="selfie")
                        counts["selfies"] += 1
    counts["orphans"] = _delete_orphaned_selfies(now)
    counts["limit_hashes"] = _clear_redacted_hashes(now) + limits.forget_past_limit_events(now)
    # The API's Idempotency-Keys past their lifetime (only their attempts remain).
    deleted = IdempotencyKey.objects.filter(expires_at__lte=now).delete()[1]
    counts["idempotency_keys"] = int(deleted.get(IdempotencyKey._meta.label, 0))
    counts["webhook_deliveries"] = webhooks_delivery.purge(now)
    # The document reviews (the non-face alternative) on the same clocks.
    counts.update(documents.purge_documents(now))
    logger.info(
        "purge: %(selfies)d selfies, %(pii)d PII records, %(held)d on legal hold, "
        "%(orphans)d orphaned selfie files, %(limit_hashes)d ID hashes kept for the limits, "
        "%(idempotency_keys)d expired idempotency keys, %(webhook_deliveries)d webhook deliveries, "
        "%(documents)d document reviews' photos, %(document_pii)d document reviews' PII",
        counts,
    )
    return counts


def _clear_redacted_hashes(now: datetime) -> int:
    """The ID hashes redaction kept for the per-ID limit, once the limit no longer counts
    their attempts."""
    return int(
        VerificationAttempt._base_manager.filter(
            redacted_at__isnull=False, created_at__lte=now - LIMIT_WINDOW, legal_hold=False
        )
        .exclude(idcard_hash="")
        .update(idcard_hash="", idcard_hash_key_id="")
    )


#: An unreferenced selfie younger than this may belong to a submit still in its transaction.
ORPHAN_GRACE = timedelta(days=1)


def _delete_orphaned_selfies(now: datetime) -> int:
    """Delete selfie files that no attempt references (their submit rolled back).

    ``submit`` writes the encrypted selfie before its row commits; when the caller's own
    transaction rolls back, nothing points at the file any more. Storages that cannot list
    their files or tell their age are skipped.
    """
    storage = selfie_storage()
    folder = str(face_idcard_settings.SELFIE_UPLOAD_TO).strip("/")
    try:
        _, files = storage.listdir(folder)
    except (NotImplementedError, FileNotFoundError):
        return 0
    deleted = 0
    names = [f"{folder}/{file}" if folder else file for file in files if file.endswith(".bin")]
    for start in range(0, len(names), 500):
        batch = names[start : start + 500]
        referenced = set(
            VerificationAttempt._base_manager.filter(selfie_name__in=batch).values_list(
                "selfie_name", flat=True
            )
        )
        for name in batch:
            if name in referenced:
                continue
            try:
                if storage.get_modified_time(name) > now - ORPHAN_GRACE:
                    continue
            except (NotImplementedError, FileNotFoundError):
                continue
            delete_selfie(name)
            deleted += 1
    return deleted


#: How often one attempt is re-read when it changed between the read and the UPDATE.
_ROTATE_TRIES = 3


def rotate_keys() -> dict[str, int]:
    """Re-encrypt every stored field and selfie under the newest key, re-hash every ID
    number under the newest hash key, and move selfies to the current SELFIE_STORAGE; the
    document reviews' number, name and photos the same way (``_documents.rotate_documents``).

    Never brings erased data back: each UPDATE is conditional on the row still holding the
    ciphertexts, selfie and hash that were read, and on it being neither redacted nor purged.
    A row that changed meanwhile is read again (a redact or purge leaves nothing to rotate).
    """
    counts = {"attempts": 0, "selfies": 0}
    with_pii = VerificationAttempt.objects.exclude(
        idcard_number_encrypted="", idcard_name_encrypted="", url_encrypted="", selfie_name=""
    ).filter(redacted_at__isnull=True, pii_purged_at__isnull=True)
    for pk in with_pii.values_list("pk", flat=True).iterator(chunk_size=500):
        for _ in range(_ROTATE_TRIES):
            attempt = VerificationAttempt._base_manager.filter(pk=pk).first()
            if attempt is None or not attempt.has_pii:
                break
            outcome = _rotate_one(attempt)
            if outcome is not None:
                counts["attempts"] += 1
                counts["selfies"] += outcome
                break
    counts["webhook_secrets"] = webhook_secrets.reencrypt_all()
    counts["document_reviews"] = documents.rotate_documents()
    logger.info(
        "rotate_keys: %(attempts)d attempts, %(selfies)d selfies, "
        "%(webhook_secrets)d webhook endpoints' secrets",
        counts,
    )
    return counts


def _rotate_one(attempt: VerificationAttempt) -> int | None:
    """Rotate one attempt: the number of selfies moved (0 or 1), or None if it changed."""
    pk = attempt.pk
    number = crypto.decrypt_text(
        attempt.idcard_number_encrypted, attempt_id=pk, field=crypto.NUMBER
    )
    # Under the newest key and bound to the attempt and field (also those made before the
    # binding existed).
    fields: dict[str, Any] = {
        "idcard_number_encrypted": crypto.rotate_token(
            attempt.idcard_number_encrypted, attempt_id=pk, field=crypto.NUMBER
        ),
        "idcard_name_encrypted": crypto.rotate_token(
            attempt.idcard_name_encrypted, attempt_id=pk, field=crypto.NAME
        ),
        "url_encrypted": crypto.rotate_token(
            attempt.url_encrypted, attempt_id=pk, field=crypto.URL
        ),
    }
    every_hash = crypto.id_number_hashes(number) if number else []
    if number:
        fields["idcard_hash_key_id"], fields["idcard_hash"] = crypto.id_number_hash_with_key(number)
    del number
    old_selfie, old_alias = attempt.selfie_name, attempt.selfie_storage
    if old_selfie:
        try:
            clear = load_selfie(old_selfie, old_alias, pk)
        except FileNotFoundError:
            return None  # erased meanwhile: read the row again
        fields["selfie_name"] = save_selfie(clear, pk)
        fields["selfie_storage"] = current_selfie_storage_alias()
        del clear
    unchanged = VerificationAttempt._base_manager.filter(
        pk=attempt.pk,
        idcard_number_encrypted=attempt.idcard_number_encrypted,
        idcard_name_encrypted=attempt.idcard_name_encrypted,
        url_encrypted=attempt.url_encrypted,
        idcard_hash=attempt.idcard_hash,
        selfie_name=old_selfie,
        redacted_at__isnull=True,
        pii_purged_at__isnull=True,
    )
    if old_selfie or attempt.url_encrypted:
        unchanged = unchanged.filter(selfie_purged_at__isnull=True)
    with transaction.atomic():
        updated = unchanged.update(**fields)
        if updated == 1:
            audit.record(attempt, EventKind.KEYS_ROTATED)
            if every_hash:
                # The filing register's row of the person re-keyed too (face_idcard._filing).
                filing.record_person(
                    key_id=fields["idcard_hash_key_id"],
                    idcard_hash=fields["idcard_hash"],
                    every_hash=every_hash,
                )
    if updated != 1:
        if old_selfie:
            delete_selfie(fields["selfie_name"])  # the copy nobody points at
        return None
    if old_selfie:
        delete_selfie(old_selfie, old_alias)
        return 1
    return 0
