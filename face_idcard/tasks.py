"""Celery tasks: thin wrappers around :mod:`face_idcard.services`.

``verify_attempt`` carries only the attempt id and its backend alias (strings); everything
else is read from the database, so no personal information ever passes through the broker or the result backend.
``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-call leaves the message to be
delivered again, and the claim (plus the sweeper, for an expired lease) keeps that from paying
twice.

Beat schedule (in the host's Celery configuration)::

    from celery.schedules import crontab

    app.conf.beat_schedule = {
        "face-idcard-sweep": {"task": "face_idcard.tasks.sweep", "schedule": 60.0},
        "face-idcard-purge": {"task": "face_idcard.tasks.purge", "schedule": crontab(minute=17, hour=3)},
        "face-idcard-statistics": {"task": "face_idcard.tasks.refresh_statistics", "schedule": crontab(minute=7)},
    }
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from . import services
from .conf import face_idcard_settings

logger = logging.getLogger("face_idcard.tasks")


def _publish_options() -> dict[str, Any]:
    queue = face_idcard_settings.CELERY_QUEUE
    return {"queue": queue} if queue else {}


@shared_task(
    name="face_idcard.tasks.verify_attempt",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def verify_attempt(attempt_id: str, backend: str | None = None) -> str:
    """Run one attempt; schedule the next try when it must wait (retry or rate limit)."""
    outcome = services.run(attempt_id, backend)
    if outcome.again:
        # A new message rather than Task.retry(): the retry budget lives on the attempt row
        # (one place, shared with the sweeper), and a rate-limit deferral is not a retry.
        args = (str(attempt_id), backend) if backend else (str(attempt_id),)
        verify_attempt.apply_async(
            args, countdown=max(0.0, outcome.countdown), **_publish_options()
        )
    return outcome.action


@shared_task(name="face_idcard.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return services.sweep()


@shared_task(name="face_idcard.tasks.purge", ignore_result=True)
def purge() -> dict[str, int]:
    return services.purge()


@shared_task(name="face_idcard.tasks.refresh_statistics", ignore_result=True)
def refresh_statistics() -> int:
    """The statistics' daily summaries (:func:`face_idcard.insight.rollup.refresh`)."""
    from .insight import rollup

    return rollup.refresh()
