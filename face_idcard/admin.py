"""A minimal, read-only admin: masked personal information only, never the ciphertexts.

Nothing can be added, changed or deleted here; staff actions (review, redact, legal hold) go
through :mod:`face_idcard.services` so that they are validated and audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import AttemptEvent, VerificationAttempt

# The admin classes are generic only for the type checker (no runtime monkeypatching needed).
if TYPE_CHECKING:
    _InlineBase = admin.TabularInline[AttemptEvent, VerificationAttempt]
    _AdminBase = admin.ModelAdmin[VerificationAttempt]
else:
    _InlineBase = admin.TabularInline
    _AdminBase = admin.ModelAdmin


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AttemptEventInline(_ReadOnly, _InlineBase):
    model = AttemptEvent
    fields = ("created_at", "kind", "actor", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(VerificationAttempt)
class VerificationAttemptAdmin(_ReadOnly, _AdminBase):
    list_display = (
        "id",
        "created_at",
        "status",
        "decision",
        "review_decision",
        "similarity",
        "idcard_number_masked",
        "idcard_name_masked",
        "error_code",
        "backend",
        "legal_hold",
    )
    list_filter = ("status", "decision", "error_class", "backend", "legal_hold")
    # Only non-personal identifiers: the attempt id, the host's reference, the provider's id.
    search_fields = ("=id", "=external_reference", "=provider_session_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_select_related = ("user",)
    fieldsets = (
        (None, {"fields": ("id", "user", "backend", "external_reference", "status", "decision")}),
        (
            _("Personal information (masked)"),
            {
                "fields": (
                    "idcard_number_masked",
                    "idcard_name_masked",
                    "consent_at",
                    "notice_version",
                )
            },
        ),
        (
            _("Provider"),
            {
                "fields": (
                    "similarity",
                    "threshold",
                    "provider_session_id",
                    "error_code",
                    "error_class",
                    "error_message",
                    "provider_calls",
                    "retry_count",
                    "provider_latency_ms",
                    "raw_response",
                )
            },
        ),
        (
            _("Times"),
            {"fields": ("created_at", "queued_at", "started_at", "finished_at", "next_attempt_at")},
        ),
        (_("Review"), {"fields": ("review_decision", "reviewer", "review_reason", "reviewed_at")}),
        (
            _("Retention"),
            {"fields": ("legal_hold", "selfie_purged_at", "pii_purged_at", "redacted_at")},
        ),
    )
    readonly_fields = tuple(
        name for _, group in fieldsets for name in group["fields"] if isinstance(name, str)
    )
    inlines = (AttemptEventInline,)
