"""The audit export: the audit trail of a date range as CSV, streamed, without PII.

Each line is one :class:`~face_idcard.models.AttemptEvent` (whose ``data`` never holds PII by
construction) with its attempt's backend, or one
:class:`~face_idcard.models.StaffAuditEvent` (a staff action on no single attempt, such as a
search by ID number: its ``event_id`` is ``staff-<id>``, its attempt and backend empty), in the
order of time; actors appear by user id. Rows are read with
``.iterator()`` in chunks and written one at a time, so memory stays flat whatever the range.
"""

from __future__ import annotations

import csv
import heapq
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ..models import AttemptEvent, StaffAuditEvent

HEADER = ("event_id", "time", "attempt_id", "backend", "kind", "actor_id", "data")
#: Rows fetched from the database per round trip.
CHUNK = 2_000


class _Echo:
    """A file-like object whose ``write`` hands the line back (for ``csv.writer``)."""

    def write(self, value: str) -> str:
        return value


def rows(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    """The events of both trails created in ``[since, until)``, oldest first, as export
    columns (the two ordered streams merged, each read in chunks)."""
    merged = heapq.merge(
        _attempt_rows(since, until), _staff_rows(since, until), key=lambda row: row[1]
    )
    for event_id, time, attempt_id, backend, kind, actor_id, data in merged:
        yield (
            event_id,
            time.isoformat(),
            attempt_id,
            backend,
            kind,
            actor_id if actor_id is not None else "",
            json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        )


def _attempt_rows(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    events = (
        AttemptEvent.objects.filter(created_at__gte=since, created_at__lt=until)
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "attempt_id", "attempt__backend", "kind", "actor_id", "data"
        )
    )
    chunks: Iterator[tuple[Any, ...]] = events.iterator(chunk_size=CHUNK)
    return chunks


def _staff_rows(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    events = (
        StaffAuditEvent.objects.filter(created_at__gte=since, created_at__lt=until)
        .order_by("created_at", "id")
        .values_list("id", "created_at", "kind", "actor_id", "data")
    )
    for event_id, time, kind, actor_id, data in events.iterator(chunk_size=CHUNK):
        yield (f"staff-{event_id}", time, "", "", kind, actor_id, data)


def lines(items: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """CSV lines, the header first: one line in memory at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for item in items:
        yield writer.writerow([_cell(value) for value in item])


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell starting with = + - @ as a formula; event data is ours, but an
    # export is opened by auditors' tools, so no cell is ever read as one.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
