"""How the services hand an attempt to a worker: a dispatcher, plugged in from outside.

The services layer knows no task queue. When an attempt must run (after ``submit`` commits,
when the sweeper recovers one, when a run must come back later) it calls the dispatcher with
the attempt's id and, optionally, how long to wait. Everything else (the backend, the person's
data, the retry counters) is on the attempt's row, so a dispatcher carries nothing more.

A dispatcher is any object with one method::

    class Dispatcher:
        def dispatch(self, attempt_id: UUID, countdown: float | None) -> None:
            # Deliver the id so that, ``countdown`` seconds from now (None: as soon as
            # possible), some worker calls ``face_idcard.services.dispatch.run(attempt_id)``;
            # raise if it could not be handed over (the caller records that and the sweeper
            # retries).
            ...

``face_idcard`` brings one for Celery (:class:`face_idcard.tasks.CeleryDispatcher`), made the
default when Celery is installed. A site with another queue plugs its own in from its own
``AppConfig.ready``: ``set_dispatcher(MyDispatcher())``. Delivering an id twice is harmless: a
run claims the attempt first, so only one call reaches the provider.

An outage (the database, the cache or the queue unreachable, :mod:`face_idcard.outages`) never
ends a delivery for good: :func:`run` raises :class:`InfrastructureUnavailable`, and the
queue delivers the attempt again with backoff (the Celery task retries it), passing back the
exception's ``held_claim``. A claim the failed run held is given back by the next run at once
(``services._leases.give_back``), so the attempt resumes within one backoff
of the outage's end, not after its lease and the sweeper.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from uuid import UUID

from django.core.exceptions import ImproperlyConfigured

from ..exceptions import InfrastructureUnavailable
from ..outages import OUTAGE_ERRORS

__all__ = [
    "Dispatcher",
    "HeldClaim",
    "InfrastructureUnavailable",
    "get_dispatcher",
    "run",
    "set_default_dispatcher",
    "set_dispatcher",
]


@runtime_checkable
class Dispatcher(Protocol):
    """Delivers an attempt id to a worker that calls :func:`run` with it."""

    def dispatch(self, attempt_id: UUID, countdown: float | None) -> None:
        """Deliver ``attempt_id``, to run ``countdown`` seconds from now (None: now; never
        negative). Raise when it could not be handed over."""


# Two places, so that the order of the apps' ready() does not matter: the site's choice wins
# over the default face_idcard registers, whichever registered first.
_chosen: Dispatcher | None = None
_default: Dispatcher | None = None


def set_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Use ``dispatcher`` from now on (a site's own queue; tests); None goes back to the
    default."""
    global _chosen
    if dispatcher is not None and not isinstance(dispatcher, Dispatcher):
        raise TypeError(f"{type(dispatcher).__name__} has no dispatch(attempt_id, countdown)")
    _chosen = dispatcher


def set_default_dispatcher(dispatcher: Dispatcher | None) -> None:
    """The dispatcher used when no site chose one (face_idcard's app registers Celery's)."""
    global _default
    _default = dispatcher


def get_dispatcher() -> Dispatcher:
    """The dispatcher in use; ImproperlyConfigured when there is none (no Celery installed and
    none set)."""
    dispatcher = _chosen or _default
    if dispatcher is None:
        raise ImproperlyConfigured(
            "face_idcard has no dispatcher: install Celery, or give one to "
            "face_idcard.services.dispatch.set_dispatcher() in your AppConfig.ready()."
        )
    return dispatcher


@dataclass
class HeldClaim:
    """A claim a run held when an outage stopped it: its token, and whether the provider had
    been called under it (the result, if any, was not stored)."""

    token: UUID
    called: bool = False


# The claim the current run holds, told by the pipeline (claimed(), calling()): a context
# variable, so each worker thread or task has its own.
_held: ContextVar[HeldClaim | None] = ContextVar("face_idcard_held_claim", default=None)


def claimed(token: UUID) -> None:
    """The pipeline took the claim ``token`` for the current run."""
    _held.set(HeldClaim(token))


def calling() -> None:
    """The pipeline is about to call the provider under the current run's claim."""
    held = _held.get()
    if held is not None:
        held.called = True


def run(attempt_id: UUID | str, held_claim: HeldClaim | None = None) -> str:
    """The worker's side: run the attempt once and, when it must come back (a retry, a
    rate-limit deferral), hand it to the dispatcher in use again. Returns what the run did
    ("done", "retry" or "defer").

    Raises :class:`InfrastructureUnavailable` when the database, the cache or the queue
    failed (the run, or handing the attempt over again): deliver the attempt again later,
    with ``held_claim=exc.held_claim``; this run first gives that claim back."""
    # Imported here: the pipeline imports this module (to dispatch) when it loads.
    from ._leases import give_back
    from ._pipeline import run as run_once

    context = _held.set(None)
    try:
        if held_claim is not None:
            give_back(UUID(str(attempt_id)), held_claim.token, called=held_claim.called)
            held_claim = None
        outcome = run_once(attempt_id)
    except OUTAGE_ERRORS as exc:
        raise InfrastructureUnavailable(type(exc).__name__, _held.get() or held_claim) from exc
    finally:
        _held.reset(context)
    if outcome.again:
        # A new delivery rather than a queue's own retry: the retry budget lives on the
        # attempt's row (one place, shared with the sweeper), and a deferral is not a retry.
        try:
            get_dispatcher().dispatch(UUID(str(attempt_id)), max(0.0, outcome.countdown))
        except Exception as exc:
            # The attempt's next step is stored and no claim is held: delivered again, this
            # message finds it waiting and hands it over once more.
            raise InfrastructureUnavailable(type(exc).__name__) from exc
    return outcome.action
