"""The dashboard page: one self-contained HTML document (inline CSS, SVG and a little JS, nothing fetched)."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping
from typing import Any

from include.migration.views.dashboard import formatting
from include.migration.views.dashboard.chart import data_type_colors, progress_chart

STATUSES = ("READY", "PENDING", "IN_PROGRESS", "DONE", "FAILED")
_LABELS = {"NONE": "NOT STARTED", "ERROR": "UNREACHABLE"}

_STYLE = """
:root { color-scheme: light; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 28px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 18px; flex-wrap: wrap; margin-bottom: 14px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 17px; margin: 0; }
a { color: #1d4ed8; text-decoration: none; } a:hover { text-decoration: underline; }
.muted { color: var(--muted); }
#summary { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 16px; }
.installation { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px;
                margin-bottom: 16px; }
.installation-head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; margin-bottom: 8px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
         background: #e5e7eb; color: #374151; white-space: nowrap; }
.status-DONE { background: #dcfce7; color: #166534; }
.status-IN_PROGRESS { background: #dbeafe; color: #1e40af; }
.status-READY { background: #ede9fe; color: #5b21b6; }
.status-PENDING { background: #fef3c7; color: #92400e; }
.status-FAILED, .status-ERROR { background: #fee2e2; color: #991b1b; }
.status-NONE { background: #f3f4f6; color: #6b7280; }
.status-DISABLED { background: #f3f4f6; color: #6b7280; font-weight: 500; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .02em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.progress-cell, .nowrap { white-space: nowrap; }
.bar { width: 110px; height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; display: inline-block;
       vertical-align: middle; margin-right: 6px; }
.bar > span { display: block; height: 100%; background: #2563eb; }
.bar.complete > span { background: #16a34a; }
.validation.green { color: #166534; } .validation.red { color: #991b1b; font-weight: 600; }
.error { color: #991b1b; font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap;
         word-break: break-word; }
.installation-error { background: #fef2f2; border: 1px solid #fecaca; border-radius: 6px; padding: 8px 10px; }
.chart-title { margin: 4px 0 2px; font-size: 12px; color: var(--muted); }
.progress-chart .grid { stroke: #e5e7eb; } .progress-chart .axis { font-size: 11px; fill: #6b7280; }
.progress-chart .legend { font-size: 12px; fill: #374151; }
.chart-empty { color: var(--muted); font-style: italic; }
td.name { white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
#throughput-note { margin: -8px 0 12px; font-size: 12px; }
"""

# Auto-refresh is opt-in and remembered per browser; nothing is fetched beyond this page itself.
_SCRIPT = """
(function () {
  var box = document.getElementById("auto-refresh");
  var key = "migrations-dashboard-auto-refresh";
  box.checked = window.localStorage && localStorage.getItem(key) === "1";
  box.addEventListener("change", function () { localStorage.setItem(key, box.checked ? "1" : "0"); schedule(); });
  var timer = null;
  function schedule() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (box.checked) { timer = setTimeout(function () { window.location.reload(); }, 60000); }
  }
  schedule();
  var stamp = document.getElementById("generated-at");
  var taken = Date.parse(stamp.getAttribute("data-generated-at"));
  if (!isNaN(taken)) { stamp.title = "taken at " + new Date(taken).toLocaleString(); }
})();
"""


def render_page(document: dict[str, Any]) -> str:
    """The whole HTML page for an overview document (``overview.overview_document``)."""
    installations = document["installations"]
    generated_at = document.get("generated_at")
    colors = data_type_colors(_data_type_names(document))
    body = "".join(_installation(entry, colors) for entry in installations)
    body = body or '<p class="muted">No installations configured.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Migrations</title><style>{_STYLE}</style></head><body>"
        '<header><h1>Migrations</h1>'
        f'<span id="generated-at" class="muted" data-generated-at="{_attr(generated_at)}">'
        f"as of {html.escape(formatting.moment(generated_at))}</span>"
        '<label class="muted"><input type="checkbox" id="auto-refresh"> refresh every minute</label>'
        '<a href="api/overview" id="json-link">JSON</a></header>'
        f"{_configuration_error(document.get('configuration_error'))}{_fleet(document.get('fleet'))}"
        f"{_summary(installations)}{_throughput_note(document.get('throughput_window'))}"
        f"<main>{body}</main><script>{_SCRIPT}</script></body></html>"
    )


def _failed_run(failed: dict[str, Any] | None) -> str:
    """The DAG's latest run failed (from Airflow's metadata): which tasks, on which try, when."""
    if not failed:
        return ""
    tasks = ", ".join(
        f"{t['task']}{_map_label(t.get('data_type'))} (try {t['try']}, {formatting.moment(t.get('ended_at'))})"
        for t in failed["tasks"]
    ) or "no task recorded"
    return (
        f'<div class="installation-error" data-role="failed-run" data-run-id="{_attr(failed["run_id"])}">'
        f"<strong>Last run failed</strong> ({html.escape(failed['run_id'])}): {html.escape(tasks)}; "
        "the task logs in Airflow say why.</div>"
    )


def _fleet(fleet: dict[str, Any] | None) -> str:
    """The fleet's cut-over readiness: the verdict and the first blockers."""
    if not fleet:
        return ""
    ready = fleet["ready_to_decommission"]
    blockers = "".join(f"<li>{html.escape(b)}</li>" for b in fleet["blockers"][:5])
    more = f"<li>… {len(fleet['blockers']) - 5:,} more (cli fleet)</li>" if len(fleet["blockers"]) > 5 else ""
    return (
        f'<section id="fleet" data-ready="{str(ready).lower()}"><strong>'
        f'{"Ready to decommission the source" if ready else "Not ready to decommission the source"}</strong>'
        f' <span class="muted">(every installation DONE with a green final check younger than '
        f'{fleet["final_check_max_age_hours"]:g} h; the source-change check runs in <code>cli fleet</code>)</span>'
        f"{f'<ul>{blockers}{more}</ul>' if blockers else ''}</section>"
    )


def _map_label(data_type: str | None) -> str:
    return f"[{data_type}]" if data_type else ""


def _configuration_error(message: str | None) -> str:
    if not message:
        return ""
    return (
        '<div class="installation-error" id="configuration-error"><strong>The migration configuration cannot be '
        f'loaded</strong>; no installation runs until it is fixed:<pre class="error">{html.escape(message)}</pre></div>'
    )


def _data_type_names(document: dict[str, Any]) -> list[str]:
    """Every data type on the page: the configured ones in configuration order, then any other one met."""
    names = list(document.get("data_types") or [])
    for entry in document["installations"]:
        names.extend(item["name"] for item in entry.get("data_types") or [])
        names.extend(point["data_type"] for point in entry.get("history") or [])
    return list(dict.fromkeys(names))


def _throughput_note(window: str | None) -> str:
    if not window:
        return ""
    return (
        f'<p id="throughput-note" class="muted" data-throughput-window="{_attr(window)}">'
        f"Throughput: rows per second over {html.escape(window)}. "
        "ETA: the rows the target still lacks (source as of the last validation) at that throughput.</p>"
    )


def _summary(installations: list[dict[str, Any]]) -> str:
    counts = Counter(_badge_status(e) for e in installations)
    badges = "".join(
        f'<span class="badge status-{name}" data-status-count="{name}" data-count="{counts[name]}">'
        f"{html.escape(_LABELS.get(name, name.replace('_', ' ')))}: {counts[name]:,}</span>"
        for name in (*STATUSES, "NONE", "ERROR", "DISABLED")
        if counts[name]
    )
    return (
        f'<section id="summary" data-installations="{len(installations)}">'
        f'<span class="badge">{len(installations):,} installations</span>{badges}</section>'
    )


def _installation(entry: dict[str, Any], colors: Mapping[str, str]) -> str:
    ident = entry["id"]
    status = _badge_status(entry)
    label = _LABELS.get(status, status.replace("_", " "))
    facts = [f'profile {html.escape(entry["target_profile"])}']
    if not entry["enabled"]:
        facts.append("disabled")
    if entry.get("quiet_passes") is not None:
        facts.append(f"quiet passes {entry['quiet_passes']:,}")
    if entry.get("finished_at"):
        facts.append(f"finished {html.escape(formatting.moment(entry['finished_at']))}")
    elif entry.get("updated_at"):
        facts.append(f"updated {html.escape(formatting.moment(entry['updated_at']))}")
    if entry.get("rows_target") is not None:
        facts.append(
            f'<span class="total" data-rows-target="{entry["rows_target"]}">'
            f'{formatting.count(entry["rows_target"])} rows in the target</span>'
        )
    head = (
        f'<div class="installation-head"><h2><a href="/dags/{_attr(entry["dag_id"])}" target="_top" '
        f'title="the DAG in Airflow">{html.escape(ident)}</a></h2>'
        f'<span class="badge status-{_attr(status)}" data-role="status">{html.escape(label)}</span>'
        f'<span class="muted">{" · ".join(facts)}</span></div>'
    )
    parts = [
        f'<section class="installation" id="installation-{_attr(ident)}" data-installation="{_attr(ident)}" '
        f'data-status="{_attr(entry.get("status") or "")}" data-enabled="{str(entry["enabled"]).lower()}" '
        f'data-error="{"true" if entry.get("error") else "false"}">{head}'
    ]
    parts.append(_failed_run(entry.get("failed_run")))
    if entry.get("error"):
        what = "Configuration error" if entry["error"].startswith("configuration error:") else "The target could not be read"
        parts.append(
            f'<div class="installation-error"><strong>{what}:</strong> '
            f'<span class="error" data-role="error">{html.escape(entry["error"])}</span></div></section>'
        )
        return "".join(parts)
    if entry.get("last_error"):
        text = formatting.shorten(entry["last_error"], 400)
        parts.append(f'<p class="error" data-role="last-error">{html.escape(text)}</p>')
    parts.append(
        "<table><thead><tr><th>Data type</th><th>Status</th><th class=num>Rows target / source</th>"
        "<th>Progress</th><th>Last validation</th><th class=num>Throughput</th><th class=num>ETA</th>"
        "<th>Last error</th></tr></thead><tbody>"
    )
    parts.extend(_data_type_row(ident, item, colors.get(item["name"])) for item in entry["data_types"])
    parts.append("</tbody></table>")
    parts.append('<p class="chart-title">Rows in the target at each validation</p>')
    parts.append(progress_chart(entry.get("history") or [], f"chart-{ident}", colors))
    parts.append("</section>")
    return "".join(parts)


def _data_type_row(ident: str, item: dict[str, Any], color: str | None) -> str:
    status = item.get("status") or "NONE"
    progress = item.get("progress_percent")
    width = 0.0 if progress is None else max(0.0, min(progress, 100.0))
    complete = " complete" if progress is not None and progress >= 100 else ""
    last = item.get("last_validation")
    css = "" if not last else (" green" if last["green"] else " red")
    when = ""
    if last:
        when = f' <span class="muted nowrap">({html.escape(formatting.moment(last["validated_at"]))})</span>'
    label = status.replace("_", " ") if item.get("status") else _LABELS["NONE"]
    data = {
        "installation": ident,
        "data-type": item["name"],
        "status": item.get("status") or "",
        "rows-target": item.get("rows_target"),
        "rows-source": item.get("rows_source"),
        "progress": _decimal(progress, 4),
        "throughput": _decimal(item.get("throughput_rows_per_second"), 3),
        "throughput-transfers": (item.get("throughput_window") or {}).get("transfers"),
        "eta-seconds": _decimal(item.get("eta_seconds"), 3),
        "color": color,
    }
    attributes = " ".join(f'data-{k}="{_attr("" if v is None else v)}"' for k, v in data.items())
    error = item.get("last_error")
    return (
        f'<tr class="data-type" id="row-{_attr(ident)}-{_attr(item["name"])}" {attributes}>'
        f'<td class="name">{_swatch(color)}{html.escape(item["name"])}</td>'
        f'<td><span class="badge status-{_attr(status)}">{html.escape(label)}</span></td>'
        f'<td class="num"><span class="rows-target">{formatting.count(item.get("rows_target"))}</span> / '
        f'<span class="rows-source">{formatting.count(item.get("rows_source"))}</span></td>'
        f'<td class="progress-cell"><span class="bar{complete}"><span style="width:{width:.1f}%"></span></span>'
        f'<span class="progress">{formatting.percent(progress)}</span></td>'
        f'<td class="validation{css}">{html.escape(formatting.validation(last))}{when}</td>'
        f'<td class="num throughput" title="{_attr(formatting.throughput_basis(item.get("throughput_window")))}">'
        f'{formatting.rate(item.get("throughput_rows_per_second"))}</td>'
        f'<td class="num eta">{formatting.duration(item.get("eta_seconds"))}</td>'
        f'<td class="error" title="{_attr(error or "")}">{html.escape(formatting.shorten(error))}</td></tr>'
    )


def _swatch(color: str | None) -> str:
    """The data type's colour in the chart, so a table row and its line are matched at a glance."""
    return f'<span class="swatch" style="background:{_attr(color)}"></span>' if color else ""


def _badge_status(entry: dict[str, Any]) -> str:
    if entry.get("error"):
        return "ERROR"
    if entry.get("status"):
        return str(entry["status"])
    return "NONE" if entry["enabled"] else "DISABLED"


def _decimal(value: float | None, places: int) -> str | None:
    return None if value is None else f"{value:.{places}f}"


def _attr(value: Any) -> str:
    return html.escape(str(value if value is not None else ""), quote=True)
