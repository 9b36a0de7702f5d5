"""The audit export: the audit trail of a date range as CSV, streamed, without PII.

Each line is one :class:`~face_idcard.models.AttemptEvent` (whose ``data`` never holds PII by
construction) with its attempt's backend; actors appear by user id. Rows are read with
``.iterator()`` in chunks and written one at a time, so memory stays flat whatever the range.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ..models import AttemptEvent

HEADER = ("event_id", "time", "attempt_id", "backend", "kind", "actor_id", "data")
#: Rows fetched from the database per round trip.
CHUNK = 2_000


class _Echo:
    """A file-like object whose ``write`` hands the line back (for ``csv.writer``)."""

    def write(self, value: str) -> str:
        return value


def rows(since: datetime, until: datetime) -> Iterator[tuple[Any, ...]]:
    """The events created in ``[since, until)``, oldest first, as export columns."""
    events = (
        AttemptEvent.objects.filter(created_at__gte=since, created_at__lt=until)
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "attempt_id", "attempt__backend", "kind", "actor_id", "data"
        )
    )
    for event_id, time, attempt_id, backend, kind, actor_id, data in events.iterator(
        chunk_size=CHUNK
    ):
        yield (
            event_id,
            time.isoformat(),
            attempt_id,
            backend,
            kind,
            actor_id if actor_id is not None else "",
            json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        )


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
