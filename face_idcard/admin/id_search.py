"""The admin's search by ID number: who may search, how often, and what the audit trail keeps.

A search tells the searcher each hit's full ID number (and who verified under which
account), so it takes ``face_idcard.view_pii``, like reading the number on the detail page.
Each search is counted per staff user in the cache (``ADMIN_ID_SEARCH_RATE``, default
``"30/hour"``): unmasking a masked number by trying its ~30,000 valid candidates is out of
reach. Every search, with hits or without, is a :class:`~face_idcard.models.StaffAuditEvent`
(``id_search``: the searcher, the hit count, the ids of the hash keys searched under; never
the number or its hash) and a log line on ``face_idcard.admin``; each hit also gets a
``pii_viewed`` event (``what: "id_search"``, the hit count, the key id of its hash) in its
attempt's trail, so the attempt's page tells who found it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from django.core.cache import caches
from django.db import transaction

from .. import _audit as audit
from .. import crypto
from ..conf import face_idcard_settings
from ..models import EventKind, StaffAuditKind, VerificationAttempt

logger = logging.getLogger("face_idcard.admin")

#: DRF's rate periods.
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"30/hour"`` -> ``(30, 3600)``; ``None`` -> no limit. A malformed rate is a
    ``ValueError`` (a typo must not turn the limit off)."""
    if rate is None:
        return None
    number, _slash, period = str(rate).partition("/")
    seconds = _PERIODS.get(period.strip()[:1].lower())
    if not number.strip().isdigit() or seconds is None:
        raise ValueError(f"ADMIN_ID_SEARCH_RATE must look like '30/hour', not {rate!r}")
    return int(number), seconds


def take_search(user: Any) -> bool:
    """Count one search of ``user``; False once over ``ADMIN_ID_SEARCH_RATE`` in the current
    window (fixed windows of the rate's period, counted with the cache's atomic ``incr``)."""
    rate = parse_rate(face_idcard_settings.ADMIN_ID_SEARCH_RATE)
    if rate is None:
        return True
    allowed, period = rate
    cache = caches[str(face_idcard_settings.RATE_LIMIT_CACHE)]
    window = int(time.time() // period)
    key = f"face_idcard:id_search:{user.pk}:{period}:{window}"
    cache.add(key, 0, timeout=period + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the window's first
        cache.add(key, 1, timeout=period + 60)
        count = 1
    return int(count) <= allowed


def record_search(user: Any, results: Sequence[VerificationAttempt]) -> None:
    """The audit of one search: a staff event (hits or not), a ``pii_viewed`` event on each
    hit, one log line in all."""
    searched_key_ids = [key.key_id for key in crypto.hash_keys()]
    hit_key_ids = sorted({attempt.idcard_hash_key_id for attempt in results})
    with transaction.atomic():
        audit.record_staff(
            StaffAuditKind.ID_SEARCH, actor=user, hits=len(results), key_ids=searched_key_ids
        )
        audit.record_many(
            audit.event(
                attempt,
                EventKind.PII_VIEWED,
                actor=user,
                what="id_search",
                hits=len(results),
                key_id=attempt.idcard_hash_key_id,
            )
            for attempt in results
        )
    logger.info(
        "ID number search by user id %s: %d attempts (hash key ids: %s)",
        user.pk,
        len(results),
        ", ".join(hit_key_ids) or "-",
    )
