"""How the admin shows an attempt: badges, review state, provider data and the audit timeline.

Everything here renders through ``format_html`` (every value escaped) and shows only masked
personal information.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .. import _consent as consent
from .. import _reasons as reasons
from .._capture import CAPTURE_SOURCE_CHOICES
from ..backends.base import scrub
from ..models import EVENT_KIND_CHOICES, LIVENESS_CHOICES, AttemptEvent, VerificationAttempt
from ..outcome import Reason
from ..states import DECISION_CHOICES, STATUS_CHOICES, Decision, Status

#: Background colours of the decision badge (white text on each at 4.5:1 or more): a match
#: green, no match red, a pending review amber, nothing grey. Every badge also says it in words.
BADGE_COLOURS = {
    Decision.MATCH.value: "#2e7d32",
    Decision.NO_MATCH.value: "#c62828",
    Decision.REVIEW.value: "#a84300",
    Decision.NONE.value: "#616161",
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
    return DECISION_CHOICES


def decision_label(decision: str) -> str:
    return str(dict(DECISION_CHOICES).get(decision, decision))


def reason_text(attempt: VerificationAttempt) -> str:
    """The machine's reason, said to be the machine's once a reviewer decided otherwise (an
    approved attempt must not read "match, low similarity")."""
    machine = reasons.label(attempt.reason) or "-"
    if attempt.reviewed_at is None or not attempt.review_decision:
        return machine
    return str(
        _("%(reason)s (the machine said: %(machine)s; the reviewer decided: %(review)s)")
        % {
            "reason": machine,
            "machine": decision_label(attempt.decision),
            "review": decision_label(attempt.review_decision),
        }
    )


def time_zone_name() -> str:
    """The name of the time zone every time on a page is shown in."""
    return str(timezone.get_current_timezone_name())


def local_time(value: Any) -> str:
    """A datetime in the current time zone, without seconds' fractions ("-" for none)."""
    if value is None:
        return "-"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}"


def milliseconds(value: float | None) -> str:
    """A latency as whole milliseconds in the active language's number format."""
    if value is None:
        return "-"
    return str(_("%(ms)s ms") % {"ms": formats.number_format(round(value), 0, force_grouping=True)})


def percent_score(value: float | None) -> str:
    """A similarity or threshold (0-100) with one decimal, localised."""
    if value is None:
        return "-"
    return formats.number_format(value, 1)


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
    """The trail's rows, their times in the page's time zone (named in the header)."""
    labels = dict(EVENT_KIND_CHOICES)
    rows = [
        (
            local_time(event.created_at),
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
        _("time (%(zone)s)") % {"zone": time_zone_name()},
        _("event"),
        _("by"),
        _("details"),
        body,
    )


REASON_CODES = frozenset(reason.value for reason in Reason)

#: The words for the keys an event's data holds; a key not listed is shown as stored.
EVENT_KEYS = {
    "action": _("action"),
    "audit_sample": _("audit sample"),
    "backend": _("backend"),
    "billable": _("billable"),
    "billed": _("billed"),
    "by": _("by"),
    "call": _("call"),
    "code": _("code"),
    "countdown": _("countdown"),
    "decision": _("decision"),
    "error": _("error"),
    "error_class": _("error class"),
    "first_decision": _("first reviewer's decision"),
    "first_reviewer": _("first reviewer"),
    "guardian_consent": _("guardian's consent"),
    "hits": _("hits"),
    "http_status": _("HTTP status"),
    "key_id": _("key id"),
    "latency_ms": _("latency"),
    "legal_hold": _("legal hold"),
    "machine_decision": _("machine's decision"),
    "mode": _("submitted as"),
    "publish": _("task sent"),
    "published": _("task sent"),
    "new_attempt": _("new attempt"),
    "notice_version": _("privacy notice version"),
    "purpose": _("purpose"),
    "reason": _("reason"),
    "recovery": _("recovery"),
    "rerun_of": _("re-run of"),
    "retry": _("retry"),
    "similarity": _("similarity"),
    "status": _("status"),
    "threshold": _("threshold"),
    "what": _("what"),
    # Issue 32: how the photo was taken, and calls that may have been billed without answer.
    "capture_source": _("photo taken with"),
    "answer_lost": _("answer lost"),
    "precheck": _("liveness pre-check due"),
}

#: The words for the values that are codes (a decision, a status, a review action, ...).
EVENT_VALUES = {
    **dict(DECISION_CHOICES),
    **dict(STATUS_CHOICES),
    "confirmed": _("confirmed the machine's decision"),
    "overridden": _("overturned the machine's decision"),
    "decided": _("decided (the machine asked for a review)"),
    "image": _("image"),
    "url": _("image address"),
    "selfie": _("selfie"),
    "id_search": _("ID number search"),
    "system": _("system"),
    "pii": _("ID number and name"),
    "after_commit": _("after the transaction"),
    "parked": _("when its slot comes"),
    "caller": _("by the calling code"),
    "sweeper": _("by the sweeper"),
    "lost_message": _("task message lost"),
    "lost_retry": _("retry lost"),
    "answer_lost": _("answer lost after the request left"),
}


def purpose_label(code: str) -> str:
    from .workbench import PURPOSES

    return str(dict(PURPOSES).get(code, code))


def _event_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if key == "latency_ms" and isinstance(value, (int, float)):
        return milliseconds(float(value))
    if key == "purpose" and isinstance(value, str):
        return purpose_label(value)
    if key == "capture_source" and isinstance(value, str):
        return str(dict(CAPTURE_SOURCE_CHOICES).get(value, value))
    # A provider call's reason is a code; a reviewer's is free text, kept as written.
    if key == "reason" and isinstance(value, str) and value in REASON_CODES:
        return reasons.label(value)
    if isinstance(value, float):
        return formats.number_format(value, 1)
    if value is None:
        return "-"
    if isinstance(value, str) and value in EVENT_VALUES:
        return str(EVENT_VALUES[value])
    return str(value)


def event_summary(data: Any) -> str:
    """An event's data as "key: value" pairs in the active language (data never holds PII)."""
    if not isinstance(data, dict) or not data:
        return ""
    return ", ".join(
        f"{EVENT_KEYS.get(key, key)}: {_event_value(key, value)}"
        for key, value in sorted(data.items())
    )


#: Colours of the liveness verdict (beside the similarity in the detail page).
LIVENESS_COLOURS = {
    "passed": "#2e7d32",
    "spoof_suspected": "#c62828",
    "unavailable": "#a84300",
    "not_checked": "#595959",
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
        LIVENESS_COLOURS.get(attempt.liveness, "#595959"),
        label,
        " · ".join(details),
    )


def consent_notice(attempt: VerificationAttempt) -> SafeString | str:
    """What the attempt's consent covered: the notice's version and full-text hash, who the
    face may go to and whether over the Internet, and the text itself (in the admin's
    language, else English), folded."""
    notice = consent.notice_of(attempt)
    if notice is None:
        return "-"
    names = ", ".join(consent.recipient_names_in(notice))
    return format_html(
        '<div class="face-idcard-notice" data-sha256="{}">'
        "<div>{} · SHA-256 <code>{}</code></div><div>{}: {} · {}: {}</div>"
        "<details><summary>{}</summary><p>{}</p></details></div>",
        notice.sha256,
        notice.version,
        notice.sha256,
        _("recipients"),
        names,
        _("over the Internet"),
        _("yes") if notice.over_internet else _("no"),
        _("full text"),
        consent.text_in(notice),
    )


def capture_source_label(attempt: VerificationAttempt) -> str:
    """How the client says the photo was taken (face_idcard._capture), in the active language:
    shown beside the liveness verdict, as what the page did, not as proof."""
    return str(dict(CAPTURE_SOURCE_CHOICES).get(attempt.capture_source, attempt.capture_source))
