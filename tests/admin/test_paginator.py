"""The changelist paginator: an exact count up to the cap, the planner's estimate past it
(PostgreSQL, through ``QuerySet.explain``), never a full count of the table."""

from __future__ import annotations

import pytest
from django.db import connection

from face_idcard.admin import paginator
from face_idcard.models import VerificationAttempt


@pytest.mark.django_db
def test_the_count_is_exact_under_the_cap() -> None:
    assert paginator.CappedCountPaginator(VerificationAttempt.objects.all(), 10).count == 0


@pytest.mark.django_db
def test_past_the_cap_the_planner_estimate_is_taken_where_there_is_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paginator, "COUNT_CAP", -1)  # every count is "past the cap"
    estimate = paginator._planner_estimate(VerificationAttempt.objects.all())
    if connection.vendor == "postgresql":
        assert estimate > 0  # the planner's guess for a table it has no statistics of
    else:
        assert estimate == 0
