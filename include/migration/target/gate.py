"""One gate for every statement a connection sends to a target: the profile's rate and query-time budget.

An installation's tasks run in parallel, in separate processes (Celery
workers), so each connection takes ``1/share`` of the profile's statements per
second and query seconds per minute, ``share`` being how many of the
installation's tasks may run at once. Transfers, checkpoints, schema steps,
leases, validation reads and repairs all pass the same gate.

Every finished statement is also offered to the listeners in
:data:`STATEMENT_LISTENERS` (what it was, when it started, how long it took, how
many bytes its answer carried), so a test or a benchmark can check the limits
at the connection instead of trusting the code that is meant to keep them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from include.migration.target.profiles import TargetProfile
from include.migration.target.throttle import QueryTimeBudget, RateLimiter


@dataclasses.dataclass(frozen=True)
class StatementRecord:
    """One statement as the connection saw it."""

    kind: str
    """The statement's first word, upper case (SELECT, INSERT, UPDATE, ...)."""
    started: float
    """``time.time()`` when it was sent."""
    seconds: float
    response_bytes: int
    """Bytes of the rows it returned, as the text protocol carries them (0 for statements without rows)."""
    statement_bytes: int


STATEMENT_LISTENERS: list[Callable[[StatementRecord], None]] = []


class StatementSlot:
    """The statement in flight: the caller adds the bytes of the rows it receives, when anyone listens."""

    def __init__(self) -> None:
        self.response_bytes = 0
        # Sizing every row costs a Python call per value: only done for listeners (the limits tests).
        self.counting = bool(STATEMENT_LISTENERS)

    def count_rows(self, rows: Iterable[tuple[object, ...]]) -> None:
        """Add the text-protocol size of ``rows`` to :attr:`response_bytes` (when counting)."""
        if self.counting:
            self.response_bytes += sum(row_bytes(r) for r in rows)


class QueryGate:
    """Paces a connection's statements within ``1/share`` of the profile's rate and query-time budget."""

    def __init__(self, profile: TargetProfile, share: int = 1) -> None:
        share = max(share, 1)
        rate = profile.max_statements_per_second / share if profile.max_statements_per_second else None
        budget = profile.query_seconds_per_minute / share if profile.query_seconds_per_minute else None
        self.share = share
        self.rate_limiter = RateLimiter(rate)
        self.query_budget = QueryTimeBudget(budget)

    @property
    def waited_seconds(self) -> float:
        return self.rate_limiter.waited_seconds + self.query_budget.waited_seconds

    @contextmanager
    def statement(self, sql: str | bytes) -> Iterator[StatementSlot]:
        """Wait for a slot, run the body (the statement), account its duration and tell the listeners."""
        self.rate_limiter.acquire()
        self.query_budget.wait()
        slot = StatementSlot()
        started_wall, started = time.time(), time.monotonic()
        try:
            yield slot
        finally:
            elapsed = time.monotonic() - started
            self.query_budget.record(elapsed)
            if STATEMENT_LISTENERS:
                record = StatementRecord(_kind(sql), started_wall, elapsed, slot.response_bytes, len(sql))
                for listener in STATEMENT_LISTENERS:
                    listener(record)


def _kind(sql: str | bytes) -> str:
    head = sql[:80].decode(errors="replace") if isinstance(sql, bytes) else sql[:80]
    words = head.split()
    if words[:1] == ["SET"] and "FOR" in words:  # MariaDB's SET STATEMENT max_statement_time=... FOR SELECT
        return words[words.index("FOR") + 1].upper() if len(words) > words.index("FOR") + 1 else "SET"
    return words[0].upper() if words else ""


def row_bytes(row: tuple[object, ...]) -> int:
    """What one row costs in a text-protocol answer: a 4-byte packet header, and per value its text and length."""
    size = 4
    for value in row:
        if value is None:
            size += 1
        elif isinstance(value, (bytes, bytearray)):
            size += len(value) + 1
        else:
            size += len(str(value).encode()) + 1
    return size
