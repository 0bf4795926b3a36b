"""Every statement the package sends to a target, recorded at the connection, and the figures the limits bound."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from include.migration.target.gate import STATEMENT_LISTENERS, StatementRecord

SUMMARY: dict[str, object] = {}


@dataclasses.dataclass
class StatementLog:
    """The statements of every target connection in this process while recording."""

    records: list[StatementRecord] = dataclasses.field(default_factory=list)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def __call__(self, record: StatementRecord) -> None:
        with self._lock:
            self.records.append(record)

    def max_select_seconds(self) -> float:
        return max((r.seconds for r in self.records if r.kind == "SELECT"), default=0.0)

    def max_response_bytes(self) -> int:
        return max((r.response_bytes for r in self.records), default=0)

    def max_statements_in(self, window: float) -> int:
        """The most statements started within any ``window`` seconds."""
        starts = sorted(r.started for r in self.records)
        best = low = 0
        for high, start in enumerate(starts):
            while start - starts[low] >= window:
                low += 1
            best = max(best, high - low + 1)
        return best

    def max_query_seconds_in(self, window: float) -> float:
        """The most statement time begun within any ``window`` seconds."""
        spans = sorted((r.started, r.seconds) for r in self.records)
        best = total = 0.0
        low = 0
        for start, seconds in spans:
            total += seconds
            while start - spans[low][0] >= window:
                total -= spans[low][1]
                low += 1
            best = max(best, total)
        return best


@contextmanager
def recording() -> Iterator[StatementLog]:
    log = StatementLog()
    STATEMENT_LISTENERS.append(log)
    try:
        yield log
    finally:
        STATEMENT_LISTENERS.remove(log)
