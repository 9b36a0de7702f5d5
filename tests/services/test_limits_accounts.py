"""The limits against a paid identity oracle and against locking a person out (issue 28,
items 6 and 7), one submit at a time; ``test_limits.py`` runs them as concurrent bursts.

* attempts at an ID number count per account: another account's attempts never use up a
  person's own (a throwaway account cannot lock them out);
* at most ``MAX_ACCOUNTS_PER_ID_PER_DAY`` accounts try one number: the next is refused and
  recorded once as an abuse event (``LimitEvent``);
* at most ``MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY`` distinct numbers from one account: enforced,
  not only flagged;
* support staff with ``face_idcard.reset_limits`` restart a number's limits, audited.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from face_idcard import crypto
from face_idcard.exceptions import (
    AttemptLimitExceeded,
    PermissionRequired,
    PersonalInformationUnavailable,
)
from face_idcard.models import (
    AttemptEvent,
    EventKind,
    LimitEvent,
    LimitEventKind,
    VerificationAttempt,
)
from face_idcard.services import _limits as limits
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.factories import submit_attempt
from tests.support.users import user_with

pytestmark = pytest.mark.django_db

submit = functools.partial(submit_attempt, image=imagefactory.jpeg(160, 120), enqueue=False)


def account(name: str) -> Any:
    return get_user_model().objects.create_user(name)


def test_another_accounts_attempts_do_not_lock_the_person_out(face_settings: Any) -> None:
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=2, MAX_ACCOUNTS_PER_ID_PER_DAY=0)
    throwaway, victim = account("throwaway"), account("victim")
    submit(magic.MATCH, user=throwaway)
    submit(magic.MATCH, user=throwaway)
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.MATCH, user=throwaway)
    # The person's own attempts at their own number are theirs to use.
    submit(magic.MATCH, user=victim)
    submit(magic.MATCH, user=victim)
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.MATCH, user=victim)
    assert VerificationAttempt.objects.count() == 4


def test_the_accounts_per_number_ceiling_refuses_the_next_account(face_settings: Any) -> None:
    face_settings(MAX_ACCOUNTS_PER_ID_PER_DAY=2)
    first, second, third = account("first"), account("second"), account("third")
    submit(magic.MATCH, user=first)
    submit(magic.MATCH, user=second)
    with pytest.raises(AttemptLimitExceeded) as refused:
        submit(magic.MATCH, user=third)
    assert isinstance(refused.value, limits.AccountsPerIdReached)
    # The same message as every limit: nothing about the number.
    assert str(refused.value) == str(AttemptLimitExceeded())
    assert magic.MATCH not in str(refused.value)
    # Refused: nothing stored.
    assert not VerificationAttempt.objects.filter(user=third).exists()
    # The accounts already counted go on; another number is not affected.
    submit(magic.MATCH, user=first)
    submit(magic.NO_MATCH, user=third)
    # Anonymous submissions (the host's own code) are not an account.
    submit(magic.MATCH)


def test_the_ceiling_is_an_abuse_event_recorded_once_per_account(face_settings: Any) -> None:
    face_settings(MAX_ACCOUNTS_PER_ID_PER_DAY=1)
    owner, prober = account("owner"), account("prober")
    submit(magic.MATCH, user=owner)
    for _ in range(3):
        with pytest.raises(limits.AccountsPerIdReached):
            submit(magic.MATCH, user=prober)
    events = list(LimitEvent.objects.all())
    assert len(events) == 1
    event = events[0]
    assert event.kind == LimitEventKind.ACCOUNTS_PER_ID_REACHED.value
    assert event.user_id == prober.pk
    # Keyed by the hash, never the number.
    assert event.idcard_hash == crypto.id_number_hash(magic.MATCH)
    assert magic.MATCH not in repr(event.data) and magic.MATCH[-4:] not in repr(event.data)
    with pytest.raises(limits.AccountsPerIdReached):
        submit(magic.MATCH, user=account("another"))
    assert LimitEvent.objects.count() == 2


def test_the_distinct_numbers_of_an_account_are_capped(face_settings: Any) -> None:
    face_settings(MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=2, MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=100)
    guesser = account("guesser")
    submit(magic.MATCH, user=guesser)
    submit(magic.NO_MATCH, user=guesser)
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.REVIEW, user=guesser)
    # A number already tried is not a new one; another account is not affected.
    submit(magic.MATCH, user=guesser)
    submit(magic.REVIEW, user=account("someone"))
    # After the day, the account may try another.
    VerificationAttempt.objects.filter(user=guesser).update(
        created_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    submit(magic.REVIEW, user=guesser)


@pytest.mark.parametrize("per_user", [0, 100])
def test_the_distinct_numbers_with_and_without_the_per_user_limit(
    face_settings: Any, per_user: int
) -> None:
    """Counted by the per-user read when that limit is on, by a DISTINCT of their own when
    it is off: the same answer."""
    face_settings(MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=1, MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=per_user)
    user = account("one-number")
    submit(magic.MATCH, user=user)
    submit(magic.MATCH, user=user)
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.NO_MATCH, user=user)


def test_one_number_under_two_hash_keys_is_one_number(face_settings: Any, settings: Any) -> None:
    face_settings(MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=1, PII_HASH_KEYS=["old-hash-key-" + "x" * 32])
    user = account("rotated")
    submit(magic.MATCH, user=user)
    face_settings(
        MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=1,
        PII_HASH_KEYS=["new-hash-key-" + "y" * 32, "old-hash-key-" + "x" * 32],
    )
    submit(magic.MATCH, user=user)
    assert VerificationAttempt.objects.values("idcard_hash").distinct().count() == 2
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.NO_MATCH, user=user)


# --- The reset ---------------------------------------------------------------------------------


def _locked_out(face_settings: Any) -> tuple[Any, VerificationAttempt]:
    """Two throwaway accounts took the number's accounts; the person's account is refused."""
    face_settings(MAX_ACCOUNTS_PER_ID_PER_DAY=2, MAX_ATTEMPTS_PER_ID_PER_DAY=1)
    first = submit(magic.MATCH, user=account("mallory-1"))
    submit(magic.MATCH, user=account("mallory-2"))
    victim = account("victim")
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.MATCH, user=victim)
    return victim, first


def test_support_staff_reset_the_limits_of_a_number(face_settings: Any) -> None:
    victim, throwaway_attempt = _locked_out(face_settings)
    support = user_with("support", "reset_limits")
    event = limits.reset_limits(throwaway_attempt, actor=support)
    assert event.kind == LimitEventKind.LIMITS_RESET.value and event.actor_id == support.pk
    audited = AttemptEvent.objects.get(attempt=throwaway_attempt, kind=EventKind.LIMITS_RESET)
    assert audited.actor_id == support.pk
    # The person verifies; the number's counts start at the reset.
    submit(magic.MATCH, user=victim)
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.MATCH, user=victim)  # one attempt per account still


def test_the_reset_leaves_the_accounts_own_limits(face_settings: Any) -> None:
    face_settings(MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY=1)
    user = account("one-number")
    attempt = submit(magic.MATCH, user=user)
    limits.reset_limits(attempt, actor=None)
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.NO_MATCH, user=user)


def test_a_reset_older_than_the_day_changes_nothing(face_settings: Any) -> None:
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=1)
    user = account("old")
    attempt = submit(magic.MATCH, user=user)
    LimitEvent.objects.create(
        kind=LimitEventKind.LIMITS_RESET.value,
        idcard_hash=attempt.idcard_hash,
        created_at=timezone.now() - timedelta(days=2),
    )
    with pytest.raises(AttemptLimitExceeded):
        submit(magic.MATCH, user=user)


def test_the_reset_needs_its_permission(face_settings: Any) -> None:
    victim, attempt = _locked_out(face_settings)
    for holder in (user_with("viewer", "view_pii", "review", "redact"), victim):
        with pytest.raises(PermissionRequired):
            limits.reset_limits(attempt, actor=holder)
    assert not LimitEvent.objects.filter(kind=LimitEventKind.LIMITS_RESET.value).exists()
    assert not AttemptEvent.objects.filter(kind=EventKind.LIMITS_RESET).exists()


def test_a_purged_number_cannot_be_reset(face_settings: Any) -> None:
    attempt = submit(magic.MATCH, user=account("purged"))
    VerificationAttempt.objects.filter(pk=attempt.pk).update(idcard_hash="")
    attempt.refresh_from_db()
    with pytest.raises(PersonalInformationUnavailable):
        limits.reset_limits(attempt, actor=None)


def test_limit_events_are_append_only(face_settings: Any) -> None:
    from face_idcard.exceptions import AuditLogError

    event = LimitEvent.objects.create(kind=LimitEventKind.LIMITS_RESET.value, idcard_hash="0" * 64)
    with pytest.raises(AuditLogError):
        event.save()
    with pytest.raises(AuditLogError):
        event.delete()


def test_counts_stay_exact_after_the_limits_are_lowered(face_settings: Any) -> None:
    """More rows of a number than the limits allow (set lower since): the one read of the
    number's rows is cut short, and the counts are taken apart, exact."""
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=5, MAX_ACCOUNTS_PER_ID_PER_DAY=5)
    accounts = [account(f"early-{index}") for index in range(4)]
    for user in accounts:
        for _ in range(4):
            submit(magic.MATCH, user=user)
    # One attempt an account, four accounts: a read of the number's first rows (four each)
    # would see three accounts and let a fifth in.
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=1, MAX_ACCOUNTS_PER_ID_PER_DAY=4)
    with pytest.raises(AttemptLimitExceeded) as refused:
        submit(magic.MATCH, user=accounts[0])
    assert not isinstance(refused.value, limits.AccountsPerIdReached)
    with pytest.raises(limits.AccountsPerIdReached):
        submit(magic.MATCH, user=account("late"))


@pytest.mark.parametrize(
    "name", ["MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY", "MAX_ACCOUNTS_PER_ID_PER_DAY"]
)
@pytest.mark.parametrize("value", [-1, 1.5, "3", None])
def test_the_new_limits_must_be_whole_numbers(face_settings: Any, name: str, value: Any) -> None:
    from face_idcard.checks import check_settings

    face_settings(**{name: value})
    errors = [m for m in check_settings() if m.id == "face_idcard.E010" and name in m.msg]
    assert errors, check_settings()
    face_settings(**{name: 0})
    assert not [m for m in check_settings() if name in m.msg]
