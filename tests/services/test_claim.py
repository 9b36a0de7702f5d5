"""Who may claim an attempt, as a table (issue 17): a claimable status, no live lease, no
slot in the future; and what a claim costs the database (at most the UPDATE and a read)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from face_idcard.models import VerificationAttempt
from face_idcard.services import _claim as claim

#: The function itself: the fixture below replaces it for the update-then-read runs.
RETURNS_ROWS_FROM_UPDATE = claim.returns_rows_from_update
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
EARLIER = NOW - timedelta(minutes=5)


@pytest.fixture(params=["returning", "update_then_read"], autouse=True)
def claim_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test on both ways of claiming: one ``UPDATE … RETURNING`` (where the database
    returns rows from an UPDATE) and the ORM's update then a read (MySQL/MariaDB's way, run
    here on every database so that it is tested everywhere)."""
    if request.param == "returning":
        if not claim.returns_rows_from_update("default"):
            pytest.skip("this database returns no rows from an UPDATE (the other path runs)")
    else:
        monkeypatch.setattr(claim, "returns_rows_from_update", lambda alias: False)
    return str(request.param)


# (status, lease_expires_at, next_attempt_at, claimed?)
CASES = [
    ("queued", None, None, True),
    ("retry_wait", None, None, True),
    ("processing", None, None, False),
    ("completed", None, None, False),
    ("rejected", None, None, False),
    ("failed", None, None, False),
    ("canceled", None, None, False),
    ("queued", NOW - SECOND, None, True),  # a lease that ran out
    ("queued", NOW, None, False),  # a lease that ends this instant still holds
    ("queued", NOW + SECOND, None, False),
    ("retry_wait", None, NOW - SECOND, True),
    ("retry_wait", None, NOW, True),  # its slot starts now
    ("retry_wait", None, NOW + SECOND, False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "lease", "next_at", "claimed"), CASES)
def test_claim_table(
    status: str, lease: datetime | None, next_at: datetime | None, claimed: bool
) -> None:
    old_token = uuid.uuid4()
    attempt = VerificationAttempt.objects.create(
        backend="simulator",
        consent_at=EARLIER,
        status=status,
        lease_expires_at=lease,
        next_attempt_at=next_at,
        claim_token=old_token,
        provider_calls=2,
        started_at=EARLIER if status == "retry_wait" else None,
    )
    result = claim.claim(attempt.pk, NOW)
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    if not claimed:
        assert result is None
        assert (stored.status, stored.provider_calls, stored.claim_token) == (status, 2, old_token)
        return
    assert result is not None
    expected_start = EARLIER if status == "retry_wait" else NOW
    for row in (result, stored):
        assert row.status == "processing"
        assert row.provider_calls == 3
        assert row.lease_expires_at == NOW + timedelta(seconds=120)
        assert row.started_at == expected_start
        assert row.claim_token not in (None, old_token)
    assert result.claim_token == stored.claim_token
    # Claimed once: a second claim at the same instant finds a live lease.
    assert claim.claim(attempt.pk, NOW) is None


@pytest.mark.django_db
def test_an_unknown_attempt_is_not_claimed() -> None:
    assert claim.claim(uuid.uuid4(), NOW) is None


@pytest.mark.django_db
@pytest.mark.parametrize("lease_seconds", [1, 300])
def test_the_lease_comes_from_the_settings(settings: object, lease_seconds: int) -> None:
    settings.FACE_IDCARD = {"CLAIM_LEASE_SECONDS": lease_seconds}  # type: ignore[attr-defined]
    assert claim.lease_until(NOW) == NOW + timedelta(seconds=lease_seconds)


@pytest.mark.django_db
def test_a_claim_is_the_conditional_update_and_one_read_at_most() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    attempt = VerificationAttempt.objects.create(backend="simulator", consent_at=EARLIER)
    with CaptureQueriesContext(connection) as queries:
        assert claim.claim(attempt.pk, NOW) is not None
    assert len(queries) <= 2, [q["sql"] for q in queries]
    assert queries[0]["sql"].lstrip().upper().startswith("UPDATE")
    # A lost claim stops at its UPDATE.
    with CaptureQueriesContext(connection) as queries:
        assert claim.claim(attempt.pk, NOW) is None
    assert len(queries) == 1


@pytest.mark.django_db
def test_where_the_database_returns_rows_the_claim_is_one_statement(claim_path: str) -> None:
    """PostgreSQL and SQLite (3.35+): one ``UPDATE … RETURNING``, and the instance it builds
    has its fields as Django's own queries give them (a UUID token, an aware datetime);
    MySQL/MariaDB: the UPDATE, then one read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    attempt = VerificationAttempt.objects.create(backend="default", consent_at=EARLIER)
    with CaptureQueriesContext(connection) as queries:
        claimed = claim.claim(attempt.pk, NOW)
    assert claimed is not None
    verbs = [query["sql"].lstrip().split()[0].upper() for query in queries]
    if claim_path == "returning":
        assert verbs == ["UPDATE"]
        assert "RETURNING" in queries[0]["sql"].upper()
    else:
        assert verbs == ["UPDATE", "SELECT"]
    assert isinstance(claimed.claim_token, uuid.UUID)
    assert claimed.started_at == NOW and claimed.started_at.tzinfo is not None
    assert claimed.provider_calls == attempt.provider_calls + 1
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert (stored.status, stored.claim_token) == (claimed.status, claimed.claim_token)


@pytest.mark.parametrize(
    ("vendor", "can_return", "expected"),
    [
        ("postgresql", True, True),
        ("sqlite", True, True),
        ("sqlite", False, False),  # SQLite before 3.35
        ("mysql", False, False),
        ("mysql", True, False),  # MariaDB returns from INSERT, but not from UPDATE
        ("oracle", True, False),  # its UPDATE … RETURNING is another syntax
    ],
)
def test_which_databases_claim_in_one_statement(
    monkeypatch: pytest.MonkeyPatch, vendor: str, can_return: bool, expected: bool
) -> None:
    from types import SimpleNamespace

    fake = SimpleNamespace(
        vendor=vendor, features=SimpleNamespace(can_return_columns_from_insert=can_return)
    )
    monkeypatch.setattr(claim, "connections", {"other": fake})
    assert RETURNS_ROWS_FROM_UPDATE("other") is expected
