"""A thread-safe record of every call the simulator answered, so tests can count billing.

Each record holds the time, protocol, session_id, code, outcome, whether it is billable (see
:mod:`.outcomes` for the rule), whether a fault was injected, the latency and a masked ID
number (``1101**********0014``, by :mod:`face_idcard._masking`, the app's rule). Never the full ID number, the name or the image.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CallRecord", "Ledger"]

#: Records kept for ``calls()``; the counters behind ``stats()`` count every call regardless.
MAX_RECORDS = 100_000


@dataclass(frozen=True)
class CallRecord:
    #: Unix time (seconds, UTC epoch) when the request arrived.
    time: float
    protocol: str
    session_id: str
    #: The code as the protocol answered it (an int for the legacy API); None if no answer.
    code: int | str | None
    outcome: str
    billable: bool
    injected: bool
    latency_ms: float
    idcard_masked: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: deque[CallRecord] = deque(maxlen=MAX_RECORDS)
        self._total = 0
        self._billable = 0
        self._by_code: Counter[str] = Counter()
        self._by_outcome: Counter[str] = Counter()

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._total += 1
            self._billable += record.billable
            self._by_code[str(record.code)] += 1
            self._by_outcome[record.outcome] += 1

    def calls(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "billable": self._billable,
                "by_code": dict(self._by_code),
                "by_outcome": dict(self._by_outcome),
            }

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    @property
    def billable(self) -> int:
        with self._lock:
            return self._billable

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._total = 0
            self._billable = 0
            self._by_code.clear()
            self._by_outcome.clear()

    def __repr__(self) -> str:
        return f"<Ledger total={self.total} billable={self.billable}>"
