"""Records of processing (PIPL Art. 55-56; the 2025 face-recognition measures) and the impact
assessment's inputs, for a period: what the site processes, why, with whom, how much, how long
it keeps it and how it protects it.

One export is a list of sections of rows (``key``, translated ``label``, ``value``): as JSON,
or as CSV with one line per row. Figures only, never personal information: no ID number,
name, hash, photo, url or staff name (staff are named by user id). Every export is stored as
it was sent (:class:`~face_idcard.models.ProcessingRecord`, with its SHA-256) and audited
(a ``records_exported`` staff audit event), in one transaction before the first byte goes
out. The app never deletes either: the records are kept at least 3 years (PIPL Art. 56), and
``purge`` does not touch them; a site deletes them itself after that, if it wants to.

Exported from the statistics pages of the admin (``face_idcard.export_audit``) and by
``manage.py face_idcard_records``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.db.models import Count, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import _audit as audit
from . import _filing as filing
from . import crypto, permissions
from .backends import backend_class
from .backends.config import configured, resolve
from .conf import face_idcard_settings
from .models import (
    AttemptEvent,
    EventKind,
    FilingPerson,
    ProcessingRecord,
    StaffAuditEvent,
    StaffAuditKind,
    VerificationAttempt,
)

#: The formats and languages of an export.
FORMATS = ("json", "csv")
LANGUAGES = ("zh-hans", "en")
#: How long the records are kept at least (PIPL Art. 56), in years: said in each export.
KEEP_YEARS = 3
#: The settings an export states (what the retention is).
RETENTION_SETTINGS = (
    "SELFIE_RETENTION_DAYS",
    "PII_RETENTION_DAYS",
    "WEBHOOK_RETENTION_DAYS",
    "IDEMPOTENCY_TTL_HOURS",
)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: Any


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    rows: list[Row]


def _purposes() -> Section:
    return Section(
        "purposes",
        _("Purposes"),
        [
            Row(
                "real_name_verification",
                _("Purpose"),
                _(
                    "Real-name verification: a photo taken by the person is compared, by the "
                    "provider named below, with the photo the public-security register holds "
                    "for the ID number and name the person gave."
                ),
            ),
            Row(
                "legal_basis",
                _("Legal basis"),
                _(
                    "The person's separate consent (under 14: a guardian's), recorded with "
                    "each attempt with the notice version shown."
                ),
            ),
            Row("keep_years", _("These records are kept at least (years)"), KEEP_YEARS),
        ],
    )


def _processors(aliases_used: dict[str, int]) -> Section:
    """Each alias as an entrusted processor: its provider, how the face travels, what the
    provider keeps; the aliases configured now and those the period's attempts ran on."""
    rows = []
    names = sorted(set(configured()) | set(aliases_used))
    for alias in names:
        try:
            cls = backend_class(resolve(alias).backend)
        except ImproperlyConfigured:
            provider, days, development = "", None, False  # an alias since removed
        else:
            provider, days = cls.provider, cls.provider_keeps_results_days
            development = cls.development_only
        rows.append(
            Row(
                f"{alias}",
                _("Backend alias"),
                {
                    "provider": provider,
                    "development_only": development,
                    "transfer": _("over the Internet, encrypted in transit (HTTPS)"),
                    "provider_keeps_results_days": days,
                    "attempts_in_period": aliases_used.get(alias, 0),
                },
            )
        )
    return Section("processors", _("Entrusted processors (per backend alias)"), rows)


def _categories() -> Section:
    return Section(
        "data_categories",
        _("Data categories"),
        [
            Row("face_image", _("Face image (the person's photo)"), _("encrypted, AES-256-GCM")),
            Row("id_number", _("ID number"), _("encrypted, AES-256-GCM; masked copy")),
            Row("name", _("Name"), _("encrypted, AES-256-GCM; masked copy")),
            Row("photo_url", _("Photo address"), _("encrypted, AES-256-GCM")),
            Row("id_number_hash", _("Keyed hash of the ID number"), "HMAC-SHA256"),
            Row(
                "provider_result",
                _("The provider's result"),
                _("similarity, codes and its answer with personal information removed"),
            ),
        ],
    )


def _counts(rows: Any, field: str) -> dict[str, int]:
    return {str(row[field]): int(row["n"]) for row in rows}


def _withdrawals(since: datetime, until: datetime) -> dict[str, Any]:
    """The withdrawals handled in the period: one request's attempts share its request time
    (the audit events' ``requested_at``); its handling time runs to its last event."""
    events = AttemptEvent.objects.filter(
        kind=EventKind.WITHDRAWN.value, created_at__gte=since, created_at__lt=until
    )
    requests: dict[tuple[str, str], datetime] = {}
    attempts = 0
    unknown = 0
    for created_at, data in events.values_list("created_at", "data").iterator(chunk_size=2000):
        attempts += 1
        requested = (data or {}).get("requested_at")
        if not requested:
            unknown += 1
            continue
        key = (str(requested), str((data or {}).get("channel", "")))
        requests[key] = max(requests.get(key, created_at), created_at)
    times = sorted(
        (done - datetime.fromisoformat(requested)).total_seconds() * 1000
        for (requested, _channel), done in requests.items()
    )
    channels: dict[str, int] = {}
    for _requested, channel in requests:
        channels[channel] = channels.get(channel, 0) + 1
    return {
        "requests": len(requests) + unknown,
        "attempts": attempts,
        "by_channel": channels,
        "handling_ms_median": round(statistics.median(times), 1) if times else None,
        "handling_ms_max": round(times[-1], 1) if times else None,
        "without_handling_time": unknown,
    }


def _volumes(since: datetime, until: datetime) -> tuple[Section, Section, dict[str, int]]:
    window = VerificationAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
    by_backend = _counts(
        window.values("backend").annotate(n=Count("pk")).order_by("backend"), "backend"
    )
    by_status = _counts(
        window.values("status").annotate(n=Count("pk")).order_by("status"), "status"
    )
    people = window.exclude(idcard_hash="").aggregate(n=Count("idcard_hash", distinct=True))["n"]
    erased_hash = window.filter(idcard_hash="").count()
    selfies_held = (
        VerificationAttempt.objects.exclude(selfie_name="").filter(legal_hold=False).count()
    )
    selfies_held_on_hold = (
        VerificationAttempt.objects.exclude(selfie_name="").filter(legal_hold=True).count()
    )
    events = AttemptEvent.objects.filter(created_at__gte=since, created_at__lt=until)
    purged = {
        str(row["what"] or ""): int(row["n"])
        for row in events.filter(kind=EventKind.PURGED.value)
        .annotate(what=KeyTextTransform("what", "data"))
        .values("what")
        .annotate(n=Count("pk"))
        .order_by("what")
    }
    redacted = events.filter(kind=EventKind.REDACTED.value).count()
    registered = FilingPerson.objects.filter(
        first_seen_at__gte=since, first_seen_at__lt=until
    ).count()
    volumes = Section(
        "volumes",
        _("Volumes"),
        [
            Row("attempts", _("Attempts"), sum(by_backend.values())),
            Row("attempts_by_backend", _("Attempts by backend alias"), by_backend),
            Row("attempts_by_status", _("Attempts by status"), by_status),
            Row(
                "distinct_people",
                _("Distinct people (by keyed hash) among the period's attempts that keep one"),
                int(people or 0),
            ),
            Row(
                "attempts_hash_erased",
                _("The period's attempts whose hash is already erased"),
                erased_hash,
            ),
            Row("people_first_seen", _("People first seen in the period"), registered),
            Row(
                "people_registered",
                _("People whose face the site holds or has sent, in all (filing register)"),
                filing.people_count(),
            ),
            Row("selfies_held", _("Selfies held now"), selfies_held),
            Row(
                "selfies_held_legal_hold",
                _("Selfies held now under legal hold"),
                selfies_held_on_hold,
            ),
            Row("redactions", _("Redactions done in the period"), redacted),
            Row("purges", _("Purges done in the period (by what was erased)"), purged),
            Row(
                "withdrawals",
                _("Consent withdrawals handled in the period"),
                _withdrawals(since, until),
            ),
        ],
    )
    retention = Section(
        "retention",
        _("Retention"),
        [
            *(Row(name, name, getattr(face_idcard_settings, name)) for name in RETENTION_SETTINGS),
            Row(
                "purge_erased",
                _("What the purge and the decision erased in the period"),
                purged,
            ),
        ],
    )
    return volumes, retention, by_backend


def _notices(since: datetime, until: datetime) -> Section:
    window = VerificationAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
    versions = _counts(
        window.values("notice_version").annotate(n=Count("pk")).order_by("notice_version"),
        "notice_version",
    )
    return Section(
        "notice_versions",
        _("Consent notice versions"),
        [
            Row(
                "configured",
                _("Notice version shown now"),
                face_idcard_settings.NOTICE_CURRENT_VERSION,
            ),
            Row(
                "accepted",
                _("Notice versions accepted"),
                list(face_idcard_settings.NOTICE_ACCEPTED_VERSIONS),
            ),
            Row(
                "attempts_by_version",
                _("The period's attempts by the version consented to"),
                versions,
            ),
        ],
    )


def _holders() -> list[Row]:
    """Each of the app's permissions and who holds it: user ids and group names (superusers
    hold them all)."""
    user_model = get_user_model()
    rows = []
    codenames = [codename for codename, _label in permissions.PERMISSIONS]
    codenames.append("view_verificationattempt")
    found = Permission.objects.filter(
        content_type__app_label=permissions.APP_LABEL, codename__in=codenames
    )
    for permission in sorted(found, key=lambda p: p.codename):
        users = user_model._default_manager.filter(
            Q(user_permissions=permission) | Q(groups__permissions=permission),
            is_active=True,
        )
        groups = Group.objects.filter(permissions=permission)
        rows.append(
            Row(
                f"permission.{permission.codename}",
                str(permission.name),
                {
                    "user_ids": sorted({int(pk) for pk in users.values_list("pk", flat=True)}),
                    "groups": sorted(groups.values_list("name", flat=True)),
                },
            )
        )
    superusers = user_model._default_manager.filter(is_active=True, is_superuser=True)
    rows.append(
        Row(
            "superusers",
            _("Superusers (hold every permission)"),
            sorted(int(pk) for pk in superusers.values_list("pk", flat=True)),
        )
    )
    return rows


def _encryption_key_ids() -> list[str]:
    """A fingerprint of each ``PII_ENCRYPTION_KEYS`` entry, newest first: 48 bits of an HMAC
    under the key, naming it without telling anything of it (as hash key ids do)."""
    try:
        keys = crypto._raw_keys()
    except ImproperlyConfigured:  # none configured (system check E005): none to name
        return []
    return [
        "e" + hmac.new(key, b"face_idcard:encryption-key-id", hashlib.sha256).hexdigest()[:12]
        for key in keys
    ]


def _hash_key_ids() -> list[str]:
    try:
        return [key.key_id for key in crypto.hash_keys()]
    except ImproperlyConfigured:  # none configured (system check E015): none to name
        return []


def _security(since: datetime, until: datetime) -> Section:
    events = AttemptEvent.objects.filter(created_at__gte=since, created_at__lt=until)
    staff = StaffAuditEvent.objects.filter(created_at__gte=since, created_at__lt=until)
    return Section(
        "security",
        _("Security controls in force"),
        [
            Row("encryption", _("Encryption at rest"), "AES-256-GCM"),
            Row(
                "encryption_keys",
                _("Encryption keys configured"),
                len(face_idcard_settings.PII_ENCRYPTION_KEYS),
            ),
            Row(
                "encryption_key_ids",
                _("Encryption key fingerprints (newest first)"),
                _encryption_key_ids(),
            ),
            Row("hash", _("Keyed hash of ID numbers"), "HMAC-SHA256"),
            Row(
                "hash_key_ids",
                _("Hash key ids (newest first)"),
                _hash_key_ids(),
            ),
            *_holders(),
            Row(
                "pii_views",
                _("Views of personal information in the period (audited)"),
                events.filter(kind=EventKind.PII_VIEWED.value).count(),
            ),
            Row(
                "id_searches",
                _("Searches by ID number in the period (audited)"),
                staff.filter(kind=StaffAuditKind.ID_SEARCH.value).count(),
            ),
            Row(
                "records_exports",
                _("Exports of these records in the period (audited)"),
                staff.filter(kind=StaffAuditKind.RECORDS_EXPORTED.value).count(),
            ),
        ],
    )


def _filing() -> Section:
    state = filing.status()
    return Section(
        "filing",
        _("Filing threshold"),
        [
            Row("people", _("People whose face the site holds or has sent"), state.people),
            Row("threshold", _("Filing threshold"), state.threshold),
            Row(
                "reached_at",
                _("Threshold reached"),
                state.reached_at.isoformat() if state.reached_at else None,
            ),
            Row(
                "deadline",
                _("Filing due by"),
                state.deadline.isoformat() if state.deadline else None,
            ),
        ],
    )


def build(since: datetime, until: datetime, language: str) -> dict[str, Any]:
    """The records of ``[since, until)`` in ``language``, as a JSON-ready dict."""
    with translation.override(language):
        volumes, retention, by_backend = _volumes(since, until)
        sections = [
            _purposes(),
            _processors(by_backend),
            _categories(),
            volumes,
            retention,
            _notices(since, until),
            _security(since, until),
            _filing(),
        ]
        return {
            "title": _("Records of processing of face information"),
            "period": {"start": since.isoformat(), "end": until.isoformat()},
            "generated_at": timezone.now().isoformat(),
            "language": language,
            "sections": [
                {
                    "key": section.key,
                    "label": section.label,
                    "rows": [
                        {"key": row.key, "label": row.label, "value": row.value}
                        for row in section.rows
                    ],
                }
                for section in sections
            ],
        }


def render(records: dict[str, Any], fmt: str) -> str:
    """The export's text: JSON, or CSV (section, label, key, label, value; a value that is
    not a plain figure written as JSON)."""
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "section_label", "key", "label", "value"])
    writer.writerow(["meta", records["title"], "period", "", json.dumps(records["period"])])
    writer.writerow(["meta", records["title"], "generated_at", "", records["generated_at"]])
    for section in records["sections"]:
        for row in section["rows"]:
            value = row["value"]
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            writer.writerow([section["key"], section["label"], row["key"], row["label"], value])
    return out.getvalue()


def export(
    since: datetime, until: datetime, *, fmt: str, language: str, actor: Any = None
) -> ProcessingRecord:
    """Build, store and audit one export (before anyone reads it). ``actor`` needs
    ``face_idcard.export_audit`` (None: the host's own code, a management command)."""
    who = permissions.require(actor, permissions.EXPORT_AUDIT)
    if fmt not in FORMATS or language not in LANGUAGES:
        raise ValueError(f"format one of {FORMATS}, language one of {LANGUAGES}")
    if since >= until:
        raise ValueError("the period must end after it starts")
    content = render(build(since, until, language), fmt)
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    with transaction.atomic(using=router.db_for_write(ProcessingRecord)):
        record = ProcessingRecord(
            actor=actor if getattr(actor, "pk", None) else None,
            period_start=since,
            period_end=until,
            format=fmt,
            language=language,
            content=content,
            sha256=digest,
        )
        record.save(force_insert=True)
        audit.record_staff(
            StaffAuditKind.RECORDS_EXPORTED,
            actor=actor,
            record=record.pk,
            start=since.isoformat(),
            end=until.isoformat(),
            format=fmt,
            language=language,
            sha256=digest,
            **who,
        )
    return record


#: Characters sent per chunk of a streamed export.
CHUNK = 64 * 1024


def chunks(record: ProcessingRecord) -> Iterator[str]:
    """The stored export, a chunk at a time (for a streamed response or a file)."""
    content = record.content
    for start in range(0, len(content), CHUNK):
        yield content[start : start + CHUNK]


def filename(record: ProcessingRecord) -> str:
    return (
        f"face_idcard-records-{record.period_start:%Y%m%d}-{record.period_end:%Y%m%d}-"
        f"{record.language}.{record.format}"
    )
