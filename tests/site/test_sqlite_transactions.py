"""The suite's SQLite takes its write lock when a transaction begins (tests/settings.py).

The Celery worker thread writes to the same file while a test's own transaction reads and
then writes. With SQLite's default deferred BEGIN, that upgrade from reading to writing is
refused at once ("database is locked", whatever the busy timeout: SQLite will not wait where
both could wait for each other); CI met it once, a caller's transaction around ``submit``
against a late message of an earlier test. BEGIN IMMEDIATE waits for the lock instead.
"""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="SQLite's locking; other databases lock rows"
    ),
]


def test_a_transaction_that_reads_then_writes_waits_for_another_writer() -> None:
    users = get_user_model().objects
    writing, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            with transaction.atomic():
                users.create(username="the-other-writer")
                writing.set()
                release.wait(5)
        except BaseException as error:  # reported by the test
            errors.append(error)
            writing.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert writing.wait(5)
    # Let the other writer commit a moment after this transaction has begun.
    timer = threading.Timer(0.5, release.set)
    timer.start()
    try:
        with transaction.atomic():
            assert not users.filter(username="this-writer").exists()  # reads first
            users.create(username="this-writer")  # then writes
    finally:
        release.set()
        timer.cancel()
        thread.join(10)
    assert errors == []
    assert set(users.values_list("username", flat=True)) >= {"the-other-writer", "this-writer"}
