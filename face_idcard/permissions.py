"""The app's permissions, defined once (on ``VerificationAttempt.Meta``) for every entry point:
the services check them, and the admin, the API and the review console use the same names.

An ``actor`` of ``None`` is the host site's own code (a task, a management command, a view
that did its own check): allowed, and audited as ``by="system"``. A user is checked with
``has_perm``, so superusers have every permission and groups work as usual.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from .exceptions import PermissionRequired

APP_LABEL = "face_idcard"

#: Read the clear ID number and name, and the selfie (every read is audited).
VIEW_PII = "view_pii"
#: Confirm or override the machine's decision (approve, reject).
REVIEW = "review"
#: Run a verification again.
RERUN = "rerun"
#: Erase an attempt's personal information now, and set or lift legal holds.
REDACT = "redact"
#: Export the audit trail.
EXPORT_AUDIT = "export_audit"
#: Restart the daily limits of one ID number (support staff helping a locked-out person).
RESET_LIMITS = "reset_limits"
#: State through the API that a minor's guardian consented, after the site's own guardian
#: flow (the boolean is the holder's word, not evidence: the site keeps the evidence).
ATTEST_GUARDIAN_CONSENT = "attest_guardian_consent"

#: For ``Meta.permissions`` (codename, human name).
PERMISSIONS = (
    (VIEW_PII, _("Can view unmasked personal information and the selfie")),
    (REVIEW, _("Can review verification attempts")),
    (RERUN, _("Can re-run verification attempts")),
    (REDACT, _("Can redact personal information and set legal holds")),
    (EXPORT_AUDIT, _("Can export the audit trail")),
    (RESET_LIMITS, _("Can reset the daily limits of an ID number")),
    (ATTEST_GUARDIAN_CONSENT, _("Can state a guardian's consent through the API")),
)


def full_name(codename: str) -> str:
    """``"view_pii"`` -> ``"face_idcard.view_pii"`` (what ``has_perm`` takes)."""
    return f"{APP_LABEL}.{codename}"


def require(actor: Any, codename: str) -> dict[str, Any]:
    """Raise :class:`PermissionRequired` unless ``actor`` holds the permission.

    ``None`` (the host's own code) passes. Returns the audit data that says who acted:
    ``{"by": "system"}`` for ``None``, nothing for a user (the event's actor says it).
    """
    if actor is None:
        return {"by": "system"}
    permission = full_name(codename)
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "pk", None):
        raise PermissionRequired(permission)
    if not getattr(actor, "is_active", True) or not actor.has_perm(permission):
        raise PermissionRequired(permission)
    return {}
