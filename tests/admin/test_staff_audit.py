"""Every search by ID number is in the audit trail, a search without hits too: a staff event
(searcher, hit count, hash key ids; never the number or its hash), append-only, shown read-only
in the admin and in the audit export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.http import StreamingHttpResponse
from django.utils import timezone

from face_idcard import _audit as audit
from face_idcard import crypto
from face_idcard._identity import validate_id_number
from face_idcard.exceptions import AuditLogError
from face_idcard.insight import export
from face_idcard.models import AttemptEvent, EventKind, StaffAuditEvent, StaffAuditKind
from face_idcard.simulator import magic
from tests.support.admin_helpers import ID_SEARCH, client_for, finished

pytestmark = pytest.mark.django_db

SEARCHER = ("view_verificationattempt", "view_pii")
STAFF_AUDIT = "/admin/face_idcard/staffauditevent/"
EXPORT = "/admin/face_idcard/verificationstatistics/export/"


@pytest.fixture(autouse=True)
def fresh_counts(face_settings: Any) -> Iterator[None]:
    """Search counts live in the cache, which outlives a test's database."""
    caches["default"].clear()
    yield
    caches["default"].clear()


def _secrets_of(number: str) -> list[str]:
    """What a staff event must never hold: the number and its hashes under every key."""
    return [number, *crypto.id_number_hashes(validate_id_number(number))]


def test_a_search_without_hits_is_audited_without_the_number(face_settings: Any) -> None:
    finished(magic.MATCH)
    face_settings(PII_HASH_KEYS=[{"id": "new", "key": "n" * 40}, "face-idcard-tests-hash-key"])
    client, searcher = client_for("zero-hit-searcher", *SEARCHER)
    response = client.post(ID_SEARCH, {"idcard_number": magic.NO_MATCH})
    assert response.status_code == 200
    assert not AttemptEvent.objects.filter(kind=EventKind.PII_VIEWED.value).exists()
    event = StaffAuditEvent.objects.get()
    assert event.kind == StaffAuditKind.ID_SEARCH.value
    assert event.actor_id == searcher.pk
    key_ids = [key.key_id for key in crypto.hash_keys()]
    assert len(key_ids) == 2 and key_ids[0] == "new"
    assert event.data == {"hits": 0, "key_ids": key_ids}
    stored = json.dumps(event.data)
    assert not any(secret in stored for secret in _secrets_of(magic.NO_MATCH))


def test_a_search_with_hits_is_one_staff_event_and_an_event_on_each_hit(
    face_settings: Any,
) -> None:
    first, second = finished(magic.MATCH), finished(magic.MATCH)
    client, searcher = client_for("hit-searcher", *SEARCHER)
    client.post(ID_SEARCH, {"idcard_number": magic.MATCH})
    event = StaffAuditEvent.objects.get()
    assert event.actor_id == searcher.pk
    assert event.data == {"hits": 2, "key_ids": [first.idcard_hash_key_id]}
    assert not any(secret in json.dumps(event.data) for secret in _secrets_of(magic.MATCH))
    hits = AttemptEvent.objects.filter(kind=EventKind.PII_VIEWED.value)
    assert sorted(e.attempt_id for e in hits) == sorted([first.pk, second.pk])


def test_refused_searches_write_no_event(face_settings: Any) -> None:
    view_only, _ = client_for("refused-view-only", "view_verificationattempt")
    assert view_only.post(ID_SEARCH, {"idcard_number": magic.NO_MATCH}).status_code == 403
    searcher, _ = client_for("refused-bad-number", *SEARCHER)
    searcher.post(ID_SEARCH, {"idcard_number": "110101199003077777"})  # bad check character
    assert not StaffAuditEvent.objects.exists()


def test_the_staff_trail_is_append_only(face_settings: Any) -> None:
    _client, searcher = client_for("append-only", *SEARCHER)
    event = audit.record_staff(StaffAuditKind.ID_SEARCH, actor=searcher, hits=0, key_ids=[])
    with pytest.raises(AuditLogError):
        StaffAuditEvent.objects.filter(pk=event.pk).update(data={})
    with pytest.raises(AuditLogError):
        StaffAuditEvent.objects.all().delete()
    with pytest.raises(AuditLogError):
        event.delete()
    event.data = {"hits": 99}
    with pytest.raises(AuditLogError):
        event.save()
    assert StaffAuditEvent.objects.get().data == {"hits": 0, "key_ids": []}


def test_the_admin_shows_the_staff_trail_read_only(face_settings: Any) -> None:
    searcher, user = client_for("listed-searcher", *SEARCHER)
    searcher.post(ID_SEARCH, {"idcard_number": magic.NO_MATCH})
    event = StaffAuditEvent.objects.get()
    auditor, _ = client_for("trail-auditor", "view_staffauditevent")
    listing = auditor.get(STAFF_AUDIT)
    html = listing.content.decode()
    assert listing.status_code == 200
    assert "Search by ID number" in html and user.username in html and "hits: 0" in html
    assert magic.NO_MATCH not in html
    detail = auditor.get(f"{STAFF_AUDIT}{event.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert auditor.get(f"{STAFF_AUDIT}add/").status_code == 403
    assert auditor.post(f"{STAFF_AUDIT}{event.pk}/delete/").status_code == 403
    assert auditor.post(f"{STAFF_AUDIT}{event.pk}/change/", {"kind": "x"}).status_code == 403
    assert StaffAuditEvent.objects.get().data == {"hits": 0, "key_ids": event.data["key_ids"]}
    # The search permission alone does not show the trail of everyone's searches.
    assert searcher.get(STAFF_AUDIT).status_code == 403


def test_the_audit_export_has_the_staff_events_in_time_order(face_settings: Any) -> None:
    attempt = finished(magic.MATCH)
    searcher, user = client_for("exported-searcher", *SEARCHER)
    searcher.post(ID_SEARCH, {"idcard_number": magic.NO_MATCH})
    audit.record(attempt, EventKind.PII_VIEWED, actor=user)  # after the search
    staff_event = StaffAuditEvent.objects.get()
    exporter, _ = client_for("staff-exporter", "view_verificationattempt", "export_audit")
    today = timezone.localdate()
    response = exporter.get(f"{EXPORT}?date_from={today}&date_to={today}")
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == list(export.HEADER)
    staff_rows = [row for row in rows[1:] if row[0].startswith("staff-")]
    assert staff_rows == [
        [
            f"staff-{staff_event.pk}",
            staff_event.created_at.isoformat(),
            "",
            "",
            "id_search",
            str(user.pk),
            json.dumps(staff_event.data, sort_keys=True, separators=(",", ":")),
        ]
    ]
    times = [row[1] for row in rows[1:]]
    assert times == sorted(times)
    position = rows.index(staff_rows[0])
    assert rows[position + 1][4] == EventKind.PII_VIEWED.value  # merged, not appended
    assert magic.NO_MATCH not in body
    assert len(rows) - 1 == AttemptEvent.objects.count() + 1
