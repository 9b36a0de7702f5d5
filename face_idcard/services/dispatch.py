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
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable
from uuid import UUID

from django.core.exceptions import ImproperlyConfigured

__all__ = ["Dispatcher", "get_dispatcher", "run", "set_default_dispatcher", "set_dispatcher"]


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


def run(attempt_id: UUID | str) -> str:
    """The worker's side: run the attempt once and, when it must come back (a retry, a
    rate-limit deferral), hand it to the dispatcher in use again. Returns what the run did
    ("done", "retry" or "defer"). A failure to hand it over raises; the sweeper then finds
    the attempt waiting with no message."""
    # Imported here: the pipeline imports this module (to dispatch) when it loads.
    from ._pipeline import run as run_once

    outcome = run_once(attempt_id)
    if outcome.again:
        # A new delivery rather than a queue's own retry: the retry budget lives on the
        # attempt's row (one place, shared with the sweeper), and a deferral is not a retry.
        get_dispatcher().dispatch(UUID(str(attempt_id)), max(0.0, outcome.countdown))
    return outcome.action
