"""The progress chart: rows in the target at each validation, one line per data type, as inline SVG.

Colours belong to data types, not to charts: ``data_type_colors`` gives each data type name its colour
once for the whole page, so ``users`` has the same colour in every installation's chart and legend.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from include.migration.views.dashboard import formatting

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f", "#be185d")
WIDTH, HEIGHT = 720, 160
LEFT, RIGHT, TOP, BOTTOM = 78, 150, 14, 30


def data_type_colors(names: Sequence[str]) -> dict[str, str]:
    """Each data type name's colour: ``PALETTE`` by its position in ``names`` (the configuration's order)."""
    ordered = list(dict.fromkeys(names))
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(ordered)}


def progress_chart(
    history: Sequence[dict[str, Any]], element_id: str, colors: Mapping[str, str] | None = None
) -> str:
    """An ``<svg>`` of ``history`` (validation records in time order), or a note when it is empty.

    ``colors`` (``data_type_colors`` of the page) fixes each data type's colour and the legend's order;
    without it the data types are coloured in the order they first appear in ``history``.
    """
    points = [p for p in history if p.get("validated_at")]
    if not points:
        return f'<p class="chart-empty" id="{html.escape(element_id)}">No validation recorded yet.</p>'
    times = [_time(p["validated_at"]) for p in points]
    first, last = min(times), max(times)
    span = (last - first).total_seconds()
    top = _nice_ceiling(max(max(p["rows_target"], p["rows_source"]) for p in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: dt.datetime) -> float:
        # A single run (all points at one time) sits in the middle instead of on the axis.
        share = (moment - first).total_seconds() / span if span > 0 else 0.5
        return LEFT + share * plot_w

    def y(rows: int) -> float:
        return TOP + plot_h - (rows / top) * plot_h

    parts = [
        f'<svg id="{html.escape(element_id)}" class="progress-chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="Rows in the target at each validation">'
    ]
    for fraction in (0.0, 0.5, 1.0):
        rows = int(top * fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(rows):.1f}" y2="{y(rows):.1f}"/>'
            f'<text class="axis" x="{LEFT - 8}" y="{y(rows) + 4:.1f}" text-anchor="end">{formatting.count(rows)}</text>'
        )
    parts.append(
        f'<text class="axis" x="{x(first):.1f}" y="{HEIGHT - 8}" text-anchor="{"start" if span else "middle"}">'
        f"{_label(first)}</text>"
    )
    if span:
        parts.append(f'<text class="axis" x="{x(last):.1f}" y="{HEIGHT - 8}" text-anchor="end">{_label(last)}</text>')
    names, series_colors = _series_colors([p["data_type"] for p in points], colors or {})
    for index, name in enumerate(names):
        color = series_colors[name]
        series = [(t, p) for t, p in zip(times, points, strict=True) if p["data_type"] == name]
        coords = " ".join(f"{x(t):.1f},{y(p['rows_target']):.1f}" for t, p in series)
        parts.append(f'<g class="series" data-data-type="{html.escape(name)}" data-color="{color}">')
        if len(series) > 1:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        for t, p in series:
            tip = (
                f"{name} after run {p.get('run_id') or '?'} ({formatting.moment(p['validated_at'])}): "
                f"{formatting.count(p['rows_target'])} in the target, "
                f"{formatting.count(p['rows_source'])} at the source"
            )
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(p["rows_target"]):.1f}" r="4" fill="{color}" '
                f'data-data-type="{html.escape(name)}" data-rows-target="{p["rows_target"]}">'
                f"<title>{html.escape(tip)}</title></circle>"
            )
        legend_y = TOP + 6 + index * 18
        parts.append(
            f'<rect class="legend-swatch" x="{WIDTH - RIGHT + 16}" y="{legend_y - 8}" width="10" height="10" '
            f'fill="{color}" data-data-type="{html.escape(name)}"/>'
            f'<text class="legend" x="{WIDTH - RIGHT + 32}" y="{legend_y + 1}">{html.escape(name)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _series_colors(names: Sequence[str], colors: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The chart's data types in the colour map's order (others after them) and every one's colour."""
    present = set(names)
    known = [name for name in colors if name in present]
    unknown = [name for name in dict.fromkeys(names) if name not in colors]
    # A data type the page did not name (e.g. one no longer configured) takes the colours after the page's.
    extra = data_type_colors([*colors, *unknown])
    return [*known, *unknown], {name: colors.get(name) or extra[name] for name in (*known, *unknown)}


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (at least 1): round axis labels."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)


def _time(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.removesuffix("Z"))


def _label(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
