"""Shared pytest fixtures. Append new fixtures in their own section; keep each one small."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from face_idcard.simulator import SimulatorConfig, SimulatorServer

# --- Simulator -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[SimulatorServer]:
    """One simulator with the default config (demo registry, default account) per test run,
    except that it downloads urls from 127.0.0.1 (the suite's image servers live there)."""
    with SimulatorServer(SimulatorConfig(url_allow_private=True)) as server:
        yield server


@pytest.fixture
def simulator(simulator_server: SimulatorServer) -> SimulatorServer:
    """The shared simulator with an empty ledger, fresh flaky counters and quota window."""
    simulator_server.reset()
    return simulator_server


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., SimulatorServer]]:
    """``simulator_factory(qps=5, latency=20, ...)``: a running simulator with a custom config
    (``SimulatorConfig`` keyword arguments, or ``config=SimulatorConfig(...)``); stopped after
    the test. Like ``simulator`` it downloads urls from 127.0.0.1 unless the test passes
    ``url_allow_private=False`` (the simulator's own default)."""
    servers: list[SimulatorServer] = []

    def make(config: SimulatorConfig | None = None, **overrides: Any) -> SimulatorServer:
        overrides.setdefault("url_allow_private", True)
        server = SimulatorServer(config or SimulatorConfig(**overrides)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()


# --- Celery pipeline (see tests/support/celery_app.py) --------------------------------------------


@pytest.fixture(scope="session")
def celery_worker_thread(django_db_blocker: Any) -> Iterator[Any]:
    """One real Celery worker for the whole run, started on first use (here, not in a test
    module: a fixture defined in several modules would start several workers)."""
    from tests.support.celery_app import running_worker

    with django_db_blocker.unblock(), running_worker() as app:
        yield app


@pytest.fixture
def face_settings(settings: Any, simulator: SimulatorServer) -> Callable[..., None]:
    """FACE_IDCARD pointed at the simulator with fast retries; call it to override more keys."""
    from tests.support.celery_app import apply_face_settings

    apply_face_settings(settings, simulator)
    return lambda **overrides: apply_face_settings(settings, simulator, **overrides)


# --- Publishes no worker takes (tests/support/celery_app.py PARKED_QUEUE) -------------------------


@pytest.fixture
def parked_publishes(face_settings: Callable[..., None]) -> Iterator[str]:
    """The attempts submitted in the test are published to a queue nobody consumes, emptied
    after the test: a live session worker (started by an earlier test) neither adds its own
    statements and events to what the test counts, nor holds locks when the database is
    flushed. Yields the queue's name (``celery_app.queued_messages`` counts its messages)."""
    from tests.support.celery_app import PARKED_QUEUE, purge_broker

    purge_broker(PARKED_QUEUE)
    face_settings(CELERY_QUEUE=PARKED_QUEUE)
    yield PARKED_QUEUE
    purge_broker(PARKED_QUEUE)


# --- Dispatcher (face_idcard.services.dispatch) ----------------------------------------------


@pytest.fixture
def dispatched() -> Iterator[Any]:
    """The services hand their attempts to a recorder for the test (no Celery message: a live
    session worker cannot take them); the default dispatcher comes back after it."""
    from face_idcard.services import dispatch
    from tests.support.dispatchers import RecordingDispatcher

    recorder = RecordingDispatcher()
    dispatch.set_dispatcher(recorder)
    yield recorder
    dispatch.set_dispatcher(None)


@pytest.fixture(autouse=True)
def _webhook_endpoints_forgotten() -> Iterator[None]:
    """Each test starts with the outbox's list of active endpoints unread: the endpoints of the
    previous test went with its rollback or its flushed tables, which send no signal."""
    from face_idcard.webhooks import outbox

    outbox.forget_endpoints()
    yield
    outbox.forget_endpoints()


@pytest.fixture(autouse=True)
def _language_reset() -> Iterator[None]:
    """Each test starts in the site's default language: Django's LocaleMiddleware activates the
    request's language in the test's thread and nothing deactivates it, so a zh-hans request in
    one test would otherwise translate the next test's messages."""
    from django.utils import translation

    yield
    translation.deactivate()
