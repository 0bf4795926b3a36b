"""What a bench run reports: the tables on the console and the ratios of its last line."""

from __future__ import annotations

from typing import Any

from include.benchmarks.common import LOG_DIR, MAIN_INSTALLATION

MB = 1_000_000
LAST_LINE_KEYS = (
    "transfer_vs_ceiling",
    "json_vs_arrow",
    "transfer_vs_generic",
    "transfer_vs_dlt",
    "validate_vs_transfer",
    "rss_1m_vs_100k",
    "load_data_vs_ceiling_load_data",
)


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ratios of rows/s (and of peak RSS) the last line reports; None where a case is missing or failed."""
    r = results

    def rate(name: str) -> float | None:
        item = r.get(name)
        return item.get("rows_per_second") if item and not item.get("failed") else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a and b else None

    transfer = rate("transfer")
    rss_full = r.get("transfer", {}).get("peak_rss_mb")
    rss_small = r.get("transfer_100k", {}).get("peak_rss_mb") if "transfer_100k" in r else rss_full
    return {
        "transfer_vs_ceiling": ratio(transfer, rate("ceiling_insert")),
        "json_vs_arrow": ratio(rate("transfer_json"), transfer),
        "transfer_vs_generic": ratio(transfer, rate("generic_transfer")),
        "transfer_vs_dlt": ratio(transfer, rate("dlt")),
        "validate_vs_transfer": ratio(rate("validate"), transfer),
        "rss_1m_vs_100k": ratio(rss_full, rss_small),
        "load_data_vs_ceiling_load_data": "n/a",
    }


def last_line(figures: dict[str, Any]) -> str:
    """``bench: transfer_vs_ceiling=1.315 ...``: the ratios of :func:`ratios` in ``LAST_LINE_KEYS`` order."""
    return "bench: " + " ".join(f"{k}={_fmt(figures[k])}" for k in LAST_LINE_KEYS)


def print_report(
    results: dict[str, dict[str, Any]],
    parse: list[dict[str, Any]],
    *,
    total_rows: int,
    plan_rows: dict[str, dict[str, int]],
    page_size: int,
) -> None:
    """The tables of a run: every case, the transfer per data type, parse time.

    Adds each case's estimated payload and MB/s to its ``results`` entry (they go into the JSON figures too).
    """
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    payload = payload_of(results, results.get("ceiling_insert", {}))
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


def payload_of(results: dict[str, dict[str, Any]], item: dict[str, Any]) -> float | None:
    """The payload bytes of a case's rows: its rows per data type x the ceiling's literal bytes per row."""
    ceiling = results.get("ceiling_insert", {}).get("per_type") or {}
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
    if name == "ceiling_insert":
        return f"{item['statements']:,} statements (same sizing as the writer)"
    if name == "ceiling_load_data":
        return f"render {item['render_seconds']:.1f}s + load; REPLACE INTO"
    if name == "validate":
        return f"{item['chunks']:,} chunks, {'remote range-stats' if item['capabilities'] else 'page scan'}"
    if name == "dlt":
        steps = item.get("steps_seconds", {})
        return "dlt " + ", ".join(f"{k} {v:.1f}s" for k, v in steps.items())
    if name.startswith("generic"):
        return "whole table in memory (get_records), commit_every=1000"
    return ""


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.3f}"
