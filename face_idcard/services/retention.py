"""Erasing personal information: redaction on request, purge after the retention periods,
and re-encryption under the newest key.

The record (status, decision, codes, times) and its audit trail stay; ID number, name, their
masked forms and hash, the selfie and the url go. Legal holds are never erased.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import audit, crypto
from ..conf import face_idcard_settings
from ..models import EventKind, VerificationAttempt
from ..states import IllegalTransition, is_terminal
from .common import LegalHoldActive, delete_selfie, save_selfie, selfie_storage

logger = logging.getLogger("face_idcard.retention")

_SELFIE_FIELDS: dict[str, Any] = {"selfie_name": "", "selfie_content_type": "", "url_encrypted": ""}
_PII_FIELDS: dict[str, Any] = {
    **_SELFIE_FIELDS,
    "idcard_number_encrypted": "",
    "idcard_name_encrypted": "",
    "idcard_hash": "",
    "idcard_number_masked": "",
    "idcard_name_masked": "",
}


def _erase(attempt: VerificationAttempt, *, selfie_only: bool, now: datetime, **extra: Any) -> bool:
    """Clear the fields (conditional on no legal hold); delete the file after commit."""
    fields = dict(_SELFIE_FIELDS if selfie_only else _PII_FIELDS)
    fields["selfie_purged_at"] = attempt.selfie_purged_at or now
    if not selfie_only:
        fields["pii_purged_at"] = attempt.pii_purged_at or now
    fields.update(extra)
    updated = VerificationAttempt._base_manager.filter(pk=attempt.pk, legal_hold=False).update(
        **fields
    )
    if updated != 1:
        return False
    name = attempt.selfie_name
    for key, value in fields.items():
        setattr(attempt, key, value)
    if name:
        transaction.on_commit(lambda: delete_selfie(name))
    return True


def redact(attempt: VerificationAttempt, *, actor: Any = None) -> VerificationAttempt:
    """Erase the attempt's personal information now (for example on the person's request)."""
    if attempt.legal_hold:
        raise LegalHoldActive("the attempt is under legal hold")
    if not is_terminal(attempt.status):
        raise IllegalTransition(attempt.status, "redacted", detail="cancel or finish it first")
    now = timezone.now()
    with transaction.atomic():
        if not _erase(attempt, selfie_only=False, now=now, redacted_at=now):
            raise LegalHoldActive("the attempt is under legal hold")
        audit.record(attempt, EventKind.REDACTED, actor=actor)
    logger.info("attempt %s: redacted", attempt.pk)
    return attempt


def purge(now: datetime | None = None) -> dict[str, int]:
    """Erase selfies and then PII of finished attempts past their retention periods."""
    now = now or timezone.now()
    selfie_cutoff = now - timedelta(days=int(face_idcard_settings.SELFIE_RETENTION_DAYS))
    pii_cutoff = now - timedelta(days=int(face_idcard_settings.PII_RETENTION_DAYS))
    counts = {"selfies": 0, "pii": 0, "held": 0}
    finished = VerificationAttempt.objects.filter(finished_at__isnull=False)
    counts["held"] = finished.filter(legal_hold=True, finished_at__lt=selfie_cutoff).count()

    pii_due = finished.filter(
        legal_hold=False, finished_at__lt=pii_cutoff, pii_purged_at__isnull=True
    )
    for attempt in pii_due.iterator(chunk_size=500):
        with transaction.atomic():
            if _erase(attempt, selfie_only=False, now=now):
                audit.record(attempt, EventKind.PURGED, what="pii")
                counts["pii"] += 1

    selfie_due = finished.filter(
        legal_hold=False, finished_at__lt=selfie_cutoff, selfie_purged_at__isnull=True
    )
    for attempt in selfie_due.iterator(chunk_size=500):
        with transaction.atomic():
            had_selfie = bool(attempt.selfie_name or attempt.url_encrypted)
            if _erase(attempt, selfie_only=True, now=now) and had_selfie:
                audit.record(attempt, EventKind.PURGED, what="selfie")
                counts["selfies"] += 1
    counts["orphans"] = _delete_orphaned_selfies(now)
    logger.info(
        "purge: %(selfies)d selfies, %(pii)d PII records, %(held)d on legal hold, "
        "%(orphans)d orphaned selfie files",
        counts,
    )
    return counts


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


def rotate_keys() -> dict[str, int]:
    """Re-encrypt every stored field and selfie under the newest key."""
    counts = {"attempts": 0, "selfies": 0}
    with_pii = VerificationAttempt.objects.exclude(
        idcard_number_encrypted="", idcard_name_encrypted="", url_encrypted="", selfie_name=""
    )
    for attempt in with_pii.iterator(chunk_size=500):
        fields = {
            "idcard_number_encrypted": crypto.rotate_token(attempt.idcard_number_encrypted),
            "idcard_name_encrypted": crypto.rotate_token(attempt.idcard_name_encrypted),
            "url_encrypted": crypto.rotate_token(attempt.url_encrypted),
        }
        old_selfie = attempt.selfie_name
        if old_selfie:
            with selfie_storage().open(old_selfie, "rb") as handle:
                clear = crypto.decrypt_bytes(handle.read())
            fields["selfie_name"] = save_selfie(clear)
        with transaction.atomic():
            updated = VerificationAttempt._base_manager.filter(
                pk=attempt.pk, selfie_name=old_selfie
            ).update(**fields)
            if updated == 1:
                audit.record(attempt, EventKind.KEYS_ROTATED)
        if updated == 1:
            counts["attempts"] += 1
            if old_selfie:
                delete_selfie(old_selfie)
                counts["selfies"] += 1
        elif old_selfie:
            delete_selfie(fields["selfie_name"])  # the attempt changed meanwhile
    logger.info("rotate_keys: %(attempts)d attempts, %(selfies)d selfies", counts)
    return counts
