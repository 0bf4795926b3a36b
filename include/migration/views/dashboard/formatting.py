"""How the dashboard and ``cli status`` write numbers, rates, durations and times for people."""

from __future__ import annotations

from typing import Any

MISSING = "–"


def count(value: int | None) -> str:
    """``1234567`` -> ``1,234,567``."""
    return MISSING if value is None else f"{value:,}"


def percent(value: float | None) -> str:
    """``99.95`` -> ``99.9 %`` (floored, so an unfinished data type never shows 100 %)."""
    if value is None:
        return MISSING
    return f"{int(value * 10) / 10:,.1f} %"


def rate(rows_per_second: float | None) -> str:
    """``1234.5`` -> ``1,234 rows/s``; below 10 rows/s with one decimal."""
    if rows_per_second is None:
        return MISSING
    if rows_per_second < 10:
        return f"{rows_per_second:.1f} rows/s"
    return f"{rows_per_second:,.0f} rows/s"


def duration(seconds: float | None) -> str:
    """``3725`` -> ``1 h 02 min``; ``0.4`` -> ``< 1 s``; ``0`` (nothing left) -> ``done``."""
    if seconds is None:
        return MISSING
    if seconds <= 0:
        return "done"
    if seconds < 1:
        return "< 1 s"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days:,} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def throughput_basis(window: dict[str, Any] | None) -> str:
    """What a throughput was measured over: ``9,000 rows in 3 s over 3 transfers, the last 2026-05-01 12:34:56 UTC``."""
    if not window:
        return "no transfer copied rows yet"
    transfers = f"{window['transfers']:,} transfer{'' if window['transfers'] == 1 else 's'}"
    return (
        f"{count(window['rows'])} rows in {duration(window['seconds']) if window['seconds'] > 0 else '0 s'} "
        f"over {transfers}, the last {moment(window.get('last_finished_at'))}"
    )


def moment(iso: str | None) -> str:
    """``2026-05-01T12:34:56.789000Z`` -> ``2026-05-01 12:34:56 UTC``."""
    if not iso:
        return MISSING
    return f"{iso[:10]} {iso[11:19]} UTC"


def validation(last: dict[str, Any] | None) -> str:
    """One line: ``green, 10,000 = 10,000, 5 chunks, 0 repaired, 0 deleted`` (source first)."""
    if not last:
        return "not validated yet"
    state = "green" if last["green"] else f"RED ({last['mismatched_chunks']:,} chunks differ)"
    relation = "=" if last["rows_source"] == last["rows_target"] else "≠"
    chunks = f"{last['chunks']:,} chunk{'' if last['chunks'] == 1 else 's'}"
    return (
        f"{state}, {count(last['rows_source'])} {relation} {count(last['rows_target'])}, {chunks}, "
        f"{last['repaired_rows']:,} repaired, {last['deleted_rows']:,} deleted"
    )


def shorten(text: str | None, limit: int = 160) -> str:
    """The first line of ``text``, cut at ``limit`` characters."""
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
