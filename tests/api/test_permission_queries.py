"""What a creation costs the database beyond storing the attempt (bench/api.py measures the
throughput): the 202 of a new attempt has no similarity to show or hide, so the permission
backend is not asked."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.api_helpers import BASE, client_for, create, plain_user

# Published to a queue no worker takes: a live session worker would race the counts here and
# the flush after each test.
pytestmark = pytest.mark.usefixtures("parked_publishes")


@pytest.mark.django_db(transaction=True)
def test_creating_an_attempt_does_not_look_up_permissions(face_settings: Any) -> None:
    client = client_for(plain_user("owner"))
    with CaptureQueriesContext(connection) as queries:
        response = create(client)
    assert response.status_code == 202, response.content
    assert response.json()["similarity"] is None
    permission_queries = [
        q["sql"] for q in queries.captured_queries if "auth_permission" in q["sql"]
    ]
    assert permission_queries == []


@pytest.mark.django_db(transaction=True)
def test_the_permission_is_still_asked_for_a_score(face_settings: Any) -> None:
    from face_idcard.models import VerificationAttempt

    owner = plain_user("owner")
    client = client_for(owner)
    attempt_id = create(client).json()["id"]
    VerificationAttempt.objects.filter(pk=attempt_id).update(similarity=87.5)
    with CaptureQueriesContext(connection) as queries:
        shown = client.get(f"{BASE}{attempt_id}/").json()
    assert shown["similarity"] is None  # not a reviewer
    assert any("auth_permission" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_the_daily_limits_cost_one_count_query_each_time_they_are_checked(
    face_settings: Any,
) -> None:
    client = client_for(plain_user("owner"))
    with CaptureQueriesContext(connection) as queries:
        assert create(client).status_code == 202
    # A limit count reads the keys of at most limit + 1 of the attempts of its window, staff
    # re-runs left out.
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "rerun_of" in q["sql"] and " LIMIT " in q["sql"].upper()
    ]
    # PostgreSQL, MySQL/MariaDB: one count per ID number and one per user, under the locks.
    # SQLite: the early check and the one after the INSERT, each the same two.
    expected = 4 if connection.vendor == "sqlite" else 2
    assert len(counts) == expected, counts
