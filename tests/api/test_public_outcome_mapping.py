"""The one rule of what a user without the detail is shown (face_idcard._reasons), checked over
every (status, decision, review, reason) combination the model allows: the filter the API's
list uses selects exactly the attempts whose shown status and decision match, and a person
is never told a verification went through that did not."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from face_idcard._reasons import (
    NOT_CONFIRMED_REASON,
    is_not_confirmed,
    not_confirmed_filter,
    public_filter,
    public_reason,
    public_status,
)
from face_idcard.models import VerificationAttempt
from face_idcard.outcome import Reason
from face_idcard.states import Decision, ReviewDecision, Status

pytestmark = pytest.mark.django_db

COMBINATIONS = list(
    itertools.product(
        Status.values(),
        Decision.values(),
        ["", *ReviewDecision.values()],
        ["", *(reason.value for reason in Reason)],
    )
)


@pytest.fixture
def every_combination() -> list[VerificationAttempt]:
    now = timezone.now()
    return list(
        VerificationAttempt.objects.bulk_create(
            VerificationAttempt(
                backend="simulator",
                consent_at=now,
                status=status,
                decision=decision,
                review_decision=review,
                reason=reason,
            )
            for status, decision, review, reason in COMBINATIONS
        )
    )


def test_the_filter_is_the_rule(every_combination: list[VerificationAttempt]) -> None:
    selected = set(VerificationAttempt.objects.filter(not_confirmed_filter()).values_list("pk"))
    assert selected == {(one.pk,) for one in every_combination if is_not_confirmed(one)}
    assert selected  # the table holds some


@pytest.mark.parametrize("detailed", [False, True])
def test_the_list_filters_follow_what_is_shown(
    every_combination: list[VerificationAttempt], detailed: bool
) -> None:
    for status, decision in itertools.product([None, *Status.values()], [None, *Decision.values()]):
        query = public_filter(status=status, decision=decision, detailed=detailed)
        selected = set(VerificationAttempt.objects.filter(query).values_list("pk", flat=True))
        expected = set()
        for one in every_combination:
            shown_status, shown_decision = public_status(one, detailed=detailed)
            if status not in (None, shown_status) or decision not in (None, shown_decision):
                continue
            expected.add(one.pk)
        assert selected == expected, (status, decision)


def test_what_is_shown_without_the_detail(every_combination: list[VerificationAttempt]) -> None:
    for one in every_combination:
        status, decision = public_status(one, detailed=False)
        reason = public_reason(one, detailed=False)
        if is_not_confirmed(one):
            assert (status, decision, reason) == ("completed", "no_match", NOT_CONFIRMED_REASON)
            continue
        assert (status, decision) == (one.status, one.final_decision)
        # No reason that tells whether the pair belongs together.
        assert reason not in ("name_mismatch", "id_not_found", "low_similarity")
        # With the detail, everything as stored.
        assert public_status(one, detailed=True) == (one.status, one.final_decision)
        assert public_reason(one, detailed=True) == (one.reason or None)
