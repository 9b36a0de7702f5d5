"""The model: append-only events, history kept when users go, no PII in reprs."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ProtectedError

from face_idcard import _audit as audit
from face_idcard.models import AttemptEvent, AuditLogError, EventKind, VerificationAttempt
from tests.support.factories import make_attempt

pytestmark = pytest.mark.django_db


def test_events_cannot_be_updated_or_deleted() -> None:
    attempt = make_attempt()
    item = audit.record(attempt, EventKind.CREATED, source="test")
    item.data = {"changed": True}
    with pytest.raises(AuditLogError):
        item.save()
    with pytest.raises(AuditLogError):
        item.delete()
    with pytest.raises(AuditLogError):
        AttemptEvent.objects.filter(pk=item.pk).update(kind="queued")
    with pytest.raises(AuditLogError):
        AttemptEvent.objects.filter(pk=item.pk).delete()
    stored = AttemptEvent.objects.get(pk=item.pk)
    assert stored.kind == EventKind.CREATED
    assert stored.data == {"source": "test"}


def test_attempt_with_history_cannot_be_deleted() -> None:
    attempt = make_attempt()
    audit.record(attempt, EventKind.CREATED)
    with pytest.raises(ProtectedError):
        attempt.delete()
    assert VerificationAttempt.objects.filter(pk=attempt.pk).exists()


def test_deleting_a_user_keeps_attempts_and_events() -> None:
    user = get_user_model().objects.create_user("alice", password="x")
    staff = get_user_model().objects.create_user("bob", password="x")
    attempt = make_attempt(user=user)
    audit.record(attempt, EventKind.PII_VIEWED, actor=staff)
    user.delete()
    staff.delete()
    attempt.refresh_from_db()
    assert attempt.user is None
    event = attempt.events.get()
    assert event.actor is None
    assert event.kind == EventKind.PII_VIEWED


def test_repr_and_str_show_no_personal_information() -> None:
    attempt = make_attempt(
        idcard_number_masked="110105********002X",
        idcard_name_masked="*三",
        idcard_number_encrypted="token",
    )
    for text in (repr(attempt), str(attempt)):
        assert str(attempt.pk) in text
        assert "002X" not in text and "三" not in text and "token" not in text


def test_error_code_holds_both_code_styles() -> None:
    attempt = make_attempt(error_code="FailedOperation.IdNameMisMatch")
    other = make_attempt(error_code="-5803")
    attempt.refresh_from_db()
    other.refresh_from_db()
    assert attempt.error_code == "FailedOperation.IdNameMisMatch"
    assert other.error_code == "-5803"


def test_migrations_match_the_models() -> None:
    """A model change without its migration would ship a schema the code does not expect."""
    from io import StringIO

    from django.core.management import call_command

    output = StringIO()
    try:
        call_command(
            "makemigrations", "face_idcard", "--check", "--dry-run", stdout=output, stderr=output
        )
    except SystemExit as exit_:  # --check exits 1 when a migration is missing
        raise AssertionError("missing migration:\n" + output.getvalue()) from exit_


def test_every_index_works_on_every_supported_database() -> None:
    """MySQL/MariaDB ignore an index's condition (and MariaDB an expression index): Django
    warns (models.W037, W043) on every migrate and, from 6.1, every check. The app's indexes
    are plain column lists, so a clean install warns nowhere."""
    from django.apps import apps

    for model in apps.get_app_config("face_idcard").get_models():
        for index in model._meta.indexes:
            assert index.condition is None, index.name
            assert not index.expressions, index.name
            assert not index.include, index.name


def test_the_system_checks_of_this_database_find_nothing() -> None:
    from django.core import checks

    found = [
        message
        for message in checks.run_checks(databases=["default"])
        if message.id and message.id.startswith("models.")
    ]
    assert found == []


def test_one_initial_migration_written_with_public_operations() -> None:
    """One initial migration until 1.0 is released (nothing earlier was published, so
    nothing needs a migration path), made of Django's own operations (no RunPython, RunSQL or
    state/database split that could drift)."""
    import importlib
    from pathlib import Path

    from django.db import migrations

    import face_idcard.migrations as package

    folder = Path(package.__file__).parent
    names = sorted(path.stem for path in folder.glob("[0-9]*.py"))
    assert names == ["0001_initial"]
    assert importlib.import_module("face_idcard.migrations.0001_initial").Migration.initial
    forbidden = (migrations.RunPython, migrations.RunSQL, migrations.SeparateDatabaseAndState)
    for name in names:
        migration = importlib.import_module(f"face_idcard.migrations.{name}").Migration
        assert not [op for op in migration.operations if isinstance(op, forbidden)], name


@pytest.mark.django_db
def test_foreign_keys_are_constraints_without_indexes_another_index_serves() -> None:
    """The attempt's user and the event's attempt are foreign key constraints in the database;
    their own one-column index is left out where a composite index leading with the column
    serves (face_idcard_user_hash_idx, face_idcard_event_idx): one index less to write on
    every attempt and event. MySQL/MariaDB keep an index for each foreign key of their own
    accord, so only the constraint is checked there."""
    from django.db import connection

    from face_idcard.models import AttemptEvent, VerificationAttempt

    for model, field_name, serving in (
        (VerificationAttempt, "user", "face_idcard_user_hash_idx"),
        (AttemptEvent, "attempt", "face_idcard_event_idx"),
    ):
        column = model._meta.get_field(field_name).column
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
        assert any(
            info["foreign_key"] and info["columns"] == [column] for info in constraints.values()
        ), (model, field_name)
        assert constraints[serving]["columns"][0] == column
        if connection.vendor != "mysql":
            own = [
                name
                for name, info in constraints.items()
                if info["index"]
                and not info["unique"]
                and not info["primary_key"]
                and not info["foreign_key"]
                and info["columns"] == [column]
            ]
            assert own == [], (model, field_name, own)
