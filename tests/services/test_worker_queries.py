"""The worker's hot path in statements: what one attempt's run costs the database.

On a pipeline that is CPU-bound on a small machine, every extra statement per attempt is a
round trip and its client-side CPU in the worker (issue 10). These tests bound the count (an
upper bound, never the exact statements) so a change that adds reads or writes fails here
rather than showing up later as a slower benchmark.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from face_idcard.models import EventKind, VerificationAttempt
from face_idcard.services import _pipeline as pipeline
from face_idcard.services._claim import claim, returns_rows_from_update
from face_idcard.states import Status
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db


_submit = functools.partial(submit_attempt, enqueue=False)


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements, transaction control (which Django logs beside them) left out."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].lstrip().upper().startswith(control)
    ]


def _second_run() -> tuple[VerificationAttempt, list[str]]:
    """A completed run and its statements, after a first run (which reads what the process
    keeps: the outbox's list of webhook endpoints)."""
    pipeline.run(_submit().pk)
    attempt = _submit()
    with CaptureQueriesContext(connection) as queries:
        outcome = pipeline.run(attempt.pk)
    assert outcome.status == Status.COMPLETED
    return attempt, _statements(queries)


def test_a_completed_run_stays_within_its_statements(face_settings: Any) -> None:
    """The claim (one UPDATE ... RETURNING, or on MySQL/MariaDB the conditional UPDATE and the
    read of the row) and the record (the conditional UPDATE, one INSERT of both events): no
    slot read without a rate limit, no separate audit INSERT, and no read of the webhook
    endpoints (the outbox keeps their list per process; the first run of the test reads it)."""
    attempt, statements = _second_run()
    claim_statements = 1 if returns_rows_from_update(connection.alias) else 2
    assert len(statements) <= claim_statements + 2, statements
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1, statements
    kinds = list(attempt.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.PROVIDER_CALL.value, EventKind.DECIDED.value]


def test_the_record_guards_against_a_withdrawal_in_its_condition(face_settings: Any) -> None:
    """The record's UPDATE writes the provider's identifiers as plain values on the condition
    that the attempt was not redacted during the call: no CASE per value on the hot path (one
    per identifier doubled the UPDATE's CPU, bench/profile_worker.py). A redaction during the
    call is test_withdrawal's."""
    _, statements = _second_run()
    record = [s for s in statements if s.lstrip().upper().startswith("UPDATE")][-1]
    assert "CASE" not in record.upper(), record
    assert "redacted_at" in record, record


def test_a_duplicate_delivery_costs_two_statements_and_no_call(face_settings: Any) -> None:
    attempt = _submit()
    pipeline.run(attempt.pk)
    with CaptureQueriesContext(connection) as queries:
        outcome = pipeline.run(attempt.pk)
    assert (outcome.action, outcome.status) == ("done", Status.COMPLETED)
    statements = _statements(queries)
    assert len(statements) <= 2, statements  # the failed claim, then why it failed


def test_the_claimed_instance_equals_the_row_as_django_reads_it(face_settings: Any) -> None:
    """The claimed instance has every field as Django's own query gives it (JSON decoded,
    datetimes and UUIDs converted), and is marked as loaded from the database."""
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


def test_an_endpoint_adds_the_outbox_inserts_alone(face_settings: Any) -> None:
    """With an endpoint, the decided event's message and delivery are written (two INSERTs):
    the payload is made from the attempt in hand, and the endpoint list is kept per process."""
    from face_idcard.webhooks import outbox, secrets
    from face_idcard.webhooks.models import WebhookEndpoint

    endpoint = WebhookEndpoint(url="http://127.0.0.1:9/hook")
    secrets.store(endpoint, [secrets.generate_secret()])
    endpoint.save()
    # Saved in the test's transaction, the endpoint keeps the outbox from keeping its list
    # until that transaction ends; a worker sees endpoints another process committed.
    outbox.forget_endpoints()
    _, statements = _second_run()
    claim_statements = 1 if returns_rows_from_update(connection.alias) else 2
    assert len(statements) <= claim_statements + 4, statements
