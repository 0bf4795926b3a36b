"""How far a data type's copy is and how fast it goes now: progress, throughput over recent transfers, ETA.

Throughput is measured over the data type's most recent transfers that copied
rows (``THROUGHPUT_WINDOW``): their rows over their seconds, so it says how fast
the copy runs now, not how long the migration has existed. The ETA is the rows
the target still lacks (source - target, the source as of the last validation)
at that throughput.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from include.migration.views.overview_entries import ThroughputWindow
from include.migration.views.stored_values import iso_timestamp

THROUGHPUT_TRANSFERS = 5
THROUGHPUT_WINDOW = f"the last {THROUGHPUT_TRANSFERS} transfers that copied rows"


def recent_throughput(
    recent_transfers: Sequence[dict[str, Any]], transfers: int = THROUGHPUT_TRANSFERS
) -> ThroughputWindow | None:
    """The newest ``transfers`` transfers that copied rows (``recent_transfers`` is oldest first), summed.

    Transfers that copied nothing (a quiet pass, a data type skipped at once) would only say how fast
    "nothing" goes, so they are left out. None when no transfer copied rows.
    """
    copied = [t for t in recent_transfers if isinstance(t, dict) and _positive(t.get("rows"))][-transfers:]
    if not copied:
        return None
    return ThroughputWindow(
        transfers=len(copied),
        rows=sum(int(t["rows"]) for t in copied),
        seconds=round(sum(_seconds(t.get("seconds")) for t in copied), 3),
        first_finished_at=iso_timestamp(copied[0].get("finished_at")),
        last_finished_at=iso_timestamp(copied[-1].get("finished_at")),
    )


def eta_seconds(rows_source: int | None, rows_target: int | None, rows_per_second: float | None) -> float | None:
    """Seconds until the target holds the source's rows at ``rows_per_second``; 0 when nothing is left."""
    if rows_source is None or rows_target is None:
        return None
    remaining = max(rows_source - rows_target, 0)
    if remaining == 0:
        return 0.0
    return remaining / rows_per_second if rows_per_second else None


def progress_percent(rows_target: int | None, rows_source: int | None) -> float | None:
    """The target's rows as a percentage of the source's (100 for two empty tables; None when unknown)."""
    if rows_target is None or rows_source is None:
        return None
    if rows_source == 0:
        return 100.0 if rows_target == 0 else None
    return rows_target * 100.0 / rows_source


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _seconds(value: Any) -> float:
    return float(value) if _positive(value) else 0.0
