"""``submit``: validate, store encrypted, refuse over the daily limits (``limits``), enqueue on
commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any
from uuid import uuid4

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import router
from django.db.models import CharField, Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import _audit as audit
from .. import _filing as filing
from .. import crypto
from .._capture import validate_capture_source
from .._consent import current_draft, notice_for_version, require_coverage, validate_consent_time
from .._identity import check_minimum_age, validate_id_number, validate_name
from .._images import check_upload_type, limits_for, read_upload, validate_image
from .._masking import mask_id_number, mask_name
from .._netpolicy import validate_url
from .._textfields import validate_text_length
from ..backends import default_alias, usable_backend
from ..exceptions import ConsentRequired
from ..models import AttemptEvent, EventKind, VerificationAttempt
from ..sensitive import Sensitive, forget_locals_on_error
from ..states import Decision, Status
from . import _limits as limits
from . import _slots as slots
from ._common import (
    current_selfie_storage_alias,
    delete_selfie,
    enqueue_on_commit,
    save_selfie,
)

logger = logging.getLogger("face_idcard.services")


def _user_or_none(user: Any) -> Any:
    """The user the attempt belongs to, or None for AnonymousUser and None.

    Anything else is a programming error that must not pass silently: a user name or id in
    place of the user would drop the per-user daily limit without a word.
    """
    if user is None or isinstance(user, AnonymousUser):
        return None
    if not isinstance(user, get_user_model()):
        raise TypeError(
            f"user must be a {get_user_model().__name__} instance, AnonymousUser or None, "
            f"not {type(user).__name__}"
        )
    if user.pk is None:
        raise TypeError("user must be a saved user (it has no primary key yet)")
    return user


def _field_limit(name: str, model: type[Model] = VerificationAttempt) -> int:
    """The column's max_length: the one place each length rule lives."""
    field = model._meta.get_field(name)
    assert isinstance(field, CharField) and field.max_length is not None
    return field.max_length


def notice_and_reference(
    notice_version: str | None,
    external_reference: str,
    model: type[Model] = VerificationAttempt,
) -> tuple[str, str]:
    """The notice version (None: the one the onboarding page shows now,
    NOTICE_ACCEPTED_VERSIONS' first, NOTICE_CURRENT_VERSION, or the version made from its
    text) and the external reference, checked; lengths are those of ``model``'s columns.
    Shared by the face path and the document review."""
    if notice_version is None:
        notice_version = current_draft().version
    notice_version = validate_text_length(
        notice_version,
        field=_("The privacy notice version"),
        max_length=_field_limit("notice_version", model),
    )
    external_reference = validate_text_length(
        external_reference,
        field=_("The external reference"),
        max_length=_field_limit("external_reference", model),
    )
    return notice_version, external_reference


@forget_locals_on_error
def submit(
    *,
    idcard_number: str,
    idcard_name: str,
    image: bytes | IO[bytes] | UploadedFile[Any] | None = None,
    url: str | None = None,
    user: Any = None,
    consent_at: datetime | None,
    notice_version: str | None = None,
    external_reference: str = "",
    backend: str | None = None,
    enqueue: bool = True,
    guardian_consent: bool = False,
    capture_source: str = "",
) -> VerificationAttempt:
    """Store a new attempt and (on commit) queue it for the pipeline.

    Validates everything first, cheapest checks first (types, lengths, consent, the ID number
    and name, the daily limits), the image last: bad input is refused with a
    ``ValidationError`` before anything is stored, sent or paid for. Raises
    :class:`ConsentRequired` without ``consent_at``, :class:`AttemptLimitExceeded` over the
    daily limits, :class:`BackendUnavailable` when the backend cannot be built, ``TypeError``
    for a ``user`` or ``image`` of the wrong type.
    ``guardian_consent``: the caller states that a parent or guardian consented, which a
    person under ``MIN_AGE_YEARS`` needs. ``capture_source``: how the client says the photo was
    taken (``camera``, ``capture_input`` or ``file``); "file" is refused where
    ``ONBOARDING_FILE_UPLOAD`` allows no file for the backend.

    The attempt and its events are stored in one ``transaction.atomic``; called inside a
    transaction of the caller's, that is a savepoint in it, and the attempt is queued when
    the caller commits (a row of the caller's stored in the same transaction exists exactly
    when the attempt does).
    """
    user = _user_or_none(user)
    if image is not None:
        check_upload_type(image)
    if consent_at is None:
        raise ConsentRequired()
    consent_at = validate_consent_time(consent_at)
    if (image is None) == (url is None):
        raise ValidationError(
            _("Send either a photo or the address of a photo."), code="image_or_url"
        )
    notice_version, external_reference = notice_and_reference(notice_version, external_reference)
    # From here on the values are Sensitive (masked in every repr); the clear arguments are
    # dropped so that no frame of ours holds them (see face_idcard.sensitive).
    number = Sensitive.id_number(validate_id_number(idcard_number))
    name = Sensitive.name(validate_name(idcard_name))
    del idcard_number, idcard_name
    check_minimum_age(number.reveal(), guardian_consent=guardian_consent)
    backend_name = backend or default_alias()
    service = usable_backend(backend_name)  # BackendUnavailable: nothing stored, sent
    # The consent must name where the face goes: refused before anything is stored or sent
    # (a site that adds a provider asks for consent again, with a new notice version).
    consent = require_coverage(notice_for_version(notice_version), service)
    capture_source = validate_capture_source(capture_source, backend_name)
    if url is not None and not service.accepts_url:
        raise ValidationError(
            _("This verification service does not take a photo address. Upload the photo."),
            code="url_not_accepted",
        )

    now = timezone.now()
    hash_key_id, idcard_hash = crypto.id_number_hash_with_key(number.reveal())
    using = router.db_for_write(VerificationAttempt)
    every_hash = crypto.id_number_hashes(number.reveal())
    daily = limits.DailyLimits(
        using=using,
        # The stored hash first: the one the limit locks are taken on.
        idcard_hashes=[idcard_hash, *(other for other in every_hash if other != idcard_hash)],
        user=user,
        now=now,
    )
    # Over the limit already: refused before the costly work below (the image, the
    # encryption). Where the count that holds under concurrency comes first in the storing
    # transaction, under the limit locks (PostgreSQL, MySQL/MariaDB), that count is the only
    # one and the image work follows it inside the transaction (submits of the same ID
    # number or user wait for each other, nobody else); elsewhere (SQLite: the INSERT must
    # come first) a lock-free early count now, and the count that holds after the INSERT.
    counted_first = daily.counts_before_storing()
    if not counted_first:
        try:
            daily.precheck()
        except limits.AccountsPerIdReached:
            daily.record_accounts_reached()
            raise
    selfie: tuple[str, str] | None = None
    prepared: list[tuple[VerificationAttempt, list[Any], float | None]] = []

    def prepare() -> tuple[VerificationAttempt, list[Any], float | None]:
        """The image work and the attempt, once (a deadlock victim's retry reuses them)."""
        nonlocal image, url, selfie
        if not prepared:
            prepared.append(
                _prepare(
                    service=service,
                    image=image,
                    url=url,
                    user=user,
                    backend_name=backend_name,
                    number=number,
                    name=name,
                    idcard_hash=idcard_hash,
                    hash_key_id=hash_key_id,
                    consent_at=consent_at,
                    consent=consent,
                    external_reference=external_reference,
                    now=now,
                    enqueue=enqueue,
                    guardian_consent=guardian_consent,
                    capture_source=capture_source,
                )
            )
            # No frame of ours keeps the photo or its address once it is sealed.
            image = url = None
            if prepared[0][0].selfie_name:
                selfie = (prepared[0][0].selfie_name, prepared[0][0].selfie_storage)
        return prepared[0]

    try:
        if not counted_first:
            prepare()

        def store() -> None:
            with daily.enforced():
                attempt, events, _ = prepare()
                attempt.save(using=using, force_insert=True)
                for item in events:
                    item.pk = None  # a deadlock victim's rolled-back ids are not kept
                AttemptEvent.objects.using(using).bulk_create(events)
                # Last: the register's count row is held until the commit, as briefly as can be.
                filing.record_person(
                    key_id=hash_key_id, idcard_hash=idcard_hash, every_hash=every_hash, using=using
                )

        limits.retry_deadlocks(store, using=using)
        attempt, _events, countdown = prepared[0]
    except BaseException as error:
        # The row was not stored (refused over a limit, or failed, the COMMIT included): do
        # not leave an orphaned encrypted selfie behind.
        if selfie is not None:
            delete_selfie(*selfie)
        if isinstance(error, limits.AccountsPerIdReached):
            daily.record_accounts_reached()
        raise
    # Stored: committed, or (inside a caller's transaction) released into it, where the hook
    # waits for the caller's commit, and is dropped if the caller rolls back.
    if enqueue and countdown is not None:
        enqueue_on_commit(
            attempt.pk,
            countdown or None,
            on_failure=_record_failed_publish(attempt),
        )
    logger.info("attempt %s: created (backend %s)", attempt.pk, backend_name)
    return attempt


def _prepare(
    *,
    service: Any,
    image: bytes | IO[bytes] | UploadedFile[Any] | None,
    url: str | None,
    user: Any,
    backend_name: str,
    number: Sensitive[str],
    name: Sensitive[str],
    idcard_hash: str,
    hash_key_id: str,
    consent_at: datetime,
    consent: dict[str, Any],
    external_reference: str,
    now: datetime,
    enqueue: bool,
    guardian_consent: bool,
    capture_source: str,
) -> tuple[VerificationAttempt, list[Any], float | None]:
    """The costly part of :func:`submit`, after the limits: the image (prepared, sealed and
    stored) or the url, the attempt (not saved), its events and its publish countdown (None:
    parked)."""
    prepared = None
    if image is not None:
        # The backend's limits narrowed by the site's, upload cap included.
        limits = limits_for(service.image_limits)
        prepared = validate_image(read_upload(image, limits.max_input_bytes), limits)
    clean_url = Sensitive(validate_url(url) if url is not None else "")
    del image, url

    attempt_id = uuid4()  # known before encrypting: each ciphertext is bound to it
    attempt = VerificationAttempt(
        id=attempt_id,
        user=user,
        backend=backend_name,
        idcard_number_encrypted=crypto.encrypt_text(
            number.reveal(), attempt_id=attempt_id, field=crypto.NUMBER
        ),
        idcard_name_encrypted=crypto.encrypt_text(
            name.reveal(), attempt_id=attempt_id, field=crypto.NAME
        ),
        idcard_hash=idcard_hash,
        idcard_hash_key_id=hash_key_id,
        idcard_number_masked=mask_id_number(number.reveal()),
        idcard_name_masked=mask_name(name.reveal()),
        url_encrypted=crypto.encrypt_text(
            clean_url.reveal(), attempt_id=attempt_id, field=crypto.URL
        ),
        consent_at=consent_at,
        **consent,
        external_reference=external_reference,
        capture_source=capture_source,
        status=Status.QUEUED.value,
        decision=Decision.NONE.value,
        created_at=now,
        queued_at=now,
    )
    countdown: float | None = 0.0
    if enqueue:
        # A rate-limited backend: the attempt's slot now, so that its message comes once, when
        # the slot opens (or, far ahead, the sweeper publishes it).
        limit = service.rate_limit_per_second
        if limit is not None:
            slot = slots.reserve(limit, backend_name)
            countdown = slot.countdown
            for field, value in slot.fields.items():
                setattr(attempt, field, value)
    if prepared is not None:
        attempt.selfie_storage = current_selfie_storage_alias()
        attempt.selfie_name = save_selfie(prepared.data, attempt.id)
        attempt.selfie_content_type = prepared.content_type
    events = [
        audit.event(
            attempt,
            EventKind.CREATED,
            actor=user,
            backend=backend_name,
            mode="url" if clean_url.reveal() else "image",
            notice_version=attempt.notice_version,
            notice_sha256=attempt.notice_sha256,
            guardian_consent=guardian_consent,
            **({"capture_source": capture_source} if capture_source else {}),
        ),
        # What is known now: the message is published after the commit (or by the caller);
        # a publish that fails records its own event then.
        audit.event(
            attempt,
            EventKind.QUEUED,
            publish=(
                ("after_commit" if countdown is not None else "parked") if enqueue else "caller"
            ),
        ),
    ]
    return attempt, events, countdown


def _record_failed_publish(attempt: VerificationAttempt) -> Callable[[str], None]:
    def record(error_class: str) -> None:
        # The attempt stays queued; the sweeper publishes it after QUEUED_STALE_SECONDS.
        audit.record(
            attempt, EventKind.QUEUED, published=False, error=error_class, recovery="sweeper"
        )

    return record
