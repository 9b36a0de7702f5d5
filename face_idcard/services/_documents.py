"""The document review, the non-face alternative: a person who refuses face verification sends
photos of both sides of their ID card with the number and name, and a staff member approves or
rejects them (:class:`~face_idcard.models.DocumentReview`).

These functions are the only code that changes a review. Each is audited in the staff trail
(:class:`~face_idcard.models.StaffAuditEvent`, ``document_review`` set) and holds to the
attempts' rules:

- the photos go through the bounded scan and validation of :mod:`face_idcard._images` (the same
  limits as a selfie, metadata stripped), sealed with the review's id (each side its own
  binding) in the selfie storage under ``documents/``;
- deciding takes ``face_idcard.review`` and is never one's own review; the reason is refused
  when it holds personal data (:mod:`._freetext`);
- reading the clear number, name and photos takes ``face_idcard.view_pii`` and is audited;
- retention: the photos go as soon as the decision is made with ``SELFIE_RETENTION_DAYS`` 0,
  else by ``purge`` after that many days, the number and name after ``PII_RETENTION_DAYS``; a
  redaction takes everything at once; a withdrawal (``services.withdraw``) withdraws a pending
  review and erases every review of the person; a legal hold keeps everything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import IO, Any, cast

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import _audit as audit
from .. import crypto, permissions
from .._alternatives import DOCUMENT_REVIEW, offers
from .._consent import validate_consent_time
from .._identity import check_minimum_age, validate_id_number, validate_name
from .._images import check_upload_type, limits_for, read_upload, validate_image
from .._masking import mask_id_number, mask_name
from ..conf import face_idcard_settings
from ..exceptions import (
    ConsentRequired,
    IllegalTransition,
    LegalHoldActive,
    PersonalInformationUnavailable,
    SelfReviewRefused,
)
from ..models import DocumentReview, StaffAuditKind
from ..models import DocumentReviewStatus as S
from ..sensitive import Sensitive, forget_locals_on_error
from ..signals import document_review_decided
from ._common import _SealedFile, current_selfie_storage_alias, selfie_storage
from ._freetext import refuse_personal_data_in_reason
from ._submission import _user_or_none, notice_and_reference

logger = logging.getLogger("face_idcard.services")

#: The two sides of the card: the form fields, and the stored name of each.
FRONT = "front"
BACK = "back"
SIDES = (FRONT, BACK)
#: The decisions a reviewer may take.
APPROVE = "approve"
REJECT = "reject"
_VERDICTS = {APPROVE: S.APPROVED.value, REJECT: S.REJECTED.value}
#: The folder inside SELFIE_UPLOAD_TO: apart from the selfies, so that the purge's sweep of
#: orphaned selfie files (which lists that folder alone) never sees a document.
FOLDER = "documents"
#: The only types a document is served as (what validation stores).
CONTENT_TYPES = frozenset({"image/jpeg", "image/png"})

_DOCUMENT_FIELDS: dict[str, Any] = {
    "front_name": "",
    "back_name": "",
    "document_storage": "",
    "front_content_type": "",
    "back_content_type": "",
}
#: The purge past ``PII_RETENTION_DAYS`` takes the number, the name and the keyed hash of the
#: number (a pseudonym of the person, like an attempt's, and as the attempts' purge does).
_PII_FIELDS: dict[str, Any] = {
    **_DOCUMENT_FIELDS,
    "idcard_number_encrypted": "",
    "idcard_name_encrypted": "",
    "idcard_number_masked": "",
    "idcard_name_masked": "",
    "idcard_hash": "",
    "idcard_hash_key_id": "",
}
#: A redaction (or withdrawal) also takes what leads back to the person: the reviewer's words
#: and the caller's reference.
_REDACTED_FIELDS: dict[str, Any] = {
    **_PII_FIELDS,
    "review_reason": "",
    "external_reference": "",
}


class DocumentImageRejected(ValidationError):
    """A photo of one side refused (``side``: ``"front"`` or ``"back"``), with the image
    validation's own message and code."""

    def __init__(self, side: str, error: ValidationError) -> None:
        self.side = side
        super().__init__(error.error_list)


def _binding(review_id: object, side: str) -> uuid.UUID:
    """What each photo is sealed to: the review's id for the front, an id derived from it for
    the back (one side's file cannot pass for the other's, nor another review's)."""
    review_uuid = uuid.UUID(str(review_id))
    return review_uuid if side == FRONT else uuid.uuid5(review_uuid, side)


def _save(data: bytes, review_id: object, side: str) -> str:
    folder = "/".join(
        part for part in (str(face_idcard_settings.SELFIE_UPLOAD_TO).strip("/"), FOLDER) if part
    )
    name = f"{folder}/{uuid.uuid4().hex}.bin"
    stream = cast(IO[bytes], crypto.EncryptedStream(data, attempt_id=_binding(review_id, side)))
    return selfie_storage().save(name, _SealedFile(stream, name=name))


def _delete(names: Iterable[str], alias: str) -> None:
    for name in names:
        if name:
            selfie_storage(alias).delete(name)


# --- Submission ------------------------------------------------------------------------------


@forget_locals_on_error
def submit_documents(
    *,
    idcard_number: str,
    idcard_name: str,
    front: bytes | IO[bytes] | UploadedFile[Any],
    back: bytes | IO[bytes] | UploadedFile[Any],
    user: Any = None,
    consent_at: datetime | None,
    notice_version: str | None = None,
    external_reference: str = "",
    guardian_consent: bool = False,
) -> DocumentReview:
    """Store a new document review, pending a staff decision.

    Validates the cheap things first (types, consent, lengths, the ID number and name, one
    pending review per account), then both photos, before anything is stored.
    ``ValidationError`` for bad input (``alternative_not_offered`` when the site does not offer
    the document review), :class:`ConsentRequired` without ``consent_at``, ``TypeError`` for
    a ``user`` or a photo of the wrong type.
    """
    if not offers(DOCUMENT_REVIEW):
        raise ValidationError(
            _("This site does not offer verification by a review of your ID card."),
            code="alternative_not_offered",
        )
    user = _user_or_none(user)
    check_upload_type(front)
    check_upload_type(back)
    if consent_at is None:
        raise ConsentRequired()
    consent_at = validate_consent_time(consent_at)
    notice_version, external_reference = notice_and_reference(
        notice_version, external_reference, DocumentReview
    )
    number = Sensitive.id_number(validate_id_number(idcard_number))
    name = Sensitive.name(validate_name(idcard_name))
    del idcard_number, idcard_name
    check_minimum_age(number.reveal(), guardian_consent=guardian_consent)
    if (
        user is not None
        and DocumentReview.objects.filter(user=user, status=S.PENDING.value).exists()
    ):
        raise ValidationError(
            _("Your ID card photos are already waiting for review."),
            code="document_review_pending",
        )
    limits = limits_for()
    prepared = {}
    for side, upload in ((FRONT, front), (BACK, back)):
        try:
            image = validate_image(read_upload(upload, limits.max_input_bytes), limits)
        except ValidationError as error:
            raise DocumentImageRejected(side, error) from None
        if image.content_type not in CONTENT_TYPES:
            # Served to staff as JPEG or PNG only (validation converts what it can).
            raise DocumentImageRejected(
                side, ValidationError(_("Send a JPEG or PNG photo."), code="image_format")
            )
        prepared[side] = image
    del front, back, upload

    review_id = uuid.uuid4()
    hash_key_id, idcard_hash = crypto.id_number_hash_with_key(number.reveal())
    review = DocumentReview(
        id=review_id,
        user=user,
        idcard_number_encrypted=crypto.encrypt_text(
            number.reveal(), attempt_id=review_id, field=crypto.NUMBER
        ),
        idcard_name_encrypted=crypto.encrypt_text(
            name.reveal(), attempt_id=review_id, field=crypto.NAME
        ),
        idcard_hash=idcard_hash,
        idcard_hash_key_id=hash_key_id,
        idcard_number_masked=mask_id_number(number.reveal()),
        idcard_name_masked=mask_name(name.reveal()),
        consent_at=consent_at,
        notice_version=notice_version,
        external_reference=external_reference,
        status=S.PENDING.value,
        created_at=timezone.now(),
        document_storage=current_selfie_storage_alias(),
        front_content_type=prepared[FRONT].content_type,
        back_content_type=prepared[BACK].content_type,
    )
    stored: list[str] = []
    try:
        for side in SIDES:
            stored.append(_save(prepared[side].data, review_id, side))
        review.front_name, review.back_name = stored
        del prepared
        with transaction.atomic():
            review.save(force_insert=True)
            record(
                review,
                StaffAuditKind.DOCUMENTS_SUBMITTED,
                actor=user,
                path=DOCUMENT_REVIEW,
                notice_version=notice_version,
                guardian_consent=guardian_consent,
            )
    except BaseException:
        _delete(stored, review.document_storage)  # no orphaned sealed photo behind
        raise
    logger.info("document review %s: submitted", review.pk)
    return review


def record(review: DocumentReview, kind: StaffAuditKind, *, actor: Any = None, **data: Any) -> None:
    """Append one event of ``review`` to the staff trail."""
    audit.record_staff(kind, actor=actor, document_review=review, **data)


# --- The decision ----------------------------------------------------------------------------


def decide_documents(
    review: DocumentReview, *, reviewer: Any, decision: str, reason: str
) -> DocumentReview:
    """A staff member approves or rejects a pending review, once.

    ``reviewer`` needs ``face_idcard.review`` (:class:`PermissionRequired`) and must not be the
    review's own user (:class:`SelfReviewRefused`); ``decision`` is ``"approve"`` or
    ``"reject"``; ``reason`` is required and must hold no personal data. A review no longer
    pending is :class:`IllegalTransition`."""
    if str(decision) not in _VERDICTS:
        raise ValidationError(_("Choose approve or reject."), code="review_decision_invalid")
    if not reason or not reason.strip():
        raise ValidationError(_("Give a reason for the review."), code="review_reason_required")
    if reviewer is None or not getattr(reviewer, "pk", None):
        raise ValidationError(_("A review needs a reviewer."), code="reviewer_required")
    permissions.require(reviewer, permissions.REVIEW)
    if review.user_id is not None and review.user_id == reviewer.pk:
        raise SelfReviewRefused()
    reason = reason.strip()
    # The same duck-typed fields as an attempt's: the name is compared under the review's id.
    refuse_personal_data_in_reason(reason, cast(Any, review), actor=reviewer)
    target = _VERDICTS[str(decision)]
    now = timezone.now()
    with transaction.atomic():
        updated = DocumentReview._base_manager.filter(pk=review.pk, status=S.PENDING.value).update(
            status=target, reviewer=reviewer, review_reason=reason, decided_at=now
        )
        if updated != 1:
            raise IllegalTransition(review.status, target, detail="the review is not pending")
        review.status, review.reviewer, review.review_reason, review.decided_at = (
            target,
            reviewer,
            reason,
            now,
        )
        record(
            review,
            StaffAuditKind.DOCUMENTS_DECIDED,
            actor=reviewer,
            decision=target,
            reason=reason,
        )
        _send_after_commit(review, reviewer=reviewer)
        _erase_documents_once_decided(review)
    logger.info("document review %s: %s", review.pk, target)
    return review


def _send_after_commit(review: DocumentReview, **kwargs: Any) -> None:
    def send() -> None:
        for receiver, response in document_review_decided.send_robust(
            sender=DocumentReview, review=review, **kwargs
        ):
            if isinstance(response, Exception):
                logger.error(
                    "document review %s: signal receiver %r raised %s",
                    review.pk,
                    receiver,
                    type(response).__name__,
                )

    transaction.on_commit(send)


def _erase_documents_once_decided(review: DocumentReview) -> None:
    """With ``SELFIE_RETENTION_DAYS`` 0 (the default) the photos go with the decision, as a
    selfie does; a longer setting leaves them to ``purge``."""
    if int(face_idcard_settings.SELFIE_RETENTION_DAYS) != 0 or review.legal_hold:
        return
    if _erase(review, fields=_DOCUMENT_FIELDS, now=timezone.now()):
        record(review, StaffAuditKind.DOCUMENTS_ERASED, what="documents", at="decision")


# --- Reading the personal information (audited) ------------------------------------------


def _require_named_viewer(viewer: Any) -> None:
    if viewer is None or not getattr(viewer, "pk", None):
        raise ValidationError(
            _("Reading personal information needs a named viewer."), code="viewer_required"
        )
    permissions.require(viewer, permissions.VIEW_PII)


@forget_locals_on_error
def reveal_documents(review: DocumentReview, *, viewer: Any, purpose: str = "") -> tuple[str, str]:
    """The clear ID number and name, for the review console; the photos are read after it by
    ``read_document`` (a link this call's audit event covers). ``face_idcard.view_pii``
    required; every call is in the trail with the viewer and ``purpose`` (a code)."""
    _require_named_viewer(viewer)
    if not review.idcard_number_encrypted and not review.idcard_name_encrypted:
        raise PersonalInformationUnavailable("the personal information was erased")
    number = crypto.decrypt_text(
        review.idcard_number_encrypted, attempt_id=review.pk, field=crypto.NUMBER
    )
    name = crypto.decrypt_text(
        review.idcard_name_encrypted, attempt_id=review.pk, field=crypto.NAME
    )
    extra = {"purpose": purpose} if purpose else {}
    record(
        review,
        StaffAuditKind.DOCUMENTS_VIEWED,
        actor=viewer,
        what="pii" + ("+documents" if review.has_documents else ""),
        **extra,
    )
    logger.info("document review %s: viewed by user id %s", review.pk, viewer.pk)
    return number, name


def read_document(review: DocumentReview, side: str, *, viewer: Any) -> tuple[bytes, str]:
    """One side's photo behind a link that :func:`reveal_documents` issued, not audited again
    (the permission is checked again). :class:`PersonalInformationUnavailable` when erased."""
    _require_named_viewer(viewer)
    if side not in SIDES:
        raise PersonalInformationUnavailable("no such side")
    name = review.front_name if side == FRONT else review.back_name
    content_type = review.front_content_type if side == FRONT else review.back_content_type
    if not name or content_type not in CONTENT_TYPES:
        raise PersonalInformationUnavailable("the photo is not stored")
    try:
        with selfie_storage(review.document_storage).open(name, "rb") as handle:
            sealed = handle.read()
    except FileNotFoundError:
        raise PersonalInformationUnavailable("the photo was erased") from None
    return crypto.decrypt_bytes(sealed, attempt_id=_binding(review.pk, side)), content_type


# --- Retention ---------------------------------------------------------------------------------


def _erase(review: DocumentReview, *, fields: dict[str, Any], now: datetime, **extra: Any) -> bool:
    """Clear ``fields`` unless the review is under legal hold; delete the photos after commit."""
    values = dict(fields)
    values["documents_purged_at"] = review.documents_purged_at or now
    if "idcard_number_encrypted" in values:
        values["pii_purged_at"] = review.pii_purged_at or now
    values.update(extra)
    updated = DocumentReview._base_manager.filter(pk=review.pk, legal_hold=False).update(**values)
    if updated != 1:
        return False
    names, alias = [review.front_name, review.back_name], review.document_storage
    for key, value in values.items():
        setattr(review, key, value)
    if any(names):
        transaction.on_commit(lambda: _delete(names, alias))
    return True


def redact_documents(review: DocumentReview, *, actor: Any = None) -> DocumentReview:
    """Erase the review's photos and personal information now (the record and its trail stay).
    ``actor`` needs ``face_idcard.redact``; a pending review is decided or withdrawn first
    (:class:`IllegalTransition`); a legal hold refuses (:class:`LegalHoldActive`)."""
    who = permissions.require(actor, permissions.REDACT)
    if review.legal_hold:
        raise LegalHoldActive("the review is under legal hold")
    if review.status == S.PENDING.value:
        raise IllegalTransition(review.status, "redacted", detail="decide it first")
    now = timezone.now()
    with transaction.atomic():
        if not _erase(review, fields=_REDACTED_FIELDS, now=now, redacted_at=now):
            raise LegalHoldActive("the review is under legal hold")
        record(
            review, StaffAuditKind.DOCUMENTS_ERASED, actor=actor, what="all", at="redaction", **who
        )
    logger.info("document review %s: redacted", review.pk)
    return review


def set_documents_legal_hold(
    review: DocumentReview, *, hold: bool, actor: Any = None, reason: str = ""
) -> DocumentReview:
    """Put the review under legal hold (nothing of it is erased) or lift it; ``actor`` needs
    ``face_idcard.redact``. The event is a ``documents_erased`` one with ``hold`` (no erasure:
    the trail of what is kept and why)."""
    who = permissions.require(actor, permissions.REDACT)
    reason = reason.strip()
    if reason:
        refuse_personal_data_in_reason(reason, cast(Any, review), actor=actor)
    with transaction.atomic():
        updated = DocumentReview._base_manager.filter(pk=review.pk, legal_hold=not hold).update(
            legal_hold=hold
        )
        review.legal_hold = hold
        if updated == 1:
            record(
                review,
                StaffAuditKind.DOCUMENTS_ERASED,
                actor=actor,
                what="nothing",
                legal_hold=hold,
                reason=reason,
                **who,
            )
    return review


def purge_documents(now: datetime) -> dict[str, int]:
    """The photos of decided reviews past ``SELFIE_RETENTION_DAYS``, then their number and name
    past ``PII_RETENTION_DAYS`` (counted from the decision; a pending review is kept for its
    reviewer; a legal hold keeps everything)."""
    document_cutoff = now - timedelta(days=int(face_idcard_settings.SELFIE_RETENTION_DAYS))
    pii_cutoff = now - timedelta(days=int(face_idcard_settings.PII_RETENTION_DAYS))
    decided = DocumentReview._base_manager.filter(decided_at__isnull=False, legal_hold=False)
    counts = {"documents": 0, "document_pii": 0}
    due: list[tuple[QuerySet[DocumentReview], dict[str, Any], str, str]] = [
        (
            decided.filter(pii_purged_at__isnull=True, decided_at__lt=pii_cutoff),
            _PII_FIELDS,
            "pii",
            "document_pii",
        ),
        (
            decided.filter(documents_purged_at__isnull=True, decided_at__lt=document_cutoff),
            _DOCUMENT_FIELDS,
            "documents",
            "documents",
        ),
    ]
    for queryset, fields, what, counter in due:
        for review in queryset.iterator(chunk_size=500):
            with transaction.atomic():
                if _erase(review, fields=fields, now=now):
                    record(review, StaffAuditKind.DOCUMENTS_ERASED, what=what, at="purge")
                    counts[counter] += 1
    return counts


def withdraw_documents(
    condition: Q, *, actor: Any, now: datetime, who: dict[str, Any]
) -> dict[str, int]:
    """The person's reviews (``condition``) on a withdrawal of consent, inside the caller's
    transaction: a pending one is withdrawn, each one's photos and personal information erased
    (a legal hold excepted). Counts: ``found``, ``withdrawn``, ``erased``, ``held``."""
    counts = {"found": 0, "withdrawn": 0, "erased": 0, "held": 0}
    pks = list(
        DocumentReview._base_manager.filter(condition).order_by("pk").values_list("pk", flat=True)
    )
    for pk in pks:
        review = DocumentReview._base_manager.select_for_update().filter(pk=pk).first()
        if review is None:
            continue
        counts["found"] += 1
        if (
            review.status == S.PENDING.value
            and DocumentReview._base_manager.filter(pk=pk, status=S.PENDING.value).update(
                status=S.WITHDRAWN.value, decided_at=now
            )
            == 1
        ):
            review.status, review.decided_at = S.WITHDRAWN.value, now
            record(review, StaffAuditKind.DOCUMENTS_WITHDRAWN, actor=actor, **who)
            counts["withdrawn"] += 1
        if review.legal_hold:
            counts["held"] += 1
            record(
                review,
                StaffAuditKind.DOCUMENTS_ERASED,
                actor=actor,
                what="nothing",
                kept="legal_hold",
                at="withdrawal",
                **who,
            )
            continue
        had = review.has_pii
        if _erase(review, fields=_REDACTED_FIELDS, now=now, redacted_at=now):
            if had:
                counts["erased"] += 1
            record(
                review,
                StaffAuditKind.DOCUMENTS_ERASED,
                actor=actor,
                what="all",
                at="withdrawal",
                **who,
            )
        else:
            counts["held"] += 1
    return counts


# --- Key rotation ----------------------------------------------------------------------------


def rotate_documents() -> int:
    """Re-encrypt each review's number and name and re-seal its photos under the newest key
    (into the current selfie storage), and re-hash its ID number under the newest hash key,
    as ``rotate_keys`` does for attempts. Each UPDATE is conditional on the row still holding
    what was read and not being erased meanwhile: erased data never comes back (a review that
    changed is skipped; the next rotation takes it). Returns the reviews rotated."""
    rotated = 0
    candidates = DocumentReview._base_manager.filter(
        redacted_at__isnull=True, pii_purged_at__isnull=True
    ).exclude(idcard_number_encrypted="", idcard_name_encrypted="", front_name="", back_name="")
    for pk in candidates.values_list("pk", flat=True).iterator(chunk_size=500):
        review = DocumentReview._base_manager.filter(pk=pk).first()
        if review is not None and review.has_pii and _rotate_one(review):
            rotated += 1
    logger.info("rotate_keys: %d document reviews", rotated)
    return rotated


def _rotate_one(review: DocumentReview) -> bool:
    pk = review.pk
    number = crypto.decrypt_text(review.idcard_number_encrypted, attempt_id=pk, field=crypto.NUMBER)
    fields: dict[str, Any] = {
        "idcard_number_encrypted": crypto.rotate_token(
            review.idcard_number_encrypted, attempt_id=pk, field=crypto.NUMBER
        ),
        "idcard_name_encrypted": crypto.rotate_token(
            review.idcard_name_encrypted, attempt_id=pk, field=crypto.NAME
        ),
    }
    if number:
        fields["idcard_hash_key_id"], fields["idcard_hash"] = crypto.id_number_hash_with_key(number)
    del number
    old = {FRONT: review.front_name, BACK: review.back_name}
    new: dict[str, str] = {}
    try:
        for side, name in old.items():
            if not name:
                continue
            with selfie_storage(review.document_storage).open(name, "rb") as handle:
                clear = crypto.decrypt_bytes(handle.read(), attempt_id=_binding(pk, side))
            new[side] = _save(clear, pk, side)
            del clear
    except FileNotFoundError:
        _delete(new.values(), current_selfie_storage_alias())
        return False  # erased meanwhile
    if new:
        fields.update(
            {f"{side}_name": name for side, name in new.items()},
            document_storage=current_selfie_storage_alias(),
        )
    with transaction.atomic():
        updated = DocumentReview._base_manager.filter(
            pk=pk,
            idcard_number_encrypted=review.idcard_number_encrypted,
            idcard_name_encrypted=review.idcard_name_encrypted,
            front_name=review.front_name,
            back_name=review.back_name,
            redacted_at__isnull=True,
            pii_purged_at__isnull=True,
        ).update(**fields)
    if updated != 1:
        _delete(new.values(), current_selfie_storage_alias())  # the copies nobody points at
        return False
    _delete([old[side] for side in new], review.document_storage)
    return True
