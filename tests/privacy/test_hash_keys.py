"""PII_HASH_KEYS in use: limits and look-ups match every live key; rotate_keys re-hashes."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.utils import timezone

from face_idcard import crypto, services
from face_idcard.exceptions import AttemptLimitExceeded
from face_idcard.models import VerificationAttempt
from face_idcard.simulator import magic
from tests.support import imagefactory
from tests.support.factories import submit_attempt

pytestmark = pytest.mark.django_db

IMAGE = imagefactory.jpeg(160, 120)


submit = functools.partial(submit_attempt, image=IMAGE, enqueue=False)


def hash_keys(settings: Any, *keys: str) -> None:
    settings.FACE_IDCARD = {**settings.FACE_IDCARD, "PII_HASH_KEYS": list(keys)}


def test_each_hash_is_stored_with_its_key_id(face_settings: Any, settings: Any) -> None:
    hash_keys(settings, "hash-key-one")
    attempt = submit()
    attempt.refresh_from_db()
    assert attempt.idcard_hash_key_id == crypto.hash_key_id(b"hash-key-one")
    assert attempt.idcard_hash == crypto.id_number_hash(magic.MATCH)


def test_the_daily_limit_survives_adding_a_hash_key(face_settings: Any, settings: Any) -> None:
    """Attempts hashed under the old key still count once a new key is put first."""
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=3, MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=0)
    hash_keys(settings, "old-hash-key")
    for _ in range(2):
        submit()
    hash_keys(settings, "new-hash-key", "old-hash-key")
    submit()  # the third
    with pytest.raises(AttemptLimitExceeded):
        submit()
    assert VerificationAttempt.objects.count() == 3


@pytest.mark.parametrize(
    ("old", "new", "refused"), [(3, 3, True), (2, 2, False), (5, 0, False), (6, 0, True)]
)
def test_the_counts_under_each_key_add_up_each_capped_at_the_limit_plus_one(
    face_settings: Any, settings: Any, old: int, new: int, refused: bool
) -> None:
    """The per-ID count is one capped count a live key, added up: over the limit whether
    the attempts sit under one key or are spread over both."""
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=10**6, MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=0)
    hash_keys(settings, "old-hash-key")
    for _ in range(old):
        submit()
    hash_keys(settings, "new-hash-key", "old-hash-key")
    for _ in range(new):
        submit()
    from face_idcard.services import _limits as limits

    check = functools.partial(
        limits.check,
        using="default",
        idcard_hashes=crypto.id_number_hashes(magic.MATCH),
        user=None,
        now=timezone.now(),
        per_id=5,
        per_user=0,
    )
    if refused:
        with pytest.raises(AttemptLimitExceeded):
            check()
    else:
        check()


def test_rotate_keys_rehashes_under_the_newest_hash_key(face_settings: Any, settings: Any) -> None:
    face_settings(MAX_ATTEMPTS_PER_ID_PER_DAY=2, MAX_ATTEMPTS_PER_ACCOUNT_PER_DAY=0)
    hash_keys(settings, "old-hash-key")
    first = submit()
    hash_keys(settings, "new-hash-key", "old-hash-key")
    services.rotate_keys()
    first.refresh_from_db()
    assert first.idcard_hash_key_id == crypto.hash_key_id(b"new-hash-key")
    # The old key is gone now, and the rotated attempt still counts against the limit.
    hash_keys(settings, "new-hash-key")
    assert first.idcard_hash == crypto.id_number_hash(magic.MATCH)
    submit()
    with pytest.raises(AttemptLimitExceeded):
        submit()
