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

Outages heal by themselves:

* Every task starts and ends with Django's ``close_old_connections()`` (:class:`HealingTask`),
  whatever ``CELERY_DB_REUSE_MAX`` says: a connection that failed is dropped, one older than
  ``CONN_MAX_AGE`` closed, and with ``CONN_HEALTH_CHECKS`` a kept one is checked before the
  task's first query. A database restarted or failed over costs the tasks running at that
  moment one retry, never a worker restart.
* A run that meets an outage of the database, the cache or the broker
  (:class:`~face_idcard.exceptions.InfrastructureUnavailable`) is retried with
  ``Task.retry`` after ``OUTAGE_RETRY_BACKOFF_BASE_SECONDS`` doubling up to
  ``OUTAGE_RETRY_BACKOFF_MAX_SECONDS`` seconds (with jitter), for as long as the outage lasts: the
  message is acknowledged only once its retry is published, so none is dropped; when even
  the retry cannot be published (the broker is down too), the message is rejected back to
  the queue. The retry gives back the claim the failed run held.

Beat schedule (in the host's Celery configuration)::

    from celery.schedules import crontab

    app.conf.beat_schedule = {
        "face-idcard-sweep": {"task": "face_idcard.tasks.sweep", "schedule": 60.0},
        "face-idcard-purge": {"task": "face_idcard.tasks.purge", "schedule": crontab(minute=17, hour=3)},
        "face-idcard-statistics": {"task": "face_idcard.tasks.refresh_statistics", "schedule": crontab(minute=7)},
        "face-idcard-webhooks": {"task": "face_idcard.tasks.deliver_due_webhooks", "schedule": 60.0},
    }
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any
from uuid import UUID

from celery import Task, shared_task
from celery.exceptions import Reject
from django.db import close_old_connections

from . import _filing as filing
from . import services
from .conf import face_idcard_settings
from .exceptions import InfrastructureUnavailable
from .services import dispatch

logger = logging.getLogger("face_idcard.tasks")


if TYPE_CHECKING:
    _TaskBase = Task[Any, Any]
else:
    # celery-types makes Task generic for the type checker; Celery itself accepts Task[...] at
    # run time only from 5.7, and pyproject.toml supports 5.5 (the floor .ci/run installs).
    _TaskBase = Task


class HealingTask(_TaskBase):
    """face_idcard's tasks: each one starts and ends with a usable database connection."""

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        # A connection a database restart, a failover or a killed session left dead is dropped
        # here, whatever CELERY_DB_REUSE_MAX keeps; CONN_HEALTH_CHECKS checks the others.
        close_old_connections()

    def after_return(self, *args: Any, **kwargs: Any) -> None:
        close_old_connections()


def outage_backoff(retries: int) -> float:
    """Seconds before the next delivery of a run an outage stopped: full jitter under
    ``OUTAGE_RETRY_BACKOFF_BASE_SECONDS * 2**retries``, at most ``OUTAGE_RETRY_BACKOFF_MAX_SECONDS``."""
    base = float(face_idcard_settings.OUTAGE_RETRY_BACKOFF_BASE_SECONDS)
    cap = float(face_idcard_settings.OUTAGE_RETRY_BACKOFF_MAX_SECONDS)
    ceiling = min(cap, base * (2 ** min(retries, 32)))
    # Never 0: a jitter from half the ceiling keeps a hot loop off a database that is down.
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


@shared_task(
    bind=True,
    base=HealingTask,
    name="face_idcard.tasks.verify_attempt",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # An outage is waited out however long it lasts; the attempt's own retry budget (on its
    # row) is for the provider's failures only.
    max_retries=None,
)
def verify_attempt(
    self: Task[Any, Any], attempt_id: str, held_claim: str | None = None, call_made: bool = False
) -> str:
    """Run one attempt; schedule the next try when it must wait (retry or rate limit).

    ``held_claim`` and ``call_made`` (set only on a retry after an outage): the claim token
    the failed run held, to give back, and whether it had called the provider."""
    # A new message rather than Task.retry() when it must come back, through the dispatcher in
    # use (a site may have plugged in its own queue): dispatch.run says why. Task.retry() is
    # for outages only, which no attempt's row can record while its database is down.
    held = dispatch.HeldClaim(UUID(held_claim), call_made) if held_claim else None
    try:
        return dispatch.run(attempt_id, held_claim=held)
    except InfrastructureUnavailable as exc:
        countdown = outage_backoff(self.request.retries)
        logger.warning("attempt %s: %s, delivered again in %.1fs", attempt_id, exc, countdown)
        kwargs: dict[str, Any] = {}
        if exc.held_claim is not None:
            kwargs = {"held_claim": str(exc.held_claim.token), "call_made": exc.held_claim.called}
        try:
            raise self.retry(args=(attempt_id,), kwargs=kwargs, countdown=countdown) from None
        except Reject as failed:
            # Task.retry() could not publish the retry (the broker is down too) and would drop
            # this message: give it back to the queue instead (on Redis, an unacknowledged
            # message comes back by itself after the visibility timeout if even this fails).
            raise Reject(failed.args[0] if failed.args else None, requeue=True) from None


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


@shared_task(name="face_idcard.tasks.sweep", base=HealingTask, ignore_result=True)
def sweep() -> dict[str, int]:
    counts = services.sweep()
    # The filing threshold's warning levels, noticed (and signalled) within a sweep.
    counts["filing_levels_reached"] = len(filing.note_levels())
    return counts


@shared_task(name="face_idcard.tasks.purge", base=HealingTask, ignore_result=True)
def purge() -> dict[str, int]:
    return services.purge()


@shared_task(name="face_idcard.tasks.refresh_statistics", base=HealingTask, ignore_result=True)
def refresh_statistics() -> int:
    """The statistics' daily summaries (:func:`face_idcard.insight.rollup.refresh`)."""
    from .insight import rollup

    return rollup.refresh()


@shared_task(
    name="face_idcard.tasks.deliver_webhook",
    base=HealingTask,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of one webhook delivery (:func:`face_idcard.webhooks.delivery.deliver`);
    the message holds the delivery's row id only."""
    from .webhooks import delivery

    return delivery.deliver(delivery_id)


def deliver_webhook_later(delivery_id: int, countdown: float | None = None) -> None:
    """Publish ``deliver_webhook`` for ``delivery_id`` (on ``CELERY_QUEUE`` when set)."""
    options: dict[str, Any] = {}
    if countdown is not None:
        options["countdown"] = countdown
    queue = face_idcard_settings.CELERY_QUEUE
    if queue:
        options["queue"] = queue
    args = (delivery_id,)
    # argsrepr given, as for verify_attempt: Celery's own saferepr is a tenth of a publish.
    deliver_webhook.apply_async(args, argsrepr=repr(args), kwargsrepr="{}", **options)  # type: ignore[call-arg]


@shared_task(name="face_idcard.tasks.deliver_due_webhooks", base=HealingTask, ignore_result=True)
def deliver_due_webhooks() -> int:
    """Publish the webhook deliveries a lost message or a dead worker left pending."""
    from .webhooks import delivery

    return delivery.deliver_due()
