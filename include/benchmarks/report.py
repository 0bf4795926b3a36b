"""What a bench run reports: the tables on the console and the ratios of its last line."""

from __future__ import annotations

import os
from typing import Any

from include.benchmarks.common import LOG_DIR, MAIN_INSTALLATION

MB = 1_000_000
LAST_LINE_KEYS = (
    "arrow_vs_server",
    "json_vs_server",
    "fanout_vs_server_n",
    "validate_vs_transfer",
    "transfer_vs_generic_best",
    "transfer_vs_dlt_best",
    "rss_1m_vs_100k",
    "parse_5000_s",
)
# What each figure of the last line must reach: (">=" or "<=", bound).
TARGETS: dict[str, tuple[str, float]] = {
    "arrow_vs_server": (">=", 0.85),
    "json_vs_server": (">=", 0.6),
    "fanout_vs_server_n": (">=", 0.6),
    "validate_vs_transfer": (">=", 2.0),
    "transfer_vs_generic_best": (">=", 1.5),
    "transfer_vs_dlt_best": (">=", 4.0),
    "rss_1m_vs_100k": ("<=", 1.2),
    "parse_5000_s": ("<=", 10.0),
}
CPU_GROUPS = ("worker", "remote", "postgres", "mariadb")


def ratios(results: dict[str, dict[str, Any]], parse: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The figures of the last line: ratios of rows/s and of peak RSS, the slowest DAG file at 5,000 installations.

    None where a case is missing or failed, or parse time was not measured.
    """
    r = results

    def rate(name: str) -> float | None:
        item = r.get(name)
        return item.get("rows_per_second") if item and not item.get("failed") else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    transfer = rate("transfer")
    rss_full = r.get("transfer", {}).get("peak_rss_mb")
    rss_small = r.get("transfer_100k", {}).get("peak_rss_mb") if "transfer_100k" in r else rss_full
    server = rate("ceiling_server")
    return {
        "arrow_vs_server": ratio(transfer, server),
        "json_vs_server": ratio(rate("transfer_json"), server),
        "fanout_vs_server_n": ratio(rate("transfer_parallel"), rate("ceiling_server_n")),
        "validate_vs_transfer": ratio(rate("validate"), transfer),
        "transfer_vs_generic_best": ratio(transfer, rate("generic_transfer_best")),
        "transfer_vs_dlt_best": ratio(transfer, rate("dlt_best")),
        "rss_1m_vs_100k": ratio(rss_full, rss_small),
        "parse_5000_s": parse_seconds_at(parse or [], 5000),
    }


def parse_seconds_at(parse: list[dict[str, Any]], installations: int) -> float | None:
    """The slowest DAG file's import seconds at ``installations`` installations; None when not measured."""
    for item in parse:
        if item.get("installations") == installations and not item.get("failed"):
            return item.get("parse_max_file_seconds")
    return None


def target_holds(key: str, value: Any) -> bool | None:
    """Whether a figure of the last line meets its target; None when it was not measured."""
    if not isinstance(value, (int, float)):
        return None
    op, bound = TARGETS[key]
    return value >= bound if op == ">=" else value <= bound


def last_line(figures: dict[str, Any]) -> str:
    """``bench: arrow_vs_server=0.912 ...``: the figures of :func:`ratios` in ``LAST_LINE_KEYS`` order."""
    return "bench: " + " ".join(f"{k}={_fmt(figures.get(k))}" for k in LAST_LINE_KEYS)


def print_report(
    results: dict[str, dict[str, Any]],
    parse: list[dict[str, Any]],
    *,
    total_rows: int,
    plan_rows: dict[str, dict[str, int]],
    page_size: int,
    figures: dict[str, Any] | None = None,
) -> None:
    """The tables of a run: every case, CPU per process, the transfer per data type, parse time, the targets.

    Adds each case's estimated payload and MB/s to its ``results`` entry (they go into the JSON figures too).
    """
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    payload = payload_of(results, results.get("ceiling_server", {}))
    split = ", ".join(f"{k} {v:,}" for k, v in plan_rows[MAIN_INSTALLATION].items())
    table = Table(title=f"make bench: {total_rows:,} rows ({split}), page size {page_size}")
    for header in ("case", "rows", "seconds", "rows/s", "MB/s", "sent MB", "peak RSS MB", "verified", "notes"):
        table.add_column(
            header, justify="left" if header in ("case", "verified", "notes") else "right", overflow="fold"
        )
    for name, item in results.items():
        if item.get("failed"):
            table.add_row(
                item.get("label", name),
                "-",
                "-",
                "-",
                "-",
                "-",
                f"{item.get('peak_rss_mb', 0):,.0f}",
                "[red]FAILED[/]",
                f"exit {item.get('exit')}; see {LOG_DIR}/{name}.log",
            )
            continue
        rows, seconds = item["rows"], item["seconds"]
        own_payload = payload_of(results, item)
        mbs = own_payload / seconds / MB if own_payload and seconds else None
        item["payload_bytes_estimated"] = own_payload
        item["payload_mb_per_second"] = mbs
        verified = item.get("verified", {})
        mark = "[green]" if verified.get("ok") else "[red]"
        table.add_row(
            item["label"],
            f"{rows:,}",
            f"{seconds:,.1f}",
            f"{item['rows_per_second']:,.0f}",
            f"{mbs:,.2f}" if mbs else "-",
            f"{item['sent_bytes'] / MB:,.1f}" if item.get("sent_bytes") else "-",
            f"{item['peak_rss_mb']:,.0f}",
            f"{mark}{verified.get('summary', '-')}[/]",
            notes(name, item),
        )
    console.print(table)
    console.print(cpu_table(results))
    if "transfer" in results and not results["transfer"].get("failed"):
        per = Table(title="transfer (mysql profile) per data type")
        for header in (
            "data type",
            "rows",
            "seconds",
            "rows/s",
            "statements",
            "sent MB",
            "HTTP MB",
            "seconds in target",
        ):
            per.add_column(header, justify="right")
        for name, t in results["transfer"]["per_type"].items():
            per.add_row(
                name,
                f"{t['rows']:,}",
                f"{t['seconds']:.1f}",
                f"{t['rows'] / t['seconds']:,.0f}",
                f"{t['statements']:,}",
                f"{t['sent_bytes'] / MB:,.1f}",
                f"{t['http_bytes'] / MB:,.1f}",
                f"{t['seconds_in_target']:.1f}",
            )
        console.print(per)
    if parse:
        pt = Table(title="DAG-file parse time (each file of dags/ in its own process, Airflow already imported)")
        for header in (
            "installations",
            "DAG files",
            "DAGs",
            "tasks",
            "slowest file s",
            "all files s",
            "ms per DAG",
            "serialize s (all files)",
            "import errors",
            "slowest file under the default 30 s dagbag_import_timeout",
            "peak RSS MB",
        ):
            pt.add_column(header, justify="right")
        for p in parse:
            if p.get("failed"):
                pt.add_row(f"{p['installations']:,}", *(["-"] * 3), "FAILED", *(["-"] * 6))
                continue
            tasks = sum(int(f.get("tasks", 0)) for f in p.get("file_stats", []))
            slowest = p["parse_max_file_seconds"]
            pt.add_row(
                f"{p['installations']:,}",
                str(p["dag_files"]),
                f"{p['dags']:,}",
                f"{tasks:,}",
                f"{slowest:.1f}",
                f"{p['parse_seconds']:.1f}",
                f"{1000 * p['parse_seconds'] / max(p['dags'], 1):.1f}",
                f"{p['serialize_seconds']:.1f}",
                str(len(p["import_errors"])),
                "yes" if slowest < 30 else "[red]NO[/]",
                f"{p['peak_rss_mb']:,.0f}",
            )
        console.print(pt)
    console.print(
        f"payload = the rows rendered as SQL literals by mysqlclient ({(payload or 0) / MB:,.1f} MB for "
        f"{total_rows:,} rows): MB/s is payload/seconds for every case; 'sent MB' is what the case "
        "itself sent where the bench sees it (statements, or the LOAD DATA file)."
    )
    if figures is not None:
        console.print(targets_table(figures))


def payload_of(results: dict[str, dict[str, Any]], item: dict[str, Any]) -> float | None:
    """The payload bytes of a case's rows: its rows per data type x the ceiling's literal bytes per row."""
    ceiling = results.get("ceiling_server", {}).get("per_type") or {}
    per_row = {n: t["payload_bytes"] / t["rows"] for n, t in ceiling.items() if t.get("rows")}
    per_type = item.get("per_type") or {}
    if not per_row or not per_type or any(n not in per_row for n in per_type):
        return None
    return sum(t.get("rows", 0) * per_row[n] for n, t in per_type.items())


def notes(name: str, item: dict[str, Any]) -> str:
    """The notes column of a case: the figures that say how it ran."""
    if name.startswith("transfer_forge"):
        return (
            f"writes: max {item['max_statements_per_second']}/s in any 1 s (<=150), max statement "
            f"{item['max_statement_bytes'] / 1024:,.0f} KiB (<=1024), {item['max_query_seconds_per_minute']:.1f} "
            f"query s/min (<=62.5), {item['statements']:,} statements; with checkpoint updates: max "
            f"{item.get('max_requests_per_second_all', '-')}/s, "
            f"{item.get('max_query_seconds_per_minute_all', 0):.1f} s/min"
        )
    if name == "transfer_parallel":
        return (
            f"{item['processes']} processes; {item['seconds_in_target']:.1f}s in target (summed); "
            f"CPU {item.get('process_cpu_seconds', 0):.0f}s (all 3 processes)"
        )
    if name == "transfer":
        return (
            f"CPU {item.get('process_cpu_seconds', 0):.0f}s; {item['statements']:,} statements, "
            f"max {item['max_statement_bytes'] / 1024:,.0f} KiB, {item['seconds_in_target']:.1f}s in target, "
            f"HTTP {item['http_bytes'] / MB:,.0f} MB"
        )
    if name.startswith("ceiling"):
        prep = ", ".join(f"{k.replace('_', ' ')} {v:.1f}s" for k, v in item.get("preparation_seconds", {}).items())
        sent = f"{item['statements']:,} statements (the writer's sizing); " if "statements" in item else ""
        timed = ", ".join(f"{k} {v:.1f}s" for k, v in item.get("timed_cpu_seconds", {}).items())
        return f"{sent}untimed: {prep}; CPU while timed: {timed}"
    if name == "validate":
        return f"{item['chunks']:,} chunks, {'remote range-stats' if item['capabilities'] else 'page scan'}"
    if name.startswith("dlt"):
        steps = item.get("steps_seconds", {})
        return "dlt " + ", ".join(f"{k} {v:.1f}s" for k, v in steps.items())
    if name.startswith("generic"):
        return "; ".join(f"{k}: {v}" for k, v in (item.get("configuration") or {}).items())
    return ""


def cpu_table(results: dict[str, dict[str, Any]]) -> Any:
    """Per case: CPU seconds of the worker, the remote, PostgreSQL and MariaDB, and the cores each kept busy."""
    from rich.table import Table

    table = Table(
        title="CPU per process during each case (/proc; wall = the case process's; cores = CPU s / wall s, "
        f"of {os.cpu_count()}; PostgreSQL and MariaDB include other work on the machine)"
    )
    for header in ("case", "wall s", *(f"{g} CPU s (cores)" for g in CPU_GROUPS), "busiest"):
        table.add_column(header, justify="left" if header in ("case", "busiest") else "right")
    for name, item in results.items():
        cpu, cores = item.get("cpu_seconds"), item.get("cpu_cores")
        if not cpu or not cores:
            continue
        busiest = max(CPU_GROUPS, key=lambda g: cpu.get(g, 0.0))
        table.add_row(
            name,
            f"{item.get('wall_seconds', 0):,.1f}",
            *(f"{cpu.get(g, 0):,.1f} ({cores.get(g, 0):.2f})" for g in CPU_GROUPS),
            f"{busiest} {cores.get(busiest, 0):.2f} cores",
        )
    return table


def targets_table(figures: dict[str, Any]) -> Any:
    """The last line's figures beside their targets, and which hold."""
    from rich.table import Table

    table = Table(title="targets")
    for header in ("figure", "value", "target", "holds"):
        table.add_column(header, justify="left" if header == "figure" else "right")
    for key in LAST_LINE_KEYS:
        op, bound = TARGETS[key]
        holds = target_holds(key, figures.get(key))
        mark = "-" if holds is None else ("[green]yes[/]" if holds else "[red]NO[/]")
        table.add_row(key, _fmt(figures.get(key)), f"{op} {bound:g}", mark)
    return table


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.3f}"
