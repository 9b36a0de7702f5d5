"""``services.submission.insert_rows``: the INSERT that submit uses for the attempt, its
events and the API's Idempotency-Key row, written without the ORM's compiler. The rows it
stores are the rows ``Model.save`` would store, field for field. ``insert_groups``: several
models' rows, in one statement on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from face_idcard import audit, crypto
from face_idcard.models import AttemptEvent, EventKind, VerificationAttempt
from face_idcard.services.submission import insert_groups, insert_rows
from tests.api_helpers import plain_user

pytestmark = pytest.mark.django_db


def new_attempt(**fields: Any) -> VerificationAttempt:
    now = timezone.now()
    return VerificationAttempt(
        user=plain_user("owner"),
        backend="default",
        idcard_number_encrypted=crypto.encrypt_text("11010519491231002X"),
        idcard_name_encrypted=crypto.encrypt_text("张三"),
        idcard_hash="ab" * 32,
        idcard_number_masked="1101**********002X",
        idcard_name_masked="张*",
        consent_at=now,
        notice_version="2026-11",
        external_reference="order-1",
        created_at=now,
        queued_at=now,
        **fields,
    )


def stored_fields(model: Any, pk: Any) -> dict[str, Any]:
    row = model._base_manager.get(pk=pk)
    return {
        field.attname: getattr(row, field.attname)
        for field in model._meta.concrete_fields
        if not field.primary_key
    }


def test_an_attempt_is_stored_as_save_stores_it(face_settings: Any) -> None:
    by_save = new_attempt()
    by_insert = VerificationAttempt(
        **{
            field.attname: getattr(by_save, field.attname)
            for field in VerificationAttempt._meta.concrete_fields
            if not field.primary_key
        }
    )
    by_save.save(force_insert=True)
    insert_rows([by_insert], using="default")
    assert stored_fields(VerificationAttempt, by_insert.pk) == stored_fields(
        VerificationAttempt, by_save.pk
    )


def test_events_with_json_data_and_no_id_are_stored_in_one_statement(face_settings: Any) -> None:
    attempt = new_attempt()
    insert_rows([attempt], using="default")
    events = [
        audit.event(
            attempt, EventKind.CREATED, actor=attempt.user, mode="image", nested={"a": [1]}
        ),
        audit.event(attempt, EventKind.QUEUED, publish="after_commit"),
    ]
    with CaptureQueriesContext(connection) as queries:
        insert_rows(events, using="default")
    assert len(queries) == 1
    stored = list(AttemptEvent.objects.filter(attempt=attempt).order_by("id"))
    assert [(e.kind, e.data, e.actor_id) for e in stored] == [
        ("created", {"mode": "image", "nested": {"a": [1]}}, attempt.user_id),
        ("queued", {"publish": "after_commit"}, None),
    ]


def test_a_stored_row_is_marked_saved_so_a_later_save_updates_it(face_settings: Any) -> None:
    attempt = new_attempt()
    insert_rows([attempt], using="default")
    assert attempt._state.adding is False and attempt._state.db == "default"
    attempt.external_reference = "order-2"
    attempt.save()  # an UPDATE: an INSERT would fail on the primary key
    assert VerificationAttempt.objects.get(pk=attempt.pk).external_reference == "order-2"
    assert VerificationAttempt.objects.count() == 1


def test_nothing_to_insert_sends_nothing_and_mixed_models_are_refused(face_settings: Any) -> None:
    with CaptureQueriesContext(connection) as queries:
        insert_rows([], using="default")
    assert len(queries) == 0
    attempt = new_attempt()
    with pytest.raises(TypeError):
        insert_rows([attempt, audit.event(attempt, EventKind.CREATED)], using="default")
    assert VerificationAttempt.objects.count() == 0


def test_the_columns_null_in_every_row_are_left_out(face_settings: Any) -> None:
    """The database stores NULL for them; a new attempt's INSERT stays within the 50
    parameters whose conversion psycopg caches."""
    attempt = new_attempt()
    with CaptureQueriesContext(connection) as queries:
        insert_rows([attempt], using="default")
    (insert,) = [query["sql"] for query in queries if query["sql"].startswith("INSERT")]
    columns = insert.split("(", 1)[1].split(")", 1)[0]
    quoted = connection.ops.quote_name
    assert quoted("finished_at") not in columns and quoted("similarity") not in columns
    assert quoted("idcard_hash") in columns and quoted("external_reference") in columns
    assert columns.count(",") + 1 <= 50
    stored = VerificationAttempt.objects.get(pk=attempt.pk)
    assert stored.finished_at is None and stored.similarity is None


def two_events(attempt: VerificationAttempt) -> list[AttemptEvent]:
    return [
        audit.event(attempt, EventKind.CREATED, actor=attempt.user, mode="image"),
        audit.event(attempt, EventKind.QUEUED, publish="after_commit"),
    ]


def test_an_attempt_and_its_events_go_in_one_statement_on_postgresql(face_settings: Any) -> None:
    attempt = new_attempt()
    events = two_events(attempt)
    with CaptureQueriesContext(connection) as queries:
        insert_groups([[attempt], [], events], using="default")
    # PostgreSQL: a WITH; SQLite (no INSERT in a WITH): one statement a model, in order.
    inserts = [query["sql"] for query in queries if "INSERT" in query["sql"]]
    if connection.vendor == "postgresql":
        assert len(inserts) == 1 and inserts[0].startswith("WITH "), inserts
    else:
        assert len(inserts) == 2, inserts
    assert VerificationAttempt.objects.get(pk=attempt.pk).external_reference == "order-1"
    stored = list(AttemptEvent.objects.filter(attempt=attempt).order_by("id"))
    assert [(e.kind, e.data) for e in stored] == [
        ("created", {"mode": "image"}),
        ("queued", {"publish": "after_commit"}),
    ]
    assert all(row._state.adding is False for row in [attempt, *events])


def test_a_failing_group_stores_none_of_the_others(face_settings: Any) -> None:
    attempt = new_attempt()
    earlier = new_attempt()
    insert_rows([earlier], using="default")
    duplicate = new_attempt()
    duplicate.pk = earlier.pk  # the primary key taken: the last group fails
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_groups([[attempt], two_events(attempt), [duplicate]], using="default")
    assert list(VerificationAttempt.objects.values_list("pk", flat=True)) == [earlier.pk]
    assert AttemptEvent.objects.count() == 0
    assert attempt._state.adding is True  # not marked saved
