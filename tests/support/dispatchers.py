"""Dispatchers for tests (``face_idcard.services.dispatch``); conftest's ``dispatched`` fixture
plugs in a :class:`RecordingDispatcher` for one test."""

from __future__ import annotations

from uuid import UUID


class RecordingDispatcher:
    """A dispatcher that delivers nothing: it records ``(attempt_id, countdown)`` per call."""

    def __init__(self) -> None:
        self.sent: list[tuple[UUID, float | None]] = []

    def dispatch(self, attempt_id: UUID, countdown: float | None) -> None:
        self.sent.append((attempt_id, countdown))

    @property
    def ids(self) -> list[UUID]:
        return [attempt_id for attempt_id, _countdown in self.sent]


class BrokenDispatcher:
    """A dispatcher whose queue is down: every delivery raises ``ConnectionError``."""

    def __init__(self) -> None:
        self.tries = 0

    def dispatch(self, attempt_id: UUID, countdown: float | None) -> None:
        self.tries += 1
        raise ConnectionError("queue unreachable")
