"""Command line: run one transfer outside Airflow, or show every installation's migration status.

``python -m include.migration.cli transfer INSTALLATION DATA_TYPE [--budget S]``
prints the transfer's JSON summary.
``python -m include.migration.cli status [--json]`` prints the overview the
dashboard shows: a table per installation and data type, or its JSON.
Connections come from Airflow as usual (``AIRFLOW_CONN_*`` environment
variables or the metadata database).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from include.migration import runtime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.migration.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("transfer", help="copy one data type of one installation from its checkpoint")
    run.add_argument("installation")
    run.add_argument("data_type")
    run.add_argument("--budget", type=float, default=None, help="seconds before stopping (default: configured)")
    run.add_argument("--run-id", default="cli")
    status = commands.add_parser("status", help="every installation's migration status, read from its target")
    status.add_argument("--json", action="store_true", help="print the overview as JSON (as the dashboard's API)")
    args = parser.parse_args(argv)
    if args.command == "transfer":
        runtime.prepare_target(args.installation, [args.data_type])
        result = runtime.transfer(args.installation, args.data_type, args.run_id, budget_seconds=args.budget)
        print(json.dumps(result, default=str))
    elif args.command == "status":
        from include.migration.overview import overview_document

        document = overview_document()
        if args.json:
            print(json.dumps(document, indent=2, default=str))
        else:
            _print_status(document)
    return 0


def _print_status(document: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from include.migration.dashboard import formatting

    table = Table(title=f"Migrations as of {formatting.moment(document['generated_at'])}", show_lines=False)
    for header, justify in (
        ("installation", "left"), ("data type", "left"), ("status", "left"), ("rows target / source", "right"),
        ("progress", "right"), ("last validation", "left"), ("throughput", "right"), ("ETA", "right"),
        ("last error", "left"),
    ):
        table.add_column(header, justify=justify, overflow="fold")
    for entry in document["installations"]:
        name = entry["id"] if entry["enabled"] else f"{entry['id']} (disabled)"
        if entry["error"]:
            table.add_row(name, "", "[red]UNREACHABLE[/]", "", "", "", "", "", _plain(entry["error"]), end_section=True)
            continue
        own = _status_markup(entry["status"])
        items = entry["data_types"]
        for index, item in enumerate(items):
            table.add_row(
                f"{name}\n{own}" if index == 0 else "",
                item["name"],
                _status_markup(item["status"]),
                f"{formatting.count(item['rows_target'])} / {formatting.count(item['rows_source'])}",
                formatting.percent(item["progress_percent"]),
                _plain(formatting.validation(item["last_validation"])),
                formatting.rate(item["throughput_rows_per_second"]),
                formatting.duration(item["eta_seconds"]),
                _plain(formatting.shorten(item["last_error"] or (entry["last_error"] if index == 0 else None), 120)),
                end_section=index == len(items) - 1,
            )
    Console().print(table)


_STATUS_STYLE = {"DONE": "green", "IN_PROGRESS": "blue", "READY": "magenta", "PENDING": "yellow", "FAILED": "red"}


def _status_markup(status: str | None) -> str:
    if not status:
        return "[dim]not started[/]"
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _plain(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":
    sys.exit(main())
