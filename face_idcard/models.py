"""Verification attempts and their append-only audit trail.

Personal information is stored encrypted (see :mod:`face_idcard.crypto`): the ID number, the
name and the image url as Fernet tokens, the selfie as an encrypted blob under a random name
in a private storage. For display there are masked forms; for counting attempts per person a
keyed hash. Nothing here decrypts on its own: reading the clear text goes through
``services.reveal_pii`` (audited) or the pipeline.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ._capture import CAPTURE_SOURCE_CHOICES
from ._reasons import REASON_CHOICES
from .exceptions import AuditLogError
from .outcome import Liveness
from .permissions import PERMISSIONS

# The webhook tables, declared in their package and registered with the app's models here.
from .webhooks.models import WebhookDelivery as WebhookDelivery
from .webhooks.models import WebhookEndpoint as WebhookEndpoint
from .webhooks.models import WebhookMessage as WebhookMessage

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from .states import (
    DECISION_CHOICES,
    REVIEW_DECISION_CHOICES,
    STATUS_CHOICES,
    Decision,
    Status,
    StrChoice,
)

#: The rows of an append-only queryset.
_Row = TypeVar("_Row", bound=models.Model)


LIVENESS_CHOICES: list[tuple[str, StrOrPromise]] = [
    (Liveness.PASSED.value, _("Passed")),
    (Liveness.SPOOF_SUSPECTED.value, _("Spoof suspected")),
    (Liveness.NOT_CHECKED.value, _("Not checked")),
    (Liveness.UNAVAILABLE.value, _("Check unavailable")),
]


class VerificationAttempt(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # Deleting a user never deletes verification history.
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="face_idcard_attempts",
        verbose_name=_("user"),
        # No index of its own: face_idcard_user_hash_idx leads with the user, and serves
        # every lookup by user (one index fewer to write on each new attempt).
        db_index=False,
    )
    # The alias of FACE_IDCARD["BACKENDS"] the attempt runs on (it finishes there, whatever
    # the default becomes meanwhile).
    backend = models.CharField(_("backend"), max_length=200)

    # --- Personal information (encrypted; masked copies for display) -----------------------
    idcard_number_encrypted = models.TextField(blank=True, editable=False)
    idcard_name_encrypted = models.TextField(blank=True, editable=False)
    idcard_hash = models.CharField(_("ID number hash"), max_length=64, blank=True, editable=False)
    # The stable id of the PII_HASH_KEYS entry that made idcard_hash (never a list position,
    # which shifts when a key is added); "" for hashes made before key ids existed.
    idcard_hash_key_id = models.CharField(
        _("ID number hash key"), max_length=32, blank=True, editable=False
    )
    idcard_number_masked = models.CharField(_("ID number"), max_length=32, blank=True)
    idcard_name_masked = models.CharField(_("name"), max_length=64, blank=True)
    # Relative name inside SELFIE_STORAGE of the encrypted image; random, no PII in it.
    selfie_name = models.CharField(max_length=255, blank=True, editable=False)
    # The STORAGES alias holding the selfie: it is read and deleted there even after
    # SELFIE_STORAGE changes.
    selfie_storage = models.CharField(max_length=100, blank=True, editable=False)
    selfie_content_type = models.CharField(max_length=50, blank=True)
    url_encrypted = models.TextField(blank=True, editable=False)
    consent_at = models.DateTimeField(_("consent given at"))
    notice_version = models.CharField(_("privacy notice version"), max_length=64, blank=True)
    # What the consent covered (face_idcard._consent): the notice's full text hash (its text is
    # the ConsentNotice of that version and hash), who the face may go to, by alias, and
    # that it travels over the Internet. Null: an attempt made before consent records existed.
    notice_sha256 = models.CharField(
        _("privacy notice SHA-256"), max_length=64, blank=True, editable=False
    )
    consent_recipients = models.JSONField(
        _("consented recipients, by backend"), null=True, blank=True, editable=False
    )
    consent_over_internet = models.BooleanField(
        _("consented to sending over the Internet"), null=True, blank=True, editable=False
    )

    # --- Outcome ---------------------------------------------------------------------------
    status = models.CharField(
        _("status"), max_length=16, choices=STATUS_CHOICES, default=Status.QUEUED.value
    )
    decision = models.CharField(
        _("decision"), max_length=16, choices=DECISION_CHOICES, default=Decision.NONE.value
    )
    similarity = models.FloatField(_("similarity"), null=True, blank=True)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    provider_session_id = models.CharField(_("provider session id"), max_length=128, blank=True)
    # A string: holds both "-5803" and "FailedOperation.IdNameMisMatch".
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_class = models.CharField(_("error class"), max_length=16, blank=True)
    error_message = models.CharField(_("error message"), max_length=255, blank=True)
    # The neutral reason (face_idcard.outcome.Reason), the same vocabulary for every provider.
    reason = models.CharField(_("reason"), max_length=32, choices=REASON_CHOICES, blank=True)
    provider_request_id = models.CharField(_("provider request id"), max_length=128, blank=True)
    raw_response = models.JSONField(_("provider response (PII removed)"), null=True, blank=True)
    # Whether the photo came from a live person (face_idcard.outcome.Liveness), who said so
    # ("<provider>.<API>") and, for a suspected spoof, the provider's risk level and attacks.
    liveness = models.CharField(
        _("liveness"), max_length=16, choices=LIVENESS_CHOICES, default=Liveness.NOT_CHECKED.value
    )
    liveness_source = models.CharField(_("liveness checked by"), max_length=64, blank=True)
    liveness_risk_level = models.CharField(_("liveness risk level"), max_length=16, blank=True)
    liveness_attack_types = models.JSONField(_("liveness attack types"), default=list, blank=True)
    # How the photo was taken, as the client said (face_idcard._capture): a record for the
    # reviewer beside the liveness verdict, never proof (any client can say "camera").
    capture_source = models.CharField(
        _("photo taken with"),
        max_length=16,
        choices=CAPTURE_SOURCE_CHOICES,
        blank=True,
        default="",
    )
    # The reserved rate-limit slot (next_attempt_at..slot_ends_at) is the liveness pre-check's
    # quota, not the comparison's: each is a permit only for its own call.
    slot_for_liveness = models.BooleanField(default=False, editable=False)
    provider_calls = models.PositiveIntegerField(_("provider calls"), default=0)
    provider_latency_ms = models.FloatField(_("provider latency (ms)"), null=True, blank=True)
    retry_count = models.PositiveSmallIntegerField(_("retries"), default=0)
    resign_count = models.PositiveSmallIntegerField(default=0)
    url_fetch_count = models.PositiveSmallIntegerField(default=0)
    # Transient failures (and waits for a provider that is down) are retried until then:
    # RETRY_WINDOW_MINUTES after the first one (services._retries). Null: none yet.
    retry_until = models.DateTimeField(_("retrying until"), null=True, blank=True)
    external_reference = models.CharField(_("external reference"), max_length=255, blank=True)
    # A re-run (services.rerun) points at the attempt it repeats; re-runs do not count
    # toward the person's daily limits.
    rerun_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reruns",
        editable=False,
        verbose_name=_("re-run of"),
    )

    # --- Times and the worker's claim --------------------------------------------------------
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next try"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # A rate-limited attempt's reserved slot runs from next_attempt_at to here; parked: the
    # slot was too far ahead for the broker, so no message is out and the sweeper sends one.
    slot_ends_at = models.DateTimeField(_("reserved slot ends"), null=True, blank=True)
    parked = models.BooleanField(_("parked until its slot"), default=False)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)

    # --- Human review ------------------------------------------------------------------------
    review_decision = models.CharField(
        _("review decision"), max_length=16, choices=REVIEW_DECISION_CHOICES, blank=True
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    review_reason = models.TextField(_("review reason"), blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    # Drawn at random (REVIEW_AUDIT_SAMPLE_RATE) among decided attempts of every score and
    # sent to review: the unbiased population the threshold calibration rests on.
    audit_sample = models.BooleanField(_("audit sample"), default=False, editable=False)

    # --- Retention -----------------------------------------------------------------------------
    legal_hold = models.BooleanField(_("legal hold"), default=False)
    selfie_purged_at = models.DateTimeField(_("selfie purged"), null=True, blank=True)
    pii_purged_at = models.DateTimeField(_("personal information purged"), null=True, blank=True)
    redacted_at = models.DateTimeField(_("redacted"), null=True, blank=True)

    class Meta:
        verbose_name = _("verification attempt")
        verbose_name_plural = _("verification attempts")
        ordering = ("-created_at",)
        # The app's own permissions (face_idcard.permissions), for every entry point.
        permissions = PERMISSIONS
        indexes = [  # noqa: RUF012
            # Admin filters. The changelist's default order (by time alone) is read from
            # face_idcard_stats_idx, which leads with the time.
            models.Index(fields=["status", "-created_at"], name="face_idcard_status_idx"),
            models.Index(fields=["decision", "-created_at"], name="face_idcard_decision_idx"),
            models.Index(fields=["error_class"], name="face_idcard_errclass_idx"),
            # The account last: the abuse signals' mismatch bursts read this index alone.
            models.Index(
                fields=["reason", "-created_at", "user"], name="face_idcard_reason_user_idx"
            ),
            models.Index(fields=["backend"], name="face_idcard_backend_idx"),
            models.Index(fields=["external_reference"], name="face_idcard_extref_idx"),
            # Limits against enumeration (per ID number / per user per day).
            # The account (and the ID number) last: the abuse signals group by ID number and
            # by account over a window reading these indexes alone (face_idcard.insight.abuse).
            models.Index(
                fields=["idcard_hash", "created_at", "user"], name="face_idcard_hash_user_idx"
            ),
            models.Index(
                fields=["user", "created_at", "idcard_hash"], name="face_idcard_user_hash_idx"
            ),
            # The sweeper: expired leases, lost messages.
            models.Index(fields=["status", "lease_expires_at"], name="face_idcard_lease_idx"),
            models.Index(fields=["status", "queued_at"], name="face_idcard_queued_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="face_idcard_retry_idx"),
            # Retention.
            models.Index(fields=["legal_hold", "finished_at"], name="face_idcard_purge_idx"),
            # Statistics (face_idcard.insight); the review backlog reads face_idcard_awaiting_idx.
            models.Index(fields=["reviewed_at"], name="face_idcard_reviewed_idx"),
            # Every column the statistics group attempts by, after the window's: an index-only
            # scan counts a 30-day window without reading the table (face_idcard.insight.stats).
            models.Index(
                fields=[
                    "created_at",
                    "backend",
                    "status",
                    "decision",
                    "review_decision",
                    "reason",
                    "error_code",
                ],
                name="face_idcard_stats_idx",
            ),
            # The review backlog of the statistics page and the review queue: the band's and the
            # audit sample's unreviewed attempts are each one range of it (insight.stats.backlog),
            # counted without reading the table. A full index, not a partial one: MySQL and
            # MariaDB ignore an index's condition (models.W037) and would index every row by
            # backend alone. It serves every query by status and review time as well.
            models.Index(
                fields=[
                    "status",
                    "reviewed_at",
                    "audit_sample",
                    "decision",
                    "backend",
                    "created_at",
                ],
                name="face_idcard_awaiting_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pk} ({self.status})"

    def __repr__(self) -> str:
        # Never PII: id, status and decision only.
        return f"<VerificationAttempt {self.pk} status={self.status} decision={self.decision}>"

    @property
    def is_terminal(self) -> bool:
        from .states import is_terminal

        return is_terminal(self.status)

    @property
    def final_decision(self) -> str:
        """The reviewer's decision where there is one, else the machine's."""
        return self.review_decision or self.decision

    @property
    def has_pii(self) -> bool:
        return bool(
            self.idcard_number_encrypted
            or self.idcard_name_encrypted
            or self.selfie_name
            or self.url_encrypted
        )


class AppendOnlyModel(models.Model):
    """A row of an append-only trail: saved once, never updated or deleted one by one. A trail
    that must refuse bulk changes too has an :class:`AppendOnlyQuerySet` as its manager."""

    #: The rows' name in the refusals.
    trail_name = "audit events"

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogError(f"{self.trail_name} cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogError(f"{self.trail_name} cannot be deleted")


class AppendOnlyQuerySet(models.QuerySet[_Row]):
    """A queryset that refuses bulk updates and deletes (the rule of an append-only trail)."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditLogError("audit events cannot be updated")

    def delete(self) -> NoReturn:
        raise AuditLogError("audit events cannot be deleted")


class AttemptEventQuerySet(AppendOnlyQuerySet["AttemptEvent"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[AttemptEvent]:
        created = super().bulk_create(objs, *args, **kwargs)
        _announce(created)
        return created


class EventKind(StrChoice):
    CREATED = "created"
    QUEUED = "queued"
    PROVIDER_CALL = "provider_call"
    RETRY_SCHEDULED = "retry_scheduled"
    DECIDED = "decided"
    FINISHED = "finished"
    REVIEWED = "reviewed"
    PII_VIEWED = "pii_viewed"
    REDACTED = "redacted"
    PURGED = "purged"
    CANCELED = "canceled"
    REQUEUED_BY_SWEEPER = "requeued_by_sweeper"
    KEYS_ROTATED = "keys_rotated"
    LEGAL_HOLD_SET = "legal_hold_set"
    LEGAL_HOLD_RELEASED = "legal_hold_released"
    REVIEW_PENDING = "review_pending"
    RERUN = "rerun"
    LATE_RESULT = "late_result"
    WAITING_FOR_PROVIDER = "waiting_for_provider"
    POSSIBLY_BILLED = "possibly_billed"
    LATE_ANSWER = "late_answer"
    LIMITS_RESET = "limits_reset"
    WITHDRAWN = "withdrawn"
    #: A liveness pre-check call (its own API, quota and bill), before the comparison.
    LIVENESS_CHECK = "liveness_check"


EVENT_KIND_CHOICES: list[tuple[str, StrOrPromise]] = [
    (EventKind.CREATED.value, _("Created")),
    (EventKind.QUEUED.value, _("Queued")),
    (EventKind.PROVIDER_CALL.value, _("Provider call")),
    (EventKind.RETRY_SCHEDULED.value, _("Retry scheduled")),
    (EventKind.DECIDED.value, _("Decided")),
    (EventKind.FINISHED.value, _("Finished")),
    (EventKind.REVIEWED.value, _("Reviewed")),
    (EventKind.PII_VIEWED.value, _("Personal information viewed")),
    (EventKind.REDACTED.value, _("Redacted")),
    (EventKind.PURGED.value, _("Purged")),
    (EventKind.CANCELED.value, _("Canceled")),
    (EventKind.REQUEUED_BY_SWEEPER.value, _("Re-queued by the sweeper")),
    (EventKind.KEYS_ROTATED.value, _("Keys rotated")),
    (EventKind.LEGAL_HOLD_SET.value, _("Legal hold set")),
    (EventKind.LEGAL_HOLD_RELEASED.value, _("Legal hold lifted")),
    (EventKind.REVIEW_PENDING.value, _("First review, awaiting a second reviewer")),
    (EventKind.RERUN.value, _("Re-run")),
    (EventKind.LATE_RESULT.value, _("Late result (attempt already ended)")),
    (EventKind.WAITING_FOR_PROVIDER.value, _("Waiting for the provider to come back")),
    (EventKind.POSSIBLY_BILLED.value, _("Call possibly billed, no result (worker lost)")),
    (EventKind.LATE_ANSWER.value, _("Answer after the worker lost its lease")),
    (EventKind.LIMITS_RESET.value, _("Daily limits of the ID number reset")),
    (EventKind.WITHDRAWN.value, _("Consent withdrawn")),
    (EventKind.LIVENESS_CHECK.value, _("Liveness check")),
]


class AttemptEvent(AppendOnlyModel):
    """One line of an attempt's history. Never PII in ``data``; never updated or deleted."""

    attempt = models.ForeignKey(
        VerificationAttempt,
        # History is never cascaded away: an attempt with events cannot be deleted.
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("attempt"),
        # No index of its own: face_idcard_event_idx leads with the attempt.
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=32, choices=EVENT_KIND_CHOICES)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    data = models.JSONField(_("data"), default=dict, blank=True)

    objects = AttemptEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("attempt event")
        verbose_name_plural = _("attempt events")
        ordering = ("created_at", "id")
        indexes = [  # noqa: RUF012
            models.Index(fields=["attempt", "created_at"], name="face_idcard_event_idx"),
            # The statistics' provider calls in a window (face_idcard.insight.stats).
            models.Index(fields=["kind", "created_at"], name="face_idcard_event_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        _announce([self])


def _announce(events: list[AttemptEvent]) -> None:
    """The webhook messages of events just written, in their transaction (the outbox)."""
    from .webhooks.outbox import record_events

    record_events(events)


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` bound to the attempt its first request created (the API).

    ``fingerprint`` is a keyed HMAC of the request (``face_idcard.api.idempotency``): a
    retry must send the same request, and the stored value says nothing about the ID number
    to whoever reads the database without the key. Expired rows are removed by ``purge``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    # The client's header value, at most 255 characters (checked before it is stored).
    key = models.CharField(_("idempotency key"), max_length=255)
    fingerprint = models.CharField(max_length=64, editable=False)
    # Null only inside the transaction that claims the key before submitting (never committed
    # so): a concurrent duplicate waits on the claimed row instead of doing the work twice.
    attempt = models.ForeignKey(
        VerificationAttempt,
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
        verbose_name=_("attempt"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [  # noqa: RUF012
            # What makes concurrent duplicates safe: the second INSERT fails (on PostgreSQL it
            # waits for the first transaction, then fails), and reads the first one's row.
            models.UniqueConstraint(fields=["user", "key"], name="face_idcard_idem_user_key")
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.pk}"


class AttemptAwaitingReview(VerificationAttempt):
    """The admin's "needs review" queue (a proxy: same table, its own changelist)."""

    class Meta:
        proxy = True
        verbose_name = _("attempt awaiting review")
        verbose_name_plural = _("needs review")


class VerificationStatistics(VerificationAttempt):
    """The statistics page's entry on the admin index (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("verification statistics")
        verbose_name_plural = _("statistics")


class ProviderCallDay(models.Model):
    """One closed UTC day of ``provider_call`` events, summarised (face_idcard.insight.rollup).

    Provider-call events are never updated or deleted, so a day's events only ever grow: the
    summary is current exactly while ``events`` equals the day's count in the audit trail,
    which every statistics view checks (one index-only count) before using it."""

    day = models.DateTimeField(_("day (UTC midnight)"), unique=True)
    events = models.PositiveIntegerField(_("provider-call events summarised"))
    refreshed_at = models.DateTimeField(_("refreshed"))

    class Meta:
        verbose_name = _("provider-call day summary")
        verbose_name_plural = _("provider-call day summaries")
        default_permissions = ()

    def __str__(self) -> str:
        return f"provider calls {self.day:%Y-%m-%d}: {self.events}"


class ProviderCallBucket(models.Model):
    """Calls of one day and backend whose latency falls in one bucket (``latency_bucket`` is
    the bucket's lower edge in ms; NULL for calls without a latency)."""

    day = models.ForeignKey(
        ProviderCallDay, on_delete=models.CASCADE, related_name="buckets", verbose_name=_("day")
    )
    backend = models.CharField(_("backend"), max_length=200)
    latency_bucket = models.FloatField(_("latency bucket (ms)"), null=True)
    calls = models.PositiveIntegerField(_("calls"))
    billable = models.PositiveIntegerField(_("billable calls"))

    class Meta:
        verbose_name = _("provider-call latency bucket")
        verbose_name_plural = _("provider-call latency buckets")
        default_permissions = ()
        indexes = [  # noqa: RUF012
            models.Index(fields=["day", "backend"], name="face_idcard_callbucket_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.backend} {self.latency_bucket} ms: {self.calls}"


class StaffAuditKind(StrChoice):
    ID_SEARCH = "id_search"
    #: Processing records exported (face_idcard._records): the period, format, language and
    #: the stored record's id and digest.
    RECORDS_EXPORTED = "records_exported"
    # --- A document review (the non-face alternative, DocumentReview): its whole trail ---
    #: The person sent their ID card photos (the actor is the person).
    DOCUMENTS_SUBMITTED = "documents_submitted"
    #: A staff member approved or rejected them.
    DOCUMENTS_DECIDED = "documents_decided"
    #: A staff member saw the clear ID number, name and photos (an audited reveal).
    DOCUMENTS_VIEWED = "documents_viewed"
    #: The photos or the personal information were erased (purge, redaction, withdrawal).
    DOCUMENTS_ERASED = "documents_erased"
    #: The person withdrew their consent while the review was pending.
    DOCUMENTS_WITHDRAWN = "documents_withdrawn"


STAFF_AUDIT_KIND_CHOICES: list[tuple[str, StrOrPromise]] = [
    (StaffAuditKind.ID_SEARCH.value, _("Search by ID number")),
    (StaffAuditKind.RECORDS_EXPORTED.value, _("Processing records exported")),
    (StaffAuditKind.DOCUMENTS_SUBMITTED.value, _("ID card photos submitted for review")),
    (StaffAuditKind.DOCUMENTS_DECIDED.value, _("Document review decided")),
    (StaffAuditKind.DOCUMENTS_VIEWED.value, _("ID card photos viewed")),
    (StaffAuditKind.DOCUMENTS_ERASED.value, _("ID card photos or personal information erased")),
    (StaffAuditKind.DOCUMENTS_WITHDRAWN.value, _("Document review withdrawn")),
]


class StaffAuditEvent(AppendOnlyModel):
    """A staff action that concerns no single attempt, in an append-only trail of its own: a
    search by ID number, with or without hits (its hits also get an :class:`AttemptEvent`),
    and every event of a :class:`DocumentReview` (which has no attempt; ``document_review``
    names it). Never PII in ``data`` (a search keeps its hit count and hash key ids, never
    the number or its hash); never updated or deleted."""

    kind = models.CharField(_("kind"), max_length=32, choices=STAFF_AUDIT_KIND_CHOICES)
    #: The document review the event is about (None: an event of no review, such as a search).
    #: PROTECT: a review's trail keeps it; its personal information is erased, never the row.
    document_review = models.ForeignKey(
        "DocumentReview",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("document review"),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    data = models.JSONField(_("data"), default=dict, blank=True)

    objects = AppendOnlyQuerySet["StaffAuditEvent"].as_manager()

    class Meta:
        verbose_name = _("staff audit event")
        verbose_name_plural = _("staff audit events")
        ordering = ("created_at", "id")
        # Read only, like the attempts' trail: the admin never adds, changes or deletes.
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.kind} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class ConsentNotice(AppendOnlyModel):
    """One version of the privacy notice a person consents to, as it was shown: its full text
    in each language, the SHA-256 of that text, the recipient the face goes to for each
    backend alias, and whether it travels over the Internet. Written once, when the version is
    first used, and never changed or deleted: an attempt's notice is read back from here (the
    admin, ``GET attempts/{id}/notice/``)."""

    version = models.CharField(_("version"), max_length=64, unique=True)
    texts = models.JSONField(_("full text, by language"))
    sha256 = models.CharField(_("SHA-256 of the full text"), max_length=64)
    #: {alias: recipient identity} (``Backend.recipient_identity``).
    recipients = models.JSONField(_("recipients, by backend"))
    #: {recipient identity: name shown}, in each language: {language: {identity: name}}.
    recipient_names = models.JSONField(_("recipient names, by language"), default=dict)
    over_internet = models.BooleanField(_("sent over the Internet"))
    created_at = models.DateTimeField(_("first used"), default=timezone.now)

    trail_name = "privacy notices"
    objects = AppendOnlyQuerySet["ConsentNotice"].as_manager()

    class Meta:
        verbose_name = _("privacy notice")
        verbose_name_plural = _("privacy notices")
        ordering = ("-created_at",)
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.version} ({self.sha256[:12]})"


class ProviderBreaker(models.Model):
    """The circuit breaker of one backend alias, shared by every worker
    (face_idcard.services._breaker): closed while the provider answers; open, after
    ``BREAKER_FAILURE_THRESHOLD`` calls in a row found it down, until ``open_until``; then one
    worker at a time (the one holding ``probe_token``) calls it to see whether it is back."""

    alias = models.CharField(_("backend"), max_length=200, unique=True)
    #: Calls in a row that found the provider down (0 after any answer).
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    #: Null: closed. Otherwise open, and no call before this time but one probe.
    open_until = models.DateTimeField(_("open until"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    #: Failures further apart than the probe interval are not "in a row": the count restarts.
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    probe_token = models.UUIDField(null=True, blank=True, editable=False)
    #: A probe whose worker died is given up at this time, and another one may go.
    probe_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("provider circuit breaker")
        verbose_name_plural = _("provider circuit breakers")
        default_permissions = ()

    def __str__(self) -> str:
        return f"breaker {self.alias} ({'open' if self.open_until else 'closed'})"


class LimitEventKind(StrChoice):
    #: A submission refused because MAX_ACCOUNTS_PER_ID_PER_DAY other accounts tried the
    #: number: an abuse signal (someone trying a person's number from several accounts).
    ACCOUNTS_PER_ID_REACHED = "accounts_per_id_reached"
    #: Staff restarted the number's daily limits (face_idcard.reset_limits).
    LIMITS_RESET = "limits_reset"


LIMIT_EVENT_KIND_CHOICES: list[tuple[str, StrOrPromise]] = [
    (LimitEventKind.ACCOUNTS_PER_ID_REACHED.value, _("Accounts per ID number reached")),
    (LimitEventKind.LIMITS_RESET.value, _("Daily limits reset")),
]


class LimitEvent(AppendOnlyModel):
    """An event of the daily limits that has no attempt of its own (a refused submission
    stores none): keyed by the ID number's hash, never the number. Append-only, like
    :class:`AttemptEvent`; a reset is read by the limits (face_idcard.services._limits)."""

    kind = models.CharField(_("kind"), max_length=32, choices=LIMIT_EVENT_KIND_CHOICES)
    idcard_hash = models.CharField(_("ID number hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    #: The account refused (a ceiling reached).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    #: The staff member who acted (a reset).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    data = models.JSONField(_("data"), default=dict, blank=True)

    trail_name = "limit events"

    class Meta:
        verbose_name = _("limit event")
        verbose_name_plural = _("limit events")
        ordering = ("created_at", "id")
        default_permissions = ()
        indexes = [  # noqa: RUF012
            # The newest reset of a number, read at each submit.
            models.Index(
                fields=["idcard_hash", "kind", "created_at"], name="face_idcard_limitev_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class FilingPerson(models.Model):
    """One person whose face information the site holds or has sent, by the keyed hash of
    their ID number: the register the filing threshold counts (docs/privacy.rst).

    Never the number, the name or the face: a hash under one ``PII_HASH_KEYS`` entry and that
    key's id. Rows are re-keyed to the newest key when the person is seen again (a submit, a
    re-run, ``rotate_keys``) and never deleted by ``purge`` or a withdrawal: the person's
    face was sent, and the count is the record of that."""

    idcard_hash = models.CharField(_("ID number hash"), max_length=64, unique=True)
    hash_key_id = models.CharField(_("ID number hash key"), max_length=32)
    first_seen_at = models.DateTimeField(_("first seen"), db_index=True)

    class Meta:
        verbose_name = _("person of the filing register")
        verbose_name_plural = _("filing register")
        default_permissions = ()

    def __str__(self) -> str:
        return f"filing register row {self.pk}"

    def __repr__(self) -> str:
        # Never the hash.
        return f"<FilingPerson {self.pk} key={self.hash_key_id}>"


class FilingCount(models.Model):
    """The register's rows counted, per hash key id and shard: the count is their sum, read
    without scanning the register. Each person is counted in the shard their hash falls in,
    so that concurrent submits of different people rarely update the same row."""

    hash_key_id = models.CharField(_("ID number hash key"), max_length=32)
    shard = models.PositiveSmallIntegerField(_("shard"))
    people = models.BigIntegerField(_("people"), default=0)

    class Meta:
        verbose_name = _("filing register count")
        verbose_name_plural = _("filing register counts")
        default_permissions = ()
        constraints = [  # noqa: RUF012
            models.UniqueConstraint(
                fields=["hash_key_id", "shard"], name="face_idcard_filingcount_key_shard"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hash_key_id}/{self.shard}: {self.people}"


class FilingMark(models.Model):
    """A warning level of the filing threshold reached (``level`` in thousandths of
    ``threshold``: 800 is 80 %), once: when, and the count then."""

    threshold = models.PositiveIntegerField(_("threshold"))
    level = models.PositiveIntegerField(_("level (thousandths of the threshold)"))
    people = models.BigIntegerField(_("people when noticed"))
    #: When the person who made the count reach the level was first seen.
    reached_at = models.DateTimeField(_("reached"))
    noted_at = models.DateTimeField(_("noticed"), default=timezone.now)

    class Meta:
        verbose_name = _("filing threshold level reached")
        verbose_name_plural = _("filing threshold levels reached")
        default_permissions = ()
        constraints = [  # noqa: RUF012
            models.UniqueConstraint(
                fields=["threshold", "level"], name="face_idcard_filingmark_level"
            )
        ]

    def __str__(self) -> str:
        return f"{self.level / 10:g} % of {self.threshold} @ {self.reached_at:%Y-%m-%d}"


class ProcessingRecord(AppendOnlyModel):
    """An export of the processing records (face_idcard._records), kept as it was sent: the
    records and the impact assessment's inputs are to be kept at least 3 years (PIPL Art.
    56). Holds no personal information; never updated, and never deleted by the app."""

    created_at = models.DateTimeField(_("exported"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("exported by"),
    )
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    format = models.CharField(_("format"), max_length=8)
    language = models.CharField(_("language"), max_length=16)
    content = models.TextField(_("content"))
    sha256 = models.CharField(_("SHA-256 digest"), max_length=64)

    trail_name = "processing records"
    objects = AppendOnlyQuerySet["ProcessingRecord"].as_manager()

    class Meta:
        verbose_name = _("processing record export")
        verbose_name_plural = _("processing record exports")
        ordering = ("-created_at", "-id")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"processing records {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d}"


class DocumentReviewStatus(StrChoice):
    """A document review's lifecycle: ``pending`` until a staff member decides it or the person
    withdraws; every other state is final (each change is a conditional UPDATE on ``pending``,
    ``face_idcard.services._documents``)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


DOCUMENT_REVIEW_STATUS_CHOICES: list[tuple[str, StrOrPromise]] = [
    (DocumentReviewStatus.PENDING.value, _("Awaiting review")),
    (DocumentReviewStatus.APPROVED.value, _("Approved")),
    (DocumentReviewStatus.REJECTED.value, _("Rejected")),
    (DocumentReviewStatus.WITHDRAWN.value, _("Withdrawn")),
]


class DocumentReview(models.Model):
    """The non-face alternative: a person who refuses face verification sends photos of both
    sides of their ID card with the number and name, and a staff member decides.

    Its own table rather than a mode of :class:`VerificationAttempt`: an attempt is a provider
    call (its lifecycle, claims, retries, rate-limit slots, similarity, the statistics' and the
    filing count's rows), none of which a staff decision on two photos has. The personal
    information is kept as an attempt's is: encrypted and bound to the review's id (the same
    field names, so the same helpers read them), masked copies, the keyed ID hash (a withdrawal
    by ID number finds it), the photos sealed in the selfie storage, a legal hold, and the
    same erasure times. Its audit trail is :class:`StaffAuditEvent` (``document_review``).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="face_idcard_document_reviews",
        verbose_name=_("user"),
        # No index of its own: face_idcard_docrev_user_idx leads with the user.
        db_index=False,
    )
    idcard_number_encrypted = models.TextField(blank=True, editable=False)
    idcard_name_encrypted = models.TextField(blank=True, editable=False)
    idcard_hash = models.CharField(
        _("ID number hash"), max_length=64, blank=True, editable=False, db_index=True
    )
    idcard_hash_key_id = models.CharField(
        _("ID number hash key"), max_length=32, blank=True, editable=False
    )
    idcard_number_masked = models.CharField(_("ID number"), max_length=32, blank=True)
    idcard_name_masked = models.CharField(_("name"), max_length=64, blank=True)
    # The sealed photos of the card's two sides: random names in ``document_storage`` (a
    # STORAGES alias, the selfie storage's when they were sent), never served publicly.
    front_name = models.CharField(max_length=255, blank=True, editable=False)
    back_name = models.CharField(max_length=255, blank=True, editable=False)
    document_storage = models.CharField(max_length=100, blank=True, editable=False)
    front_content_type = models.CharField(max_length=50, blank=True)
    back_content_type = models.CharField(max_length=50, blank=True)
    consent_at = models.DateTimeField(_("consent given at"))
    notice_version = models.CharField(_("privacy notice version"), max_length=64, blank=True)
    external_reference = models.CharField(_("external reference"), max_length=255, blank=True)

    status = models.CharField(
        _("status"),
        max_length=16,
        choices=DOCUMENT_REVIEW_STATUS_CHOICES,
        default=DocumentReviewStatus.PENDING.value,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    review_reason = models.TextField(_("review reason"), blank=True)

    legal_hold = models.BooleanField(_("legal hold"), default=False)
    documents_purged_at = models.DateTimeField(_("ID card photos purged"), null=True, blank=True)
    pii_purged_at = models.DateTimeField(_("personal information purged"), null=True, blank=True)
    redacted_at = models.DateTimeField(_("redacted"), null=True, blank=True)

    class Meta:
        verbose_name = _("document review")
        verbose_name_plural = _("document reviews")
        ordering = ("-created_at",)
        # Viewing is the model's own permission; deciding, reading the clear data and erasing
        # take the attempts' (face_idcard.review, view_pii, redact): one set for both paths.
        default_permissions = ("view",)
        indexes = [  # noqa: RUF012
            # The review queue (oldest pending first) and the purge (by status and time).
            models.Index(fields=["status", "created_at"], name="face_idcard_docrev_queue_idx"),
            models.Index(fields=["legal_hold", "decided_at"], name="face_idcard_docrev_purge_idx"),
            models.Index(fields=["user", "created_at"], name="face_idcard_docrev_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} ({self.status})"

    def __repr__(self) -> str:
        return f"<DocumentReview {self.pk} status={self.status}>"

    @property
    def has_documents(self) -> bool:
        return bool(self.front_name or self.back_name)

    @property
    def has_pii(self) -> bool:
        return bool(
            self.idcard_number_encrypted or self.idcard_name_encrypted or self.has_documents
        )
