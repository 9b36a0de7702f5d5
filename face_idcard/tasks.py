"""Celery for face_idcard: the tasks (thin wrappers around :mod:`face_idcard.services`) and the
dispatcher that hands attempts to them.

:class:`CeleryDispatcher` is the one place that publishes ``verify_attempt``; the app makes it
the services' default dispatcher when Celery is installed (:mod:`face_idcard.services.dispatch`).
The message carries the attempt id only (a string); everything else, the backend included, is
read from the attempt's row, so no personal information ever passes through the broker or the
result backend.
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
from uuid import UUID

from celery import shared_task

from . import services
from .conf import face_idcard_settings
from .services import dispatch

logger = logging.getLogger("face_idcard.tasks")


@shared_task(
    name="face_idcard.tasks.verify_attempt",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def verify_attempt(attempt_id: str) -> str:
    """Run one attempt; schedule the next try when it must wait (retry or rate limit)."""
    # A new message rather than Task.retry() when it must come back, through the dispatcher in
    # use (a site may have plugged in its own queue): dispatch.run says why.
    return dispatch.run(attempt_id)


class CeleryDispatcher:
    """The services' dispatcher on Celery: one ``verify_attempt`` message per delivery, holding
    the attempt id only, on ``CELERY_QUEUE`` when set."""

    def dispatch(self, attempt_id: UUID, countdown: float | None) -> None:
        options: dict[str, Any] = {}
        if countdown is not None:
            options["countdown"] = countdown
        queue = face_idcard_settings.CELERY_QUEUE
        if queue:
            options["queue"] = queue
        args = (str(attempt_id),)
        # argsrepr given: the id is all the message holds (no personal information), and
        # Celery's own saferepr of it is a tenth of a publish. (A documented option, "Hiding
        # sensitive information in arguments", that the type stubs do not list.)
        verify_attempt.apply_async(args, argsrepr=repr(args), kwargsrepr="{}", **options)  # type: ignore[call-arg]


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
