"""The worker's hot path in statements: what one attempt's run costs the database.

On a pipeline that is CPU-bound on a small machine, every extra statement per attempt is a
round trip and its client-side CPU in the worker (issue 10). These tests pin the count so a
change that adds a read, a second UPDATE or a separate INSERT fails here rather than showing up
later as a slower benchmark.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from face_idcard import services
from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services.claim import claim, supports_update_returning
from face_idcard.simulator import magic
from face_idcard.states import Status
from tests import imagefactory

pytestmark = pytest.mark.django_db

IMAGE = imagefactory.jpeg(320, 240)


def _submit() -> VerificationAttempt:
    return services.submit(
        idcard_number=magic.MATCH,
        idcard_name="张三",
        image=IMAGE,
        consent_at=timezone.now(),
        enqueue=False,
    )


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries]


def test_a_completed_run_is_two_statements_on_postgresql(face_settings: Any) -> None:
    """Claim (UPDATE … RETURNING the row) and record (UPDATE + event INSERTs in one CTE):
    no read before the claim, no slot read without a rate limit, no separate audit INSERT."""
    attempt = _submit()
    with CaptureQueriesContext(connection) as queries:
        outcome = services.run(attempt.pk)
    assert outcome.status == Status.COMPLETED
    statements = _statements(queries)
    if connection.vendor == "postgresql":
        assert len(statements) == 2, statements
        assert statements[0].startswith("UPDATE") and "RETURNING" in statements[0]
        assert statements[1].startswith("WITH moved AS ( UPDATE")
    elif supports_update_returning("default"):
        # SQLite: the claim returns the row too; the record is the UPDATE and one INSERT of
        # both events inside a savepoint (the test's transaction) or a transaction.
        writes = [s for s in statements if s.startswith(("UPDATE", "INSERT", "SELECT"))]
        assert len(writes) == 3, statements
        assert "RETURNING" in writes[0]
        assert writes[1].startswith("UPDATE") and writes[2].startswith("INSERT")
    else:
        # MySQL/MariaDB (no UPDATE ... RETURNING): the row is read, then claimed; the record
        # as on SQLite.
        writes = [s for s in statements if s.startswith(("UPDATE", "INSERT", "SELECT"))]
        assert [w.split()[0] for w in writes] == ["SELECT", "UPDATE", "UPDATE", "INSERT"], writes
        assert "RETURNING" not in writes[1]
    kinds = list(attempt.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.PROVIDER_CALL.value, EventKind.DECIDED.value]


def test_a_duplicate_delivery_costs_two_statements_and_no_call(face_settings: Any) -> None:
    attempt = _submit()
    services.run(attempt.pk)
    with CaptureQueriesContext(connection) as queries:
        outcome = services.run(attempt.pk)
    assert (outcome.action, outcome.status) == ("done", Status.COMPLETED)
    statements = [s for s in _statements(queries) if s.startswith(("UPDATE", "SELECT"))]
    assert len(statements) == 2, statements  # the failed claim, then why it failed


def test_the_claimed_instance_equals_the_row_as_django_reads_it(face_settings: Any) -> None:
    """The claim builds its instance from the returned row itself (not through raw()): every
    field must come out as Django's own query would give it (on SQLite datetimes and UUIDs
    come back as text without the converters; JSON is text on both)."""
    attempt = _submit()
    VerificationAttempt.objects.filter(pk=attempt.pk).update(
        raw_response={"code": 0, "nested": [1, "二"]}
    )
    claimed = claim(attempt.pk, timezone.now())
    assert claimed is not None
    fresh = VerificationAttempt.objects.get(pk=attempt.pk)
    for field in VerificationAttempt._meta.concrete_fields:
        mine, theirs = getattr(claimed, field.attname), getattr(fresh, field.attname)
        assert mine == theirs, field.name
        assert type(mine) is type(theirs), field.name
    assert claimed.raw_response == {"code": 0, "nested": [1, "二"]}
    assert claimed._state.adding is False
    assert claimed._state.db == fresh._state.db
