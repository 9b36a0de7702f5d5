"""The processing records export (face_idcard._records) against the database.

What it pins: each figure of an export (attempts, distinct people, selfies held, redactions,
purges, withdrawals and their handling, notice versions, who holds which permission, audited
views) equals a direct count; nothing in an export, JSON or CSV, Chinese or English, holds the
test's ID numbers, names, hashes or staff user names; each export is stored with its digest
and audited before it is sent, survives every purge and cannot be deleted through the ORM;
the admin page streams it to a holder of ``export_audit`` only, and the filing page and the
statistics pages show the threshold and its warning.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from face_idcard import _consent as consent
from face_idcard import _records as records
from face_idcard import crypto, services
from face_idcard.backends import backend_class
from face_idcard.backends.config import resolve
from face_idcard.conf import face_idcard_settings
from face_idcard.exceptions import AuditLogError, PermissionRequired
from face_idcard.models import (
    AttemptEvent,
    EventKind,
    ProcessingRecord,
    StaffAuditEvent,
    StaffAuditKind,
    VerificationAttempt,
)
from face_idcard.states import Status
from tests.support import imagefactory
from tests.support.factories import submit_attempt
from tests.support.idfactory import make_id
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

IMAGE = imagefactory.jpeg(160, 120)
NAMES = ("欧阳娜娜", "司马相如", "诸葛孔明")
NUMBERS = tuple(make_id(sequence=f"{n:03d}") for n in (11, 12, 13))
STAFF = "reviewer-wang-xiaoming"


@pytest.fixture
def site(face_settings: Callable[..., None]) -> dict[str, Any]:
    """Three people's attempts: decided, redacted, withdrawn, purged; a PII view; staff."""
    # The earlier notice was shown (so stored) before the current one.
    face_settings(NOTICE_CURRENT_VERSION="2025-01")
    consent.current_notice()
    face_settings(NOTICE_CURRENT_VERSION="2025-06", NOTICE_ACCEPTED_VERSIONS=["2025-06", "2025-01"])
    owner = user_with("owner-of-attempts", is_staff=False)
    attempts = [
        submit_attempt(number, idcard_name=name, image=IMAGE, enqueue=False, **extra)
        for number, name, extra in (
            (NUMBERS[0], NAMES[0], {}),
            (NUMBERS[0], NAMES[0], {"notice_version": "2025-01"}),
            (NUMBERS[1], NAMES[1], {"user": owner}),
            (NUMBERS[2], NAMES[2], {}),
        )
    ]
    long_ago = timezone.now() - timedelta(days=400)
    VerificationAttempt.objects.filter(pk__in=[a.pk for a in attempts]).update(
        status=Status.COMPLETED.value, decision="match", finished_at=timezone.now()
    )
    VerificationAttempt.objects.filter(pk=attempts[3].pk).update(finished_at=long_ago)
    for attempt in attempts:
        attempt.refresh_from_db()
    viewer = user_with(STAFF, "view_verificationattempt", "view_pii", "export_audit")
    group = Group.objects.create(name="auditors")
    group.permissions.add(Permission.objects.get(codename="export_audit"))
    in_group = user_with("in-the-group")
    in_group.groups.add(group)
    services.reveal_pii(attempts[0], viewer=viewer)
    services.redact(attempts[1])
    services.withdraw(user=owner)
    services.purge()
    return {"attempts": attempts, "viewer": viewer, "in_group": in_group}


def period() -> tuple[Any, Any]:
    now = timezone.now()
    return now - timedelta(days=1), now + timedelta(minutes=1)


def values(record: ProcessingRecord) -> dict[str, Any]:
    data = json.loads(record.content)
    return {
        f"{section['key']}.{row['key']}": row["value"]
        for section in data["sections"]
        for row in section["rows"]
    }


def test_the_figures_are_those_of_the_database(site: dict[str, Any]) -> None:
    since, until = period()
    record = records.export(since, until, fmt="json", language="en")
    got = values(record)
    window = VerificationAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
    assert got["volumes.attempts"] == window.count() == 4
    assert got["volumes.attempts_by_status"] == {"completed": 4}
    people = window.exclude(idcard_hash="").values("idcard_hash").distinct().count()
    assert got["volumes.distinct_people"] == people
    assert got["volumes.attempts_hash_erased"] == window.filter(idcard_hash="").count()
    assert got["volumes.people_first_seen"] == got["volumes.people_registered"] == 3
    held = VerificationAttempt.objects.exclude(selfie_name="").count()
    assert got["volumes.selfies_held"] == held
    events = AttemptEvent.objects.filter(created_at__gte=since)
    # The redaction on request and the withdrawal's (a withdrawal erases as a redaction does).
    assert got["volumes.redactions"] == events.filter(kind=EventKind.REDACTED.value).count()
    purged = events.filter(kind=EventKind.PURGED.value)
    assert sum(got["volumes.purges"].values()) == purged.count() >= 1
    assert got["volumes.purges"].get("pii") == purged.filter(data__what="pii").count() == 1
    withdrawals = got["volumes.withdrawals"]
    assert withdrawals["requests"] == 1 and withdrawals["attempts"] == 1
    assert withdrawals["by_channel"] == {"site": 1}
    assert 0 <= withdrawals["handling_ms_median"] == withdrawals["handling_ms_max"] < 60_000
    assert got["notice_versions.attempts_by_version"] == {"2025-01": 1, "2025-06": 3}
    assert got["notice_versions.accepted"] == ["2025-06", "2025-01"]
    for name in records.RETENTION_SETTINGS:
        assert got[f"retention.{name}"] == getattr(face_idcard_settings, name)
    holders = got["security.permission.export_audit"]
    assert holders == {"user_ids": [site["viewer"].pk, site["in_group"].pk], "groups": ["auditors"]}
    assert got["security.permission.view_pii"]["user_ids"] == [site["viewer"].pk]
    assert got["security.pii_views"] == events.filter(kind=EventKind.PII_VIEWED.value).count() == 1
    assert got["security.hash_key_ids"] == [key.key_id for key in crypto.hash_keys()]
    fingerprints = got["security.encryption_key_ids"]
    assert len(fingerprints) == len(face_idcard_settings.PII_ENCRYPTION_KEYS) >= 1
    assert not [
        k for k in face_idcard_settings.PII_ENCRYPTION_KEYS if str(k)[:8] in str(fingerprints)
    ]
    backend = backend_class(resolve("default").backend)
    assert got["processors.default"]["provider"] == backend.provider
    assert got["processors.default"]["attempts_in_period"] == 4
    assert got["filing.people"] == 3


@pytest.mark.parametrize("fmt", records.FORMATS)
@pytest.mark.parametrize("language", records.LANGUAGES)
def test_no_export_holds_personal_information(
    site: dict[str, Any], fmt: str, language: str
) -> None:
    out = io.StringIO()
    call_command(
        "face_idcard_records",
        "--format",
        fmt,
        "--language",
        language,
        "--days",
        "2",
        "--to",
        str(timezone.localdate() + timedelta(days=1)),
        stdout=out,
        stderr=io.StringIO(),
    )
    content = out.getvalue()
    assert content == ProcessingRecord.objects.get().content
    hashes = {h for number in NUMBERS for h in crypto.id_number_hashes(number)}
    secrets = {*NUMBERS, *NAMES, *hashes, STAFF, "owner-of-attempts", "in-the-group"}
    secrets |= {number[:6] + number[-4:] for number in NUMBERS}  # no mask either
    secrets |= {name[0] + "*" for name in NAMES}
    found = [secret for secret in secrets if secret in content]
    assert not found
    if language == "zh-hans":
        assert "人脸" in content or "用途" in content
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(content)))
        assert rows[0] == ["section", "section_label", "key", "label", "value"]
        assert {row[0] for row in rows[1:]} >= {"volumes", "security", "processors", "filing"}
    else:
        assert json.loads(content)["language"] == language


def test_each_export_is_kept_audited_and_outlives_every_purge(site: dict[str, Any]) -> None:
    since, until = period()
    record = records.export(since, until, fmt="csv", language="zh-hans", actor=site["viewer"])
    assert record.sha256 == hashlib.sha256(record.content.encode("utf-8")).hexdigest()
    event = StaffAuditEvent.objects.get(kind=StaffAuditKind.RECORDS_EXPORTED.value)
    assert event.actor == site["viewer"]
    assert event.data["record"] == record.pk and event.data["sha256"] == record.sha256
    # Years later the purge erases what it erases; the records stay.
    services.purge(now=timezone.now() + timedelta(days=4 * 366))
    assert ProcessingRecord.objects.filter(pk=record.pk).exists()
    with pytest.raises(AuditLogError):
        ProcessingRecord.objects.all().delete()
    with pytest.raises(AuditLogError):
        record.delete()


def test_only_a_holder_of_export_audit_exports(site: dict[str, Any]) -> None:
    since, until = period()
    nobody = user_with("nobody", "view_verificationattempt")
    with pytest.raises(PermissionRequired):
        records.export(since, until, fmt="json", language="en", actor=nobody)
    assert not ProcessingRecord.objects.exists()


def test_the_command_refuses_bad_input(site: dict[str, Any]) -> None:
    for args in (["--from", "2026-13-01"], ["--from", "2026-05-02", "--to", "2026-05-01"]):
        with pytest.raises(CommandError):
            call_command("face_idcard_records", *args, stdout=io.StringIO())
    assert not ProcessingRecord.objects.exists()


def test_the_admin_page_streams_an_export_to_a_holder_of_export_audit(
    site: dict[str, Any],
) -> None:
    url = "/admin/face_idcard/verificationstatistics/records/"
    client = Client()
    client.force_login(site["viewer"])
    assert client.get(url).status_code == 200
    day = timezone.localdate()
    response = client.get(
        url,
        {
            "date_from": str(day - timedelta(days=1)),
            "date_to": str(day),
            "format": "csv",
            "language": "en",
        },
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].endswith('.csv"')
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    assert body == ProcessingRecord.objects.get().content
    assert not [name for name in (*NAMES, *NUMBERS) if name in body]
    # A bad period: the form again, nothing exported.
    bad = client.get(
        url, {"date_from": "2026-05-02", "date_to": "2026-05-01", "format": "csv", "language": "en"}
    )
    assert bad.status_code == 200 and ProcessingRecord.objects.count() == 1
    # Without export_audit: refused, nothing exported.
    reader = Client()
    reader.force_login(user_with("reader", "view_verificationattempt"))
    assert (
        reader.get(
            url, {"date_from": str(day), "date_to": str(day), "format": "json", "language": "en"}
        ).status_code
        == 403
    )
    assert ProcessingRecord.objects.count() == 1


def test_the_filing_page_and_the_warning_on_the_statistics_pages(
    site: dict[str, Any], face_settings: Callable[..., None]
) -> None:
    from face_idcard import _filing as filing

    filing.forget_marks()
    client = Client()
    client.force_login(site["viewer"])
    page = client.get("/admin/face_idcard/verificationstatistics/filing/")
    assert page.status_code == 200
    assert b'data-figure="people">3<' in page.content
    stats = client.get("/admin/face_idcard/verificationstatistics/")
    assert b"face-idcard-filing-warning" not in stats.content
    face_settings(
        NOTICE_CURRENT_VERSION="2025-06", FILING_THRESHOLD=3, FILING_WARNING_FRACTIONS=[0.8, 1.0]
    )
    stats = client.get("/admin/face_idcard/verificationstatistics/")
    assert b"face-idcard-filing-warning" in stats.content
    deadline = filing.status().deadline
    assert deadline is not None
    page = client.get("/admin/face_idcard/verificationstatistics/filing/")
    assert str(deadline.year).encode() in page.content
    filing.forget_marks()


def test_pages_and_export_without_a_hash_key_do_not_fail(
    site: dict[str, Any], face_settings: Callable[..., None]
) -> None:
    # A misconfigured site (system check E015 says so) still sees its pages and exports.
    face_settings(PII_HASH_KEYS=[])
    client = Client()
    client.force_login(site["viewer"])
    assert client.get("/admin/face_idcard/verificationstatistics/filing/").status_code == 200
    assert client.get("/admin/face_idcard/verificationstatistics/").status_code == 200
    since, until = period()
    got = values(records.export(since, until, fmt="json", language="en"))
    assert got["security.hash_key_ids"] == []
