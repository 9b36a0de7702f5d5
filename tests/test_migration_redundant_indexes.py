"""Migration 0011: three redundant indexes go, every foreign key stays, and it reverses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from face_idcard.models import AttemptEvent, VerificationAttempt

BEFORE = ("face_idcard", "0010_statistics_rollup")
AFTER = ("face_idcard", "0011_redundant_indexes")


def constraints(table: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        found: dict[str, Any] = connection.introspection.get_constraints(cursor, table)
    return found


def single_column_indexes(table: str, column: str) -> list[str]:
    return [
        name
        for name, info in constraints(table).items()
        if info["index"] and not info["unique"] and info["columns"] == [column]
    ]


def foreign_keys(table: str, column: str) -> list[str]:
    return [
        name
        for name, info in constraints(table).items()
        if info["foreign_key"] and info["columns"] == [column]
    ]


def migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.fixture
def back_at_latest() -> Iterator[None]:
    yield
    # The newest migration, not AFTER: the later ones must be applied again too.
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("face_idcard")[0])


ATTEMPTS = VerificationAttempt._meta.db_table
EVENTS = AttemptEvent._meta.db_table


#: The migration leaves the foreign keys' indexes alone on MySQL/MariaDB, where InnoDB needs
#: an index for each key and manages it with the constraint.
KEYS_INDEXED_BY_DATABASE = connection.vendor == "mysql"


def redundant_indexes() -> dict[str, list[str]]:
    found = {
        "created": [name for name in constraints(ATTEMPTS) if name == "face_idcard_created_idx"],
        "user": single_column_indexes(ATTEMPTS, "user_id"),
        "attempt": single_column_indexes(EVENTS, "attempt_id"),
    }
    if KEYS_INDEXED_BY_DATABASE:
        found["user"] = found["attempt"] = []
    return found


def covering_indexes_and_keys_present() -> None:
    names = set(constraints(ATTEMPTS)) | set(constraints(EVENTS))
    assert {"face_idcard_stats_idx", "face_idcard_user_hash_idx", "face_idcard_event_idx"} <= names
    assert foreign_keys(ATTEMPTS, "user_id")
    assert foreign_keys(EVENTS, "attempt_id")


@pytest.mark.django_db(transaction=True)
def test_the_latest_schema_has_none_of_the_redundant_indexes_and_keeps_every_key() -> None:
    assert redundant_indexes() == {"created": [], "user": [], "attempt": []}
    covering_indexes_and_keys_present()


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_applies_again(back_at_latest: None) -> None:
    migrate(BEFORE)
    before = redundant_indexes()
    assert before["created"] == ["face_idcard_created_idx"]
    expected = 0 if KEYS_INDEXED_BY_DATABASE else 1
    assert len(before["user"]) == expected and len(before["attempt"]) == expected, before
    covering_indexes_and_keys_present()

    migrate(AFTER)
    assert redundant_indexes() == {"created": [], "user": [], "attempt": []}
    covering_indexes_and_keys_present()
