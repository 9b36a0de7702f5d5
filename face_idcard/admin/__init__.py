"""The admin review console (registered on import, like any ``admin`` module)."""

from __future__ import annotations

from .attempts import AttemptAwaitingReviewAdmin, VerificationAttemptAdmin
from .documents import DocumentReviewAdmin
from .insight import VerificationStatisticsAdmin
from .staff_audit import StaffAuditEventAdmin
from .webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "AttemptAwaitingReviewAdmin",
    "DocumentReviewAdmin",
    "StaffAuditEventAdmin",
    "VerificationAttemptAdmin",
    "VerificationStatisticsAdmin",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
