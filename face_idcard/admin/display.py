"""How the admin shows an attempt: badges, review state, provider data and the audit timeline.

Everything here renders through ``format_html`` (every value escaped) and shows only masked
personal information.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..backends.base import scrub
from ..models import EVENT_KIND_CHOICES, LIVENESS_CHOICES, AttemptEvent, VerificationAttempt
from ..states import Decision, Status

#: Background colours of the decision badge.
BADGE_COLOURS = {
    Decision.MATCH.value: "#2e7d32",
    Decision.NO_MATCH.value: "#c62828",
    Decision.REVIEW.value: "#ef6c00",
    Decision.NONE.value: "#757575",
}

#: An 18-character resident ID number (or the old 15-digit one), spaces ignored: never a
#: search term in a URL.
_ID_NUMBER_LIKE = re.compile(r"^(\d{17}[\dXx]|\d{15})$")

#: Keys dropped from provider data before display, whatever the pipeline already removed.
PII_KEYS = frozenset(
    {"IdCard", "Name", "ImageBase64", "Image", "Url", "ImageUrl", "idcard", "name", "image", "url"}
)


def looks_like_id_number(term: str) -> bool:
    return bool(_ID_NUMBER_LIKE.match(re.sub(r"\s", "", term)))


def decision_badge(attempt: VerificationAttempt) -> SafeString:
    decision = attempt.final_decision
    label = dict(_decision_labels()).get(decision, decision)
    return format_html(
        '<span class="face-idcard-badge" data-decision="{}" style="background:{};color:#fff;'
        'padding:1px 8px;border-radius:9px;white-space:nowrap">{}</span>',
        decision,
        BADGE_COLOURS.get(decision, "#757575"),
        label,
    )


def _decision_labels() -> Iterable[tuple[str, Any]]:
    from ..states import DECISION_CHOICES

    return DECISION_CHOICES


class ReviewState:
    NONE = "none"
    NEEDED = "needed"
    SECOND = "second"
    DONE = "done"


REVIEW_STATE_CHOICES = (
    (ReviewState.NEEDED, _("Needs review")),
    (ReviewState.SECOND, _("Awaiting a second reviewer")),
    (ReviewState.DONE, _("Reviewed")),
    (ReviewState.NONE, _("No review needed")),
)


def review_state(attempt: VerificationAttempt) -> str:
    """Needs ``awaiting_second`` annotated on the row (the admin's queryset does it)."""
    if attempt.reviewed_at is not None:
        return ReviewState.DONE
    if getattr(attempt, "awaiting_second", False):
        return ReviewState.SECOND
    if attempt.status == Status.COMPLETED.value and (
        attempt.decision == Decision.REVIEW.value or attempt.audit_sample
    ):
        return ReviewState.NEEDED
    return ReviewState.NONE


def review_state_label(attempt: VerificationAttempt) -> str:
    return str(dict(REVIEW_STATE_CHOICES)[review_state(attempt)])


def pretty_json(value: Any) -> SafeString:
    """Indented JSON, PII keys removed, escaped inside a ``<pre>``."""
    if value in (None, "", {}, []):
        return format_html("{}", "-")
    cleaned = scrub(value, (), PII_KEYS)
    text = json.dumps(cleaned, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="face-idcard-json" style="white-space:pre-wrap">{}</pre>', text)


def timeline(events: Iterable[AttemptEvent]) -> SafeString:
    labels = dict(EVENT_KIND_CHOICES)
    rows = [
        (
            f"{event.created_at:%Y-%m-%d %H:%M:%S}",
            str(labels.get(event.kind, event.kind)),
            event.kind,
            str(event.actor) if event.actor_id else str(_("system")),
            event_summary(event.data),
        )
        for event in events
    ]
    if not rows:
        return format_html("{}", "-")
    body = format_html_join(
        "",
        '<tr><td>{}</td><td data-kind="{}">{}</td><td>{}</td><td>{}</td></tr>',
        ((time, kind, label, actor, summary) for time, label, kind, actor, summary in rows),
    )
    return format_html(
        '<table class="face-idcard-timeline"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
        "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("time"),
        _("event"),
        _("by"),
        _("details"),
        body,
    )


def event_summary(data: Any) -> str:
    """An event's data as "key: value" pairs, sorted (data never holds PII)."""
    if not isinstance(data, dict) or not data:
        return ""
    return ", ".join(f"{key}: {value}" for key, value in sorted(data.items()))


#: Colours of the liveness verdict (beside the similarity in the detail page).
LIVENESS_COLOURS = {
    "passed": "#2e7d32",
    "spoof_suspected": "#c62828",
    "unavailable": "#ef6c00",
    "not_checked": "#757575",
}


def liveness_summary(attempt: VerificationAttempt) -> SafeString:
    """The liveness verdict, who gave it and, for a suspected spoof, the provider's risk level
    and attack types (none of them personal information)."""
    label = dict(LIVENESS_CHOICES).get(attempt.liveness, attempt.liveness)
    details = [
        str(part)
        for part in (
            attempt.liveness_source,
            attempt.liveness_risk_level,
            ", ".join(str(kind) for kind in attempt.liveness_attack_types or ()),
        )
        if part
    ]
    return format_html(
        '<span class="face-idcard-liveness" data-liveness="{}" style="color:{};font-weight:bold">'
        "{}</span> {}",
        attempt.liveness,
        LIVENESS_COLOURS.get(attempt.liveness, "#757575"),
        label,
        " · ".join(details),
    )
